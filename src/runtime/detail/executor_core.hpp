// Internal: the executor's workers, their queues, stealing, sleeping and helping.
//
// Where ready work lives, best first:
//   1. a worker's `next` slot: the successor (or source range) it will run next, untouched by
//      any lock — a chain runs without a single queue operation;
//   2. each worker's ReadyQueue (a lock-guarded max-heap), which other workers steal from;
//   3. the shared injection queue, for work that starts outside the pool.
// Before running its `next`, a worker checks (lock-free) whether its own queue or the
// injection queue holds something better; with one worker this gives exact priority order.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "taskloom/runtime/executor.hpp"

#include "runtime/detail/ready_queue.hpp"
#include "runtime/detail/timer_service.hpp"

namespace taskloom::runtime::detail {

class ExecutorCore;

/// A thread taking part in execution: one of the pool's workers, or a thread helping while it
/// waits (external; its queue pushes go to the injection queue).
struct Worker {
  ExecutorCore* core = nullptr;
  unsigned index = 0;
  bool external = false;
  Item next;         // the item this thread runs next; private to the thread
  ReadyQueue queue;  // unused by external threads
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;
};

class ExecutorCore {
 public:
  ExecutorCore(Executor& owner, ExecutorOptions options);
  ~ExecutorCore();

  Executor& owner() const noexcept { return owner_; }
  unsigned worker_count() const noexcept { return static_cast<unsigned>(workers_.size()); }
  const Clock& clock() const noexcept { return *clock_; }
  TimerService& timers();

  /// The calling thread's Worker if it belongs to this executor, else null.
  Worker* this_worker() const noexcept;

  /// Makes `item` runnable: into `w`'s next slot or queue when `w` is a pool worker of this
  /// executor, into the injection queue otherwise. Wakes a sleeping worker if one may be
  /// needed.
  void offer(Worker* w, const Item& item);
  /// Queues `item` where thieves can see it (never into a next slot).
  void push(Worker* w, const Item& item);

  /// True when `w`'s queue (the injection queue, for an external thread) holds anything.
  bool queued_work(const Worker& w) const noexcept {
    return (w.external ? injection_.top_key() : w.queue.top_key()) != 0;
  }
  /// Wakes the threads sleeping in help_until() so they re-check what they wait for.
  void notify_helpers() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    helpers_.notify_all_after_fence();
  }

  /// Runs ready work on the calling thread until `done` is non-zero.
  void help_until(const std::atomic<std::uint32_t>& done);

  /// Work that keeps the executor alive (submitted jobs and runs in flight).
  void retain() noexcept { outstanding_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

  /// True when a worker is looking for work or asleep with a slot free: a worker holding a
  /// large source range then splits it.
  bool hungry() const noexcept {
    return spinning_.load(std::memory_order_relaxed) != 0 ||
           active_.load(std::memory_order_relaxed) < worker_count();
  }

 private:
  void worker_main(Worker& w);
  void sleep_until_work(Worker& w);
  void release_slot_of_helper();
  bool take(Worker& w, Item& out);
  bool steal(Worker& w, Item& out);
  bool work_visible() const noexcept;
  void execute(Worker& w, Item item);
  void flush_next(Worker& w);

  Executor& owner_;
  ExecutorOptions options_;
  std::shared_ptr<Clock> clock_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  ReadyQueue injection_;
  EventCount sleep_;    // idle workers
  EventCount helpers_;  // threads in help_until()
  // Execution slots: `active_` counts awake workers plus helping threads and is kept at or
  // below the worker count, except briefly while a displaced worker finishes its task.
  std::atomic<unsigned> active_{0};
  std::atomic<unsigned> spinning_{0};  // workers looking for work before sleeping
  std::atomic<bool> stopping_{false};
  bool external_help_ = true;                // threads outside the pool help while waiting
  std::atomic<std::uint32_t> quiescent_{0};  // set when outstanding_ drops to zero
  std::atomic<std::size_t> outstanding_{0};
  std::once_flag timers_once_;
  std::unique_ptr<TimerService> timers_;
};

}  // namespace taskloom::runtime::detail
