// Internal: one run of a compiled graph — per-node counters, the scheduling of ready nodes,
// retries, timeouts, cancellation, and the report.
#pragma once

#include <any>
#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "taskloom/runtime/completion.hpp"
#include "taskloom/runtime/observer.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/task_context.hpp"

#include "runtime/detail/block_array.hpp"
#include "runtime/detail/executor_core.hpp"
#include "runtime/detail/graph_data.hpp"

namespace taskloom::runtime::detail {

/// Per node, per run. Written by the thread running the node; read by the report after the
/// run has ended (ordered by the release in finish()).
struct NodeState {
  explicit NodeState(std::uint32_t dependencies) noexcept : join(dependencies) {}
  std::atomic<std::uint32_t> join;         // unfinished dependencies
  std::atomic<std::uint32_t> upstream{0};  // 1 + the first dependency that did not succeed
  std::uint16_t attempts = 0;
  std::atomic<TaskStatus> status{TaskStatus::kPending};  // read by Run::status() meanwhile
  std::uint32_t worker = 0;
  std::int64_t start = 0, end = 0;  // last attempt, in ticks()
};

/// A failed attempt as recorded during the run (times in ticks, converted by the report).
struct FailedAttempt {
  unsigned number;
  TaskStatus status;
  std::string error;
  std::int64_t start, end;
  unsigned worker;
};

/// Cold per-node data, only for nodes that failed an attempt.
struct NodeFailure {
  std::vector<FailedAttempt> history;
  std::exception_ptr exception;
};

/// One attempt of an interruptible task, shared with its TaskContext and, through the worker,
/// with the thread that asks it to yield.
struct AttemptControl {
  std::atomic<bool> requested{false};  // the executor asked the task to yield
  bool declined = false;               // the task asked to end rather than be queued again
  unsigned interruptions = 0;          // before this attempt
  std::string saved;                   // what the task saved when last interrupted
  std::optional<std::string> to_save;  // what it saves now
};

/// Links a run's stop source to one attempt's, for the lifetime of the attempt.
struct RequestStop {
  std::stop_source* target;
  void operator()() const noexcept { target->request_stop(); }
};

/// One open attempt of an async task (TaskGraph::add_async): what run_node keeps on its stack
/// for other attempts, kept here until the attempt's Completion is completed.
struct DeferredAttempt : std::enable_shared_from_this<DeferredAttempt> {
  RunState* run = nullptr;  // alive: the node holds a unit of it until resumed
  std::uint32_t node = 0;
  unsigned attempt = 0;
  unsigned worker = 0;
  std::stop_source stop;  // the attempt's own: the run's, or its timeout
  std::optional<std::stop_callback<RequestStop>> link;
  std::atomic<bool> timed_out{false};  // the timeout fired
  TimerService::Id timer{};
  bool timed = false;
  Grant grant;
  // 2: the body has not returned and no outcome came; whoever brings it to 0 ends the attempt.
  std::atomic<int> pending{2};
  // The outcome, written once by the completing thread before it decrements `pending`.
  TaskStatus status = TaskStatus::kSucceeded;
  std::exception_ptr error;
  std::string message;  // of a failure or time-out, when the work gave one
  bool taken = false;   // TaskContext::defer() was called (by the body's thread only)
};

/// What every copy of one Completion shares.
struct CompletionCore {
  std::shared_ptr<DeferredAttempt> attempt;
  std::atomic<bool> done{false};
  ~CompletionCore();
  bool complete(TaskStatus status, std::exception_ptr error, std::string message) noexcept;
};

/// Cold per-node data, only for nodes that were interrupted.
struct NodeInterruptions {
  unsigned count = 0;
  std::string saved;
};

/// A counter written by one thread and read by others, alone on its cache line.
struct alignas(64) PaddedCounter {
  std::atomic<std::size_t> value{0};
};

class RunState : public std::enable_shared_from_this<RunState> {
 public:
  RunState(ExecutorCore& core, GraphData& graph, std::shared_ptr<const Compiled> plan,
           RunOptions options);
  ~RunState();

  /// Validates targets and the trace path, then schedules the sources. Called once.
  void start(Worker* caller);
  /// Runs (or finalises without running) what `item` names.
  void execute(Worker& w, const Item& item);
  void cancel();
  void add_unit() noexcept { units_.fetch_add(1, std::memory_order_relaxed); }
  /// Gives back the units `w` keeps as spares for this run (see finish()); may end the run.
  void return_spare_units(Worker& w);

  bool done() const noexcept { return done_.load(std::memory_order_acquire) != 0; }
  const std::atomic<std::uint32_t>& done_flag() const noexcept { return done_; }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }
  Progress progress() const noexcept;
  const RunReport& report();
  SharedState& shared() const;
  ExecutorCore& core() const noexcept { return core_; }
  const Compiled& plan() const noexcept { return *plan_; }
  /// The result of `dependency` as seen by `node`; InvalidArgumentError if not a dependency.
  const std::any& dependency_result(std::uint32_t node, std::string_view dependency) const;
  /// Every dependency of `node` with its result.
  std::vector<DependencyResult> dependency_results(std::uint32_t node) const;
  void set_priority(std::string_view task, Priority priority);
  /// Run::status(): the task's state now.
  TaskStatus status(std::string_view task) const;
  /// Run::cancel(task): it ends cancelled and its dependents are skipped.
  void cancel_task(std::string_view task);
  /// A node of this run that waited for resources holds them now: queue it.
  void resources_granted(Worker& w, std::uint32_t node, Grant grant);
  /// The same, on a thread that is not running this run's work (a cancel).
  void resources_granted_from_outside(std::uint32_t node, Grant grant);
  /// An async attempt's outcome is in: end it on a worker (from any thread).
  void deferred_completed(DeferredAttempt& a);

 private:
  enum class Admission { kRun, kParked, kCancelled };

  // Completion is tracked in work units rather than nodes, so that the common paths touch no
  // shared counter: a queued or running node, a pending retry, a parked node and a published
  // source range each hold one unit; a node that readies k successors turns its unit into k.
  // The run ends when the last unit is gone. The rest of a range waiting in the next slot of
  // the thread running its first element is `borrowed` (holds none): it gets one when it
  // leaves that slot (ExecutorCore::materialize), or takes over the element's at its finish.
  void run_node(Worker& w, std::uint32_t node);
  // A named source (in_degree 0, so its `join` is 0) is run by whoever claims it first: the
  // thread running its range, or set_priority() moving it out to queue it at a new place.
  static constexpr std::uint32_t kSourceClaimed = ~std::uint32_t{0};
  bool claim_source(std::uint32_t node) noexcept;
  /// The range met a source that set_priority() moved out: hands on the element's unit.
  void release_moved_source(Worker& w);
  /// Moves a source that has not started out of its range, queued with `key`; false when it
  /// started already, was moved before, or the run has ended.
  bool move_source(std::uint32_t node, Key key);
  /// Before a node leaves its thread without finishing (a retry, a wait for its wave, a slot
  /// or resources, an interruption): a borrowed range of this run in the thread's next slot
  /// gets a unit of its own now. Its lender's unit goes with the node, which may finish on
  /// another thread while the range still waits here; the run must not end meanwhile.
  void detach_borrowed(Worker& w) noexcept {
    if (w.next.borrowed && w.next.target == this) {
      add_unit();
      w.next.borrowed = false;
    }
  }
  /// Waits a node for its wave (wave-synchronous) or for a slot (max_concurrency).
  Admission admit(std::uint32_t node);
  void release_slot(Worker& w);
  /// After an attempt's body (or its async work) ended with `status`: records a failure,
  /// retries or finishes, and tells the observer.
  void conclude(Worker& w, std::uint32_t node, const NodeMeta* meta, unsigned attempt,
                TaskStatus status, std::exception_ptr error, std::string message, Grant grant,
                bool release_its_slot);
  /// Runs an async task's body; the attempt stays open until its Completion is completed.
  void start_deferred(Worker& w, std::uint32_t node, const NodeMeta* meta, unsigned attempt,
                      Grant grant);
  /// The end of an async attempt, on a worker.
  void resume_deferred(Worker& w, std::uint32_t node);
  TaskRef ref(std::uint32_t node, std::string& scratch) const;
  void wave_finished(Worker& w, std::uint32_t node);
  /// Sets the final status of `node`, readies or skips its successors, ends the run after the
  /// last node.
  void finish(Worker& w, std::uint32_t node, TaskStatus status);
  void retry_later(Worker& w, std::uint32_t node, Duration delay);
  void count_finished(const Worker& w, std::size_t n) noexcept;
  /// Units for readied successors come from `w`'s spares of this run first, then the count;
  /// a finished node's unit becomes a spare. A run's units are thus counted where they are
  /// used, and a binary tree's fan-outs and leaves do not all hit one shared counter. Spares
  /// go back (return_spare_units) before the thread runs other work or goes idle.
  void take_units(Worker& w, std::int64_t n) noexcept;
  void give_unit(Worker& w);
  void complete();
  void record_failure(std::uint32_t node, FailedAttempt attempt, std::exception_ptr e);
  /// The node of a task named by id in this run; InvalidArgumentError naming `where` otherwise.
  std::uint32_t node_named(std::string_view task, std::string_view where) const;
  /// Run::cancel(task) was called for `node`.
  bool task_cancelled(std::uint32_t node) const noexcept {
    const std::atomic<bool>* flags = cancelled_tasks_.load(std::memory_order_acquire);
    return flags != nullptr && flags[node].load(std::memory_order_acquire);
  }
  bool stopped(std::uint32_t node) const noexcept { return cancelled() || task_cancelled(node); }
  Key key_of(std::uint32_t node) const noexcept {
    if (const std::atomic<Key>* o = key_overrides_.load(std::memory_order_acquire)) {
      if (const Key k = o[node].load(std::memory_order_relaxed)) return k;
    }
    return plan_->keys[node];
  }
  Item node_item(std::uint32_t node) const noexcept {
    return {key_of(node), const_cast<RunState*>(this), node, 0, Item::Kind::kNode};
  }
  /// The resources `node` needs (empty request when none).
  const Request& request_of(const NodeMeta* meta) const noexcept;
  /// Takes what `node` needs, or queues it for them (false: it waits, keeping its unit).
  bool acquire_resources(Worker& w, std::uint32_t node, const NodeMeta* meta, Grant& grant);
  void release_resources(Worker& w, Grant grant);
  std::vector<PoolUsage> pool_usage(const RunReport& r) const;
  bool included(std::uint32_t node) const noexcept { return included_.empty() || included_[node]; }
  RunReport build_report();

  ExecutorCore& core_;
  GraphData& graph_;
  std::shared_ptr<const Compiled> plan_;
  RunOptions options_;
  mutable std::once_flag shared_once_;
  mutable std::shared_ptr<SharedState> shared_;      // made on first use unless given
  std::shared_ptr<RunState> self_;                   // keeps the run alive while it is in flight
  std::shared_ptr<std::atomic<int>> runs_of_graph_;  // the graph's count of runs in flight

  BlockArray<NodeState> nodes_;
  std::unique_ptr<std::any[]> results_;  // when some body returns a value
  std::vector<std::uint8_t> included_;   // targets only; empty: every node
  const taskloom::detail::BlockVector<std::uint32_t>* sources_ = nullptr;  // included, best first
  taskloom::detail::BlockVector<std::uint32_t> own_sources_;  // when targets select a subset
  std::size_t total_ = 0;
  std::int64_t start_ns_ = 0, end_ns_ = 0;
  std::int64_t start_ticks_ = 0, end_ticks_ = 0;

  std::stop_source stop_;
  std::atomic<bool> cancelled_{false};
  alignas(64) std::atomic<std::int64_t> units_{0};  // apart from the flags read per task
  std::unique_ptr<PaddedCounter[]> finished_;       // per worker, plus one for helping threads
  std::atomic<std::uint32_t> done_{0};

  std::mutex failures_mutex_;
  std::unordered_map<std::uint32_t, NodeFailure> failures_;           // guarded by failures_mutex_
  std::unordered_map<std::uint32_t, TimerService::Id> retry_timers_;  // guarded by failures_mutex_

  // Admission (max_concurrency) and wave gating; only used when those options are on.
  bool gated_ = false;
  std::mutex gate_mutex_;
  std::size_t running_ = 0;                              // guarded by gate_mutex_
  std::vector<Item> parked_;                             // heap, guarded by gate_mutex_
  std::uint32_t current_wave_ = 0;                       // guarded by gate_mutex_
  std::vector<std::size_t> wave_left_;                   // guarded by gate_mutex_
  std::vector<std::vector<std::uint32_t>> wave_parked_;  // guarded by gate_mutex_

  // Resources: the run's own pools or the executor's; requests by meta index; per node, the
  // grant of a node admitted while it waited (moved to run_node when it runs).
  std::unique_ptr<ResourceAdmission> own_admission_;
  ResourceAdmission* admission_ = nullptr;
  std::vector<Request> requests_;
  std::unique_ptr<Grant[]> grants_;

  // Priorities changed by set_priority(), made on first use; 0: the plan's key.
  std::mutex overrides_mutex_;
  std::unique_ptr<std::atomic<Key>[]> overrides_storage_;  // guarded by overrides_mutex_
  std::atomic<std::atomic<Key>*> key_overrides_{nullptr};

  std::unordered_map<std::uint32_t, NodeInterruptions> interruptions_;  // failures_mutex_

  // Tasks cancelled one by one (Run::cancel(task)), made on first use (overrides_mutex_).
  std::unique_ptr<std::atomic<bool>[]> cancelled_tasks_storage_;  // guarded by overrides_mutex_
  std::atomic<std::atomic<bool>*> cancelled_tasks_{nullptr};
  // The stop sources of running attempts that have their own (timeouts, interruptible), so
  // that cancelling one task can stop it.
  std::mutex attempt_stops_mutex_;
  std::unordered_map<std::uint32_t, std::stop_source*> attempt_stops_;  // guarded by it

  RunObserver* observer_ = nullptr;  // options_.observer, or null

  // Async attempts whose body has returned and whose outcome has not been taken yet.
  std::mutex deferred_mutex_;
  std::unordered_map<std::uint32_t, std::shared_ptr<DeferredAttempt>> deferred_;  // guarded

  std::unique_ptr<std::ofstream> trace_;  // open from start() when a trace is asked for
  std::once_flag report_once_;
  RunReport report_;
};

}  // namespace taskloom::runtime::detail
