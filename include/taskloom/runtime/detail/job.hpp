// Internal: the seam between header-only templates (submit, Future) and the executor.
#pragma once

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <utility>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/priority.hpp"

namespace taskloom::runtime {
class Executor;
struct SubmitOptions;
}  // namespace taskloom::runtime

namespace taskloom::runtime::detail {

/// A callable submitted without a graph. The executor calls run() exactly once.
class Job {
 public:
  virtual void run() noexcept = 0;

 protected:
  ~Job() = default;
};

/// Takes room in the queue of the class of `options.priority` when it is bounded (blocking or
/// throwing QueueFullError as asked); returns the lane to give schedule() (0: unbounded).
unsigned reserve_queue_room(Executor& executor, const SubmitOptions& options);

/// Queues `job` on `executor` (the calling worker's own queue when called from a worker).
/// `lane` is reserve_queue_room()'s answer; its room is given back when the job starts.
void schedule(Executor& executor, Job* job, Priority priority, unsigned lane = 0);

/// Moves `job`, if it is still queued, to the place of `priority`.
void reprioritize(Executor& executor, Job* job, Priority priority);

/// A callback armed on the executor's timer thread (its Clock).
using TimerId = std::pair<TimePoint, std::uint64_t>;
/// Calls `fn` on the executor's timer thread once its clock reaches `deadline`.
TimerId start_timer(Executor& executor, TimePoint deadline, std::function<void()> fn);
/// Disarms a timer; when it has fired already, returns once its callback has finished.
void stop_timer(Executor& executor, const TimerId& id);

/// Around a call of an interruptible job on the calling thread: makes it a candidate for
/// preemption at `priority`, asked through `stop` and `requested`. False (and nothing to
/// leave) off the pool, with preemption off, or past ExecutorOptions::max_interruptions.
bool enter_interruptible(Executor& executor, Priority priority, unsigned interruptions,
                         const std::stop_source& stop, std::atomic<bool>& requested);
void leave_interruptible(Executor& executor) noexcept;

/// The calling thread's per-worker resource.
std::any& worker_resource(const Executor& executor);

/// Returns once `done` is non-zero. A worker of `executor` runs other ready work meanwhile; any
/// other thread helps too, then sleeps on `done` when there is nothing to take.
void help_until(Executor& executor, const std::atomic<std::uint32_t>& done);

/// Sleeps (without helping) until `done` is non-zero or `timeout` passed; true when done.
bool sleep_until_done(Executor& executor, const std::atomic<std::uint32_t>& done,
                      std::chrono::nanoseconds timeout);

/// Sets `done` to 1 (release) and wakes the threads sleeping in `executor`'s help_until().
void signal_done(Executor& executor, std::atomic<std::uint32_t>& done) noexcept;

/// Called by a job's run() once its callable returned, before it publishes the result: the
/// calling pool worker of `executor` counts as free from then on, so work submitted by a thread
/// that saw the result finds it free instead of interrupting a body (see preempt_for()).
void body_returned(Executor& executor) noexcept;

}  // namespace taskloom::runtime::detail
