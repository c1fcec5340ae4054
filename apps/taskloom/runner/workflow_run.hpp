// apps/taskloom/runner/workflow_run.hpp — drive one recorded run of a workflow to its end.
//
//   store::RunStore db = store::RunStore::open(path);
//   store::RunId id = db.create_run(new_run_of(wf));       // or prepare_resume(id) on resume
//   store::Lease lease = db.acquire_lease(id);
//   auto view = make_progress_view({...}, std::cout);
//   RunResult r = run_workflow(wf, db, lease, {.view = view.get()});
//   r.status;   // succeeded, failed or cancelled, also recorded in the store
//
// Each task that has not succeeded in the store becomes one node of a runtime::TaskGraph (its
// dependencies on tasks that already succeeded are dropped) run on a runtime::Executor with the
// workflow's resource capacities as the run's pools, so the runtime does the admission,
// priorities, retries with backoff and timeouts. A node's body is one attempt: the command runs
// through backends::run_command in its own process group with its output in
// <db dir>/logs/<run>/<task>.<attempt>.{out,err}; begin_attempt is recorded as soon as the
// process exists (pid and group), finish_attempt with its outcome and the task's next status.
// Tasks made ready or skipped are recorded as it happens; at the end every task of the run is in
// a final state in the store.
// The calling thread watches: SIGINT/SIGTERM (and a cancel request in the store, polled) cancel
// the run — process groups get SIGTERM, then SIGKILL after `kill_grace` — and a second signal
// SIGKILLs every running group at once; it renews the lease every ttl/3 and ticks the view.
// Errors: a store failure stops the run (as a cancel) and is rethrown once every body returned.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>

#include "taskloom/core/clock.hpp"
#include "taskloom/runtime/report.hpp"
#include "taskloom/store/run_store.hpp"

#include "workflow/workflow.hpp"

namespace taskloom::cli {

class ProgressView;

struct RunSettings {
  unsigned workers = 0;  ///< 0: one per task that can run at once (at most 64)
  bool fail_fast = false;
  std::string trace_path;  ///< Chrome trace of this runner's attempts; empty: none
  Duration kill_grace = std::chrono::seconds(5);
  ProgressView* view = nullptr;  ///< required
};

struct RunResult {
  store::RunStatus status = store::RunStatus::kSucceeded;
  std::string message;
  runtime::RunReport report;  ///< this runner's part of the run
  std::size_t ran = 0;        ///< tasks this runner had to run
};

/// What create_run needs for this workflow: canonical path, fingerprint, tasks and groups.
store::NewRun new_run_of(const workflow::Workflow& wf);

/// The log directory of a run: <db dir>/logs/<run>.
std::filesystem::path log_directory(const store::RunStore& db, store::RunId run);

/// Runs every task of `lease.run()` that has not succeeded and records the run's outcome.
/// Tasks of the run that `wf` does not define any more end cancelled.
RunResult run_workflow(const workflow::Workflow& wf, store::RunStore& db, store::Lease& lease,
                       const RunSettings& settings);

}  // namespace taskloom::cli
