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
// the pool keeps to N busy threads (a displaced worker first finishes the task it is running).
// Thread-safety: every member may be called from any thread, including from inside tasks.
// Destruction waits for submitted work and runs in flight, then joins the workers.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/priority.hpp"
#include "taskloom/runtime/future.hpp"
#include "taskloom/runtime/run.hpp"

namespace taskloom::runtime {

class TaskGraph;

struct ExecutorOptions {
  unsigned workers = 0;          ///< 0: std::thread::hardware_concurrency()
  std::shared_ptr<Clock> clock;  ///< for timeouts and retry backoff; null: steady clock
  Duration spin_before_sleep = std::chrono::microseconds(50);  ///< idle spin, then sleep
  std::string thread_name = "taskloom";  ///< workers are named "<thread_name>-<index>"
  /// A thread outside the pool that waits (Run::wait, Future::get) runs ready work meanwhile,
  /// in place of a worker that goes to sleep: no wake-up to wait for, and never more busy
  /// threads than workers. False: it only sleeps until the result is there.
  bool caller_helps = true;
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

  /// Runs `fn()` on a worker; its result or exception arrives through the Future.
  template <class F>
  auto submit(F&& fn, Priority priority = Priority::kNormal)
      -> Future<std::invoke_result_t<std::decay_t<F>&>> {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    auto* job = new detail::SubmittedJob<R, std::decay_t<F>>(*this, std::forward<F>(fn));
    Future<R> future(job);
    detail::schedule(*this, job, priority);
    return future;
  }

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
