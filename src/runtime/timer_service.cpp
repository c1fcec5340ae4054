#include "runtime/detail/timer_service.hpp"

#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace taskloom::runtime::detail {

TimerService::TimerService(std::shared_ptr<Clock> clock) : clock_(std::move(clock)) {
  clock_->subscribe(this);
}

TimerService::~TimerService() {
  clock_->unsubscribe(this);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

TimerService::Id TimerService::schedule(TimePoint deadline, std::function<void()> fn) {
  Id id;
  {
    std::lock_guard lock(mutex_);
    id = {deadline, next_id_++};
    timers_.emplace(id, std::move(fn));
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  }
  cv_.notify_all();
  return id;
}

bool TimerService::cancel(const Id& id) {
  std::unique_lock lock(mutex_);
  if (timers_.erase(id) != 0) return true;
  cv_.wait(lock, [&] { return running_ != id.second; });
  return false;
}

void TimerService::on_clock_advanced() {
  // Taking the lock orders this notification after a waiter's check of now(), so the waiter
  // cannot miss it.
  { std::lock_guard lock(mutex_); }
  cv_.notify_all();
}

void TimerService::loop() {
#if defined(__linux__)
  // Wake at the deadline, not up to 50 us after it (the default timer slack): a preemption
  // grace of 200 us or a short timeout should not grow by a quarter.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (timers_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = timers_.begin();
    if (clock_->now() < first->first.first) {
      if (clock_->is_real_time()) {
        const auto real_deadline =
            std::chrono::steady_clock::now() + (first->first.first - clock_->now());
        cv_.wait_until(lock, real_deadline);
      } else {
        cv_.wait(lock);
      }
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    running_ = first->first.second;
    timers_.erase(first);
    lock.unlock();
    fn();
    lock.lock();
    running_ = 0;
    cv_.notify_all();
  }
}

}  // namespace taskloom::runtime::detail
