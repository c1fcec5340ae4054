// Shared helpers for the runtime contract tests: a fixture parameterised by worker count,
// bounded waits (a broken runtime makes a test fail, never hang), sanitizer-aware sizes, and
// readable printing of task statuses.
//
// Rules these tests keep: no assertion on how long something took; real time is used only as a
// generous upper bound ("this happens within 30 s") or as a short window in which something
// must *not* happen ("no retry during 50 ms while the manual clock stands still").
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "taskloom/core/status.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/report.hpp"
#include "taskloom/runtime/run.hpp"

// ---- sanitizers: smaller stress sizes under TSan/ASan ----
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TASKLOOM_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TASKLOOM_TEST_SANITIZED 1
#endif
#endif
#ifndef TASKLOOM_TEST_SANITIZED
#define TASKLOOM_TEST_SANITIZED 0
#endif

// gtest prints enums as numbers; name the statuses instead (found by ADL).
namespace taskloom {
inline void PrintTo(TaskStatus s, std::ostream* os) {
  *os << to_string(s);
}
}  // namespace taskloom

namespace taskloom::runtime::testing {

inline constexpr bool kSanitized = TASKLOOM_TEST_SANITIZED != 0;

/// `normal` outside sanitizers, `normal / divisor` (at least 1) under them.
constexpr std::size_t scaled(std::size_t normal, std::size_t divisor = 10) {
  return kSanitized ? std::max<std::size_t>(1, normal / divisor) : normal;
}

/// Upper bound for anything that "must happen": huge, so a loaded machine never trips it; it
/// exists only so a broken runtime fails the test instead of hanging the suite.
inline constexpr auto kEventually = std::chrono::seconds(30);
/// Window in which something must NOT happen (a retry before the manual clock moves, ...).
inline constexpr auto kQuietWindow = std::chrono::milliseconds(50);

/// A one-shot notification with a bounded wait (std::latch has no timed wait).
/// What notify() saw before is visible to a waiter whose wait returned true.
class Signal {
 public:
  void notify() {
    {
      std::lock_guard lock(mutex_);
      set_ = true;
    }
    cv_.notify_all();
  }
  bool is_set() const {
    std::lock_guard lock(mutex_);
    return set_;
  }
  /// True when notified within `timeout`.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return set_; });
  }
  bool wait() const { return wait_for(kEventually); }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  bool set_ = false;  // guarded by mutex_
};

/// Polls `pred` (without helping the executor) until it holds or `timeout` passes.
template <class Pred, class Rep = long, class Period = std::ratio<1>>
bool eventually(Pred pred, std::chrono::duration<Rep, Period> timeout = kEventually) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

/// True when `pred` stays false for the whole window.
template <class Pred, class Rep, class Period>
bool stays_false(Pred pred, std::chrono::duration<Rep, Period> window) {
  const auto deadline = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return !pred();
}

/// Waits for the run to end WITHOUT the calling thread helping (so only the executor's workers
/// run tasks — needed where a helping thread would break a strict ordering). Bounded.
inline bool finishes_without_helping(const Run& run, std::chrono::seconds timeout = kEventually) {
  return eventually([&] { return run.done(); }, timeout);
}

/// Appends strings from many threads; snapshot() copies them in order.
class Recorder {
 public:
  void add(std::string s) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(s));
  }
  std::vector<std::string> snapshot() const {
    std::lock_guard lock(mutex_);
    return items_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> items_;  // guarded by mutex_
};

/// Tracks how many of a set of bodies run at once, and the most ever seen.
class ConcurrencyMeter {
 public:
  void enter() {
    const int now = ++running_;
    int seen = max_.load();
    while (now > seen && !max_.compare_exchange_weak(seen, now)) {
    }
  }
  void leave() { --running_; }
  int max() const { return max_.load(); }
  int running() const { return running_.load(); }

 private:
  std::atomic<int> running_{0};
  std::atomic<int> max_{0};
};

/// Busy work of roughly `d` (never used for synchronisation, only to give tasks a duration).
inline void spin_for(std::chrono::microseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}

inline std::size_t total_of(const RunReport& r) {
  return r.succeeded + r.failed + r.timed_out + r.cancelled + r.skipped;
}

inline std::vector<std::string> ids_of(const RunReport& r) {
  std::vector<std::string> ids;
  for (const TaskReport& t : r.tasks) ids.push_back(t.id);
  return ids;
}

/// Runtime tests run at several worker counts (marl style): 1 (everything on one worker — the
/// case that deadlocks naive blocking), 2 (the machine's cores), 8 (oversubscribed).
class WorkerCountTest : public ::testing::TestWithParam<unsigned> {
 protected:
  unsigned workers() const { return GetParam(); }
  Executor executor_{GetParam()};
};

/// Waits for a future WITHOUT helping, so that the callable is known to run on a worker.
template <class T>
bool ready_without_helping(const Future<T>& f) {
  return eventually([&] { return f.ready(); });
}

/// Occupies one worker of `executor` with a job until release(), so that a test can queue work
/// behind it. The job gives up after 20 s, which gave_up() then reports; release() does not
/// wait (a waiting thread would help run the queued work), the destructor does, without helping.
class HeldWorker {
 public:
  explicit HeldWorker(Executor& executor)
      : job_(executor.submit([this] {
          started_.notify();
          if (!release_.wait_for(std::chrono::seconds(20))) gave_up_ = true;
        })) {}
  ~HeldWorker() {
    release_.notify();
    (void)ready_without_helping(job_);
  }
  HeldWorker(const HeldWorker&) = delete;
  HeldWorker& operator=(const HeldWorker&) = delete;

  /// True once the job holds its worker.
  bool started() const { return started_.wait(); }
  void release() { release_.notify(); }
  bool gave_up() const { return gave_up_.load(); }

 private:
  Signal started_, release_;
  std::atomic<bool> gave_up_{false};
  Future<void> job_;  // last: the job uses the members above
};

inline std::string worker_count_name(const ::testing::TestParamInfo<unsigned>& info) {
  return std::to_string(info.param) + "Workers";
}

}  // namespace taskloom::runtime::testing

/// Instantiates a WorkerCountTest-derived suite at 1, 2 and 8 workers.
#define TASKLOOM_INSTANTIATE_WORKER_COUNTS(Suite)                         \
  INSTANTIATE_TEST_SUITE_P(Workers, Suite, ::testing::Values(1u, 2u, 8u), \
                           ::taskloom::runtime::testing::worker_count_name)
