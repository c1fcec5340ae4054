// White-box tests of resource admission (src/runtime/detail/resource_admission.hpp):
// validation at compile time, all-or-nothing holds, no deadlock between multi-pool requests,
// key-then-arrival order, the head's reservation against starvation, backfilling by expected
// duration and into the extra, utilisation accounting, removal of waiters, and a
// multi-threaded stress test checked against independent counters.
#include "runtime/detail/resource_admission.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include "taskloom/core/error.hpp"

namespace taskloom::runtime::detail {
namespace {

using namespace std::chrono_literals;

constexpr Duration kUnknown = Duration::zero();

AdmissionPayload payload(std::uint64_t id, void* target = nullptr) {
  return AdmissionPayload{target, 0, 0, id};
}

std::vector<std::uint64_t> ids(const std::vector<Admitted>& admitted) {
  std::vector<std::uint64_t> out;
  for (const Admitted& a : admitted) out.push_back(a.payload.tag);
  return out;
}

ResourceRequestError compile_error(const ResourceAdmission& pools, const Resources& needs) {
  try {
    pools.compile("render", needs);
  } catch (const ResourceRequestError& e) {
    return e;
  }
  ADD_FAILURE() << "compile did not throw";
  return ResourceRequestError("", "", 0, 0);
}

TEST(ResourceAdmission, CompileRejectsUnknownPoolNamingTaskAndPool) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}}, clock);
  const ResourceRequestError e = compile_error(pools, Resources{{"cpu", 1}, {"gpu", 1}});
  EXPECT_EQ(e.code(), ErrorCode::kResourceRequest);
  EXPECT_EQ(e.task(), "render");
  EXPECT_EQ(e.pool(), "gpu");
  EXPECT_EQ(e.requested(), 1);
  EXPECT_EQ(e.capacity(), -1);
  EXPECT_STREQ(e.what(),
               "task 'render' needs 1 of unknown resource 'gpu' — declare a pool named 'gpu' or "
               "remove it from the task's needs");
}

TEST(ResourceAdmission, CompileRejectsRequestAboveCapacity) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}, {"license.arnold", 2}}, clock);
  const ResourceRequestError e =
      compile_error(pools, Resources{{"cpu", 4}, {"license.arnold", 2.5}});
  EXPECT_EQ(e.task(), "render");
  EXPECT_EQ(e.pool(), "license.arnold");
  EXPECT_EQ(e.requested(), 2.5);
  EXPECT_EQ(e.capacity(), 2);
  EXPECT_STREQ(e.what(),
               "task 'render' needs 2.5 of 'license.arnold' but the pool's capacity is 2 — lower "
               "the request or raise the capacity");
  EXPECT_NO_THROW(pools.compile("render", Resources{{"cpu", 4}, {"license.arnold", 2}}));
}

TEST(ResourceAdmission, CompileGivesDenseEntriesByPoolIndexInlineOrShared) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}}, clock);
  const Request small = pools.compile("t", Resources{{"d", 4}, {"b", 1}});
  ASSERT_EQ(small.entries().size(), 2u);
  EXPECT_EQ(small.entries()[0].pool, 1u);  // "b"
  EXPECT_EQ(small.entries()[1].pool, 3u);  // "d"
  EXPECT_EQ(small.entries()[1].amount, 4);
  const Request big = pools.compile("t", Resources{{"a", 1}, {"b", 1}, {"c", 1}, {"e", 5}});
  const Request copy = big;  // beyond kInline: shares the immutable array
  ASSERT_EQ(copy.entries().size(), 4u);
  EXPECT_EQ(copy.entries()[3].pool, 4u);
  EXPECT_EQ(copy.entries()[3].amount, 5);
  EXPECT_EQ(copy.entries().data(), big.entries().data());
  const auto g = pools.try_acquire(copy, 1, kUnknown, payload(1));
  ASSERT_TRUE(g);
  EXPECT_EQ(pools.available("e"), 0);
  EXPECT_EQ(pools.available("d"), 4);
}

TEST(ResourceAdmission, EmptyRequestIsAlwaysAdmittedAndHoldsNothing) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 1}}, clock);
  const Request all = pools.compile("all", Resources{{"cpu", 1}});
  const Request none = pools.compile("none", Resources{});
  EXPECT_TRUE(none.empty());
  ASSERT_TRUE(pools.try_acquire(all, 1, kUnknown, payload(1)));
  ASSERT_FALSE(pools.try_acquire(all, 1, kUnknown, payload(2)));  // a blocked head exists
  const auto g = pools.try_acquire(none, 0, kUnknown, payload(3));
  ASSERT_TRUE(g);
  EXPECT_TRUE(g->null());
  EXPECT_EQ(pools.holding(), 1u);
  std::vector<Admitted> admitted;
  pools.release(*g, admitted);
  EXPECT_TRUE(admitted.empty());
  EXPECT_EQ(pools.waiting(), 1u);
}

TEST(ResourceAdmission, RequestNeedingTwoPoolsIsNotPartiallyHeldWhileWaiting) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}, {"gpu", 1}}, clock);
  const auto gpu_holder =
      pools.try_acquire(pools.compile("a", Resources{{"gpu", 1}}), 1, kUnknown, payload(1));
  ASSERT_TRUE(gpu_holder);
  const Request both = pools.compile("b", Resources{{"cpu", 2}, {"gpu", 1}});
  EXPECT_FALSE(pools.try_acquire(both, 1, kUnknown, payload(2)));
  EXPECT_EQ(pools.available("cpu"), 4);  // nothing of cpu taken while gpu is missing
  EXPECT_EQ(pools.available("gpu"), 0);
  std::vector<Admitted> admitted;
  pools.release(*gpu_holder, admitted);
  EXPECT_EQ(ids(admitted), std::vector<std::uint64_t>{2});
  EXPECT_EQ(pools.available("cpu"), 2);
  EXPECT_EQ(pools.available("gpu"), 0);
}

TEST(ResourceAdmission, TwoWaitersEachNeedingTwoPoolsAreAdmittedInTurnWithoutDeadlock) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"a", 1}, {"b", 1}}, clock);
  const auto x = pools.try_acquire(pools.compile("x", Resources{{"a", 1}}), 1, kUnknown, {});
  const auto y = pools.try_acquire(pools.compile("y", Resources{{"b", 1}}), 1, kUnknown, {});
  ASSERT_TRUE(x && y);
  const Request both = pools.compile("w", Resources{{"a", 1}, {"b", 1}});
  EXPECT_FALSE(pools.try_acquire(both, 1, kUnknown, payload(1)));
  EXPECT_FALSE(pools.try_acquire(both, 1, kUnknown, payload(2)));

  std::vector<Admitted> admitted;
  pools.release(*x, admitted);  // only "a" is free: neither waiter takes it alone
  EXPECT_TRUE(admitted.empty());
  EXPECT_EQ(pools.available("a"), 1);
  pools.release(*y, admitted);
  ASSERT_EQ(ids(admitted), std::vector<std::uint64_t>{1});
  const Grant first = admitted[0].grant;
  admitted.clear();
  pools.release(first, admitted);
  ASSERT_EQ(ids(admitted), std::vector<std::uint64_t>{2});
  const Grant second = admitted[0].grant;
  admitted.clear();
  pools.release(second, admitted);
  EXPECT_TRUE(admitted.empty());
  EXPECT_EQ(pools.waiting(), 0u);
  EXPECT_EQ(pools.holding(), 0u);
  EXPECT_EQ(pools.available("a"), 1);
  EXPECT_EQ(pools.available("b"), 1);
}

TEST(ResourceAdmission, WaitersAreAdmittedByKeyThenInArrivalOrder) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 1}}, clock);
  const Request one = pools.compile("t", Resources{{"cpu", 1}});
  auto held = pools.try_acquire(one, 1, kUnknown, payload(0));
  ASSERT_TRUE(held);
  const std::vector<std::pair<AdmissionKey, std::uint64_t>> waiters = {
      {5, 1}, {9, 2}, {5, 3}, {9, 4}, {1, 5}};
  for (const auto& [key, id] : waiters) {
    ASSERT_FALSE(pools.try_acquire(one, key, kUnknown, payload(id)));
  }
  std::vector<std::uint64_t> order;
  Grant g = *held;
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    std::vector<Admitted> admitted;
    pools.release(g, admitted);
    ASSERT_EQ(admitted.size(), 1u);
    order.push_back(admitted[0].payload.tag);
    g = admitted[0].grant;
  }
  EXPECT_EQ(order, (std::vector<std::uint64_t>{2, 4, 1, 3, 5}));
}

TEST(ResourceAdmission, LargeRequestIsNotStarvedByStreamOfSmallOnesWithUnknownDurations) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}}, clock);
  const Request small = pools.compile("small", Resources{{"cpu", 1}});
  const Request large = pools.compile("large", Resources{{"cpu", 4}});
  std::deque<Grant> running;
  for (int i = 0; i < 4; ++i) running.push_back(*pools.try_acquire(small, 1, kUnknown, {}));
  ASSERT_FALSE(pools.try_acquire(large, 1, kUnknown, payload(99)));

  int releases = 0;
  bool large_admitted = false;
  for (int i = 0; i < 1000 && !large_admitted; ++i) {
    // A new small one arrives each round; it fits in what was just freed, yet must wait.
    if (auto g = pools.try_acquire(small, 1, kUnknown, payload(i))) running.push_back(*g);
    if (running.empty()) continue;
    std::vector<Admitted> admitted;
    pools.release(running.front(), admitted);
    running.pop_front();
    ++releases;
    for (const Admitted& a : admitted) {
      if (a.payload.tag == 99) {
        large_admitted = true;
      } else {
        running.push_back(a.grant);
      }
    }
  }
  EXPECT_TRUE(large_admitted);
  EXPECT_LE(releases, 4);  // only the four that held cpu when it arrived
}

TEST(ResourceAdmission, LargeRequestIsNotStarvedByStreamOfShortSmallOnes) {
  // Known durations: small ones backfill while they end before the head's shadow time, which
  // never moves later; the large one starts by then at the latest.
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}}, clock);
  const Request small = pools.compile("small", Resources{{"cpu", 1}});
  const Request large = pools.compile("large", Resources{{"cpu", 4}});
  std::deque<Grant> running;
  for (int i = 0; i < 4; ++i) running.push_back(*pools.try_acquire(small, 1, 10s, {}));
  ASSERT_FALSE(pools.try_acquire(large, 1, 60s, payload(99)));
  const TimePoint shadow = clock.now() + 10s;

  int releases = 0, backfilled = 0;
  std::optional<TimePoint> large_started;
  for (int i = 0; i < 1000 && !large_started; ++i) {
    clock.advance(1s);
    if (auto g = pools.try_acquire(small, 1, 5s, payload(i))) {
      running.push_back(*g);
      ++backfilled;
    }
    if (running.empty()) continue;
    std::vector<Admitted> admitted;
    pools.release(running.front(), admitted);
    running.pop_front();
    ++releases;
    for (const Admitted& a : admitted) {
      if (a.payload.tag == 99) {
        large_started = clock.now();
      } else {
        running.push_back(a.grant);
        ++backfilled;
      }
    }
  }
  ASSERT_TRUE(large_started);
  EXPECT_LE(*large_started, shadow);
  EXPECT_GT(backfilled, 0);  // the short ones did use the gap
  EXPECT_LE(releases, 10);
}

TEST(ResourceAdmission, BackfillIsAllowedWhenItEndsBeforeTheShadowTime) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}}, clock);
  const auto big = pools.try_acquire(pools.compile("a", Resources{{"cpu", 3}}), 1, 10s, payload(1));
  ASSERT_TRUE(big);
  ASSERT_FALSE(
      pools.try_acquire(pools.compile("large", Resources{{"cpu", 4}}), 1, 10s, payload(2)));
  // The head's shadow time is now + 10s; a 1-cpu task of 4s ends before it.
  const auto quick =
      pools.try_acquire(pools.compile("quick", Resources{{"cpu", 1}}), 1, 4s, payload(3));
  ASSERT_TRUE(quick);
  EXPECT_EQ(pools.available("cpu"), 0);
  // Three seconds later, one of 7s still ends exactly at the shadow time.
  std::vector<Admitted> admitted;
  clock.advance(3s);
  pools.release(*quick, admitted);
  EXPECT_TRUE(admitted.empty());
  EXPECT_TRUE(pools.try_acquire(pools.compile("q2", Resources{{"cpu", 1}}), 1, 7s, payload(4)));
}

TEST(ResourceAdmission, BackfillIsRefusedWhenItWouldDelayTheHead) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}}, clock);
  const auto big = pools.try_acquire(pools.compile("a", Resources{{"cpu", 3}}), 1, 10s, payload(1));
  ASSERT_TRUE(big);
  ASSERT_FALSE(
      pools.try_acquire(pools.compile("large", Resources{{"cpu", 4}}), 1, 10s, payload(2)));
  // Fits in the free cpu, but would still hold it at the shadow time (now + 10s).
  EXPECT_FALSE(pools.try_acquire(pools.compile("slow", Resources{{"cpu", 1}}), 1, 11s, payload(3)));
  EXPECT_EQ(pools.available("cpu"), 1);
  clock.advance(10s);
  std::vector<Admitted> admitted;
  pools.release(*big, admitted);
  EXPECT_EQ(ids(admitted), std::vector<std::uint64_t>{2});  // the head first, on time
  EXPECT_EQ(pools.waiting(), 1u);
}

TEST(ResourceAdmission, UnknownDurationsBackfillOnlyIntoTheExtra) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 6}, {"gpu", 1}}, clock);
  const Request one_cpu = pools.compile("s", Resources{{"cpu", 1}});
  ASSERT_TRUE(pools.try_acquire(pools.compile("a", Resources{{"cpu", 3}}), 1, 10s, {}));
  ASSERT_FALSE(pools.try_acquire(pools.compile("large", Resources{{"cpu", 4}}), 1, 10s, {}));
  // At the shadow time 6 cpu are free, 4 go to the head: 2 are extra.
  EXPECT_TRUE(pools.try_acquire(one_cpu, 1, kUnknown, payload(1)));
  EXPECT_TRUE(pools.try_acquire(one_cpu, 1, Duration::max(), payload(2)));
  EXPECT_FALSE(pools.try_acquire(one_cpu, 1, kUnknown, payload(3)));  // 1 cpu free, no extra
  EXPECT_EQ(pools.available("cpu"), 1);
  // A pool the head does not need is all extra.
  EXPECT_TRUE(pools.try_acquire(pools.compile("g", Resources{{"gpu", 1}}), 1, kUnknown, {}));
}

TEST(ResourceAdmission, HolderOfUnknownDurationLeavesNoShadowTimeSoNothingBackfills) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}}, clock);
  ASSERT_TRUE(pools.try_acquire(pools.compile("a", Resources{{"cpu", 3}}), 1, kUnknown, {}));
  ASSERT_FALSE(pools.try_acquire(pools.compile("large", Resources{{"cpu", 4}}), 1, 1s, {}));
  const Request one_cpu = pools.compile("s", Resources{{"cpu", 1}});
  // Nobody knows when the head can start, so even a 1ns task could delay it.
  EXPECT_FALSE(pools.try_acquire(one_cpu, 1, 1ns, payload(1)));
  EXPECT_FALSE(pools.try_acquire(one_cpu, 1, kUnknown, payload(2)));
  EXPECT_EQ(pools.available("cpu"), 1);
}

TEST(ResourceAdmission, RequestWithLargerKeyThanTheHeadIsNotHeldBackByItsReservation) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}}, clock);
  ASSERT_TRUE(pools.try_acquire(pools.compile("a", Resources{{"cpu", 3}}), 1, kUnknown, {}));
  ASSERT_FALSE(pools.try_acquire(pools.compile("large", Resources{{"cpu", 4}}), 5, kUnknown, {}));
  const Request one_cpu = pools.compile("s", Resources{{"cpu", 1}});
  EXPECT_FALSE(pools.try_acquire(one_cpu, 5, kUnknown, payload(1)));  // equal key: behind it
  EXPECT_TRUE(pools.try_acquire(one_cpu, 6, kUnknown, payload(2)));   // ranks ahead of it
}

TEST(ResourceAdmission, UtilisationPeakAndTimeWeightedAverage) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}, {"mem", 10}}, clock);
  clock.advance(1s);  // idle before the first acquire: outside the window
  const auto a = pools.try_acquire(pools.compile("a", Resources{{"cpu", 2}}), 1, kUnknown, {});
  clock.advance(2s);
  const auto b =
      pools.try_acquire(pools.compile("b", Resources{{"cpu", 2}, {"mem", 5}}), 1, kUnknown, {});
  ASSERT_TRUE(a && b);
  clock.advance(1s);
  std::vector<Admitted> admitted;
  pools.release(*a, admitted);
  clock.advance(4s);
  // Window [1s, 8s] = 7s. cpu: 2 for 2s, 4 for 1s, 2 for 4s = 16 cpu-s. mem: 5 for 5s.
  auto usage = pools.usage();
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage[0].name, "cpu");
  EXPECT_EQ(usage[0].capacity, 4);
  EXPECT_EQ(usage[0].peak, 4);
  EXPECT_NEAR(usage[0].average, 16.0 / 7.0, 1e-12);
  EXPECT_EQ(usage[1].name, "mem");
  EXPECT_EQ(usage[1].capacity, 10);
  EXPECT_EQ(usage[1].peak, 5);
  EXPECT_NEAR(usage[1].average, 25.0 / 7.0, 1e-12);
  pools.release(*b, admitted);
  clock.advance(2s);  // idle time inside the window lowers the average
  usage = pools.usage();
  EXPECT_NEAR(usage[0].average, 16.0 / 9.0, 1e-12);
  EXPECT_NEAR(usage[1].average, 25.0 / 9.0, 1e-12);
  EXPECT_EQ(usage[0].peak, 4);
}

TEST(ResourceAdmission, UsageIsZeroBeforeTheFirstAcquire) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"gpu", 2}}, clock);
  clock.advance(5s);
  const auto usage = pools.usage();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].capacity, 2);
  EXPECT_EQ(usage[0].peak, 0);
  EXPECT_EQ(usage[0].average, 0);
}

TEST(ResourceAdmission, RemoveWaitersIfReturnsThemAndAdmitsThoseBehind) {
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 4}}, clock);
  int run1 = 0, run2 = 0;
  const auto held =
      pools.try_acquire(pools.compile("a", Resources{{"cpu", 1}}), 1, kUnknown, payload(0));
  ASSERT_TRUE(held);
  const Request large = pools.compile("large", Resources{{"cpu", 4}});
  const Request small = pools.compile("small", Resources{{"cpu", 1}});
  ASSERT_FALSE(pools.try_acquire(large, 1, kUnknown, payload(1, &run1)));
  ASSERT_FALSE(pools.try_acquire(small, 1, kUnknown, payload(2, &run2)));  // behind the head
  ASSERT_FALSE(pools.try_acquire(small, 1, kUnknown, payload(3, &run1)));
  ASSERT_EQ(pools.waiting(), 3u);

  std::vector<AdmissionPayload> removed;
  std::vector<Admitted> admitted;
  const std::size_t n = pools.remove_waiters_if(
      [&](const AdmissionPayload& p) { return p.target == &run1; }, removed, admitted);
  EXPECT_EQ(n, 2u);
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0].tag, 1u);
  EXPECT_EQ(removed[1].tag, 3u);
  EXPECT_EQ(ids(admitted), std::vector<std::uint64_t>{2});  // no head left to protect
  EXPECT_EQ(pools.waiting(), 0u);
  EXPECT_EQ(pools.available("cpu"), 2);
}

TEST(ResourceAdmission, ConcurrentAcquireReleaseNeverExceedsCapacityAndAdmitsEverything) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1250;  // 10'000 requests in all
  constexpr int kCapacity[3] = {8, 16, 2};
  ManualClock clock;
  ResourceAdmission pools(Resources{{"cpu", 8}, {"gpu", 2}, {"mem", 16}}, clock);
  std::atomic<int> in_use[3] = {0, 0, 0};  // cpu, mem, gpu: counted outside the controller
  std::atomic<int> over_capacity{0};
  std::atomic<int> ran{0};
  std::atomic<int> queued{0};

  // The payload carries the amounts, so whichever thread admits a waiter can run it.
  const auto run = [&](const AdmissionPayload& p, Grant g, std::vector<Admitted>& out) {
    const int amounts[3] = {static_cast<int>(p.a), static_cast<int>(p.b), static_cast<int>(p.tag)};
    for (int r = 0; r < 3; ++r) {
      if (in_use[r].fetch_add(amounts[r]) + amounts[r] > kCapacity[r]) over_capacity++;
    }
    std::this_thread::yield();
    for (int r = 0; r < 3; ++r) in_use[r].fetch_sub(amounts[r]);
    ran++;
    pools.release(g, out);
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1);
      std::vector<Admitted> work;
      for (int i = 0; i < kPerThread; ++i) {
        AdmissionPayload p{nullptr, static_cast<std::uint32_t>(rng() % 9),
                           static_cast<std::uint32_t>(rng() % 17), rng() % 3};
        Resources needs;
        needs.set("cpu", p.a);
        needs.set("mem", p.b);
        needs.set("gpu", static_cast<double>(p.tag));
        const Request req = pools.compile("t", needs);
        const Duration expected = (rng() % 2 == 0) ? kUnknown : Duration(1 + rng() % 1000);
        if (rng() % 16 == 0) clock.advance(Duration(rng() % 500));
        if (auto g = pools.try_acquire(req, rng() % 3, expected, p)) {
          work.push_back({p, *g});
        } else {
          queued++;
        }
        while (!work.empty()) {
          const Admitted next = work.back();
          work.pop_back();
          run(next.payload, next.grant, work);
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  EXPECT_EQ(over_capacity.load(), 0);
  EXPECT_EQ(ran.load(), kThreads * kPerThread);
  EXPECT_GT(queued.load(), 0);  // contention did happen, and every waiter was admitted
  EXPECT_EQ(pools.waiting(), 0u);
  EXPECT_EQ(pools.holding(), 0u);
  EXPECT_EQ(pools.available("cpu"), 8);
  EXPECT_EQ(pools.available("mem"), 16);
  EXPECT_EQ(pools.available("gpu"), 2);
  const auto usage = pools.usage();
  for (const PoolUsage& u : usage) EXPECT_LE(u.peak, u.capacity);
}

}  // namespace
}  // namespace taskloom::runtime::detail
