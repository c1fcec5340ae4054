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
    w->rng += i * 0x2545F4914F6CDD1Dull;
    workers_.push_back(std::move(w));
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
  // Wait for submitted jobs and runs in flight; the destroying thread helps.
  help_until(quiescent_);
  stopping_.store(true, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  sleep_.notify_all_after_fence();
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
    quiescent_.store(1, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    helpers_.notify_all_after_fence();
  }
}

void ExecutorCore::offer(Worker* w, const Item& item) {
  if (w == nullptr) {
    push(nullptr, item);
  } else if (!w->next) {
    w->next = item;
  } else if (item.key > w->next.key) {
    push(w, std::exchange(w->next, item));
  } else {
    push(w, item);
  }
}

void ExecutorCore::push(Worker* w, const Item& item) {
  if (w != nullptr && !w->external) {
    w->queue.push(item);
  } else {
    injection_.push(item);
  }
  // A spinning worker will find the item by itself; otherwise wake a sleeper, if the slot
  // budget lets one run.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (spinning_.load(std::memory_order_relaxed) == 0 &&
      active_.load(std::memory_order_relaxed) < worker_count()) {
    sleep_.notify_one_after_fence();
  }
  helpers_.notify_all_after_fence();
}

void ExecutorCore::flush_next(Worker& w) {
  if (w.next) push(&w, std::exchange(w.next, Item{}));
}

bool ExecutorCore::take(Worker& w, Item& out) {
  const Key next_key = w.next.key;
  const Key own_key = w.external ? 0 : w.queue.top_key();
  const Key injected_key = injection_.top_key();
  if (next_key != 0 && next_key >= own_key && next_key >= injected_key) {
    out = std::exchange(w.next, Item{});
    return true;
  }
  if (own_key != 0 && own_key >= injected_key && w.queue.pop(out)) return true;
  if (injected_key != 0 && injection_.pop(out)) return true;
  if (!w.external && w.queue.pop(out)) return true;
  if (w.next) {
    out = std::exchange(w.next, Item{});
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

bool ExecutorCore::work_visible() const noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (injection_.top_key() != 0) return true;
  for (const auto& w : workers_) {
    if (w->queue.top_key() != 0) return true;
  }
  return false;
}

void ExecutorCore::execute(Worker& w, Item item) {
  if (item.kind == Item::Kind::kJob) {
    static_cast<Job*>(item.target)->run();
    release();
  } else {
    static_cast<RunState*>(item.target)->execute(w, item);
  }
}

void ExecutorCore::worker_main(Worker& w) {
  tl_worker = &w;
  const unsigned slots = worker_count();
  const auto spin = options_.spin_before_sleep;
  Item item;
  for (;;) {
    if (active_.load(std::memory_order_relaxed) > slots) {
      sleep_until_work(w);  // a thread that waits has taken this worker's slot
    } else if (take(w, item) || steal(w, item)) {
      execute(w, item);
      continue;
    } else {
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
        sleep_.notify_one_after_fence();
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
      (active_.load(std::memory_order_seq_cst) < slots && work_visible())) {
    sleep_.cancel_wait();
  } else {
    sleep_.commit_wait(epoch);
  }
  active_.fetch_add(1, std::memory_order_seq_cst);
}

void ExecutorCore::help_until(const std::atomic<std::uint32_t>& done) {
  Worker* w = this_worker();
  Worker external;
  if (w == nullptr) {
    external.core = this;
    external.index = worker_count();
    external.external = true;
    w = &external;
  }
  WorkerScope scope(w);
  // A pool worker already holds an execution slot. A thread from outside takes one while it
  // helps, which sends a spinning worker to sleep: the pool never runs more threads than slots.
  const bool helps = !w->external || external_help_;
  const bool takes_slot = w->external && helps;
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
    if (takes_slot) release_slot_of_helper();
    const std::uint32_t epoch = helpers_.prepare_wait();
    if (done.load(std::memory_order_seq_cst) != 0 || (helps && work_visible())) {
      helpers_.cancel_wait();
    } else {
      helpers_.commit_wait(epoch);
    }
    if (takes_slot) active_.fetch_add(1, std::memory_order_seq_cst);
  }
  flush_next(*w);
  if (takes_slot) release_slot_of_helper();
}

void ExecutorCore::release_slot_of_helper() {
  active_.fetch_sub(1, std::memory_order_seq_cst);
  if (work_visible()) sleep_.notify_one_after_fence();
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
  done.store(1, std::memory_order_release);
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
