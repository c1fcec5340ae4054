// taskloom/runner/journal.hpp — the durable record of one run, as the runner writes it.
//
//   store::RunStore db = store::RunStore::open(".taskloom/taskloom.db");
//   store::RunId id = db.create_run(runner::new_run_of(wf));
//   store::Lease lease = db.acquire_lease(id);
//   std::unique_ptr<runner::Journal> journal = runner::store_journal(db, lease);
//
// The runner journals every transition the runtime reports (runtime/observer.hpp) and nothing
// it derives itself, so the journal and the runtime cannot disagree. store_journal() writes to
// the SQLite store (each call one transaction, see store/run_store.hpp for durability); a front
// end that keeps runs elsewhere implements the interface.
// Thread-safety: the runner calls a journal from several threads at once (workers, the
// backend's thread, the thread driving the run); for one task the calls come in order.
// Errors: an implementation throws (StorageError, ...); the runner then stops the run and
// rethrows the first error from WorkflowRun::finish().
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "taskloom/core/status.hpp"
#include "taskloom/store/records.hpp"

namespace taskloom::store {
class RunStore;
class Lease;
}  // namespace taskloom::store

namespace taskloom::runner {

class Journal {
 public:
  virtual ~Journal() = default;
  /// The run's tasks as recorded (status, attempts begun), when the runner starts.
  virtual std::vector<store::TaskRecord> tasks() = 0;
  /// Attempts the run's earlier runner left open for this one to follow again (see
  /// store::RunStore::prepare_resume's reattach_backend); by default none.
  virtual std::vector<store::AttemptRecord> open_attempts() { return {}; }
  /// Tasks whose last attempt, in this run or an earlier run of the workflow, did not succeed:
  /// their outputs are not taken as up to date (runner/outputs.hpp); by default none.
  virtual std::vector<std::string> tasks_without_success() { return {}; }
  /// Per task, the wall times of its last successful attempts in any run of the workflow,
  /// newest first (what runner/forecast.hpp forecasts from); by default none.
  virtual std::unordered_map<std::string, std::vector<std::chrono::microseconds>>
  recent_durations() {
    return {};
  }
  /// pending -> ready.
  virtual void task_ready(std::string_view task) = 0;
  /// The attempt exists where it runs; the task is running.
  virtual void attempt_began(std::string_view task, int number,
                             const store::AttemptStart& start) = 0;
  /// An open attempt of an earlier runner is followed again (Backend::reattach); the task is
  /// running.
  virtual void attempt_resumed(std::string_view task, int number) = 0;
  /// The attempt's outcome, and the task's status after it (ready when a retry follows).
  virtual void attempt_ended(std::string_view task, int number,
                             const store::AttemptOutcome& outcome, TaskStatus after) = 0;
  /// Skipped because `upstream` did not succeed.
  virtual void task_skipped(std::string_view task, std::string_view upstream) = 0;
  /// A final status reached without an attempt (cancelled before it started).
  virtual void task_ended(std::string_view task, TaskStatus status, std::string_view detail) = 0;
  virtual void run_ended(store::RunStatus status, std::string_view message) = 0;
  /// Someone asked for the run to stop (`taskloom cancel`, from any process).
  virtual bool cancel_requested() = 0;
  /// Keeps the runner's claim on the run alive (a lease heartbeat).
  virtual void heartbeat() = 0;
};

/// A Journal writing run `lease.run()` of `db`; both must outlive it.
std::unique_ptr<Journal> store_journal(store::RunStore& db, store::Lease& lease);

}  // namespace taskloom::runner
