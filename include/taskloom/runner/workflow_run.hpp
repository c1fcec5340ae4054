// taskloom/runner/workflow_run.hpp — run a loaded workflow durably, through a backend.
//
//   workflow::Workflow wf = workflow::load_workflow("shot.yaml");
//   store::RunStore db = store::RunStore::open(".taskloom/taskloom.db");
//   store::RunId id = db.create_run(runner::new_run_of(wf));
//   store::Lease lease = db.acquire_lease(id);
//   backends::LocalBackend local;
//   runner::RunOutcome r = runner::run_workflow(wf, *runner::store_journal(db, lease), local,
//                                               {.log_dir = runner::log_directory(db, id)});
//
// Each task of the run that has not succeeded becomes an async task of a runtime graph (its
// dependencies on tasks that succeeded already are dropped), run with the workflow's resource
// capacities as the run's pools, so the runtime does admission, priorities (critical path
// first), retries with backoff, fail-fast and cancellation, and decides every status. An
// attempt is started through the backend and holds no thread while it runs; the runner is a
// RunObserver that journals each transition the runtime reports: ready, attempt begun (where:
// pid, job id, nodes), attempt ended (with the backend's exit code, signal, times, message and
// the task's next status), skipped (naming the upstream task), cancelled. At the end every
// task of the run is final in the journal and the run's status is written.
// Timeouts are enforced by the backend (where the attempt runs: queue time on a cluster does
// not count); a timed-out attempt is retried like a failure.
// Thread-safety: WorkflowRun's members may be called from any thread; callbacks in
// RunnerOptions are called from the runner's threads (see RunnerOptions).
// Cancellation: cancel() is graceful (the backend sends SIGTERM, then SIGKILL after
// kill_grace, or scancel); force() ends every attempt at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "taskloom/backends/backend.hpp"
#include "taskloom/core/clock.hpp"
#include "taskloom/runner/journal.hpp"
#include "taskloom/runtime/observer.hpp"
#include "taskloom/runtime/report.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/store/records.hpp"
#include "taskloom/workflow/workflow.hpp"

namespace taskloom::store {
class RunStore;
}

namespace taskloom::runner {

/// One state change of one task, for a live display.
struct TaskEvent {
  enum class Kind {
    kStarted,
    kSucceeded,
    kUpToDate,  ///< its outputs are up to date, so it did not run (detail: why)
    kRetrying,
    kFailed,
    kTimedOut,
    kCancelled,
    kSkipped
  };
  Kind kind = Kind::kStarted;
  std::string task;
  int attempt = 0;     ///< the attempt's number in the journal (1, 2, ...)
  Duration wall{};     ///< of the attempt, when it ended
  std::string detail;  ///< why it failed; for kSkipped the upstream task
};

/// Counts of the whole run (earlier runners included) at one moment.
struct RunProgress {
  std::size_t total = 0;
  std::size_t succeeded = 0;
  std::size_t up_to_date = 0;  ///< of the succeeded, those this runner found up to date
  std::size_t failed = 0;      ///< failed or timed out
  std::size_t skipped = 0;
  std::size_t cancelled = 0;
  std::size_t running = 0;
  Duration elapsed{};
  /// Time left, from the forecasts (runner/forecast.hpp) of the tasks not done: their remaining
  /// work over the attempts running now, and at least the longest running one's remainder;
  /// nullopt when no task left has a forecast. `without_forecast` of them have none.
  std::optional<Duration> eta;
  std::size_t without_forecast = 0;
  /// Tasks running now and for how long, longest first.
  std::vector<std::pair<std::string, Duration>> running_tasks;
  bool cancelling = false;
  std::size_t done() const noexcept { return succeeded + failed + skipped + cancelled; }
};

struct RunnerOptions {
  /// Most attempts in flight at once; 0: as the workflow's resources allow.
  std::size_t max_running = 0;
  bool fail_fast = false;
  std::string trace_path;                         ///< Chrome trace of this runner's attempts
  Duration kill_grace = std::chrono::seconds(5);  ///< between SIGTERM and SIGKILL
  /// Logs go to <log_dir>/<task>.<attempt>.{out,err}; required.
  std::filesystem::path log_dir;
  /// Added to every attempt's environment (TASKLOOM_TASK and TASKLOOM_ATTEMPT always are).
  std::vector<std::pair<std::string, std::string>> env;
  runtime::RetryBackoff backoff{.initial = std::chrono::milliseconds(100),
                                .multiplier = 2.0,
                                .max = std::chrono::seconds(30),
                                .jitter = 0.5};
  /// Told each task event, from the runner's threads; must be quick and must not throw.
  std::function<void(const TaskEvent&)> on_event;
  /// Also told every transition the runtime reports, each after the journal has recorded it
  /// (same threads and rules as runtime::RunOptions::observer). For dashboards and tests.
  std::shared_ptr<runtime::RunObserver> observer;
  /// How often tend() polls the journal for a cancel request, and renews its claim.
  std::chrono::milliseconds cancel_poll{250};
  std::chrono::milliseconds heartbeat{10'000};
  /// Run tasks with outputs even when they are up to date (runner/outputs.hpp): all of them, or
  /// those with these ids or groups (what depends on them then runs as their outputs change).
  bool force_all = false;
  std::vector<std::string> force;
  /// Whether force_all or force names `t` (its id or its group).
  bool forces(const workflow::Task& t) const;
};

struct RunOutcome {
  store::RunStatus status = store::RunStatus::kSucceeded;
  std::string message;         ///< "2 failed, 3 skipped"; the cancel reason
  runtime::RunReport report;   ///< this runner's part of the run
  std::size_t ran = 0;         ///< tasks this runner started (or followed again) an attempt of
  std::size_t up_to_date = 0;  ///< tasks this runner found up to date and did not run
};

/// One run of a workflow, started by the constructor and driven to its end.
class WorkflowRun {
 public:
  /// Starts running every task of the journal's run that has not succeeded. `wf`, `journal`
  /// and `backend` must outlive this object. Tasks of the run that `wf` no longer defines end
  /// cancelled. Throws what the journal throws, and InputError (before anything is journaled)
  /// for a task that can never fit what the workflow declares and the backend offers
  /// (workflow::capacities).
  WorkflowRun(const workflow::Workflow& wf, Journal& journal, backends::Backend& backend,
              RunnerOptions options);
  /// Cancels a run still in flight and waits for it.
  ~WorkflowRun();
  WorkflowRun(const WorkflowRun&) = delete;
  WorkflowRun& operator=(const WorkflowRun&) = delete;

  bool done() const;
  /// Graceful stop: no new attempts; running ones are stopped through the backend. The first
  /// reason given is the run's message.
  void cancel(const std::string& reason);
  /// Ends every running attempt at once (a second Ctrl-C).
  void force();
  /// Polls the journal for a cancel request and renews the claim, at their intervals; call it
  /// regularly from the thread that drives the run (the CLI does, 20 times a second).
  void tend();
  RunProgress progress() const;
  /// Waits for the end (tending meanwhile), writes the run's status, and returns the outcome.
  /// Rethrows the first journal error, after every attempt has ended.
  RunOutcome finish();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

/// Runs to the end: WorkflowRun, tended until done, then finish().
RunOutcome run_workflow(const workflow::Workflow& wf, Journal& journal, backends::Backend& backend,
                        RunnerOptions options);

/// What create_run needs for this workflow: canonical path, fingerprint, tasks and groups.
/// `targets`: what select_targets() made `wf` of, recorded so that a resume selects the same.
store::NewRun new_run_of(const workflow::Workflow& wf, std::vector<std::string> targets = {});

/// The log directory of a run: <db dir>/logs/<run>.
std::filesystem::path log_directory(const store::RunStore& db, store::RunId run);

}  // namespace taskloom::runner
