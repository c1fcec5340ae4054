// taskloom/runtime/run.hpp — options for running a graph, and the handle of a run in flight.
//
//   runtime::Run run = executor.run(graph, {.max_concurrency = 4,
//                                           .failure_policy = runtime::FailurePolicy::kFailFast,
//                                           .trace_path = "trace.json"});
//   run.progress();   // {done, total}
//   run.status("encode");   // TaskStatus::kRunning, ... while the run is in flight
//   run.cancel("preview");  // one task: it ends cancelled, its dependents are skipped
//   run.cancel();     // stop starting tasks; running ones see their stop token fire
//   const runtime::RunReport& r = run.report();   // waits, then reports
//
// Semantics (docs/design.md): a task starts as soon as its own dependencies succeeded; a task whose
// dependency did not succeed is skipped and names it; a failed attempt with retries left runs
// again after an exponential backoff with jitter; a timeout requests stop on the attempt's
// token and counts as a failed attempt; ready tasks go by priority, then by upward rank
// (longest remaining path first). A task that returns after its run was cancelled ends
// cancelled, one that returns after its timeout ends timed out, whatever it returned.
// Thread-safety: every member may be called from any thread. wait() and report() called from
// a task of the same executor run other ready work instead of blocking the worker.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/priority.hpp"
#include "taskloom/core/resources.hpp"
#include "taskloom/core/status.hpp"
#include "taskloom/runtime/observer.hpp"
#include "taskloom/runtime/report.hpp"
#include "taskloom/runtime/shared_state.hpp"

namespace taskloom::runtime {

enum class FailurePolicy {
  kContinue,  ///< a failure skips only its dependents; independent branches go on (default)
  kFailFast,  ///< the first final failure (retries used up) cancels the rest of the run
};

enum class ExecutionMode {
  kEager,            ///< a task starts when its own dependencies are done (default)
  kWaveSynchronous,  ///< wave k+1 starts only when every task of wave k has ended
};

/// Delay before attempt n+1: min(max, initial * multiplier^(n-1)), of which a random fraction
/// up to `jitter` is taken off, so that retries of many tasks spread out.
struct RetryBackoff {
  Duration initial = std::chrono::milliseconds(10);
  double multiplier = 2.0;
  Duration max = std::chrono::seconds(30);
  double jitter = 0.5;  ///< in [0, 1]
};

struct RunOptions {
  std::size_t max_concurrency = 0;  ///< most tasks of this run running at once; 0: no limit
  FailurePolicy failure_policy = FailurePolicy::kContinue;
  ExecutionMode mode = ExecutionMode::kEager;
  RetryBackoff backoff;
  std::vector<std::string> targets;     ///< run only these and what they need; empty: all
  std::string trace_path;               ///< write a Chrome trace here when the run ends
  std::shared_ptr<SharedState> shared;  ///< state for the tasks; a fresh one when null
  /// Resource pools private to this run, in place of the executor's (ExecutorOptions::
  /// resources) for its tasks' needs. Empty: the executor's.
  Resources resources;
  /// Told every transition of the run as it happens (observer.hpp); kept alive by the run.
  std::shared_ptr<RunObserver> observer;
};

struct Progress {
  std::size_t done = 0;   ///< tasks in a final state
  std::size_t total = 0;  ///< tasks in this run
};

namespace detail {
class RunState;
}

class Run {
 public:
  /// An empty handle: every member but valid() throws InvalidStateError.
  Run() = default;
  explicit Run(std::shared_ptr<detail::RunState> state);

  bool valid() const noexcept { return state_ != nullptr; }
  /// True once every task of the run is in a final state.
  bool done() const;
  /// Returns when done(); the calling thread helps run ready work meanwhile.
  void wait() const;
  /// Stops starting tasks at once (a thread that already took a task off a queue may still
  /// start that one) and requests stop on every running task; pending retries end at once.
  /// Idempotent; no effect on a run that has ended.
  void cancel();
  bool cancelled() const;
  /// Cancels one task, not the run: a task that has not started never starts (waiting for a
  /// retry, resources, a slot or its wave included) and ends kCancelled; a running attempt
  /// with a stop source of its own (a timeout, TaskOptions::interruptible, add_async) sees
  /// its stop token fire with stop_reason() kCancelled, any other runs to the end of its body;
  /// either way the task ends kCancelled, with no retry. Its dependents end kSkipped with
  /// skipped_because naming it; independent tasks go on. No effect on a task that has ended.
  /// InvalidArgumentError for an unknown id or a task outside RunOptions::targets.
  void cancel(std::string_view task);
  /// The state of one task now: kPending (dependencies not done), kReady (queued, or waiting
  /// for a retry or a resource), kRunning, or its final state. Errors as cancel(task).
  TaskStatus status(std::string_view task) const;
  Progress progress() const;
  /// Waits, then returns the report (built once, then cached in the run).
  const RunReport& report() const&;
  /// On a temporary (`executor.run(g).report()`), a copy that outlives the handle.
  RunReport report() &&;
  /// The run's shared state.
  SharedState& shared() const;
  /// Gives a task that has not started yet a new priority, at once: queued (a task without
  /// dependencies included), it moves to its new place; not ready yet, it is queued by it
  /// later. No effect on a started task or an ended run.
  /// InvalidArgumentError for an unknown id.
  void set_priority(std::string_view task, Priority priority);

 private:
  std::shared_ptr<detail::RunState> state_;
};

}  // namespace taskloom::runtime
