// taskloom/store/run_store.hpp — durable run state in SQLite: runs, tasks, attempts, events.
//
//   auto store = store::RunStore::open(".taskloom/taskloom.db");
//   store::RunId run = store.create_run({"shot", "/w/shot.yaml", "sha256:..", {{"a", ""}}});
//   store::Lease lease = store.acquire_lease(run);
//   store.set_run_status(run, store::RunStatus::kRunning);
//   store.begin_attempt(run, "a", 1, {.pid = pid, .pgid = pid, .stdout_path = "a.1.out"});
//   store.finish_attempt(run, "a", 1, {.status = store::AttemptStatus::kSucceeded},
//                        TaskStatus::kSucceeded);
//   // after kill -9, in a new process:
//   store::ResumePlan plan = store.prepare_resume(run);  // plan.succeeded never run again
//
// Durability: every method that changes state is one SQLite transaction, committed before it
// returns, in WAL mode. Every returned call survives kill -9 of the process, whatever the
// Durability. Against power loss or an OS crash: kFull fsyncs every commit; kOutcomes (the
// default) returns from the calls that record outcomes (create_run, finish_attempt, skip_task,
// set_run_status, prepare_resume, request_cancel, acquire_lease) only once the journal is
// fsynced, which also makes every earlier commit durable, so only plain transitions and begun
// attempts since the last outcome can be lost (resume then re-runs those tasks; no recorded
// success is lost). Concurrent outcome calls share one fsync (group commit), made without
// holding the store's lock. kBackground is kOutcomes except that finish_attempt and skip_task
// return after their commit and a store thread fsyncs them right after (the outcomes of the
// last fsync's duration, about a millisecond, can be lost to a power cut; flush() waits for
// them): what a runner uses so that no task waits for the disk before the next one starts.
// kNormal fsyncs only at WAL checkpoints. The file is never corrupted.
// Several processes may open one file (a runner writing, `status` and `cancel` reading); a
// writer waits up to busy_timeout for another's transaction.
// Errors: StorageError naming the file and the operation (disk full says so); BusyError when
// the database stays locked longer than busy_timeout or a lease is held; InvalidArgumentError
// for an unknown run or task. Thread-safety: every method may be called from any thread; calls
// are serialized on one connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "taskloom/core/status.hpp"
#include "taskloom/store/lease.hpp"
#include "taskloom/store/records.hpp"

namespace taskloom::store {

/// When a commit is fsynced (see the file comment); all three survive kill -9.
enum class Durability : std::uint8_t {
  kFull,        ///< synchronous=FULL: every commit (about 200 commits/s on a plain disk)
  kOutcomes,    ///< NORMAL, plus a shared fsync before an outcome call returns
  kBackground,  ///< kOutcomes, but attempt outcomes and skips are fsynced just after they return
  kNormal,      ///< synchronous=NORMAL: fsync at checkpoints only; power loss may drop the tail
};

struct StoreOptions {
  Durability durability = Durability::kOutcomes;
  std::chrono::milliseconds busy_timeout{5000};
  /// Wall clock for recorded times and lease heartbeats; null means system_clock.
  std::function<WallTime()> wall_clock;
  /// Caps the database at this many pages (0: no cap); how tests make the disk "full".
  std::int64_t max_pages = 0;
  /// false: open only an existing taskloom database — never create the file, its directory or
  /// the schema (InvalidArgumentError for a missing or empty file, or one without the schema).
  /// What the commands that only read or signal a run use.
  bool create = true;
};

/// What prepare_resume() sets back to pending besides tasks that were ready or running.
enum class ResumeScope : std::uint8_t {
  kAllUnsucceeded,   ///< also failed, timed_out, cancelled and skipped tasks (default)
  kInterruptedOnly,  ///< only ready and running ones; final failures stay
};

class RunStore {
 public:
  /// The newest schema this build knows; migrations 1..kSchemaVersion run at open.
  static constexpr int kSchemaVersion = 4;

  /// Opens or creates the database (and its parent directories), applies missing migrations
  /// each in its own transaction, and refuses a file from a newer schema version.
  static RunStore open(const std::filesystem::path& file, StoreOptions options = {});

  RunStore(RunStore&&) noexcept;
  RunStore& operator=(RunStore&&) noexcept;
  ~RunStore();

  const std::filesystem::path& file() const noexcept;
  /// Returns once every outcome recorded so far is fsynced (Durability::kBackground; at once
  /// otherwise). Throws the StorageError of a background fsync that failed; after one, every
  /// outcome call throws it too.
  void flush();

  // --- runs
  /// Records a run (status running, every task pending) and returns its id (1, 2, ...).
  /// DuplicateIdError when two tasks share an id.
  RunId create_run(const NewRun& run);
  std::optional<RunRecord> find_run(RunId run) const;
  /// Newest first; limit 0 means all.
  std::vector<RunRecord> list_runs(std::size_t limit = 0) const;
  std::optional<RunRecord> latest_run_for(std::string_view workflow_path) const;
  /// kRunning sets the start time once; a final status sets the end time. Appends an event.
  void set_run_status(RunId run, RunStatus status, std::string_view message = {});

  // --- tasks
  std::vector<TaskRecord> tasks(RunId run) const;  ///< in the order given to create_run
  std::optional<TaskRecord> find_task(RunId run, std::string_view task) const;
  /// Records a transition (and its event) atomically.
  void set_task_status(RunId run, std::string_view task, TaskStatus to,
                       std::string_view detail = {});
  /// set_task_status for each of `tasks`, in order, in one transaction (a million tasks that
  /// become ready at once are one commit, not a million).
  void set_task_statuses(RunId run, std::span<const std::string> tasks, TaskStatus to);
  /// Marks `task` skipped because `upstream` did not succeed.
  void skip_task(RunId run, std::string_view task, std::string_view upstream);

  // --- attempts (never deleted)
  /// Opens attempt `number` (1, 2, ...) and moves the task to running, atomically.
  void begin_attempt(RunId run, std::string_view task, int number, const AttemptStart& start);
  /// Closes the attempt with its outcome and moves the task to `task_after` (e.g. succeeded,
  /// or ready when a retry follows), atomically: a succeeded attempt is never left with a task
  /// that resume would run again. InvalidStateError if the attempt is not open.
  void finish_attempt(RunId run, std::string_view task, int number, const AttemptOutcome& outcome,
                      TaskStatus task_after);
  /// A runner follows again open attempt `number` that an earlier runner began (resume
  /// reattached to its job): the task moves to running again. InvalidStateError if the attempt
  /// is not open.
  void resume_attempt(RunId run, std::string_view task, int number);
  /// Attempts of one task, or of every task when `task` is empty; by task order, then number.
  std::vector<AttemptRecord> attempts(RunId run, std::string_view task = {}) const;
  /// Ids of the tasks whose latest attempt in any run of the workflow at `workflow_path` did not
  /// succeed (failed, timed out, cancelled, interrupted, or open): files they made may be partial.
  std::vector<std::string> tasks_without_success(std::string_view workflow_path) const;
  /// Per task id, the wall times of its last `per_task` succeeded attempts over every run of
  /// the workflow at `workflow_path`, newest first: what forecasts are made from.
  std::unordered_map<std::string, std::vector<std::chrono::microseconds>> recent_durations(
      std::string_view workflow_path, std::size_t per_task) const;

  // --- events
  /// Transitions with seq > after_seq, in order.
  std::vector<EventRecord> events(RunId run, std::int64_t after_seq = 0) const;

  // --- resume and cancellation
  /// In one transaction: open attempts become interrupted, ready/running tasks (and with
  /// kAllUnsucceeded every other unsucceeded task) go back to pending, the run is running
  /// again with its cancel request cleared. Call it holding the run's lease.
  /// Open attempts recorded by `reattach_backend` with a job id (jobs that live on without
  /// their runner, e.g. "slurm") stay open instead, for the runner to follow again.
  ResumePlan prepare_resume(RunId run, ResumeScope scope = ResumeScope::kAllUnsucceeded,
                            std::string_view reattach_backend = {});
  /// Sets the run's cancel flag; the runner polls cancel_requested(). Works from any process.
  void request_cancel(RunId run);
  bool cancel_requested(RunId run) const;

  // --- leases (see lease.hpp)
  /// Takes the run for `holder` unless another holder's lease is live (BusyError naming it);
  /// a dead or stale lease is taken over; the same holder re-acquiring refreshes it.
  Lease acquire_lease(RunId run, const LeaseHolder& holder = LeaseHolder::this_process(),
                      std::chrono::milliseconds ttl = std::chrono::seconds(30));
  std::optional<LeaseInfo> lease_of(RunId run) const;

 private:
  explicit RunStore(std::shared_ptr<detail::StoreState> state);
  std::shared_ptr<detail::StoreState> state_;
};

}  // namespace taskloom::store
