// Preemption: requeue, checkpoint-and-requeue, minimum runtime, who may be preempted.
#include <gtest/gtest.h>

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

// One 4-cpu node. low: t=0, 4 cpu, 100 s, priority 0, preemptible.
//                 high: t=10, 4 cpu, 20 s, priority 5.
std::vector<Job> low_and_high(bool preemptible, bool checkpointable, int high_priority = 5) {
  Job low = job("low", 0, 4, 100), high = job("high", 10, 4, 20);
  low.preemptible = preemptible;
  low.checkpointable = checkpointable;
  high.priority = Priority(high_priority);
  return {low, high};
}

SimulationOptions with_preemption(double min_runtime_s = 0) {
  SimulationOptions o = options("fcfs", "first_fit", "none");
  o.preemption = {.enabled = true, .min_runtime = sec(min_runtime_s)};
  return o;
}

TEST(Preemption, HigherPriorityJobRequeuesALowerOne) {
  // high@10 preempts low, which loses its 10 s and runs again [30, 130).
  auto r = simulate({node("n", 4)}, {}, low_and_high(true, false), with_preemption());
  expect_schedule(r, {{"high", 10, {"n"}}});
  const JobRecord& low = record(r, "low");
  EXPECT_DOUBLE_EQ(to_sec(*low.start), 0);
  EXPECT_DOUBLE_EQ(to_sec(*low.end), 130);
  EXPECT_EQ(low.status, JobStatus::kPreemptedThenCompleted);
  EXPECT_EQ(low.preemptions, 1u);
  EXPECT_EQ(r.metrics.preemptions, 1u);
}

TEST(Preemption, CheckpointableJobKeepsItsProgress) {
  // low ran 10 s before high came; it resumes at 30 with 90 s left: ends at 120.
  auto r = simulate({node("n", 4)}, {}, low_and_high(true, true), with_preemption());
  EXPECT_DOUBLE_EQ(to_sec(*record(r, "low").end), 120);
  EXPECT_EQ(record(r, "low").status, JobStatus::kPreemptedThenCompleted);
}

TEST(Preemption, WaitsForTheMinimumRuntime) {
  // With 30 s of minimum runtime, low may be preempted only at 30: high [30, 50), low again
  // [50, 150).
  auto r = simulate({node("n", 4)}, {}, low_and_high(true, false), with_preemption(30));
  expect_schedule(r, {{"high", 30, {"n"}}});
  EXPECT_DOUBLE_EQ(to_sec(*record(r, "low").end), 150);
}

TEST(Preemption, NeverTouchesNonPreemptibleJobs) {
  auto r = simulate({node("n", 4)}, {}, low_and_high(false, false), with_preemption());
  expect_schedule(r, {{"high", 100, {"n"}}});
  EXPECT_EQ(record(r, "low").status, JobStatus::kCompleted);
}

TEST(Preemption, NeedsAStrictlyHigherPriority) {
  auto r = simulate({node("n", 4)}, {}, low_and_high(true, false, 0), with_preemption());
  expect_schedule(r, {{"high", 100, {"n"}}});
}

TEST(Preemption, IsOffUnlessEnabled) {
  auto r =
      simulate({node("n", 4)}, {}, low_and_high(true, false), options("fcfs", "first_fit", "none"));
  expect_schedule(r, {{"high", 100, {"n"}}});
}

TEST(Preemption, PicksTheFewestVictims) {
  // n0 runs two preemptible 2-cpu jobs, n1 one preemptible 4-cpu job; high (4 cpu) preempts
  // only the one on n1.
  Job a = job("a", 0, 2, 100), b = job("b", 0, 2, 100), c = job("c", 0, 4, 100);
  a.preemptible = b.preemptible = c.preemptible = true;
  Job high = job("high", 10, 4, 20);
  high.priority = Priority(1);
  auto r = simulate({node("n0", 4), node("n1", 4)}, {}, {a, b, c, high}, with_preemption());
  expect_schedule(r, {{"high", 10, {"n1"}}});
  EXPECT_EQ(record(r, "a").preemptions, 0u);
  EXPECT_EQ(record(r, "c").preemptions, 1u);
}

}  // namespace
}  // namespace taskloom::cluster
