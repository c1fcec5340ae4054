// taskloom/runtime/task_graph.hpp — a reusable DAG of callables.
//
//   runtime::TaskGraph g;
//   g.add("fetch", [] { return 41; });
//   g.add("parse", [](runtime::TaskContext& ctx) { return ctx.result<int>("fetch") + 1; },
//         {.after = {"fetch"}, .priority = Priority::kHigh, .retries = 2, .timeout = 5s});
//   auto a = g.add([] {});  auto b = g.add([] {});  a.precede(b);   // anonymous, by handle
//   runtime::Plan plan = g.plan();        // validates; waves and critical path, runs nothing
//   executor.run(g).wait();               // run it, as often as you like
//
// A body is callable as f() or f(TaskContext&); a non-void return value is the task's result,
// readable by its dependents (TaskContext::result) and in the report. Dependencies named by id
// are resolved when the graph is planned or run, so tasks may be added in any order.
// Thread-safety: building is single-threaded. Runs only read the graph; any number may run
// it at once. add()/clear() while a run is in flight throw InvalidStateError, and destroying a
// graph waits for its runs to end. Every failed call leaves the graph unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/priority.hpp"
#include "taskloom/core/resources.hpp"
#include "taskloom/runtime/completion.hpp"
#include "taskloom/runtime/detail/task_function.hpp"
#include "taskloom/runtime/job_context.hpp"  // SavableState

namespace taskloom::runtime {

namespace detail {
struct GraphData;
}  // namespace detail

/// Everything about a task except its body. Designated initializers read well:
///   {.after = {"a", "b"}, .retries = 3, .timeout = std::chrono::seconds(10)}
struct TaskOptions {
  std::vector<std::string> after;         ///< ids of the tasks this one runs after
  Priority priority = Priority::kNormal;  ///< larger runs first among ready tasks
  unsigned retries = 0;                   ///< extra attempts after a failure or timeout
  Duration timeout = Duration::zero();    ///< per attempt; zero means none, negative is an error
  double weight = 1.0;  ///< estimated cost, for ranks and the planned critical path
  std::vector<std::pair<std::string, std::string>> metadata;  ///< free-form, read via the context
  /// Amounts of the executor's (or the run's) resource pools held while an attempt runs,
  /// acquired all at once. Checked when the run starts: ResourceRequestError for a pool that
  /// does not exist or a request above its capacity.
  Resources needs;
  /// How long an attempt is expected to take (zero: unknown); lets smaller tasks start
  /// ahead of a large waiting request when they end before it could start (backfilling).
  Duration expected_duration = Duration::zero();
  /// May be asked to yield to more important work (see TaskContext::interrupt_requested);
  /// then it runs again from the start, or from its saved state (TaskGraph::add_stateful).
  bool interruptible = false;
  /// Interruptions at most; then the task is no longer interrupted. Unset: the executor's
  /// ExecutorOptions::max_interruptions.
  std::optional<unsigned> max_interruptions;
};

class TaskGraph;

/// Names one task of a graph; cheap to copy, valid while the task exists.
class TaskHandle {
 public:
  /// This task runs before each of `others`. Returns *this.
  template <class... Hs>
  TaskHandle& precede(const Hs&... others) {
    (add_edge(index_, others.index_), ...);
    return *this;
  }
  /// This task runs after each of `others`. Returns *this.
  template <class... Hs>
  TaskHandle& succeed(const Hs&... others) {
    (add_edge(others.index_, index_), ...);
    return *this;
  }
  std::uint32_t index() const noexcept { return index_; }
  /// The id given to add(), or "#<index>" for an anonymous task.
  std::string id() const;

 private:
  friend class TaskGraph;
  TaskHandle(detail::GraphData* graph, std::uint32_t index) : graph_(graph), index_(index) {}
  void add_edge(std::uint32_t from, std::uint32_t to);
  detail::GraphData* graph_;
  std::uint32_t index_;
};

/// What plan() found: a valid graph's shape, by task id.
struct Plan {
  std::size_t task_count = 0;
  std::size_t edge_count = 0;
  std::vector<std::string> order;               ///< a topological order
  std::vector<std::vector<std::string>> waves;  ///< tasks by wave (level)
  std::vector<std::string> critical_path;       ///< heaviest path by TaskOptions::weight
  double critical_path_weight = 0;
};

class TaskGraph {
 public:
  TaskGraph();
  /// A graph that knows the resource pools it will run with: add() rejects a task that needs
  /// a pool not among `pools` or more than its capacity (ResourceRequestError) at once. Runs
  /// check again against the pools they use (the executor's or RunOptions::resources).
  explicit TaskGraph(Resources pools);
  ~TaskGraph();
  TaskGraph(TaskGraph&&) noexcept;
  TaskGraph& operator=(TaskGraph&&) noexcept;
  TaskGraph(const TaskGraph&) = delete;
  TaskGraph& operator=(const TaskGraph&) = delete;

  /// Adds a task. Throws DuplicateIdError, InvalidArgumentError (empty id, negative timeout,
  /// bad weight), ResourceRequestError (with pools given) or InvalidStateError (a run is in
  /// flight); the graph is then unchanged.
  template <class F>
  TaskHandle add(std::string_view id, F&& body, TaskOptions options = {}) {
    return add_task(id, detail::TaskFunction(std::forward<F>(body)), std::move(options));
  }
  /// Adds an interruptible task with a state: `body(TaskContext&, S&)` starts from `initial`,
  /// or from the state it saved (S::save) when it was interrupted (restored with S::restore).
  /// To yield, the body returns (or throws) when ctx.interrupt_requested(); the state as it is
  /// then is saved, and a throw then is a yield, not a failure. Its return value is the result
  /// when it is not interrupted.
  template <SavableState S, class F>
  TaskHandle add_stateful(std::string_view id, S initial, F body, TaskOptions options = {}) {
    options.interruptible = true;
    return add(
        id,
        [initial = std::move(initial), body = std::move(body)](auto& ctx) mutable {
          S state = ctx.saved_state().empty() ? initial : S::restore(ctx.saved_state());
          detail::SaveStateOnExit<S, std::remove_reference_t<decltype(ctx)>> save{ctx, state};
          return body(ctx, state);
        },
        std::move(options));
  }
  /// Adds an async task: `body(TaskContext&, Completion)` starts outside work (a process, a
  /// cluster job, I/O) and returns; the attempt ends when the work completes the Completion,
  /// holding no worker meanwhile (completion.hpp). Retries, timeouts, cancellation, resource
  /// admission and max_concurrency apply as to any task. An async task is never interrupted:
  /// `options.interruptible` is an InvalidArgumentError. Its result is void.
  template <class F>
  TaskHandle add_async(std::string_view id, F body, TaskOptions options = {}) {
    if (options.interruptible) throw_async_interruptible(id);
    return add_task(
        id, detail::TaskFunction([body = std::move(body)](auto& ctx) mutable {  // TaskContext&
          Completion done = ctx.defer();
          try {
            body(ctx, done);
          } catch (...) {
            done.fail(std::current_exception());
          }
        }),
        std::move(options), /*async=*/true);
  }
  /// Adds an anonymous task with default options: the fastest way to build a large graph.
  template <class F>
  TaskHandle add(F&& body) {
    return add_anonymous(detail::TaskFunction(std::forward<F>(body)));
  }

  /// Adds a dependency by id: `task` runs after `dependency` (resolved at plan/run time).
  void add_dependency(std::string_view task, std::string_view dependency);

  /// The handle of the task with this id (or "#<index>" for an anonymous task), if any.
  std::optional<TaskHandle> find(std::string_view id);
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  /// Removes every task. Throws InvalidStateError while a run is in flight.
  void clear();

  /// Validates (CycleError with the path, UnknownDependencyError with a suggestion) and
  /// reports the shape without running anything.
  Plan plan() const;
  /// Graphviz DOT of the graph, the planned critical path emphasised.
  std::string to_dot() const;
  /// Mermaid flowchart of the graph.
  std::string to_mermaid() const;

  detail::GraphData& data() const noexcept { return *data_; }  ///< internal

 private:
  TaskHandle add_task(std::string_view id, detail::TaskFunction body, TaskOptions options,
                      bool async = false);
  [[noreturn]] static void throw_async_interruptible(std::string_view id);
  TaskHandle add_anonymous(detail::TaskFunction body);
  std::unique_ptr<detail::GraphData> data_;
};

}  // namespace taskloom::runtime
