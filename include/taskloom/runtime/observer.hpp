// taskloom/runtime/observer.hpp — watch every transition of a run as it happens.
//
//   struct Log : runtime::RunObserver {
//     void on_attempt_end(const runtime::TaskRef& t, const runtime::AttemptEnd& e) override {
//       std::printf("%s attempt %u: %s%s\n", std::string(t.id).c_str(), e.attempt,
//                   std::string(to_string(e.status)).c_str(), e.retry ? " (retrying)" : "");
//     }
//   };
//   executor.run(graph, {.observer = std::make_shared<Log>()}).wait();
//
// For each task the calls come in the order of its transitions: on_ready (pending -> ready),
// then per attempt on_attempt_begin and on_attempt_end (which says whether a retry follows,
// or that the task was interrupted and is queued again), and exactly once on_task_end with the
// final status — also for a task that never started (skipped, naming the upstream task that
// did not succeed; cancelled). A successor's on_ready comes after its dependencies'
// on_task_end. on_run_end comes last, before Run::wait() returns.
// Thread-safety: calls are made on the threads making the transitions (workers, the timer
// thread, a thread that completes an async task), so several may run at once for different
// tasks; the observer synchronises its own state. Calls must be quick and must not throw (an
// exception escaping one terminates the program); they may call Run::cancel().
#pragma once

#include <cstdint>
#include <exception>
#include <string_view>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/status.hpp"

namespace taskloom::runtime {

/// A task of the run being observed: its index in the graph and its id ("#<index>" when
/// anonymous). The id view is valid during the call only.
struct TaskRef {
  std::uint32_t index = 0;
  std::string_view id;
};

/// Why a task's stop token fired.
enum class StopReason : std::uint8_t {
  kNone,         ///< it has not
  kCancelled,    ///< the run was cancelled
  kTimedOut,     ///< the attempt ran past its timeout
  kInterrupted,  ///< the executor asked it to yield to more important work
};
std::string_view to_string(StopReason r) noexcept;  ///< "none", "cancelled", ...

/// How one attempt ended.
struct AttemptEnd {
  unsigned attempt = 1;  ///< 1 for the first attempt
  /// kSucceeded, kFailed, kTimedOut or kCancelled; kReady when it yielded (interrupted) and
  /// is queued again to start over, or from its saved state, as the same attempt.
  TaskStatus status = TaskStatus::kSucceeded;
  bool retry = false;        ///< a failure or timeout with retries left: it runs again
  Duration retry_in{};       ///< the backoff before that retry
  std::string_view message;  ///< of a failure: the exception's what(), "timed out after 2s"
  std::exception_ptr error;  ///< of a failure, when it threw
  unsigned worker = 0;       ///< the worker that ran (or started) the attempt
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  /// Its dependencies have succeeded (at the start for tasks without any).
  virtual void on_ready(const TaskRef& /*task*/) {}
  /// An attempt starts, holding its resources and concurrency slot.
  virtual void on_attempt_begin(const TaskRef& /*task*/, unsigned /*attempt*/,
                                unsigned /*worker*/) {}
  virtual void on_attempt_end(const TaskRef& /*task*/, const AttemptEnd& /*end*/) {}
  /// The final status; `upstream` names the dependency that did not succeed when skipped.
  virtual void on_task_end(const TaskRef& /*task*/, TaskStatus /*status*/,
                           std::string_view /*upstream*/) {}
  /// Every task is final. `cancelled`: the run was cancelled.
  virtual void on_run_end(bool /*cancelled*/) {}
};

}  // namespace taskloom::runtime
