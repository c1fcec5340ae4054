#include "taskloom/core/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "taskloom/core/error.hpp"

namespace taskloom {
namespace {

using namespace std::chrono_literals;

class RecordingObserver final : public Clock::Observer {
 public:
  explicit RecordingObserver(const Clock& clock) : clock_(clock) {}
  void on_clock_advanced() override {
    ++calls;
    seen = clock_.now();
  }
  int calls = 0;
  TimePoint seen{};

 private:
  const Clock& clock_;
};

TEST(ManualClock, StartsAtGivenTime) {
  EXPECT_EQ(ManualClock{}.now(), TimePoint{});
  const TimePoint start{Duration{5s}};
  EXPECT_EQ(ManualClock{start}.now(), start);
}

TEST(ManualClock, IsNotRealTime) {
  EXPECT_FALSE(ManualClock{}.is_real_time());
  EXPECT_TRUE(SteadyClock{}.is_real_time());
}

TEST(ManualClock, AdvanceMovesTimeForwardExactly) {
  ManualClock clock;
  clock.advance(5s);
  EXPECT_EQ(clock.now(), TimePoint{Duration{5s}});
  clock.advance(250ms);
  EXPECT_EQ(clock.now().time_since_epoch(), Duration{5250ms});
  clock.advance(Duration::zero());
  EXPECT_EQ(clock.now().time_since_epoch(), Duration{5250ms});
}

TEST(ManualClock, ObserversAreToldAfterTimeMoved) {
  ManualClock clock;
  RecordingObserver a(clock), b(clock);
  clock.subscribe(&a);
  clock.subscribe(&b);
  clock.advance(1s);
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(b.calls, 1);
  EXPECT_EQ(a.seen, TimePoint{Duration{1s}});  // the new time is visible inside the callback
  clock.unsubscribe(&a);
  clock.advance(1s);
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(b.calls, 2);
  EXPECT_EQ(b.seen, TimePoint{Duration{2s}});
  clock.unsubscribe(&b);
}

TEST(ManualClock, NegativeAdvanceThrowsAndKeepsTime) {
  ManualClock clock;
  RecordingObserver observer(clock);
  clock.subscribe(&observer);
  clock.advance(3s);
  EXPECT_THROW(clock.advance(-1ns), InvalidArgumentError);
  EXPECT_EQ(clock.now(), TimePoint{Duration{3s}});
  EXPECT_EQ(observer.calls, 1);
  clock.unsubscribe(&observer);
}

TEST(SteadyClock, SharedInstanceIsRealTimeAndMonotonic) {
  const auto clock = steady_clock();
  ASSERT_NE(clock, nullptr);
  EXPECT_EQ(clock, steady_clock());
  EXPECT_TRUE(clock->is_real_time());
  const TimePoint t1 = clock->now();
  EXPECT_LE(t1, clock->now());
}

}  // namespace
}  // namespace taskloom
