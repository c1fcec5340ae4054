// examples/03_run_workflow.cpp — a YAML workflow run durably from C++: SQLite + local processes.
#include <iostream>

#include <taskloom/backends/local.hpp>
#include <taskloom/runner/workflow_run.hpp>
#include <taskloom/store/run_store.hpp>

using namespace taskloom;

int main(int argc, char** argv) {
  const auto wf = workflow::load_workflow(argc > 1 ? argv[1] : TASKLOOM_HELLO_WORKFLOW);
  auto db = store::RunStore::open("hello/taskloom.db");  // created, or opened to add a run
  const store::RunId id = db.create_run(runner::new_run_of(wf));
  store::Lease lease = db.acquire_lease(id);  // this process runs it; `taskloom resume` could
  backends::LocalBackend local;               // each attempt a process group, no thread each
  const runner::RunOutcome r = runner::run_workflow(wf, *runner::store_journal(db, lease), local,
                                                    {.log_dir = runner::log_directory(db, id)});
  std::cout << "run " << id << ": " << store::to_string(r.status) << " (" << r.ran << " tasks)\n";
  return r.status == store::RunStatus::kSucceeded ? 0 : 1;
}
