// Hand-computed orders for the queue policies: multifactor, DRF, EDF, least slack.
#include <gtest/gtest.h>

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

// One 1-cpu node; "blocker" holds it for [0, 10); x, y, z (10 s each) queue behind it.
//   x t=1 priority 0    y t=2 priority 5    z t=3 priority 12
std::vector<Job> prioritised() {
  Job x = job("x", 1, 1, 10), y = job("y", 2, 1, 10), z = job("z", 3, 1, 10);
  y.priority = Priority(5);
  z.priority = Priority(12);
  return {job("blocker", 0, 1, 10), x, y, z};
}

SimulationOptions multifactor(double w_qos) {
  SimulationOptions o = options("multifactor", "first_fit", "none");
  o.queue.params = {{"weight_age", 1000.0},
                    {"max_age", 100.0},
                    {"weight_qos", w_qos},
                    {"weight_fairshare", 0.0},
                    {"weight_partition", 0.0}};
  return o;
}

TEST(QueueMultifactor, AgeOutweighsASmallPriority) {
  // priority = 1000 x age/100 + w_qos x priority/1000, with w_qos = 1000:
  // at 10: x 90 + 0 = 90, y 80 + 5 = 85, z 70 + 12 = 82 -> x@10.
  // at 20: y 180 + 5 = 185, z 170 + 12 = 182 -> y@20, z@30.
  auto r = simulate({node("n", 1)}, {}, prioritised(), multifactor(1000));
  expect_schedule(r, {{"x", 10, {"n"}}, {"y", 20, {"n"}}, {"z", 30, {"n"}}});
}

TEST(QueueMultifactor, AHeavyQosWeightPutsPriorityFirst) {
  // w_qos = 10000: at 10: x 90, y 80 + 50 = 130, z 70 + 120 = 190 -> z@10.
  // at 20: x 190, y 180 + 50 = 230 -> y@20, x@30.
  auto r = simulate({node("n", 1)}, {}, prioritised(), multifactor(10000));
  expect_schedule(r, {{"z", 10, {"n"}}, {"y", 20, {"n"}}, {"x", 30, {"n"}}});
}

TEST(QueueMultifactor, FairShareFavoursTheUserWhoUsedLess) {
  // alice's a1 runs [0, 10). At 10 alice's usage share U = 1, shares S = 1/2:
  // factor 2^(-2) = 0.25 against bob's 2^0 = 1, so bob's b1 (submitted after a2) goes first.
  Job a1 = job("a1", 0, 1, 10), a2 = job("a2", 1, 1, 10), b1 = job("b1", 2, 1, 10);
  a1.user = a2.user = "alice";
  b1.user = "bob";
  SimulationOptions o = options("multifactor", "first_fit", "none");
  o.queue.params = {{"weight_age", 0.0}, {"weight_fairshare", 1000.0}, {"weight_qos", 0.0}};
  auto r = simulate({node("n", 1)}, {}, {a1, a2, b1}, o);
  expect_schedule(r, {{"b1", 10, {"n"}}, {"a2", 20, {"n"}}});
}

TEST(QueueDrf, EqualisesDominantShares) {
  // The DRF paper's example: one node of 9 cpu and 18 memory; A's tasks <1 cpu, 4 memory>
  // (dominant: memory, 4/18 each), B's <3 cpu, 1 memory> (dominant: cpu, 3/9 each); all at t=0 for
  // 100 s. Shares after each start: a1 (A 2/9), b1 (B 1/3), a2 (A 4/9), b2 (B 2/3), a3 (A 2/3, cpus
  // now 9/9). A: 3 tasks, B: 2 tasks, as in the paper; a4 and b3 wait until 100.
  std::vector<Node> nodes{node("n", 9)};
  nodes[0].capacity.set("memory", 18);
  std::vector<Job> jobs;
  for (int i = 1; i <= 4; ++i) {
    Job a = job("a" + std::to_string(i), 0, 1, 100);
    a.request.set("memory", 4);
    a.user = "A";
    jobs.push_back(a);
  }
  for (int i = 1; i <= 3; ++i) {
    Job b = job("b" + std::to_string(i), 0, 3, 100);
    b.request.set("memory", 1);
    b.user = "B";
    jobs.push_back(b);
  }
  auto r = simulate(nodes, {}, jobs, options("drf", "first_fit", "none"));
  expect_schedule(r, {{"a1", 0, {"n"}},
                      {"a2", 0, {"n"}},
                      {"a3", 0, {"n"}},
                      {"b1", 0, {"n"}},
                      {"b2", 0, {"n"}},
                      {"a4", 100, {"n"}},
                      {"b3", 100, {"n"}}});
}

// One 1-cpu node, blocker [0, 10). x t=1 runs 30 s, deadline 40; y t=2 runs 5 s, deadline 30.
std::vector<Job> deadlines() {
  Job x = job("x", 1, 1, 30), y = job("y", 2, 1, 5);
  x.deadline = sec(40);
  y.deadline = sec(30);
  return {job("blocker", 0, 1, 10), x, y};
}

TEST(QueueEdf, EarliestDeadlineFirst) {
  // y's deadline (30) < x's (40): y@10 (ends 15), x@15 (ends 45 > 40: one miss).
  auto r = simulate({node("n", 1)}, {}, deadlines(), options("edf", "first_fit", "none"));
  expect_schedule(r, {{"y", 10, {"n"}}, {"x", 15, {"n"}}});
  EXPECT_EQ(r.metrics.deadline_misses, 1u);
}

TEST(QueueLeastSlack, LeastSlackFirst) {
  // slack at 10: x 40 - 10 - 30 = 0, y 30 - 10 - 5 = 15: x@10 (ends 40, on time), y@40
  // (ends 45 > 30: one miss).
  auto r = simulate({node("n", 1)}, {}, deadlines(), options("least_slack", "first_fit", "none"));
  expect_schedule(r, {{"x", 10, {"n"}}, {"y", 40, {"n"}}});
  EXPECT_EQ(r.metrics.deadline_misses, 1u);
}

TEST(QueueFcfs, RequeuedJobsKeepTheirPlace) {
  // Submit order decides, not arrival in the queue: b (t=1) before c (t=2) behind a.
  auto r =
      simulate({node("n", 1)}, {}, {job("a", 0, 1, 10), job("c", 2, 1, 10), job("b", 1, 1, 10)},
               options("fcfs", "first_fit", "none"));
  expect_schedule(r, {{"b", 10, {"n"}}, {"c", 20, {"n"}}});
}

}  // namespace
}  // namespace taskloom::cluster
