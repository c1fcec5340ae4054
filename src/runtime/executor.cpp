#include "taskloom/runtime/executor.hpp"

#include <pthread.h>

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
  unsigned n = options_.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->core = this;
    w->index = i;
    w->counter = i;
    w->rng += i * 0x2545F4914F6CDD1Dull;
    workers_.push_back(std::move(w));
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
  active_.store(n, std::memory_order_relaxed);
  threads_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] { worker_main(*workers_[i]); });
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
  if (w != nullptr && !w->external) {
    w->queue.push(published);
  } else {
    injection_.push(published);
  }
  wake_worker();
  helpers_.notify_all();
}

void ExecutorCore::wake_worker() noexcept {
  // A spinning worker will find new work by itself; otherwise wake a sleeper, if the slot
  // budget lets one run. (The caller published with a seq_cst store; these loads are seq_cst
  // too, so a worker going to sleep either is seen here or sees the work.)
  if (spinning_.load(std::memory_order_seq_cst) == 0 &&
      active_.load(std::memory_order_seq_cst) < worker_count()) {
    sleep_.notify_one();
  }
}

void ExecutorCore::wake_another_if_backlog() noexcept {
  // Pushes made while a worker was spinning woke nobody; whoever takes such work passes the
  // wake-up on while more is waiting, so a burst reaches every sleeping worker.
  if (spinning_.load(std::memory_order_seq_cst) == 0 &&
      active_.load(std::memory_order_seq_cst) < worker_count() && work_visible()) {
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
  w.next_state.store(Worker::kShared, std::memory_order_seq_cst);
  wake_worker();
}

void ExecutorCore::reclaim_next_slow(Worker& w) {
  std::uint32_t shared = Worker::kShared;
  if (w.next_state.compare_exchange_strong(shared, Worker::kPrivate, std::memory_order_acquire)) {
    return;
  }
  while (w.next_state.load(std::memory_order_acquire) != Worker::kStolen) cpu_relax();
  w.next = Item{};
  w.next_state.store(Worker::kPrivate, std::memory_order_relaxed);
}

bool ExecutorCore::steal_next(Worker& victim, Item& out) {
  if (victim.next_state.load(std::memory_order_relaxed) != Worker::kShared) return false;
  std::uint32_t shared = Worker::kShared;
  if (!victim.next_state.compare_exchange_strong(shared, Worker::kStealing,
                                                 std::memory_order_acquire)) {
    return false;
  }
  out = victim.next;
  // Count the item's unit before releasing the owner: once it sees kStolen it may finish its
  // element, give back the last unit and end the run.
  materialize(out);
  victim.next_state.store(Worker::kStolen, std::memory_order_release);
  return true;
}

bool ExecutorCore::take(Worker& w, Item& out) {
  const Key next_key = w.next.key;
  const Key own_key = w.external ? 0 : w.queue.top_key();
  const Key injected_key = injection_.top_key();
  w.took_next = false;
  if (next_key != 0 && next_key >= own_key && next_key >= injected_key) {
    out = std::exchange(w.next, Item{});
    materialize(out);  // only a nested wait takes an item its lender has not finished with
    w.took_next = true;
    return true;
  }
  bool taken = (own_key != 0 && own_key >= injected_key && w.queue.pop(out)) ||
               (injected_key != 0 && injection_.pop(out)) || (!w.external && w.queue.pop(out));
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
  const std::size_t n = workers_.size();
  const std::size_t first = next_random(w.rng) % n;
  for (std::size_t i = 0; i < n; ++i) {
    Worker& victim = *workers_[(first + i) % n];
    if (&victim == &w || victim.queue.top_key() == 0) continue;
    if (victim.queue.try_pop(out)) return true;
  }
  return injection_.top_key() != 0 && injection_.pop(out);
}

bool ExecutorCore::steal_shared_next(Worker& w, Item& out) {
  for (const auto& victim : workers_) {
    if (victim.get() != &w && steal_next(*victim, out)) return true;
  }
  for (Worker& helper : helpers_slots_) {
    if (&helper != &w && helper.claimed.load(std::memory_order_relaxed) &&
        steal_next(helper, out)) {
      return true;
    }
  }
  return false;
}

bool ExecutorCore::shared_next_visible() const noexcept {
  for (const auto& w : workers_) {
    if (w->next_state.load(std::memory_order_seq_cst) == Worker::kShared) return true;
  }
  for (const Worker& h : helpers_slots_) {
    if (h.next_state.load(std::memory_order_seq_cst) == Worker::kShared) return true;
  }
  return false;
}

bool ExecutorCore::work_visible() const noexcept {
  if (injection_.top_key_seq_cst() != 0) return true;
  for (const auto& w : workers_) {
    if (w->queue.top_key_seq_cst() != 0) return true;
  }
  return false;
}

void ExecutorCore::execute(Worker& w, Item item) {
  if (item.kind == Item::Kind::kJob) {
    share_next(w);
    static_cast<Job*>(item.target)->run();
    reclaim_next(w);
    release();
  } else {
    static_cast<RunState*>(item.target)->execute(w, item);
  }
}

void ExecutorCore::worker_main(Worker& w) {
  tl_worker = &w;
  const unsigned slots = worker_count();
  const auto spin = options_.spin_before_sleep;
  bool overriding = false;  // working although displaced, because a helper is stuck
  std::vector<std::uint64_t> seen_tokens(kHelperSlots, 0);
  Item item;
  for (;;) {
    if (!overriding && active_.load(std::memory_order_relaxed) > slots) {
      // A thread that waits has taken this worker's slot.
      overriding = sleep_displaced(w, seen_tokens);
    } else if (take(w, item) || steal(w, item) || (overriding && steal_shared_next(w, item))) {
      if (!w.took_next) wake_another_if_backlog();
      execute(w, item);
      continue;
    } else {
      overriding = false;
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
  const unsigned slots = worker_count();
  active_.fetch_sub(1, std::memory_order_seq_cst);
  const std::uint32_t epoch = sleep_.prepare_wait();
  if (stopping_.load(std::memory_order_seq_cst) ||
      (active_.load(std::memory_order_seq_cst) < slots &&
       (work_visible() || shared_next_visible()))) {
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
  const unsigned slots = worker_count();
  active_.fetch_sub(1, std::memory_order_seq_cst);
  const std::uint32_t epoch = sleep_.prepare_wait();
  bool expired = false;
  if (stopping_.load(std::memory_order_seq_cst) ||
      (active_.load(std::memory_order_seq_cst) < slots && work_visible())) {
    sleep_.cancel_wait();
  } else {
    expired = !sleep_.commit_wait(epoch, std::chrono::milliseconds(1));
  }
  active_.fetch_add(1, std::memory_order_seq_cst);
  // A helper in the same body as a millisecond ago is not taking work: take it up.
  return expired && helper_stuck(seen_tokens) && (work_visible() || shared_next_visible());
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
  const bool helps = inside || external_help_;
  // A thread from outside without a helper slot (none free, or not helping): its next item
  // cannot be stolen, so share_next() publishes it instead.
  Worker unregistered;
  unregistered.core = this;
  unregistered.index = worker_count();
  unregistered.counter = counter_slots() - 1;
  unregistered.external = true;
  unregistered.registered = false;
  if (inside) {
    reclaim_next(*w);  // the enclosing task body shared it; this loop uses the slot now
  } else {
    w = helps ? claim_helper_slot() : nullptr;
    if (w == nullptr) w = &unregistered;
  }
  WorkerScope scope(w);
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
    // Nothing to run: what we wait for is running elsewhere. Spin briefly, then sleep until
    // it is done or new work appears (so a retry released by a timer is never left behind).
    flush_next(*w);
    const auto spin_until = std::chrono::steady_clock::now() + spin;
    bool ready = false;
    for (unsigned i = 1; !ready; ++i) {
      ready = done.load(std::memory_order_acquire) != 0 || (helps && work_visible());
      if (!ready && !backoff(i, spin_until)) break;
    }
    if (ready) continue;
    if (helps && steal_shared_next(*w, item)) {
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
  if (inside) {
    share_next(*w);  // back to the enclosing body: keep the slot stealable
  } else {
    flush_next(*w);
    if (takes_slot) release_slot_of_helper();
    if (w != &unregistered) w->claimed.store(false, std::memory_order_release);
  }
}

void ExecutorCore::release_slot_of_helper() {
  active_.fetch_sub(1, std::memory_order_seq_cst);
  if (work_visible()) sleep_.notify_one();
}

void schedule(Executor& executor, Job* job, Priority priority) {
  ExecutorCore& core = executor.core();
  core.retain();
  core.push(core.this_worker(), Item::job(job, priority));
}

void help_until(Executor& executor, const std::atomic<std::uint32_t>& done) {
  if (done.load(std::memory_order_acquire) != 0) return;
  executor.core().help_until(done);
}

void signal_done(Executor& executor, std::atomic<std::uint32_t>& done) noexcept {
  done.store(1, std::memory_order_seq_cst);  // seq_cst: see EventCount
  executor.core().notify_helpers();
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
