#include "taskloom/core/clock.hpp"

#include <algorithm>

#include "taskloom/core/error.hpp"

namespace taskloom {

void ManualClock::subscribe(Observer* o) {
  std::lock_guard lock(observers_mutex_);
  observers_.push_back(o);
}

void ManualClock::unsubscribe(Observer* o) {
  std::lock_guard lock(observers_mutex_);
  observers_.erase(std::remove(observers_.begin(), observers_.end(), o), observers_.end());
}

void ManualClock::advance(Duration d) {
  if (d < Duration::zero()) {
    throw InvalidArgumentError(
        "ManualClock::advance: a clock cannot go back — pass a duration >= 0");
  }
  now_.fetch_add(d.count(), std::memory_order_acq_rel);
  std::lock_guard lock(observers_mutex_);
  for (Observer* o : observers_) o->on_clock_advanced();
}

std::shared_ptr<Clock> steady_clock() {
  static const std::shared_ptr<Clock> clock = std::make_shared<SteadyClock>();
  return clock;
}

}  // namespace taskloom
