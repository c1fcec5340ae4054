#include "taskloom/runtime/executor.hpp"

#include <pthread.h>
#include <sched.h>

#include <chrono>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime/detail/executor_core.hpp"
#include "runtime/detail/run_state.hpp"

namespace taskloom::runtime {
namespace detail {
namespace {

thread_local Worker* tl_worker = nullptr;

/// Restores the calling thread's previous Worker when a help_until() scope ends.
class WorkerScope {
 public:
  explicit WorkerScope(Worker* w) : previous_(std::exchange(tl_worker, w)) {}
  ~WorkerScope() { tl_worker = previous_; }
  WorkerScope(const WorkerScope&) = delete;
  WorkerScope& operator=(const WorkerScope&) = delete;

 private:
  Worker* previous_;
};

/// One step of an idle thread's wait for work: a few pause instructions first, then yielding
/// the CPU (on a machine with as many threads as cores, a spinning thread must not keep the one
/// with work off its core). False once `until` has passed: time to sleep.
bool backoff(unsigned iteration, std::chrono::steady_clock::time_point until) noexcept {
  if (iteration < 32) {
    for (unsigned k = 0; k < 8; ++k) cpu_relax();
    return true;
  }
  std::this_thread::yield();
  return iteration % 8 != 0 || std::chrono::steady_clock::now() < until;
}

std::uint64_t next_random(std::uint64_t& state) noexcept {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

}  // namespace

ExecutorCore::ExecutorCore(Executor& owner, ExecutorOptions options)
    : owner_(owner), options_(std::move(options)) {
  clock_ = options_.clock ? options_.clock : steady_clock();
  if (options_.aging_interval == 0) {
    throw InvalidArgumentError("ExecutorOptions::aging_interval must be at least 1");
  }
  // Pools: the given ones, or one that runs anything.
  if (options_.pools.empty()) {
    unsigned n = options_.workers;
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
    options_.pools.push_back({.name = "default", .workers = n});
  }
  bool runs_anything = false;
  for (const WorkerPool& p : options_.pools) {
    if (p.workers == 0 || p.name.empty()) {
      throw InvalidArgumentError("worker pool '" + p.name +
                                 "' needs a name and at least one worker");
    }
    PoolInfo info;
    info.name = p.name;
    info.workers = p.workers;
    if (p.min_priority > Priority{Priority::kMin}) {
      info.min_key = make_key(p.min_priority, 0);
      info.sleep = std::make_unique<EventCount>();
      restricted_min_ =
          restricted_min_ == 0 ? info.min_key : std::min(restricted_min_, info.min_key);
    } else {
      runs_anything = true;
      slots_ += p.workers;
    }
    pools_.push_back(std::move(info));
  }
  if (!runs_anything) {
    throw InvalidArgumentError(
        "every worker pool has a minimum priority, so lower-priority work could never run — "
        "give one pool no min_priority");
  }

  // Priority classes: the built-in ones, then the options' (new names, or capacities).
  for (const auto& [name, priority] : named_priorities()) {
    classes_.push_back({std::string(name), priority});
  }
  for (const PriorityClass& c : options_.classes) {
    auto same_name = std::find_if(classes_.begin(), classes_.end(),
                                  [&](const ClassInfo& k) { return k.name == c.name; });
    if (same_name != classes_.end()) {
      if (same_name->priority != c.priority) {
        throw InvalidArgumentError("priority class '" + c.name + "' is built in with priority " +
                                   std::to_string(same_name->priority.value()) +
                                   " — use that priority or another name");
      }
      same_name->capacity = c.queue_capacity;
      continue;
    }
    auto same_priority = std::find_if(classes_.begin(), classes_.end(),
                                      [&](const ClassInfo& k) { return k.priority == c.priority; });
    if (c.name.empty() || same_priority != classes_.end()) {
      throw InvalidArgumentError(
          "priority class '" + c.name + "' needs a name and a priority no other class has" +
          (same_priority != classes_.end() ? " ('" + same_priority->name + "' has it)" : ""));
    }
    classes_.push_back({c.name, c.priority, c.queue_capacity});
  }
  std::sort(classes_.begin(), classes_.end(),
            [](const ClassInfo& a, const ClassInfo& b) { return a.priority < b.priority; });
  queued_ = std::make_unique<std::atomic<std::size_t>[]>(classes_.size());

  if (!options_.resources.empty()) {
    admission_ = std::make_unique<ResourceAdmission>(options_.resources, *clock_);
  }

  unsigned n = 0;
  for (const PoolInfo& p : pools_) n += p.workers;
  workers_.reserve(n);
  for (unsigned pool = 0; pool < pools_.size(); ++pool) {
    for (unsigned k = 0; k < pools_[pool].workers; ++k) {
      auto w = std::make_unique<Worker>();
      const auto i = static_cast<unsigned>(workers_.size());
      w->core = this;
      w->index = i;
      w->counter = i;
      w->pool = pool;
      w->min_key = pools_[pool].min_key;
      w->rng += i * 0x2545F4914F6CDD1Dull;
      workers_.push_back(std::move(w));
    }
  }
  for (std::size_t i = 0; i < kHelperSlots; ++i) {
    Worker& h = helpers_slots_[i];
    h.core = this;
    h.index = n;
    h.counter = n + static_cast<unsigned>(i);
    h.external = true;
    h.rng += (n + i) * 0x2545F4914F6CDD1Dull;
  }
  external_help_ = options_.caller_helps;
  active_.store(slots_, std::memory_order_relaxed);
  threads_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    Worker& w = *workers_[i];
    threads_.emplace_back([this, &w] {
      if (w.min_key > 1) {
        restricted_worker_main(w);
      } else {
        worker_main(w);
      }
    });
    const std::string name = (options_.thread_name + "-" + std::to_string(i)).substr(0, 15);
    pthread_setname_np(threads_.back().native_handle(), name.c_str());
  }
}

ExecutorCore::~ExecutorCore() {
  // Wait for submitted jobs and runs in flight; the destroying thread helps. release() sets
  // quiescent_ each time outstanding_ drops to zero, so re-arm it before each wait.
  while (outstanding_.load(std::memory_order_acquire) != 0) {
    quiescent_.store(0, std::memory_order_relaxed);
    if (outstanding_.load(std::memory_order_seq_cst) == 0) break;
    help_until(quiescent_);
  }
  stopping_.store(true, std::memory_order_seq_cst);
  sleep_.notify_all();
  for (PoolInfo& p : pools_) {
    if (p.sleep) p.sleep->notify_all();
  }
  for (std::thread& t : threads_) t.join();
  timers_.reset();
}

TimerService& ExecutorCore::timers() {
  std::call_once(timers_once_, [&] { timers_ = std::make_unique<TimerService>(clock_); });
  return *timers_;
}

Worker* ExecutorCore::this_worker() const noexcept {
  return tl_worker != nullptr && tl_worker->core == this ? tl_worker : nullptr;
}

void ExecutorCore::release() noexcept {
  if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    quiescent_.store(1, std::memory_order_seq_cst);
    notify_helpers();
  }
}

void ExecutorCore::materialize_borrowed(Item& item) noexcept {
  static_cast<RunState*>(item.target)->add_unit();
  item.borrowed = false;
}

void ExecutorCore::push(Worker* w, const Item& item) {
  Item published = item;
  materialize(published);
  if (w != nullptr && w->registered && item.key >= w->min_key) {
    w->queue.push(published);
  } else {
    injection_.push(published);
  }
  announce(item.key);
}

void ExecutorCore::announce(Key key) {
  wake_worker();
  if (restricted_min_ != 0 && key >= restricted_min_) {
    for (PoolInfo& p : pools_) {
      if (p.sleep && key >= p.min_key) p.sleep->notify_one();
    }
  }
  helpers_.notify_all();
  if (preemptible_running_.load(std::memory_order_seq_cst) != 0) preempt_for(key);
}

void ExecutorCore::preempt_for(Key key) {
  if (!options_.preemption) return;
  // A worker that may run it is free (looking for work, or asleep and woken by the push).
  for (const auto& w : workers_) {
    if (key >= w->min_key && !w->in_body.load(std::memory_order_seq_cst)) return;
  }
  // Ask the lowest-priority interruptible body below `key`, on a worker allowed to run `key`,
  // that was not asked already: when the first one asked has not yielded within the grace
  // (its thread descheduled), the next one is asked too.
  // Among equal keys, a body whose thread last ran on this CPU comes last: this thread runs
  // here now, so that one is not running (the OS put this thread in its place).
  const int priority = priority_of_key(key);
  const int here = sched_getcpu();
  struct Candidate {
    Key key;
    bool here;
    Worker* worker;
  };
  std::vector<Candidate> candidates;
  for (const auto& w : workers_) {
    const Key k = w->preemptible_key.load(std::memory_order_acquire);
    if (k == 0 || key < w->min_key || priority_of_key(k) >= priority) continue;
    candidates.push_back({k, w->cpu.load(std::memory_order_relaxed) == here, w.get()});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.key != b.key ? a.key < b.key : a.here < b.here;
  });
  for (const auto& [lowest, same_cpu, victim] : candidates) {
    std::stop_source stop;
    {
      std::lock_guard lock(victim->preempt_lock);
      if (victim->preempt_requested == nullptr ||
          victim->preemptible_key.load(std::memory_order_relaxed) != lowest ||
          victim->preempt_requested->exchange(true, std::memory_order_acq_rel)) {
        continue;  // gone, moved on, or asked already
      }
      stop = victim->preempt_stop;
    }
    stop.request_stop();  // outside the lock: stop callbacks may push work
    if (options_.yield_grace > Duration::zero() && candidates.size() > 1) {
      timers().schedule(clock_->now() + options_.yield_grace, [this, key] {
        if (queued_at_least(key)) preempt_for(key);
      });
    }
    return;
  }
}

bool ExecutorCore::queued_at_least(Key key) const noexcept {
  return injection_.top_key() >= key ||
         any_queue(*this, [key](const Worker& w) { return w.queue.top_key() >= key; });
}

void ExecutorCore::enter_preemptible(Worker& w, Key key, const std::stop_source& stop,
                                     std::atomic<bool>& requested) {
  if (w.external) return;  // only pool workers are asked to yield
  // Again, seq_cst: push() stores the top key, then reads in_body to find a free worker. With
  // this store before the top-key read below, either push() sees this worker busy (and looks
  // for a victim) or this thread sees the pushed work.
  w.in_body.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard lock(w.preempt_lock);
    w.preempt_stop = stop;
    w.preempt_requested = &requested;
  }
  w.cpu.store(sched_getcpu(), std::memory_order_relaxed);
  w.preemptible_key.store(key, std::memory_order_release);
  preemptible_running_.fetch_add(1, std::memory_order_seq_cst);
  // Started ahead of better queued work (an aging take, or that work came while this thread
  // was between tasks): that work asks for a worker now, as if it had just been pushed.
  // seq_cst against push(): it stores the top key, then reads preemptible_running_; this
  // thread added to preemptible_running_ above and reads the top key now, so either push()
  // sees this body or this body sees the pushed work.
  Key best = std::max(injection_.top_key_seq_cst(), w.queue.top_key_seq_cst());
  if (priority_of_key(best) > priority_of_key(key)) preempt_for(best);
}

void ExecutorCore::leave_preemptible(Worker& w) noexcept {
  if (w.external) return;
  w.preemptible_key.store(0, std::memory_order_relaxed);
  {
    std::lock_guard lock(w.preempt_lock);
    w.preempt_stop = std::stop_source(std::nostopstate);
    w.preempt_requested = nullptr;
  }
  preemptible_running_.fetch_sub(1, std::memory_order_relaxed);
}

void ExecutorCore::wake_worker() noexcept {
  // A spinning worker will find new work by itself; otherwise wake a sleeper, if the slot
  // budget lets one run. (The caller published with a seq_cst store; these loads are seq_cst
  // too, so a worker going to sleep either is seen here or sees the work.)
  if (spinning_.load(std::memory_order_seq_cst) == 0 &&
      active_.load(std::memory_order_seq_cst) < slots_) {
    sleep_.notify_one();
  }
}

void ExecutorCore::wake_another_if_backlog() noexcept {
  // Pushes made while a worker was spinning woke nobody; whoever takes such work passes the
  // wake-up on while more is waiting, so a burst reaches every sleeping worker.
  if (spinning_.load(std::memory_order_seq_cst) == 0 &&
      active_.load(std::memory_order_seq_cst) < slots_ && work_visible()) {
    sleep_.notify_one();
  }
}

void ExecutorCore::flush_next(Worker& w) {
  if (w.next) push(&w, std::exchange(w.next, Item{}));
}

void ExecutorCore::share_next_slow(Worker& w) {
  if (!w.registered) {
    flush_next(w);  // nobody could steal it from this thread's stack
    return;
  }
  // Release: a thief that reads the slot open reads the item written before. The fence pairs
  // with the heavy one of a worker going to sleep (sleep_until_work): either this thread sees
  // it asleep and wakes it, or it sees the slot open.
  w.next_open.store(1, std::memory_order_release);
  fence_.light();
  wake_worker();
}

void ExecutorCore::settle_claim(Worker& w) noexcept {
  std::uint32_t claim = w.next_claim.load(std::memory_order_acquire);
  while (claim == Worker::kClaiming) {
    cpu_relax();
    claim = w.next_claim.load(std::memory_order_acquire);
  }
  if (claim == Worker::kStolen) {
    w.next = Item{};
    w.next_claim.store(Worker::kUnclaimed, std::memory_order_relaxed);
  }
}

bool ExecutorCore::steal_next(Worker& victim, Item& out, Key min_key) {
  // The owner opens its slot (store), and closes it with a store, a light fence and a look at
  // next_claim. A thief claims (store), then a heavy fence, then looks whether the slot is
  // open: either the owner sees the claim and waits for the thief's decision, or the thief
  // sees the slot closed. Claims are rare (a whole spin found nothing), so the heavy fence's
  // microseconds are spent where they cost nothing.
  if (victim.next_open.load(std::memory_order_relaxed) == 0) return false;
  std::uint32_t unclaimed = Worker::kUnclaimed;
  if (!victim.next_claim.compare_exchange_strong(unclaimed, Worker::kClaiming,
                                                 std::memory_order_acquire)) {
    return false;  // another thief is at it, or the owner has not yet seen an earlier steal
  }
  fence_.heavy();
  if (victim.next_open.load(std::memory_order_acquire) == 0 || victim.next.key < min_key) {
    victim.next_claim.store(Worker::kUnclaimed, std::memory_order_release);
    return false;
  }
  out = victim.next;
  // Count the item's unit before releasing the owner: once it sees kStolen it may finish its
  // element, give back the last unit and end the run.
  materialize(out);
  victim.next_claim.store(Worker::kStolen, std::memory_order_release);
  return true;
}

bool ExecutorCore::take_oldest(Worker& w, Item& out) {
  // The oldest item of lower priority than the best this thread could take, if any; its own
  // queue and the injection queue take turns being looked at first.
  const Key own_key = w.registered ? w.queue.top_key() : 0;
  const Key best = std::max({w.next.key, own_key, injection_.top_key()});
  if (best == 0) return false;
  const int priority = priority_of_key(best);
  w.age_own_queue = !w.age_own_queue && w.registered;
  ReadyQueue& first = w.age_own_queue ? w.queue : injection_;
  ReadyQueue& second = w.age_own_queue ? injection_ : w.queue;
  if (first.top_key() != 0 && first.pop_oldest_below(out, priority, w.min_key)) return true;
  return w.registered && second.top_key() != 0 && second.pop_oldest_below(out, priority, w.min_key);
}

bool ExecutorCore::take_next(Worker& w, Item& out) {
  if (!w.next || w.takes + 1 >= options_.aging_interval) return false;
  const Key key = w.next.key;
  const Key own_key = w.registered ? w.queue.top_key() : 0;
  const Key injected_key = injection_.top_key();
  if ((own_key >= w.min_key && own_key > key) ||
      (injected_key >= w.min_key && injected_key > key)) {
    return false;
  }
  ++w.takes;
  out = std::exchange(w.next, Item{});
  materialize(out);  // only a nested wait takes an item its lender has not finished with
  w.took_next = true;
  return true;
}

bool ExecutorCore::take(Worker& w, Item& out) {
  if (take_next(w, out)) return true;
  if (++w.takes >= options_.aging_interval) {
    w.takes = 0;
    if (take_oldest(w, out)) {
      flush_next(w);
      w.took_next = false;
      return true;
    }
  }
  const Key min_key = w.min_key;
  const Key next_key = w.next.key;
  Key own_key = w.registered ? w.queue.top_key() : 0;
  Key injected_key = injection_.top_key();
  if (own_key < min_key) own_key = 0;
  if (injected_key < min_key) injected_key = 0;
  w.took_next = false;
  if (next_key != 0 && next_key >= own_key && next_key >= injected_key) {
    out = std::exchange(w.next, Item{});
    materialize(out);  // only a nested wait takes an item its lender has not finished with
    w.took_next = true;
    return true;
  }
  if (own_key != 0 && own_key >= injected_key && w.next) {
    // Better work is queued here: publish `next` and take that in one step.
    Item published = std::exchange(w.next, Item{});
    materialize(published);
    const bool popped = w.queue.push_pop(published, out, min_key);
    announce(published.key);
    if (popped) return true;
  }
  bool taken = (own_key != 0 && own_key >= injected_key && w.queue.pop(out, min_key)) ||
               (injected_key != 0 && injection_.pop(out, min_key)) ||
               (w.registered && w.queue.pop(out, min_key));
  if (taken) {
    // Something better than `next` came first: `next` may wait a long time, so publish it.
    flush_next(w);
    return true;
  }
  if (w.next) {
    out = std::exchange(w.next, Item{});
    materialize(out);
    return true;
  }
  return false;
}

bool ExecutorCore::steal(Worker& w, Item& out) {
  w.last_end_valid = false;  // looking beyond its own queues: time passes
  // A thread with a queue takes half of the victim's best items (up to kBatch) and runs the
  // first: with one at a time, two threads sharing a wide level of a graph moved the victim's
  // queue between their cores at every step (a binary tree ran 4x slower on 2 than on 1).
  constexpr std::size_t kBatch = 256;
  std::array<Item, kBatch> batch;
  const std::size_t max = w.registered ? kBatch : 1;
  const auto take_from = [&](Worker& victim) {
    if (&victim == &w || victim.queue.top_key() < w.min_key) return false;
    const std::size_t n = victim.queue.try_pop_half(batch.data(), max, w.min_key);
    if (n == 0) return false;
    out = batch[0];
    w.queue.push_many(batch.data() + 1, n - 1);
    return true;
  };
  const std::size_t n = workers_.size();
  const std::size_t first = next_random(w.rng) % n;
  for (std::size_t i = 0; i < n; ++i) {
    if (take_from(*workers_[(first + i) % n])) return true;
  }
  for (Worker& helper : helpers_slots_) {
    if (helper.claimed.load(std::memory_order_acquire) && take_from(helper)) return true;
  }
  return injection_.top_key() >= w.min_key && injection_.pop(out, w.min_key);
}

bool ExecutorCore::steal_shared_next(Worker& w, Item& out) {
  w.last_end_valid = false;
  for (const auto& victim : workers_) {
    if (victim.get() != &w && steal_next(*victim, out, w.min_key)) return true;
  }
  for (Worker& helper : helpers_slots_) {
    if (&helper != &w && helper.claimed.load(std::memory_order_relaxed) &&
        steal_next(helper, out, w.min_key)) {
      return true;
    }
  }
  return false;
}

bool ExecutorCore::shared_next_visible() const noexcept {
  for (const auto& w : workers_) {
    if (w->next_open.load(std::memory_order_relaxed) != 0) return true;
  }
  for (const Worker& h : helpers_slots_) {
    if (h.next_open.load(std::memory_order_relaxed) != 0) return true;
  }
  return false;
}

bool ExecutorCore::visible_for(Key min_key) const noexcept {
  return injection_.top_key_seq_cst() >= min_key || any_queue(*this, [min_key](const Worker& w) {
           return w.queue.top_key_seq_cst() >= min_key;
         });
}

bool ExecutorCore::work_visible() const noexcept {
  return injection_.top_key_seq_cst() != 0 ||
         any_queue(*this, [](const Worker& w) { return w.queue.top_key_seq_cst() != 0; });
}

void ExecutorCore::return_spare_units_slow(Worker& w) {
  static_cast<RunState*>(w.spare_run)->return_spare_units(w);
}

void ExecutorCore::execute(Worker& w, Item item) {
  if (w.spare_run != nullptr && (item.kind == Item::Kind::kJob || item.target != w.spare_run)) {
    return_spare_units_slow(w);
  }
  if (w.external) {
    execute_item(w, item);
  } else {
    w.in_body.store(true, std::memory_order_relaxed);
    execute_item(w, item);
    w.in_body.store(false, std::memory_order_relaxed);
  }
}

void ExecutorCore::execute_item(Worker& w, Item item) {
  if (item.kind == Item::Kind::kJob) {
    if (item.begin != 0) {  // the job leaves its class queue: room for one more
      queued_[item.begin - 1].fetch_sub(1, std::memory_order_seq_cst);
      room_.notify_all();
    }
    share_next(w);
    static_cast<Job*>(item.target)->run();
    reclaim_next(w);
    w.last_end_valid = false;  // jobs are not timed: the time since the last end was this job's
    release();
  } else {
    static_cast<RunState*>(item.target)->execute(w, item);
  }
}

void ExecutorCore::restricted_worker_main(Worker& w) {
  tl_worker = &w;
  PoolInfo& pool = pools_[w.pool];
  const auto spin = options_.spin_before_sleep;
  Item item;
  while (!stopping_.load(std::memory_order_acquire)) {
    if (take(w, item) || steal(w, item)) {
      execute(w, item);
      continue;
    }
    return_spare_units(w);
    flush_next(w);
    const auto spin_until = std::chrono::steady_clock::now() + spin;
    bool found = false;
    for (unsigned i = 1; !found && !stopping_.load(std::memory_order_relaxed); ++i) {
      found = visible_for(w.min_key);
      if (!found && !backoff(i, spin_until)) break;
    }
    if (!found) {
      const std::uint32_t epoch = pool.sleep->prepare_wait();
      if (stopping_.load(std::memory_order_seq_cst) || visible_for(w.min_key)) {
        pool.sleep->cancel_wait();
      } else {
        pool.sleep->commit_wait(epoch);
      }
    }
  }
  tl_worker = nullptr;
}

void ExecutorCore::worker_main(Worker& w) {
  tl_worker = &w;
  const unsigned slots = slots_;
  const auto spin = options_.spin_before_sleep;
  bool overriding = false;  // working although displaced, because a helper is stuck
  std::vector<std::uint64_t> seen_tokens(kHelperSlots, 0);
  Item item;
  for (;;) {
    if (!overriding && active_.load(std::memory_order_relaxed) > slots) {
      // A thread that waits has taken this worker's slot.
      return_spare_units(w);
      overriding = sleep_displaced(w, seen_tokens);
    } else if (take(w, item) || steal(w, item) || (overriding && steal_shared_next(w, item))) {
      if (!w.took_next) wake_another_if_backlog();
      execute(w, item);
      continue;
    } else {
      overriding = false;
      return_spare_units(w);
      // Idle: look for work for a while, then sleep. The last spinner to find work wakes
      // another worker, so that a burst of work ramps the pool up one wake-up at a time.
      spinning_.fetch_add(1, std::memory_order_seq_cst);
      const auto spin_until = std::chrono::steady_clock::now() + spin;
      bool found = false;
      for (unsigned i = 1; !stopping_.load(std::memory_order_relaxed) &&
                           active_.load(std::memory_order_relaxed) <= slots;
           ++i) {
        if ((found = work_visible())) break;
        if (!backoff(i, spin_until)) break;
      }
      if (spinning_.fetch_sub(1, std::memory_order_seq_cst) == 1 && found) {
        sleep_.notify_one();
      }
      // Nothing queued for a whole spin: work held by a thread in a long task body is next.
      if (!found && steal_shared_next(w, item)) {
        // Work pushed just after this spin's last look woke nobody (it saw a spinner): pass
        // the wake-up on before this body, which may be long, keeps this thread.
        wake_another_if_backlog();
        execute(w, item);
        continue;
      }
      if (!found) sleep_until_work(w);
    }
    if (stopping_.load(std::memory_order_acquire) && !work_visible()) break;
  }
  tl_worker = nullptr;
}

void ExecutorCore::sleep_until_work(Worker& w) {
  flush_next(w);
  const unsigned slots = slots_;
  active_.fetch_sub(1, std::memory_order_seq_cst);
  const std::uint32_t epoch = sleep_.prepare_wait();
  // Slots open while this thread is asleep wake it (share_next_slow reads active_); this
  // thread sees those opened before (the heavy side of their fence).
  const auto open_slot = [this] {
    fence_.heavy();
    return shared_next_visible();
  };
  if (stopping_.load(std::memory_order_seq_cst) ||
      (active_.load(std::memory_order_seq_cst) < slots && (work_visible() || open_slot()))) {
    sleep_.cancel_wait();
  } else {
    sleep_.commit_wait(epoch);
  }
  active_.fetch_add(1, std::memory_order_seq_cst);
}

bool ExecutorCore::helper_stuck(std::vector<std::uint64_t>& seen_tokens) const noexcept {
  bool stuck = false;
  for (std::size_t i = 0; i < kHelperSlots; ++i) {
    const std::uint64_t token = helpers_slots_[i].body_token.load(std::memory_order_relaxed);
    stuck = stuck || (token != 0 && token == seen_tokens[i]);
    seen_tokens[i] = token;
  }
  return stuck;
}

bool ExecutorCore::sleep_displaced(Worker& w, std::vector<std::uint64_t>& seen_tokens) {
  flush_next(w);
  const unsigned slots = slots_;
  active_.fetch_sub(1, std::memory_order_seq_cst);
  // A slot that a helping thread gave back, with work queued, is taken once it has stayed free
  // for kPatience: a thread that waits for one run after another frees its slot between runs
  // and takes it back a few microseconds later, and the run it starts is best left to it (on a
  // VM whose vCPUs are far apart, half of such runs went to this worker before, and each task
  // handed across cost a cross-CPU cache miss, ~0.4 us).
  constexpr auto kPatience = std::chrono::microseconds(10);
  std::chrono::steady_clock::time_point free_since{};
  bool seen_free = false;
  const auto slot_free_long_enough = [&] {
    if (active_.load(std::memory_order_relaxed) >= slots || !work_visible()) {
      seen_free = false;
      return false;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!seen_free) {
      seen_free = true;
      free_since = now;
    }
    return now - free_since >= kPatience;
  };
  for (;;) {
    // Watch for the slot for one spin before sleeping, counted as spinning so that a push
    // does not pay a wake-up.
    spinning_.fetch_add(1, std::memory_order_seq_cst);
    const auto spin_until = std::chrono::steady_clock::now() + options_.spin_before_sleep;
    bool found = false;
    for (unsigned i = 1; !found && !stopping_.load(std::memory_order_relaxed); ++i) {
      found = slot_free_long_enough();
      if (!found && !backoff(i, spin_until)) break;
    }
    if (spinning_.fetch_sub(1, std::memory_order_seq_cst) == 1 && found) sleep_.notify_one();
    if (found) {
      active_.fetch_add(1, std::memory_order_seq_cst);
      return false;
    }
    const std::uint32_t epoch = sleep_.prepare_wait();
    bool expired = false;
    const bool free_with_work = active_.load(std::memory_order_seq_cst) < slots && work_visible();
    if (stopping_.load(std::memory_order_seq_cst) || free_with_work) {
      sleep_.cancel_wait();
    } else {
      expired = !sleep_.commit_wait(epoch, std::chrono::milliseconds(1));
    }
    // Woken for new work: back to watching, with the same patience (stopping, or the spin
    // was too short for it: take the slot now).
    if (!expired && !free_with_work && !stopping_.load(std::memory_order_relaxed)) {
      seen_free = false;  // what the last spin saw is old now
      continue;
    }
    active_.fetch_add(1, std::memory_order_seq_cst);
    // A helper in the same body as a millisecond ago is not taking work: take it up.
    return expired && helper_stuck(seen_tokens) && (work_visible() || shared_next_visible());
  }
}

Worker* ExecutorCore::claim_helper_slot() noexcept {
  for (Worker& h : helpers_slots_) {
    bool free = false;
    if (!h.claimed.load(std::memory_order_relaxed) &&
        h.claimed.compare_exchange_strong(free, true, std::memory_order_acquire)) {
      return &h;
    }
  }
  return nullptr;
}

void ExecutorCore::help_until(const std::atomic<std::uint32_t>& done) {
  Worker* w = this_worker();
  const bool inside = w != nullptr;
  // A thread from outside helps only where it breaks no rule a worker keeps: never with lanes
  // (it would run laned work outside its lane, with no lane's worker resource), and not while
  // an interruptible body runs (work arriving meanwhile must preempt it, not run beside it).
  // Decided once, on arrival: a helper that starts helping when that body yields would race
  // the worker for the work the body yielded to.
  const bool helps =
      inside ||
      (external_help_ && restricted_min_ == 0 &&
       !(options_.preemption && preemptible_running_.load(std::memory_order_seq_cst) != 0));
  // A thread from outside without a helper slot (none free, or not helping): its next item
  // cannot be stolen, so share_next() publishes it instead.
  // Made only when needed: a Worker is large, and its stop_source allocates.
  std::optional<Worker> unregistered;
  const auto make_unregistered = [&]() -> Worker* {
    Worker& u = unregistered.emplace();
    u.core = this;
    u.index = worker_count();
    u.counter = counter_slots() - 1;
    u.external = true;
    u.registered = false;
    return &u;
  };
  if (inside) {
    reclaim_next(*w);  // the enclosing task body shared it; this loop uses the slot now
  } else {
    w = helps ? claim_helper_slot() : nullptr;
    if (w == nullptr) w = make_unregistered();
  }
  WorkerScope scope(w);
  w->last_end_valid = false;
  // A pool worker already holds an execution slot. A thread from outside takes one while it
  // helps, which sends a spinning worker to sleep: the pool never runs more threads than slots.
  const bool takes_slot = !inside && helps;
  if (takes_slot) active_.fetch_add(1, std::memory_order_seq_cst);
  const auto spin = options_.spin_before_sleep;
  Item item;
  while (done.load(std::memory_order_acquire) == 0) {
    if (helps && (take(*w, item) || steal(*w, item))) {
      execute(*w, item);
      continue;
    }
    // Nothing to run: what we wait for is running elsewhere (or ends with the spares this
    // thread gives back). Spin briefly, then sleep until it is done or new work appears (so a
    // retry released by a timer is never left behind).
    return_spare_units(*w);
    flush_next(*w);
    const auto spin_until = std::chrono::steady_clock::now() + spin;
    bool ready = false;
    for (unsigned i = 1; !ready; ++i) {
      ready = done.load(std::memory_order_acquire) != 0 || (helps && work_visible());
      if (!ready && !backoff(i, spin_until)) break;
    }
    if (ready) continue;
    if (helps && steal_shared_next(*w, item)) {
      wake_another_if_backlog();
      execute(*w, item);
      continue;
    }
    if (takes_slot) release_slot_of_helper();
    const std::uint32_t epoch = helpers_.prepare_wait();
    if (done.load(std::memory_order_seq_cst) != 0 || (helps && work_visible())) {
      helpers_.cancel_wait();
    } else {
      helpers_.commit_wait(epoch);
    }
    if (takes_slot) active_.fetch_add(1, std::memory_order_seq_cst);
  }
  return_spare_units(*w);
  if (inside) {
    share_next(*w);  // back to the enclosing body: keep the slot stealable
  } else {
    flush_next(*w);
    // Work this thread queued for other runs goes where anyone finds it once it leaves.
    if (!unregistered) {
      for (Item left; w->queue.pop(left);) {
        injection_.push(left);
        announce(left.key);
      }
    }
    if (takes_slot) release_slot_of_helper();
    if (!unregistered) w->claimed.store(false, std::memory_order_release);
  }
}

bool ExecutorCore::sleep_until_done(const std::atomic<std::uint32_t>& done,
                                    std::chrono::nanoseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done.load(std::memory_order_acquire) != 0) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    const std::uint32_t epoch = helpers_.prepare_wait();  // signal_done() notifies helpers_
    if (done.load(std::memory_order_seq_cst) != 0) {
      helpers_.cancel_wait();
      return true;
    }
    helpers_.commit_wait(
        epoch, std::max<std::chrono::nanoseconds>(deadline - now, std::chrono::nanoseconds(1)));
  }
}

void ExecutorCore::release_slot_of_helper() {
  active_.fetch_sub(1, std::memory_order_seq_cst);
  if (work_visible()) sleep_.notify_one();
}

std::size_t ExecutorCore::class_index(Priority p) const noexcept {
  // The class with the highest priority at or below p; the lowest class below them all.
  auto it = std::upper_bound(classes_.begin(), classes_.end(), p,
                             [](Priority v, const ClassInfo& c) { return v < c.priority; });
  return it == classes_.begin() ? 0 : static_cast<std::size_t>(it - classes_.begin()) - 1;
}

Priority ExecutorCore::priority_of(std::string_view name) const {
  std::vector<std::string> known;
  for (const ClassInfo& c : classes_) {
    if (c.name == name) return c.priority;
    known.push_back(c.name);
  }
  throw UnknownNameError("priority class", std::string(name), std::move(known));
}

unsigned ExecutorCore::reserve_room(const SubmitOptions& options) {
  const std::size_t c = class_index(options.priority);
  const std::size_t capacity = classes_[c].capacity;
  if (capacity == 0) return 0;
  std::atomic<std::size_t>& queued = queued_[c];
  const auto deadline = options.max_wait >= std::chrono::hours(24 * 365)
                            ? std::chrono::steady_clock::time_point::max()
                            : std::chrono::steady_clock::now() + options.max_wait;
  for (;;) {
    std::size_t n = queued.load(std::memory_order_seq_cst);
    while (n < capacity) {
      if (queued.compare_exchange_weak(n, n + 1, std::memory_order_seq_cst)) {
        return static_cast<unsigned>(c) + 1;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (options.on_full == QueueFullAction::kFail || now >= deadline) {
      throw QueueFullError("the queue of priority class '" + classes_[c].name + "' is full (" +
                           std::to_string(capacity) + " jobs waiting" +
                           (options.on_full == QueueFullAction::kFail
                                ? ""
                                : ", and no room came within the wait allowed") +
                           ") — retry later, wait longer, or raise its queue_capacity");
    }
    const std::uint32_t epoch = room_.prepare_wait();
    if (queued.load(std::memory_order_seq_cst) < capacity) {
      room_.cancel_wait();
    } else {
      const auto left =
          deadline == std::chrono::steady_clock::time_point::max()
              ? std::chrono::nanoseconds(std::chrono::milliseconds(100))
              : std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::milliseconds(100));
      room_.commit_wait(epoch, std::max(left, std::chrono::nanoseconds(1)));
    }
  }
}

void ExecutorCore::rekey(const Item& work, Key key) {
  if (injection_.rekey(work, key)) return;
  any_queue(*this, [&](Worker& w) { return w.queue.rekey(work, key); });
}

std::any& ExecutorCore::worker_resource() {
  Worker* w = this_worker();
  if (w == nullptr) {
    throw InvalidStateError(
        "worker_resource() called outside a task of this executor — call it from a task");
  }
  if (!options_.worker_resource) {
    throw InvalidStateError(
        "worker_resource() called but ExecutorOptions::worker_resource is not set");
  }
  if (!w->resource_made) {
    w->resource = options_.worker_resource(
        w->index, w->external ? std::string("caller") : pools_[w->pool].name);
    w->resource_made = true;
  }
  return w->resource;
}

unsigned reserve_queue_room(Executor& executor, const SubmitOptions& options) {
  return executor.core().reserve_room(options);
}

void schedule(Executor& executor, Job* job, Priority priority, unsigned lane) {
  ExecutorCore& core = executor.core();
  core.retain();
  core.push(core.this_worker(), Item::job(job, priority, lane));
}

void reprioritize(Executor& executor, Job* job, Priority priority) {
  executor.core().rekey(Item::job(job, priority), make_key(priority, 0));
}

std::any& worker_resource(const Executor& executor) {
  return executor.core().worker_resource();
}

bool enter_interruptible(Executor& executor, Priority priority, unsigned interruptions,
                         const std::stop_source& stop, std::atomic<bool>& requested) {
  ExecutorCore& core = executor.core();
  Worker* w = core.this_worker();
  if (w == nullptr || w->external || !core.options().preemption ||
      interruptions >= core.options().max_interruptions) {
    return false;
  }
  core.enter_preemptible(*w, make_key(priority, 0), stop, requested);
  return true;
}

void leave_interruptible(Executor& executor) noexcept {
  if (Worker* w = executor.core().this_worker()) executor.core().leave_preemptible(*w);
}

TimerId start_timer(Executor& executor, TimePoint deadline, std::function<void()> fn) {
  return executor.core().timers().schedule(deadline, std::move(fn));
}

void stop_timer(Executor& executor, const TimerId& id) {
  (void)executor.core().timers().cancel(id);
}

void help_until(Executor& executor, const std::atomic<std::uint32_t>& done) {
  if (done.load(std::memory_order_acquire) != 0) return;
  executor.core().help_until(done);
}

bool sleep_until_done(Executor& executor, const std::atomic<std::uint32_t>& done,
                      std::chrono::nanoseconds timeout) {
  return executor.core().sleep_until_done(done, timeout);
}

void signal_done(Executor& executor, std::atomic<std::uint32_t>& done) noexcept {
  done.store(1, std::memory_order_seq_cst);  // seq_cst: see EventCount
  executor.core().notify_helpers();
}

void body_returned(Executor& executor) noexcept {
  // Relaxed: the release of the result orders it before any read by a thread that saw it.
  if (Worker* w = executor.core().this_worker(); w != nullptr && !w->external) {
    w->in_body.store(false, std::memory_order_relaxed);
  }
}

}  // namespace detail

Executor::Executor(ExecutorOptions options)
    : core_(std::make_unique<detail::ExecutorCore>(*this, std::move(options))) {}

Executor::~Executor() = default;

unsigned Executor::worker_count() const noexcept {
  return core_->worker_count();
}

const Clock& Executor::clock() const noexcept {
  return core_->clock();
}

Priority Executor::priority_of(std::string_view class_name) const {
  return core_->priority_of(class_name);
}

const std::string& Executor::class_of(Priority priority) const {
  return core_->class_info(priority).name;
}

std::vector<PoolUsage> Executor::resource_usage() const {
  return core_->admission() ? core_->admission()->usage() : std::vector<PoolUsage>{};
}

int Executor::this_worker() const noexcept {
  const detail::Worker* w = core_->this_worker();
  return w != nullptr && !w->external ? static_cast<int>(w->index) : -1;
}

Run Executor::run(const TaskGraph& graph, RunOptions options) {
  auto plan = graph.data().compile();
  auto state =
      std::make_shared<detail::RunState>(*core_, graph.data(), std::move(plan), std::move(options));
  state->start(core_->this_worker());
  return Run(std::move(state));
}

}  // namespace taskloom::runtime
