// Internal: one thread that fires callbacks at deadlines read from the executor's Clock
// (timeouts and retry backoff). Started on first use, so executors that never time anything
// out never create it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "taskloom/core/clock.hpp"

namespace taskloom::runtime::detail {

class TimerService final : Clock::Observer {
 public:
  using Id = std::pair<TimePoint, std::uint64_t>;

  explicit TimerService(std::shared_ptr<Clock> clock);
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  /// Calls `fn` on the timer thread once clock.now() >= deadline.
  Id schedule(TimePoint deadline, std::function<void()> fn);
  /// True if the callback was removed before it ran. Otherwise it has run or is running, and
  /// cancel() returns only after it has finished.
  bool cancel(const Id& id);
  const Clock& clock() const noexcept { return *clock_; }

 private:
  void on_clock_advanced() override;
  void loop();

  std::shared_ptr<Clock> clock_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<Id, std::function<void()>> timers_;  // guarded by mutex_
  std::uint64_t next_id_ = 1;                   // guarded by mutex_
  std::uint64_t running_ = 0;                   // guarded by mutex_: id of the callback running
  bool stopping_ = false;                       // guarded by mutex_
  std::thread thread_;                          // started on first schedule()
};

}  // namespace taskloom::runtime::detail
