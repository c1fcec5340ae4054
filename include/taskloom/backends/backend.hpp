// taskloom/backends/backend.hpp — the one interface behind which an attempt of a task runs
// somewhere: a local process group (LocalBackend), a Slurm job (SlurmBackend), ...
//
//   backends::AttemptSpec spec{.task = "render-11", .attempt = 1,
//                              .command = "blender -b shot.blend -f 11",
//                              .stdout_path = "logs/1/render-11.1.out",
//                              .stderr_path = "logs/1/render-11.1.err",
//                              .needs = {{"cpu", 4}, {"gpu", 1}}};
//   backend.start(std::move(spec), stop_token,
//                 {.started = [](const backends::Placement& p) { /* p.job_id, p.nodes */ },
//                  .ended = [](backends::AttemptResult r) { /* exactly once */ }});
//
// start() returns at once: the attempt then runs without holding the calling thread, and the
// backend reports its end from a thread of its own. `started` is called at most once, before
// `ended`, when the attempt exists where it runs (a pid, a Slurm job id), possibly from within
// start(); `ended` is called exactly once, also when the attempt never started (kFailedToStart,
// then possibly from within start()) and when it was stopped.
// A stop request on `stop` ends the attempt (SIGTERM to its group, then SIGKILL after the
// spec's kill_grace; or scancel) and reports kCancelled — unless it ended by itself first.
// The backend enforces `timeout` itself (where the attempt runs, so that queue time in a
// cluster does not count) and reports kTimedOut.
// Thread-safety: every member may be called from any thread. Callbacks run on a backend thread
// (or the caller's, as said above) and must not block for long; they may call start() again. The
// destructor stops every attempt still running (as kill_all) and waits for their `ended` callbacks.
// Errors: misuse (empty command, bad environment names) throws InvalidArgumentError from
// start(); everything that happens to the attempt is a value in AttemptResult.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/priority.hpp"
#include "taskloom/core/resources.hpp"

namespace taskloom::backends {

/// What one attempt runs, and what it needs where it runs.
struct AttemptSpec {
  std::string task;     ///< the task's id
  int attempt = 1;      ///< 1, 2, ... counting the attempts of earlier runners of the run
  std::string command;  ///< command line; run without a shell when it has no shell syntax
  /// Added to the environment the attempt inherits, overriding (last one wins).
  std::vector<std::pair<std::string, std::string>> env;
  std::filesystem::path cwd;          ///< working directory; empty: the runner's
  std::filesystem::path stdout_path;  ///< created with its parent directories, truncated;
  std::filesystem::path stderr_path;  ///< may be the same file; empty: /dev/null
  Resources needs;                    ///< canonical names (cpu, memory in bytes, gpu, ...)
  std::vector<std::string> features;  ///< node features the attempt must run on
  Duration timeout{};                 ///< zero: none; enforced by the backend
  Duration kill_grace = std::chrono::seconds(5);  ///< between SIGTERM and SIGKILL
  Priority priority;                              ///< a hint for a backend that queues
};

/// Where an attempt runs, as soon as the backend knows.
struct Placement {
  std::string backend;   ///< "local", "slurm"
  std::int64_t pid = 0;  ///< local: the process (and process group) id; else 0
  std::string job_id;    ///< cluster backends: the job id; else empty
  std::string nodes;     ///< where it runs: host name, or a Slurm node list
};

/// How an attempt ended.
struct AttemptResult {
  enum class End {
    kSucceeded,      ///< exit status 0
    kFailed,         ///< non-zero exit, a signal, out of memory, node failure, vanished job...
    kTimedOut,       ///< ran past AttemptSpec::timeout and was stopped
    kCancelled,      ///< stopped through its stop token (before start too)
    kFailedToStart,  ///< nothing ran: bad cwd, log file, submission refused...
  };
  End end = End::kFailedToStart;
  int exit_code = -1;     ///< when it exited, else -1
  int signal = 0;         ///< the signal that ended it, else 0
  Duration wall{};        ///< from start to end where it ran (queue time excluded)
  Duration user_cpu{};    ///< when known
  Duration system_cpu{};  ///< when known
  long peak_rss_kb = 0;   ///< when known
  /// Where it ran, when the backend learns that only at the end (a Slurm node list); empty
  /// when Placement::nodes said it already.
  std::string nodes;
  /// The backend's own word for a failure, kept as it says it ("OUT_OF_MEMORY",
  /// "NODE_FAIL", "PREEMPTED"; empty for a plain exit), for classifying failures.
  std::string reason;
  /// One line for people: "exit status 3", "killed by signal SIGSEGV (11)", "timed out after
  /// 5s: sent SIGTERM to its process group, SIGKILL after 2s grace", "Slurm job 41 ended
  /// OUT_OF_MEMORY on n2".
  std::string message;
  bool succeeded() const noexcept { return end == End::kSucceeded; }
};

/// "succeeded", "failed", "timed_out", "cancelled", "failed_to_start".
std::string_view to_string(AttemptResult::End end) noexcept;

struct AttemptCallbacks {
  std::function<void(const Placement&)> started;  ///< at most once, before `ended`; optional
  std::function<void(AttemptResult)> ended;       ///< exactly once; required
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// "local", "slurm": recorded with every attempt.
  virtual std::string_view name() const noexcept = 0;
  /// Starts one attempt and returns at once (see the file comment).
  virtual void start(AttemptSpec spec, std::stop_token stop, AttemptCallbacks callbacks) = 0;
  /// Picks up an attempt that an earlier runner started and did not see end (resume after a
  /// crash): reports its end through `callbacks` as start() would, and returns true; false
  /// when the backend cannot follow it (a local process of a dead runner), and then calls
  /// nothing.
  virtual bool reattach(const AttemptSpec& spec, const Placement& where, std::stop_token stop,
                        AttemptCallbacks callbacks) {
    (void)spec, (void)where, (void)stop, (void)callbacks;
    return false;
  }
  /// Ends every running attempt at once, without grace (SIGKILL, scancel --signal=KILL);
  /// each still reports kCancelled through `ended`.
  virtual void kill_all() = 0;
  /// Attempts started and not yet reported ended.
  virtual std::size_t running() const = 0;
  /// What attempts may use in all where they run, for the pools a workflow does not declare
  /// (see workflow::capacities): this machine's cores and memory for a local backend; empty
  /// for a cluster, whose own scheduler bounds its jobs.
  virtual Resources capacity() const { return {}; }
};

}  // namespace taskloom::backends
