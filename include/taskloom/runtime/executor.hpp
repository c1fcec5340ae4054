// taskloom/runtime/executor.hpp — the work-stealing worker pool that runs everything.
//
//   runtime::Executor executor;                       // one worker per hardware thread
//   auto f = executor.submit([] { return 42; });      // a single callable
//   f.get();
//   runtime::Run run = executor.run(graph);           // a task graph
//   run.wait();
//
// Each worker owns a priority-ordered ready queue; a worker that runs out of work steals the
// best task of another, and a task that readies a successor hands it straight to its own
// worker. Idle workers spin briefly and then sleep, so an idle executor uses no CPU; new work
// wakes one. A task that waits (Run::wait, Future::get) runs other ready work meanwhile, so
// nested waits never deadlock the pool. A thread outside the pool that waits helps too
// (ExecutorOptions::caller_helps), taking the execution slot of a worker that then sleeps, so
// the pool keeps to N busy threads (a displaced worker first finishes the task it is running);
// it does not help with lanes, nor when it arrives while an interruptible body runs.
//
// Priority lanes (ExecutorOptions::pools): workers may be grouped into pools that run only
// work at or above a priority, e.g. 2 workers kept for interactive work beside 4 that run
// anything. Queued work is taken best priority first, but every `aging_interval`-th take of a
// worker takes the oldest queued item instead, so low-priority work is never starved: a task
// with k items queued before it starts within 2 * aging_interval * (k + 1) takes of the worker
// whose queue holds it (or of any worker, for work submitted from outside the pool).
// Preemption: when work arrives that no free worker of its lanes can take, the executor asks
// the lowest-priority running interruptible task (TaskOptions::interruptible) below it to
// yield; see task_context.hpp.
// Thread-safety: every member may be called from any thread, including from inside tasks.
// Destruction waits for submitted work and runs in flight, then joins the workers.
#pragma once

#include <any>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/priority.hpp"
#include "taskloom/core/resources.hpp"
#include "taskloom/runtime/detail/type_mismatch.hpp"
#include "taskloom/runtime/future.hpp"
#include "taskloom/runtime/run.hpp"

namespace taskloom::runtime {

class TaskGraph;

/// Workers that run only work at or above `min_priority` (a lane), e.g.
///   {.name = "interactive", .workers = 2, .min_priority = Priority::kInteractive}
struct WorkerPool {
  std::string name;
  unsigned workers = 1;
  Priority min_priority{Priority::kMin};  ///< kMin: runs anything
};

/// A named band of priorities: a task is in the class with the highest priority at or below
/// its own. Built in: background, the five levels lowest..highest, urgent, interactive.
struct PriorityClass {
  std::string name;
  Priority priority;
  /// Most submitted jobs of this class queued at once; 0: unbounded. See SubmitOptions.
  std::size_t queue_capacity = 0;
};

struct ExecutorOptions {
  unsigned workers = 0;          ///< 0: std::thread::hardware_concurrency(); see `pools`
  std::shared_ptr<Clock> clock;  ///< for timeouts and retry backoff; null: steady clock
  Duration spin_before_sleep = std::chrono::microseconds(50);  ///< idle spin, then sleep
  std::string thread_name = "taskloom";  ///< workers are named "<thread_name>-<index>"
  /// A thread outside the pool that waits (Run::wait, Future::get) runs ready work meanwhile,
  /// in place of a worker that goes to sleep: no wake-up to wait for, and never more busy
  /// threads than workers. It only waits, without helping, when `pools` has a lane (it would
  /// run laned work outside its lane, with no lane's worker resource) and when it starts
  /// waiting while an interruptible task or job runs (arriving work must preempt it, not
  /// run beside it; see `preemption`). False: it never helps.
  bool caller_helps = true;

  /// Lanes. Empty: `workers` workers in one pool "default" that runs anything. Otherwise the
  /// pools' workers replace `workers`, and at least one pool must run anything.
  std::vector<WorkerPool> pools;
  /// Classes added to the built-in ones, or built-in names given a queue capacity.
  std::vector<PriorityClass> classes;
  /// Called once per worker, on that worker's thread, with its index and pool name; the
  /// result is what TaskContext::worker_resource() returns there (a DB connection, a scratch
  /// buffer...). A thread outside the pool that helps gets one too, made on first use with
  /// index worker_count() and pool "caller" (never with lanes: see caller_helps).
  std::function<std::any(unsigned worker, const std::string& pool)> worker_resource;
  /// Named resource pools (cpu, memory, gpu, license.arnold...) shared by every run; a task
  /// starts only when all it needs (TaskOptions::needs) can be held at once.
  Resources resources;
  /// Every this-many takes, a worker takes the oldest queued item instead of the best.
  unsigned aging_interval = 16;
  /// Interrupt running interruptible tasks for more important arriving work.
  bool preemption = true;
  /// How long an interrupted task has to yield before the next one in line is asked as well
  /// (its thread may be descheduled by the OS for milliseconds). Zero: ask one task only.
  Duration yield_grace = std::chrono::microseconds(200);
  /// Default bound on the interruptions of one task (TaskOptions::max_interruptions).
  unsigned max_interruptions = 8;
};

/// What submit() does when the job's class queue is full.
enum class QueueFullAction {
  kBlock,  ///< wait for room, at most SubmitOptions::max_wait, then throw QueueFullError
  kFail,   ///< throw QueueFullError at once
};

struct SubmitOptions {
  Priority priority = Priority::kNormal;
  QueueFullAction on_full = QueueFullAction::kBlock;
  Duration max_wait = Duration::max();
  /// Cooperative cancellation of the job: stop requested before it starts, it never runs
  /// (as Future::cancel: get() throws CancelledError); a callable invocable as
  /// fn(std::stop_token) is called with this token and decides when to look at it.
  std::stop_token stop_token;
  /// On the executor's clock (Executor::clock()); max(): none. Not started by then, the job
  /// never runs (get() throws DeadlineExceededError, a CancelledError); running by then, the
  /// token given to fn(std::stop_token) fires (it fires for `stop_token` too), and what fn
  /// then returns or throws is the result. E.g. {.deadline = executor.clock().now() + 50ms}.
  TimePoint deadline = TimePoint::max();
};

namespace detail {
class ExecutorCore;
}

class Executor {
 public:
  explicit Executor(ExecutorOptions options = {});
  explicit Executor(unsigned workers) : Executor(with_workers(workers)) {}
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  unsigned worker_count() const noexcept;
  const Clock& clock() const noexcept;

  /// Runs `fn()` (or `fn(stop_token)`, see SubmitOptions, or `fn(JobContext&)`, an
  /// interruptible job: job_context.hpp) on a worker; its result or exception arrives through
  /// the Future.
  template <class F>
  auto submit(F&& fn, Priority priority = Priority::kNormal)
      -> Future<detail::submit_result_t<std::decay_t<F>>> {
    return submit(std::forward<F>(fn), SubmitOptions{.priority = priority});
  }
  /// As above; when the job's class has a queue capacity and its queue is full, blocks or
  /// throws QueueFullError as `options` say. Nothing is dropped silently.
  template <class F>
  auto submit(F&& fn, SubmitOptions options) -> Future<detail::submit_result_t<std::decay_t<F>>> {
    using R = detail::submit_result_t<std::decay_t<F>>;
    const unsigned lane = detail::reserve_queue_room(*this, options);
    auto* job = new detail::SubmittedJob<R, std::decay_t<F>>(
        *this, options.priority, std::forward<F>(fn), std::move(options.stop_token),
        options.deadline);
    Future<R> future(job);
    job->cancel_on_stop();
    detail::schedule(*this, job, options.priority, lane);
    return future;
  }

  /// Submits an interruptible job with a state (job_context.hpp): `body(JobContext&, S&)`
  /// starts from `initial`, or from the state it saved (S::save) when it last yielded
  /// (restored with S::restore). To yield, it returns or throws when
  /// job.interrupt_requested(); the state as it is then is saved. Its return value is the
  /// result once it ends without being interrupted.
  template <SavableState S, class F>
  auto submit_stateful(S initial, F body, SubmitOptions options = {}) {
    return submit(
        [initial = std::move(initial), body = std::move(body)](JobContext& job) mutable {
          S state = job.saved_state().empty() ? initial : S::restore(job.saved_state());
          detail::SaveStateOnExit<S, JobContext> save{job, state};
          return body(job, state);
        },
        std::move(options));
  }

  /// The priority of a class by name (built in or from ExecutorOptions::classes);
  /// UnknownNameError listing the classes otherwise.
  Priority priority_of(std::string_view class_name) const;
  /// The class a priority belongs to.
  const std::string& class_of(Priority priority) const;

  /// The calling worker's per-worker resource (ExecutorOptions::worker_resource) as T;
  /// TypeMismatchError when it is not a T, InvalidStateError off the pool or without a factory.
  template <class T>
  T& worker_resource() const {
    std::any& r = detail::worker_resource(*this);
    if (T* p = std::any_cast<T>(&r)) return *p;
    detail::throw_type_mismatch("the worker resource", typeid(T), r,
                                "ask for the type ExecutorOptions::worker_resource returns");
  }

  /// Use of the executor's resource pools since it started.
  std::vector<PoolUsage> resource_usage() const;

  /// Starts a run of `graph`. Validates first: CycleError, UnknownDependencyError, or
  /// InvalidArgumentError for an unknown target, and nothing runs. `graph` must outlive the
  /// run (its destructor waits for it).
  Run run(const TaskGraph& graph, RunOptions options = {});

  /// Index of the calling worker of this executor, or -1 on any other thread.
  int this_worker() const noexcept;

  detail::ExecutorCore& core() const noexcept { return *core_; }  ///< internal

 private:
  static ExecutorOptions with_workers(unsigned workers) {
    ExecutorOptions options;
    options.workers = workers;
    return options;
  }
  std::unique_ptr<detail::ExecutorCore> core_;
};

}  // namespace taskloom::runtime
