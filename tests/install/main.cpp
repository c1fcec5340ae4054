// Proves that an installed taskloom works from another CMake project: a 3-task graph whose
// result travels from task to task, a two-job cluster simulation, a run recorded in a SQLite
// store, a subprocess, and a YAML workflow loaded and run through the local backend with its
// run journaled in SQLite. Exits non-zero when anything is off.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <taskloom/taskloom.hpp>

int main() {
  using namespace taskloom;
  runtime::Executor executor(2);
  runtime::TaskGraph graph;
  graph.add("a", [] { return 20; });
  graph.add("b", [](runtime::TaskContext& ctx) { return ctx.result<int>("a") + 1; },
            {.after = {"a"}});
  graph.add("c", [](runtime::TaskContext& ctx) { return ctx.result<int>("b") * 2; },
            {.after = {"b"}});

  runtime::Run run = executor.run(graph);
  const runtime::RunReport& report = run.report();
  if (!report.ok()) {
    std::fprintf(stderr, "consumer: run failed\n%s", report.summary().c_str());
    return 1;
  }
  const int c = report.task("c").result_as<int>();
  if (c != 42) {
    std::fprintf(stderr, "consumer: expected c == 42, got %d\n", c);
    return 1;
  }

  // cluster: two one-node jobs on one node run one after the other.
  const std::vector<cluster::Node> nodes{{.id = "n1", .capacity = {{"cpu", 4}}}};
  const std::vector<cluster::Job> jobs{
      {.id = "a", .request = {{"cpu", 4}}, .actual_runtime = std::chrono::seconds(10)},
      {.id = "b", .request = {{"cpu", 4}}, .actual_runtime = std::chrono::seconds(10)}};
  const cluster::SimulationResult sim = cluster::simulate(nodes, {}, jobs);
  if (sim.metrics.completed != 2 || sim.metrics.makespan_s != 20) {
    std::fprintf(stderr, "consumer: simulation gave %zu completed, makespan %g s\n",
                 static_cast<std::size_t>(sim.metrics.completed), sim.metrics.makespan_s);
    return 1;
  }

  // store: a run recorded in SQLite and read back.
  const auto db = std::filesystem::temp_directory_path() /
                  ("taskloom-consumer-" + std::to_string(getpid()) + ".db");
  {
    auto runs = store::RunStore::open(db);
    const store::RunId id = runs.create_run({"consumer", "/consumer.yaml", "0", {{"a", ""}}});
    if (!runs.find_run(id)) {
      std::fprintf(stderr, "consumer: the store lost run %lld\n", static_cast<long long>(id));
      return 1;
    }
  }
  std::filesystem::remove(db);
  std::filesystem::remove(db.string() + "-wal");
  std::filesystem::remove(db.string() + "-shm");

  // backends: a real child process.
  const backends::CommandOutcome out = backends::run_command({.command = "exit 3"});
  if (out.exit_code != 3) {
    std::fprintf(stderr, "consumer: subprocess: %s\n", out.message.c_str());
    return 1;
  }

  // workflow + runner: a two-task workflow whose second task reads what the first wrote.
  const auto dir =
      std::filesystem::temp_directory_path() / ("taskloom-consumer-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const workflow::Workflow wf = workflow::parse_workflow(
      "name: consumer\n"
      "tasks:\n"
      "  - {id: write, run: 'echo 42 > answer.txt'}\n"
      "  - {id: check, run: 'grep -qx 42 answer.txt', after: write}\n",
      dir / "consumer.yaml");
  runner::RunOutcome outcome;
  {
    auto runs = store::RunStore::open(dir / "taskloom.db");
    const store::RunId id = runs.create_run(runner::new_run_of(wf));
    store::Lease lease = runs.acquire_lease(id);
    backends::LocalBackend local;
    outcome = runner::run_workflow(wf, *runner::store_journal(runs, lease), local,
                                   {.log_dir = runner::log_directory(runs, id)});
  }
  std::filesystem::remove_all(dir);
  if (outcome.status != store::RunStatus::kSucceeded || outcome.ran != 2) {
    std::fprintf(stderr, "consumer: workflow run %s: %s\n",
                 std::string(store::to_string(outcome.status)).c_str(), outcome.message.c_str());
    return 1;
  }

  std::printf("consumer: ok (c = %d, %zu tasks; simulation, store, subprocess, workflow too)\n", c,
              report.tasks.size());
  return 0;
}
