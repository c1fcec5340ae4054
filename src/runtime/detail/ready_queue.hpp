// Internal: the unit of scheduling and the priority-ordered queue that holds it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "taskloom/core/priority.hpp"
#include "taskloom/runtime/detail/job.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace taskloom::runtime::detail {

class RunState;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

/// Scheduling key: priority in the top 16 bits, upward rank below, larger runs first. Zero
/// means "nothing" and is never a real key.
using Key = std::uint64_t;

inline Key make_key(Priority priority, double rank) noexcept {
  std::uint64_t rank_bits = 0;
  static_assert(sizeof(double) == sizeof(std::uint64_t));
  if (rank > 0) std::memcpy(&rank_bits, &rank, sizeof rank);  // positive doubles order as integers
  return (static_cast<Key>(priority.value() + 32768) << 48) | (rank_bits >> 16);
}

/// One schedulable thing: a submitted job, one node of a run, or a range of a run's sources
/// (split lazily when other workers are hungry).
struct Item {
  enum class Kind : std::uint8_t {
    kJob,
    kNode,
    kSources,
    kResume
  };  // kResume: an async attempt ended
  Key key = 0;
  void* target = nullptr;  // Job* or RunState*
  std::uint32_t begin = 0, end = 0;
  Kind kind = Kind::kJob;
  /// A source range whose run counts no work unit for it yet: it lives in the next slot of
  /// the worker running the element it was split from (see RunState).
  bool borrowed = false;
  std::uint32_t seq = 0;  // arrival order in the queue holding it (set by ReadyQueue::push)

  explicit operator bool() const noexcept { return key != 0; }
  /// For a job, `begin` is the lane whose queue room it holds (0: none).
  static Item job(Job* j, Priority p, unsigned lane = 0) noexcept {
    return {make_key(p, 0), j, lane, 0, Kind::kJob};
  }
  bool same_work(const Item& o) const noexcept {
    return target == o.target && kind == o.kind && begin == o.begin;
  }
};
static_assert(sizeof(Item) == 32, "an Item is half a cache line");

inline int priority_of_key(Key key) noexcept {
  return static_cast<int>(key >> 48) - 32768;
}

/// Test-and-test-and-set lock for the short critical sections of a ReadyQueue.
class SpinLock {
 public:
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) cpu_relax();
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

/// Ready items by key, best first. Ready work comes in few distinct keys with many items each
/// (a graph level shares one upward rank, a stream of jobs one priority), so the queue is a
/// max-heap of key buckets, each a FIFO: pushing or popping an existing key is O(1), and items
/// of equal key leave in the order they came, so none of them starves. top_key() is readable
/// without the lock so that a thread can compare its own next item with what is queued.
/// pop_oldest() takes the item queued first whatever its key: the executor's aging.
class ReadyQueue {
 public:
  void push(const Item& item) {
    std::lock_guard lock(lock_);
    Bucket& b = bucket_for(item.key);
    b.items.push_back(item);
    b.items.back().seq = next_seq_++;
    top_key_.store(buckets_[heap_.front()].key, std::memory_order_seq_cst);
  }
  /// push(in), then pop(out, min_key), under one lock: a thread whose queue holds better work
  /// than its next item publishes that item and takes the better one in a single step.
  bool push_pop(const Item& in, Item& out, Key min_key) {
    std::lock_guard lock(lock_);
    Bucket& b = bucket_for(in.key);
    b.items.push_back(in);
    b.items.back().seq = next_seq_++;
    const bool taken = pop_locked(out, min_key);
    top_key_.store(heap_.empty() ? 0 : buckets_[heap_.front()].key, std::memory_order_seq_cst);
    return taken;
  }
  /// Pops the best item if its key is at least `min_key`.
  bool pop(Item& out, Key min_key = 1) {
    std::lock_guard lock(lock_);
    return pop_locked(out, min_key);
  }
  /// As pop(), but gives up instead of waiting for the lock (for thieves).
  bool try_pop(Item& out, Key min_key = 1) {
    std::unique_lock lock(lock_, std::try_to_lock);
    return lock.owns_lock() && pop_locked(out, min_key);
  }
  /// As try_pop(), but takes up to half (at most `max`) of the best key's items, oldest first,
  /// into `out`: a thief then works from its own queue instead of coming back for each one.
  /// Returns how many were taken (0: none, or the lock was busy).
  std::size_t try_pop_half(Item* out, std::size_t max, Key min_key = 1) {
    std::unique_lock lock(lock_, std::try_to_lock);
    if (!lock.owns_lock() || heap_.empty()) return 0;
    const std::uint32_t slot = heap_.front();
    Bucket& b = buckets_[slot];
    if (b.key < min_key) return 0;
    const std::size_t n = std::min(max, (b.items.size() - b.head + 1) / 2);
    std::copy_n(b.items.begin() + static_cast<std::ptrdiff_t>(b.head), n, out);
    b.head += n;
    after_take(slot);
    return n;
  }
  /// Pushes `n` items in order under one lock.
  void push_many(const Item* items, std::size_t n) {
    if (n == 0) return;
    std::lock_guard lock(lock_);
    for (std::size_t i = 0; i < n; ++i) {
      Bucket& b = bucket_for(items[i].key);
      b.items.push_back(items[i]);
      b.items.back().seq = next_seq_++;
    }
    top_key_.store(buckets_[heap_.front()].key, std::memory_order_seq_cst);
  }
  /// Aging: pops the item that has waited longest among those of a priority below `priority`
  /// (keys of at least `min_key` only); false when there is none.
  bool pop_oldest_below(Item& out, int priority, Key min_key = 1) {
    std::lock_guard lock(lock_);
    std::uint32_t best = kNone;
    for (std::uint32_t slot : heap_) {
      const Bucket& b = buckets_[slot];
      if (b.key < min_key || priority_of_key(b.key) >= priority) continue;
      // Sequence numbers wrap: compare by signed distance.
      if (best == kNone || static_cast<std::int32_t>(head_seq(b) - head_seq(buckets_[best])) < 0) {
        best = slot;
      }
    }
    if (best == kNone) return false;
    Bucket& b = buckets_[best];
    out = b.items[b.head++];
    after_take(best);
    return true;
  }
  /// Gives the queued item doing `work` the key `key`, keeping its place in arrival order.
  /// False when no such item is queued here. O(items queued).
  bool rekey(const Item& work, Key key) {
    std::lock_guard lock(lock_);
    for (std::uint32_t slot : heap_) {
      Bucket& b = buckets_[slot];
      for (std::size_t i = b.head; i < b.items.size(); ++i) {
        if (!b.items[i].same_work(work)) continue;
        Item moved = b.items[i];
        if (moved.key == key) return true;
        b.items.erase(b.items.begin() + static_cast<std::ptrdiff_t>(i));
        if (b.head == b.items.size()) retire(slot);
        moved.key = key;
        bucket_for(key).items.push_back(moved);
        publish_top();
        return true;
      }
    }
    return false;
  }
  Key top_key() const noexcept { return top_key_.load(std::memory_order_relaxed); }
  /// For the check before sleeping, ordered against push()'s seq_cst store.
  Key top_key_seq_cst() const noexcept { return top_key_.load(std::memory_order_seq_cst); }

 private:
  struct Bucket {
    Key key = 0;
    std::vector<Item> items;  // FIFO from `head`
    std::size_t head = 0;
  };

  static std::uint32_t head_seq(const Bucket& b) noexcept { return b.items[b.head].seq; }
  bool key_less(std::uint32_t a, std::uint32_t b) const noexcept {
    return buckets_[a].key < buckets_[b].key;
  }
  Bucket& bucket_for(Key key) {
    if (last_ < buckets_.size() && buckets_[last_].key == key) return buckets_[last_];
    auto it = slot_of_.find(key);
    if (it == slot_of_.end()) {
      // Reuse a retired bucket's map node: a new key per level would otherwise allocate.
      if (spare_nodes_.empty()) {
        it = slot_of_.emplace(key, 0).first;
      } else {
        auto node = std::move(spare_nodes_.back());
        spare_nodes_.pop_back();
        node.key() = key;
        it = slot_of_.insert(std::move(node)).position;
      }
      if (free_.empty()) {
        free_.push_back(static_cast<std::uint32_t>(buckets_.size()));
        buckets_.emplace_back();
        spare_nodes_.reserve(buckets_.size());  // retire() never allocates
      }
      it->second = free_.back();
      free_.pop_back();
      buckets_[it->second].key = key;
      heap_.push_back(it->second);
      std::push_heap(heap_.begin(), heap_.end(),
                     [this](std::uint32_t a, std::uint32_t b) { return key_less(a, b); });
    }
    last_ = it->second;
    return buckets_[last_];
  }
  bool pop_locked(Item& out, Key min_key) {
    if (heap_.empty() || buckets_[heap_.front()].key < min_key) return false;
    const std::uint32_t slot = heap_.front();
    Bucket& b = buckets_[slot];
    out = b.items[b.head++];
    after_take(slot);
    return true;
  }
  void after_take(std::uint32_t slot) {
    Bucket& b = buckets_[slot];
    if (b.head == b.items.size()) {
      retire(slot);
    } else if (b.head >= 64 && b.head * 2 >= b.items.size()) {
      b.items.erase(b.items.begin(), b.items.begin() + static_cast<std::ptrdiff_t>(b.head));
      b.head = 0;
    }
    publish_top();
  }
  /// Removes an empty bucket from the heap, keeping its capacity for reuse.
  void retire(std::uint32_t slot) {
    Bucket& b = buckets_[slot];
    b.items.clear();
    b.head = 0;
    spare_nodes_.push_back(slot_of_.extract(b.key));
    b.key = 0;
    const auto less = [this](std::uint32_t x, std::uint32_t y) { return key_less(x, y); };
    if (heap_.front() == slot) {
      std::pop_heap(heap_.begin(), heap_.end(), less);
      heap_.pop_back();
    } else {  // taken out of order (aging, rekey): rare, rebuild
      heap_.erase(std::find(heap_.begin(), heap_.end(), slot));
      std::make_heap(heap_.begin(), heap_.end(), less);
    }
    free_.push_back(slot);
  }
  void publish_top() noexcept {
    top_key_.store(heap_.empty() ? 0 : buckets_[heap_.front()].key, std::memory_order_relaxed);
  }

  static constexpr std::uint32_t kNone = ~0u;

  SpinLock lock_;
  // All guarded by lock_.
  std::vector<Bucket> buckets_;                     // slots, reused once empty
  std::vector<std::uint32_t> heap_;                 // non-empty slots, max-heap by key
  std::vector<std::uint32_t> free_;                 // empty slots
  std::unordered_map<Key, std::uint32_t> slot_of_;  // key -> slot of its bucket
  std::vector<std::unordered_map<Key, std::uint32_t>::node_type> spare_nodes_;  // for slot_of_
  std::size_t last_ = 0;         // slot used last: the usual next key
  std::uint32_t next_seq_ = 0;   // arrival counter
  std::atomic<Key> top_key_{0};  // written under lock_, read anywhere
};

/// Sleep/wake for idle workers without lost wake-ups (an "event count"):
///   auto e = prepare_wait();  if (work is visible) cancel_wait(); else commit_wait(e);
/// A producer publishes work with a seq_cst store, then calls notify_one()/notify_all(); a
/// waiter re-checks with seq_cst loads after prepare_wait(). Every step being seq_cst, either
/// the producer sees the waiter or the waiter sees the work (no fences: ThreadSanitizer does
/// not model them).
/// Built on the Linux futex directly, for the timed wait that std::atomic::wait lacks.
class EventCount {
 public:
  std::uint32_t prepare_wait() noexcept {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    return epoch_.load(std::memory_order_seq_cst);
  }
  void cancel_wait() noexcept { waiters_.fetch_sub(1, std::memory_order_relaxed); }
  /// Sleeps until notified (or spuriously). With a timeout, false when it expired.
  bool commit_wait(std::uint32_t epoch, std::chrono::nanoseconds timeout = {}) noexcept;

  /// Wakes one waiter, if any, after the caller published its change with a seq_cst store.
  void notify_one() noexcept {
    if (waiters_.load(std::memory_order_seq_cst) != 0) wake(1);
  }
  /// Wakes every waiter, if any, after the caller published its change with a seq_cst store.
  void notify_all() noexcept {
    if (waiters_.load(std::memory_order_seq_cst) != 0) wake(-1);
  }

 private:
  void wake(int count) noexcept;
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> waiters_{0};
};

}  // namespace taskloom::runtime::detail
