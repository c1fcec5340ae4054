// taskloom/core/clock.hpp — an injectable clock for deadlines, timeouts and backoff.
//
// Code that decides by time (timeouts, retry backoff, deadlines, heartbeats) reads a Clock
// instead of std::chrono directly, so tests and the simulator drive time with a ManualClock
// and never sleep waiting for it to pass.
//   auto clock = std::make_shared<taskloom::ManualClock>();
//   clock->advance(std::chrono::seconds(5));   // observers are told; timers due by now fire
// Thread-safety: now() and advance() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

namespace taskloom {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  /// Told when a manual clock's time moves; never called by a real-time clock.
  class Observer {
   public:
    virtual void on_clock_advanced() = 0;

   protected:
    ~Observer() = default;
  };

  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  /// True when time passes by itself, so a waiter may sleep until a deadline.
  virtual bool is_real_time() const noexcept = 0;
  /// Registers an observer of time changes (no-op for real-time clocks). The observer must
  /// unsubscribe before it is destroyed.
  virtual void subscribe(Observer*) {}
  virtual void unsubscribe(Observer*) {}
};

/// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  bool is_real_time() const noexcept override { return true; }
};

/// Time that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) : now_(start.time_since_epoch().count()) {}
  TimePoint now() const override {
    return TimePoint{Duration{now_.load(std::memory_order_acquire)}};
  }
  bool is_real_time() const noexcept override { return false; }
  void subscribe(Observer* o) override;
  void unsubscribe(Observer* o) override;

  /// Moves time forward by `d` (>= 0) and tells every observer.
  void advance(Duration d);

 private:
  std::atomic<Duration::rep> now_;
  std::mutex observers_mutex_;
  std::vector<Observer*> observers_;  // guarded by observers_mutex_
};

/// The process-wide steady clock, the default wherever a clock is optional.
std::shared_ptr<Clock> steady_clock();

}  // namespace taskloom
