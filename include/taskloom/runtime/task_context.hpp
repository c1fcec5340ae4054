// taskloom/runtime/task_context.hpp — what a running task can see and do.
//
//   g.add("encode", [](runtime::TaskContext& ctx) {
//     const auto& frames = ctx.result<std::vector<Frame>>("render");   // a dependency's result
//     if (ctx.stop_requested()) return;                                 // cancelled or timed out
//     ctx.shared().update<int>("encoded", [](int& n) { ++n; });
//     auto child = ctx.spawn([] { return 1; });                         // dynamic task
//     child.get();                                                      // worker keeps working
//   }, {.after = {"render"}});
//
// A context is valid only during the call that received it, on that thread.
// Cancellation is cooperative: the stop token fires when the run is cancelled or the attempt
// times out, and the body decides when to look.
// Interruption (TaskOptions::interruptible): when more important work arrives and no worker
// is free for it, the stop token fires and interrupt_requested() turns true. A body that then
// returns is queued again (unless it calls decline_reschedule()) and starts from the beginning,
// or from what it gave save_state() (TaskGraph::add_stateful does both for a typed state).
#pragma once

#include <any>
#include <atomic>
#include <cstdint>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/completion.hpp"
#include "taskloom/runtime/detail/type_mismatch.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/observer.hpp"

namespace taskloom::runtime {

class TaskGraph;

namespace detail {
struct AttemptControl;
struct DeferredAttempt;
}  // namespace detail

/// One dependency of a task and its result, from TaskContext::dependency_results(); valid
/// while the context is.
struct DependencyResult {
  std::string id;         ///< the dependency's id ("#<index>" for an anonymous task)
  const std::any* value;  ///< its result: empty for a void body

  /// The result as T; TypeMismatchError naming both types when it is not a T (or empty).
  template <class T>
  const T& as() const {
    if (const T* p = std::any_cast<T>(value)) return *p;
    detail::throw_type_mismatch("the result of '" + id + "'", typeid(T), *value,
                                "read it with the type the dependency returns");
  }
};

class TaskContext {
 public:
  /// The task's id ("#<index>" for an anonymous task).
  std::string id() const;
  /// 1 for the first attempt, 2 for the first retry, ...
  unsigned attempt() const noexcept { return attempt_; }
  /// Index of the worker running the task; Executor::worker_count() on a thread outside the
  /// pool that runs it while waiting.
  unsigned worker() const noexcept { return worker_; }

  /// Fires when the run is cancelled, this attempt times out, or the task is interrupted.
  std::stop_token stop_token() const;
  bool stop_requested() const noexcept { return stop_->stop_requested(); }

  /// Why the stop token fired: kNone while it has not.
  StopReason stop_reason() const noexcept;

  /// The executor asked this (interruptible) task to yield to more important work.
  bool interrupt_requested() const noexcept;
  /// Times this task was interrupted before this start.
  unsigned interruptions() const noexcept;
  /// When interrupted, end with what the body returns instead of being queued again.
  void decline_reschedule() noexcept;
  /// What the task saved when it was last interrupted ("" at first).
  std::string_view saved_state() const noexcept;
  /// Keeps `bytes` for the task's next start, if it is interrupted.
  void save_state(std::string bytes);

  /// The per-worker resource of the thread running the task (ExecutorOptions::
  /// worker_resource) as T; TypeMismatchError when it is not a T.
  template <class T>
  T& worker_resource() const {
    return executor_->worker_resource<T>();
  }

  /// The result of the dependency `id`, as T. InvalidArgumentError if `id` is not a
  /// dependency of this task; TypeMismatchError if its result is not a T (or it has none).
  template <class T>
  const T& result(std::string_view dependency) const {
    const std::any& value = dependency_result(dependency);
    if (const T* p = std::any_cast<T>(&value)) return *p;
    throw_result_type_mismatch(dependency, typeid(T), value);
  }

  /// Every dependency with its result, in the order the graph lists them: for bodies that do
  /// not know their dependencies' ids in advance, e.g.
  ///   for (const auto& d : ctx.dependency_results()) total += d.as<int>();
  std::vector<DependencyResult> dependency_results() const;

  /// The state shared by every task of the run.
  SharedState& shared() const;
  /// The value of metadata `key`, "" when absent.
  std::string_view metadata(std::string_view key) const;

  /// The executor running this task.
  Executor& executor() const noexcept { return *executor_; }
  /// Runs `fn` as a child task on this executor; waiting on the Future inside this task keeps
  /// the worker busy with other work.
  template <class F>
  auto spawn(F&& fn, Priority priority = Priority::kNormal) {
    return executor_->submit(std::forward<F>(fn), priority);
  }
  /// Runs `subgraph` as a nested run (it must outlive the run); wait on it from this task.
  Run run(const TaskGraph& subgraph, RunOptions options = {}) {
    return executor_->run(subgraph, std::move(options));
  }

  /// Internal: TaskGraph::add_async's body takes the attempt's Completion here, once.
  Completion defer();

  /// Internal: made by the executor for each attempt.
  TaskContext(detail::RunState& run, std::uint32_t node, unsigned attempt, unsigned worker,
              Executor& executor, const std::stop_source& stop,
              detail::AttemptControl* control = nullptr,
              const std::atomic<bool>* timed_out = nullptr,
              detail::DeferredAttempt* deferred = nullptr) noexcept
      : run_(&run),
        executor_(&executor),
        stop_(&stop),
        control_(control),
        timed_out_(timed_out),
        deferred_(deferred),
        node_(node),
        attempt_(attempt),
        worker_(worker) {}

 private:
  const std::any& dependency_result(std::string_view dependency) const;
  [[noreturn]] void throw_result_type_mismatch(std::string_view dependency,
                                               const std::type_info& requested,
                                               const std::any& value) const;

  detail::RunState* run_;
  Executor* executor_;
  const std::stop_source* stop_;
  detail::AttemptControl* control_;     // null unless the task is interruptible
  const std::atomic<bool>* timed_out_;  // null unless the attempt has a timeout
  detail::DeferredAttempt* deferred_;   // null unless the task is async
  std::uint32_t node_;
  unsigned attempt_;
  unsigned worker_;
};

}  // namespace taskloom::runtime
