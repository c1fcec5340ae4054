// taskloom/store/records.hpp — what the store records about runs, tasks, attempts and events.
//
//   store::RunId id = store.create_run({.workflow_name = "shot",
//                                       .workflow_path = "/work/shot.yaml",
//                                       .fingerprint = "sha256:...",
//                                       .tasks = {{"render-1", "render"}, {"encode", ""}}});
//   for (const store::TaskRecord& t : store.tasks(id)) std::cout << to_string(t.status);
//
// Times are wall-clock instants with millisecond resolution (stored as unix milliseconds, UTC);
// durations of an attempt are microseconds. These are plain values: reading them takes no lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/core/status.hpp"

namespace taskloom::store {

using RunId = std::int64_t;
using WallTime = std::chrono::sys_time<std::chrono::milliseconds>;

/// "2026-11-22T15:04:08.123Z".
std::string format_time(WallTime t);

/// A run as a whole. kInterrupted is never written by the runner: a run recorded as running
/// whose lease is not live (its runner died or stopped heartbeating) reads back as interrupted.
enum class RunStatus : std::uint8_t { kRunning, kSucceeded, kFailed, kCancelled, kInterrupted };
std::string_view to_string(RunStatus s) noexcept;  ///< "running", "interrupted", ...
std::optional<RunStatus> parse_run_status(std::string_view text) noexcept;

/// One attempt of a task. kRunning while the attempt is open (begun, not finished);
/// kInterrupted when resume found it open: its runner died while it ran.
enum class AttemptStatus : std::uint8_t {
  kRunning,
  kSucceeded,
  kFailed,
  kTimedOut,
  kCancelled,
  kInterrupted,
};
std::string_view to_string(AttemptStatus s) noexcept;  ///< "running", "timed_out", ...
std::optional<AttemptStatus> parse_attempt_status(std::string_view text) noexcept;

/// A task of a new run; `group` is free text (e.g. the matrix task it was expanded from).
struct TaskSpec {
  std::string id;
  std::string group;
};

struct NewRun {
  std::string workflow_name;
  std::string workflow_path;  ///< compared as given by latest_run_for(): pass it canonical
  std::string fingerprint;    ///< of the workflow's content, so resume can detect edits
  std::vector<TaskSpec> tasks;
  /// The tasks or groups the run was asked for (`taskloom run FILE TASK...`); empty: all.
  std::vector<std::string> targets;
};

/// Who drives a run: a process on a host.
struct LeaseHolder {
  std::string host;
  std::int64_t pid = 0;
  static LeaseHolder this_process();  ///< gethostname() and getpid()
  friend bool operator==(const LeaseHolder&, const LeaseHolder&) = default;
};

struct LeaseInfo {
  LeaseHolder holder;
  WallTime acquired;
  WallTime heartbeat;  ///< last acquire or renew
  std::chrono::milliseconds ttl{0};
  /// Heartbeat younger than ttl and, when the holder is on this host, its pid is alive.
  bool live = false;
};

struct RunRecord {
  RunId id = 0;
  std::string workflow_name;
  std::string workflow_path;
  std::string fingerprint;
  std::vector<std::string> targets;  ///< as given to create_run; empty: the whole workflow
  RunStatus status = RunStatus::kRunning;
  std::string message;
  WallTime created;
  std::optional<WallTime> started;  ///< first set_run_status(kRunning)
  std::optional<WallTime> ended;    ///< last final status; cleared by prepare_resume
  bool cancel_requested = false;
  std::optional<LeaseInfo> lease;
};

struct TaskRecord {
  std::string id;
  std::string group;
  TaskStatus status = TaskStatus::kPending;
  int attempts = 0;     ///< highest attempt number begun
  int failures = 0;     ///< attempts that ended failed or timed out (retries used)
  std::string message;  ///< of the last finished attempt; of a task that never ran, why it ended
  std::string skipped_because;  ///< the upstream task, when skipped
  WallTime updated;
};

struct AttemptStart {
  std::int64_t pid = 0;   ///< 0 when not a process
  std::int64_t pgid = 0;  ///< 0 when not a process
  std::string stdout_path;
  std::string stderr_path;
  std::string backend = "local";  ///< where it ran: "local", "slurm"
  std::string job_id;             ///< the cluster job, when the backend has one
  std::string nodes;              ///< the host or node list it ran on
};

struct AttemptOutcome {
  AttemptStatus status = AttemptStatus::kSucceeded;  ///< any but kRunning
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::chrono::microseconds wall{0};
  std::chrono::microseconds user{0};
  std::chrono::microseconds sys{0};
  std::int64_t peak_rss_kb = 0;
  std::string message;
  /// Where it ran, when known only at the end (a Slurm job's nodes); empty keeps what
  /// AttemptStart::nodes recorded.
  std::string nodes;
};

struct AttemptRecord {
  std::string task;
  int number = 0;
  AttemptStatus status = AttemptStatus::kRunning;
  AttemptStart start;
  WallTime started;
  std::optional<WallTime> ended;
  AttemptOutcome outcome;  ///< meaningful once ended; outcome.status == status
};

/// A state transition. `task` is empty for the run itself (then from/to are run statuses).
struct EventRecord {
  std::int64_t seq = 0;  ///< 1, 2, 3, ... per run, without gaps
  WallTime time;
  std::string task;
  std::string from;
  std::string to;
  std::string detail;
};

/// What prepare_resume() did. Task ids in the run's task order.
struct ResumePlan {
  std::vector<std::string> succeeded;    ///< must not run again
  std::vector<std::string> interrupted;  ///< had an open attempt, now recorded as interrupted
  /// Had an open attempt of the backend that resumes the run (a Slurm job), left open for the
  /// runner to follow again.
  std::vector<std::string> reattached;
  std::vector<std::string> reset;  ///< set back to pending: these run again
};

}  // namespace taskloom::store
