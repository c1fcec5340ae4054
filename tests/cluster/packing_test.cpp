// Packing by forecast peak usage (SimulationOptions::packing): allocations of predicted peak x
// margin, never above the request, and what happens to a job that uses more than it got.
#include <gtest/gtest.h>

#include "taskloom/core/error.hpp"

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

// One node of 4 cpus and 100 bytes of memory. Every job asks for 1 cpu and all 100 bytes for
// 10 s and is similar to the others (same user, application, shape).
std::vector<Node> one_node() {
  Node n = node("n", 4);
  n.capacity.set("memory", 100);
  return {n};
}

Job mem_job(std::string id, double submit, double used) {
  Job j = job(std::move(id), submit, 1, 10);
  j.request.set("memory", 100);
  j.used.set("memory", used);
  return j;
}

SimulationOptions packing(PackBy by, double margin = 1.2) {
  SimulationOptions o = options("fcfs", "first_fit", "none");
  o.forecaster = {"ewma", {}};
  o.packing = {.by = by, .margin = margin};
  return o;
}

// w [0, 10) teaches the forecaster a peak of 40; a, b, c, d arrive at 20.
std::vector<Job> four_after_one() {
  return {mem_job("w", 0, 40), mem_job("a", 20, 40), mem_job("b", 20, 40), mem_job("c", 20, 40),
          mem_job("d", 20, 40)};
}

TEST(Packing, ByRequestRunsOneJobAtATime) {
  auto r = simulate(one_node(), {}, four_after_one(), packing(PackBy::kRequest));
  expect_schedule(r, {{"a", 20, {"n"}}, {"b", 30, {"n"}}, {"c", 40, {"n"}}, {"d", 50, {"n"}}});
}

TEST(Packing, ByForecastAllocatesThePredictedPeakTimesTheMargin) {
  // w had no history: it got its request. a..d are predicted 40, allocated 40 x 1.2 = 48:
  // two fit in 100 at once. a, b [20, 30); c, d [30, 40). Nobody used more than 48.
  auto r = simulate(one_node(), {}, four_after_one(), packing(PackBy::kForecast));
  expect_schedule(
      r, {{"w", 0, {"n"}}, {"a", 20, {"n"}}, {"b", 20, {"n"}}, {"c", 30, {"n"}}, {"d", 30, {"n"}}});
  EXPECT_EQ(r.metrics.usage_overruns, 0u);
  // With a margin of 2 the allocation is 80: one at a time again.
  auto wide = simulate(one_node(), {}, four_after_one(), packing(PackBy::kForecast, 2.0));
  expect_schedule(wide, {{"a", 20, {"n"}}, {"b", 30, {"n"}}, {"c", 40, {"n"}}, {"d", 50, {"n"}}});
  // A margin that would give more than the request gives the request.
  auto capped = simulate(one_node(), {}, four_after_one(), packing(PackBy::kForecast, 5.0));
  expect_schedule(capped, {{"b", 30, {"n"}}});
}

TEST(Packing, AJobOverItsAllocationIsKilledAtItsEndAndRequeuedWithItsRequest) {
  // w teaches 40. At 20 e (uses 70) and f (uses 40) are allocated 48 each and start together.
  // f completes at 30. e ran its 10 s over its allocation: killed at 30, its work lost, and
  // requeued with its full 100: [30, 40). Its first start stays 20.
  std::vector<Job> jobs{mem_job("w", 0, 40), mem_job("e", 20, 70), mem_job("f", 20, 40)};
  auto r = simulate(one_node(), {}, jobs, packing(PackBy::kForecast));
  const JobRecord& e = record(r, "e");
  EXPECT_DOUBLE_EQ(to_sec(*e.start), 20);
  EXPECT_DOUBLE_EQ(to_sec(*e.end), 40);
  EXPECT_EQ(e.usage_overruns, 1u);
  EXPECT_EQ(e.status, JobStatus::kCompleted);
  EXPECT_DOUBLE_EQ(to_sec(*record(r, "f").end), 30);
  EXPECT_EQ(r.metrics.usage_overruns, 1u);
  EXPECT_EQ(r.metrics.completed, 3u);
  // Packing by request: no overrun (the request is the allocation).
  auto q = simulate(one_node(), {}, jobs, packing(PackBy::kRequest));
  EXPECT_EQ(q.metrics.usage_overruns, 0u);
  EXPECT_DOUBLE_EQ(to_sec(*record(q, "f").start), 30);
}

TEST(Packing, OnlyRequestedResourcesArePacked) {
  // A job that asks for no memory gets none, whatever its history says: two such jobs of
  // 2 cpus run side by side on the 4-cpu node at once, as with packing by request.
  Job a = job("a", 0, 2, 10), b = job("b", 0, 2, 10);
  a.used.set("memory", 90);
  b.used.set("memory", 90);
  auto r = simulate(one_node(), {}, {a, b}, packing(PackBy::kForecast));
  expect_schedule(r, {{"a", 0, {"n"}}, {"b", 0, {"n"}}});
  EXPECT_EQ(r.metrics.usage_overruns, 0u);
}

TEST(Packing, AMarginMustBePositive) {
  EXPECT_THROW(simulate(one_node(), {}, four_after_one(), packing(PackBy::kForecast, 0)),
               InvalidArgumentError);
}

}  // namespace
}  // namespace taskloom::cluster
