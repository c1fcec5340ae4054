// Internal: the executor's workers, their queues, stealing, sleeping and helping.
//
// Where ready work lives, best first:
//   1. a thread's `next` slot: the successor (or rest of a source range) it runs next, touched
//      by no lock, so a chain runs without a single queue operation. While the thread runs a
//      task body the slot is open: a thread that found nothing else for a whole spin may
//      steal it, so nothing waits behind a long task. Opening and closing the slot are plain
//      stores; the thief pays for the handshake (AsymmetricFence), as steals are rare;
//   2. each worker's ReadyQueue (a lock-guarded max-heap), which other workers steal from;
//   3. the shared injection queue, for work that starts outside the pool.
// Before running its `next`, a thread checks (lock-free) whether its own queue or the
// injection queue holds something better; with one worker this gives exact priority order.
//
// Lanes: workers of a pool with a minimum priority ("restricted") take only items at or above
// it, sleep on their pool's own event count, and stay out of the slot accounting below, which
// covers the workers that run anything (N of them).
// Aging: every aging_interval-th take, a worker takes the oldest lower-priority item of its
// own queue or of the injection queue (in turn) instead of the best one.
// Preemption: a thread running an interruptible body publishes its key; push() of better
// work when no worker is free asks the lowest such body to yield (see preempt_for()).
//
// Execution slots: at most N threads (N = workers that run anything) run at once. A thread from
// outside that waits takes a slot and helps; a spinning worker that sees more than N active gives
// its slot up and sleeps, looking every millisecond whether a helper is stuck in one task body for
// that long: then it takes up work again, so a long task never stalls the pool.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "taskloom/runtime/executor.hpp"

#include "runtime/detail/asymmetric_fence.hpp"
#include "runtime/detail/ready_queue.hpp"
#include "runtime/detail/resource_admission.hpp"
#include "runtime/detail/timer_service.hpp"

namespace taskloom::runtime::detail {

class ExecutorCore;

/// A thread taking part in execution: one of the pool's workers, or a thread helping while it
/// waits (external: its queue pushes go to the injection queue).
struct Worker {
  enum NextClaim : std::uint32_t { kUnclaimed, kClaiming, kStolen };

  ExecutorCore* core = nullptr;
  unsigned index = 0;    // reported as the task's worker; worker_count() for helping threads
  unsigned counter = 0;  // this thread's slot in per-thread counters (see counter_slots())
  bool external = false;
  bool registered = true;  // visible to thieves (pool workers and claimed helper slots)
  Item next;               // private to the thread while next_open is 0
  bool took_next = false;  // the last take() came from `next`, not a queue
  // The next slot during a task body (ExecutorCore::share_next): the thread sets next_open;
  // one thief at a time moves next_claim from kUnclaimed to kClaiming, then takes the item
  // (kStolen, which the thread clears when it closes the slot) or puts kUnclaimed back.
  std::atomic<std::uint32_t> next_open{0};
  std::atomic<std::uint32_t> next_claim{kUnclaimed};
  ReadyQueue queue;  // pool workers and helper slots (`registered`) only
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;
  std::atomic<bool> claimed{false};  // helper slots only
  // Helper slots only: non-zero while a task body runs, different for each body, so that a
  // displaced worker can tell a helper stuck in one long body from one that keeps working.
  std::atomic<std::uint64_t> body_token{0};
  std::uint64_t bodies = 0;

  // The end (ticks()) of the last task body this thread ran, while nothing but taking the next
  // item has happened since: the next body's start, saving a clock read (see RunState).
  std::int64_t last_end = 0;
  bool last_end_valid = false;

  // Work units of one run that this thread keeps as spares (RunState::take_units): handed
  // back before it runs another run's work or goes idle. Null run: none kept.
  void* spare_run = nullptr;
  std::int64_t spare_units = 0;

  Key min_key = 1;     // takes only items with a key at least this (its pool's lane)
  unsigned pool = 0;   // index into ExecutorCore's pools
  unsigned takes = 0;  // since the last aging take
  bool age_own_queue = false;
  std::any resource;  // ExecutorOptions::worker_resource's result, made on first use
  bool resource_made = false;

  // The interruptible body this thread runs, if any: its key (0: none) for preempt_for() to
  // read without a lock, and under preempt_lock what to signal.
  std::atomic<Key> preemptible_key{0};
  std::atomic<int> cpu{-1};          // where the thread was when its interruptible body started
  std::atomic<bool> in_body{false};  // pool workers: between taking an item and finishing it
  SpinLock preempt_lock;
  std::stop_source preempt_stop;                   // guarded by preempt_lock
  std::atomic<bool>* preempt_requested = nullptr;  // guarded by preempt_lock
};

/// A pool of workers as the core keeps it.
struct PoolInfo {
  std::string name;
  Key min_key = 1;  // 1: runs anything
  unsigned workers = 0;
  std::unique_ptr<EventCount> sleep;  // restricted pools only
};

/// A priority class as the core keeps it (sorted by priority).
struct ClassInfo {
  std::string name;
  Priority priority;
  std::size_t capacity = 0;
};

class ExecutorCore {
 public:
  static constexpr std::size_t kHelperSlots = 4;

  ExecutorCore(Executor& owner, ExecutorOptions options);
  ~ExecutorCore();

  Executor& owner() const noexcept { return owner_; }
  unsigned worker_count() const noexcept { return static_cast<unsigned>(workers_.size()); }
  const ExecutorOptions& options() const noexcept { return options_; }
  /// The executor's resource pools; null when it declares none.
  ResourceAdmission* admission() const noexcept { return admission_.get(); }

  // Priority classes and bounded queues (executor.hpp).
  const ClassInfo& class_info(Priority p) const noexcept { return classes_[class_index(p)]; }
  Priority priority_of(std::string_view name) const;
  unsigned reserve_room(const SubmitOptions& options);
  void rekey(const Item& work, Key key);

  /// The calling thread's per-worker resource.
  std::any& worker_resource();

  /// Around an interruptible body: make it a candidate for preemption, then withdraw it.
  void enter_preemptible(Worker& w, Key key, const std::stop_source& stop,
                         std::atomic<bool>& requested);
  void leave_preemptible(Worker& w) noexcept;
  /// Slots of per-thread counters: one per worker, per helper slot, and one shared by the
  /// helping threads beyond those.
  unsigned counter_slots() const noexcept {
    return worker_count() + static_cast<unsigned>(kHelperSlots) + 1;
  }
  const Clock& clock() const noexcept { return *clock_; }
  TimerService& timers();

  /// The calling thread's Worker if it belongs to this executor, else null.
  Worker* this_worker() const noexcept;

  /// Makes `item` runnable: into `w`'s next slot (displacing a worse item to the queues) when
  /// there is a `w`, into the injection queue otherwise.
  void offer(Worker* w, const Item& item) {
    if (w == nullptr || item.key < w->min_key) {
      push(nullptr, item);
    } else if (!w->next) {
      w->next = item;
    } else if (item.key > w->next.key) {
      push(w, std::exchange(w->next, item));
    } else {
      push(w, item);
    }
  }
  /// Queues `item` where thieves can see it, waking a sleeping worker if one may be needed.
  void push(Worker* w, const Item& item);
  /// After queueing work of `key`: wakes a worker (and lane workers, helpers) that may run it,
  /// and asks an interruptible body to yield when no worker is free.
  void announce(Key key);
  void offer_or_push(Worker* w, const Item& item);

  /// Around a task body: share `w`'s next item with thieves, then take it back (or learn
  /// that it was stolen). No atomic read-modify-write on either side: see steal_next().
  void share_next(Worker& w) {
    if (w.external) w.body_token.store(++w.bodies, std::memory_order_relaxed);
    if (w.next) share_next_slow(w);
  }
  void reclaim_next(Worker& w) {
    if (w.external) w.body_token.store(0, std::memory_order_relaxed);
    if (w.next_open.load(std::memory_order_relaxed) == 0) return;
    w.next_open.store(0, std::memory_order_relaxed);
    fence_.light();
    if (w.next_claim.load(std::memory_order_acquire) != Worker::kUnclaimed) settle_claim(w);
  }

  /// take()'s usual choice alone: `w`'s next item, unless something better is queued or an
  /// aging take is due (then false, and nothing changed).
  bool take_next(Worker& w, Item& out);

  /// True when `w`'s queue (the injection queue, for an external thread) holds anything.
  bool queued_work(const Worker& w) const noexcept {
    return (w.registered ? w.queue.top_key() : injection_.top_key()) != 0;
  }
  /// True when a worker is looking for work, or asleep with a slot free: a thread holding a
  /// large source range then splits it.
  bool hungry() const noexcept {
    return spinning_.load(std::memory_order_relaxed) != 0 ||
           active_.load(std::memory_order_relaxed) < slots_;
  }

  /// Wakes the threads sleeping in help_until() so they re-check what they wait for.
  void notify_helpers() noexcept { helpers_.notify_all(); }

  /// Sleeps until `done` is non-zero or `timeout` passed (Future::wait_for); true when done.
  bool sleep_until_done(const std::atomic<std::uint32_t>& done, std::chrono::nanoseconds timeout);
  /// Runs ready work on the calling thread until `done` is non-zero.
  void help_until(const std::atomic<std::uint32_t>& done);

  /// Work that keeps the executor alive (submitted jobs and runs in flight).
  void retain() noexcept { outstanding_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

 private:
  void worker_main(Worker& w);
  void restricted_worker_main(Worker& w);
  bool visible_for(Key min_key) const noexcept;
  bool take_oldest(Worker& w, Item& out);
  /// Asks an interruptible body below `key` to yield when no worker is free for it, and arms
  /// a check after ExecutorOptions::yield_grace that asks the next one if `key` still waits.
  void preempt_for(Key key);
  /// Some queue holds an item with a key at least `key`.
  bool queued_at_least(Key key) const noexcept;
  std::size_t class_index(Priority p) const noexcept;
  void sleep_until_work(Worker& w);
  bool sleep_displaced(Worker& w, std::vector<std::uint64_t>& seen_tokens);
  bool helper_stuck(std::vector<std::uint64_t>& seen_tokens) const noexcept;
  void release_slot_of_helper();
  Worker* claim_helper_slot() noexcept;
  /// True when `f` holds for a pool worker or a thread helping in a claimed helper slot: the
  /// threads with a queue of their own (for their pushes) that others steal from.
  template <class Self, class F>
  static bool any_queue(Self& self, F f) {
    for (const auto& w : self.workers_) {
      if (f(*w)) return true;
    }
    for (auto& h : self.helpers_slots_) {
      if (h.claimed.load(std::memory_order_acquire) && f(h)) return true;
    }
    return false;
  }
  bool take(Worker& w, Item& out);
  bool steal(Worker& w, Item& out);
  void share_next_slow(Worker& w);
  /// reclaim_next() found a thief at `w`'s slot: waits for its decision.
  static void settle_claim(Worker& w) noexcept;
  bool steal_next(Worker& victim, Item& out, Key min_key);
  /// Takes the shared next item of a thread in a task body: the last resort of a thread that
  /// found nothing queued for a whole spin, so short bodies keep their next item.
  bool steal_shared_next(Worker& w, Item& out);
  bool shared_next_visible() const noexcept;
  bool work_visible() const noexcept;
  void execute(Worker& w, Item item);
  /// Hands back the spare units `w` keeps (before other work, or going idle).
  static void return_spare_units(Worker& w) {
    if (w.spare_run != nullptr) return_spare_units_slow(w);
  }
  static void return_spare_units_slow(Worker& w);
  void execute_item(Worker& w, Item item);
  void flush_next(Worker& w);
  void wake_worker() noexcept;
  void wake_another_if_backlog() noexcept;
  /// Gives a borrowed item its own work unit (it is leaving the slot of the thread that lent
  /// it while that thread may still be running the lender).
  static void materialize(Item& item) noexcept {
    if (item.borrowed) materialize_borrowed(item);
  }
  static void materialize_borrowed(Item& item) noexcept;

  Executor& owner_;
  ExecutorOptions options_;
  std::shared_ptr<Clock> clock_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::array<Worker, kHelperSlots> helpers_slots_;
  std::vector<std::thread> threads_;
  std::vector<PoolInfo> pools_;
  unsigned slots_ = 0;              // workers that run anything
  Key restricted_min_ = 0;          // lowest min_key of a restricted pool; 0: none
  std::vector<ClassInfo> classes_;  // sorted by priority
  std::unique_ptr<std::atomic<std::size_t>[]> queued_;  // per class: submitted jobs queued
  EventCount room_;  // submitters waiting for room in a class queue
  std::unique_ptr<ResourceAdmission> admission_;
  std::atomic<unsigned> preemptible_running_{0};
  ReadyQueue injection_;
  AsymmetricFence fence_;  // light: opening and closing next slots; heavy: thieves and sleepers
  EventCount sleep_;       // idle and displaced workers
  EventCount helpers_;     // threads in help_until()
  // Execution slots: `active_` counts awake workers plus helping threads; a worker that finds
  // it above the worker count gives its slot up.
  std::atomic<unsigned> active_{0};
  std::atomic<unsigned> spinning_{0};  // workers looking for work before sleeping
  std::atomic<bool> stopping_{false};
  bool external_help_ = true;
  std::atomic<std::uint32_t> quiescent_{0};  // set when outstanding_ drops to zero
  std::atomic<std::size_t> outstanding_{0};
  std::once_flag timers_once_;
  std::unique_ptr<TimerService> timers_;
};

}  // namespace taskloom::runtime::detail
