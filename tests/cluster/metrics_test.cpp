// Metrics by hand: waits, bounded slowdown, percentiles, utilisation, energy, fair share.
#include <gtest/gtest.h>

#include "taskloom/cluster/workload.hpp"
#include "taskloom/core/error.hpp"

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

TEST(Metrics, WaitSlowdownUtilisationAndEnergyOfTwoJobs) {
  // One 1-cpu node, idle 100 W, busy 200 W. j1 t=0 5 s; j2 t=0 20 s: j1 [0, 5), j2 [5, 25).
  // waits 0 and 5: mean 2.5, median 2.5, p95 (nearest rank 2 of 2) 5.
  // bounded slowdown: j1 max(1, 5 / max(5, 10)) = 1; j2 25 / 20 = 1.25; mean 1.125.
  // makespan 25 s, busy all along: utilisation 1; throughput 2 / (25/3600 h) = 288 per hour.
  // energy: idle 100 W x 25 s + (200 - 100) W x 1 x 25 s = 5000 J = 5000 / 3.6e6 kWh.
  Node n = node("n", 1);
  n.power = {.idle_watts = 100, .busy_watts = 200};
  auto r = simulate({n}, {}, {job("j1", 0, 1, 5), job("j2", 0, 1, 20)});
  const Metrics& m = r.metrics;
  EXPECT_DOUBLE_EQ(m.mean_wait_s, 2.5);
  EXPECT_DOUBLE_EQ(m.median_wait_s, 2.5);
  EXPECT_DOUBLE_EQ(m.p95_wait_s, 5);
  EXPECT_DOUBLE_EQ(m.mean_bounded_slowdown, 1.125);
  EXPECT_DOUBLE_EQ(m.makespan_s, 25);
  EXPECT_DOUBLE_EQ(m.utilisation, 1);
  EXPECT_DOUBLE_EQ(m.throughput_per_hour, 288);
  EXPECT_DOUBLE_EQ(m.energy_kwh, 5000 / 3.6e6);
  EXPECT_EQ(m.completed, 2u);
  EXPECT_EQ(m.jobs, 2u);
}

TEST(Metrics, PercentilesAreNearestRank) {
  // 20 one-second jobs at t=0 on one node: waits 0, 1, ..., 19.
  // mean 9.5; median (9 + 10) / 2 = 9.5; p95: rank ceil(0.95 x 20) = 19 -> 18.
  std::vector<Job> jobs;
  for (int i = 0; i < 20; ++i) jobs.push_back(job("j" + std::to_string(i), 0, 1, 1));
  auto r = simulate({node("n", 1)}, {}, jobs);
  EXPECT_DOUBLE_EQ(r.metrics.mean_wait_s, 9.5);
  EXPECT_DOUBLE_EQ(r.metrics.median_wait_s, 9.5);
  EXPECT_DOUBLE_EQ(r.metrics.p95_wait_s, 18);
}

TEST(Metrics, HalfIdleClusterAndIdleEnergy) {
  // Two 1-cpu nodes (idle 10 W, busy 20 W), one 100 s job: utilisation 100 / (2 x 100) = 0.5;
  // energy 2 x 10 W x 100 s + 10 W x 100 s = 3000 J.
  Node a = node("a", 1), b = node("b", 1);
  a.power = b.power = {.idle_watts = 10, .busy_watts = 20};
  auto r = simulate({a, b}, {}, {job("j", 0, 1, 100)});
  EXPECT_DOUBLE_EQ(r.metrics.utilisation, 0.5);
  EXPECT_DOUBLE_EQ(r.metrics.energy_kwh, 3000 / 3.6e6);
}

TEST(Metrics, FairShareDeviationPerUser) {
  // alice uses the node 30 s, bob 10 s: shares 0.75 / 0.25 against 0.5 each: deviation 0.25.
  Job a = job("a", 0, 1, 30), b = job("b", 0, 1, 10);
  a.user = "alice";
  b.user = "bob";
  auto r = simulate({node("n", 1)}, {}, {a, b});
  ASSERT_EQ(r.metrics.fair_share.size(), 2u);
  EXPECT_EQ(r.metrics.fair_share[0].tenant, "alice");
  EXPECT_DOUBLE_EQ(r.metrics.fair_share[0].usage_share, 0.75);
  EXPECT_DOUBLE_EQ(r.metrics.fair_share[0].target_share, 0.5);
  EXPECT_DOUBLE_EQ(r.metrics.fair_share[1].deviation, 0.25);
  EXPECT_DOUBLE_EQ(r.metrics.max_fair_share_deviation, 0.25);
}

TEST(Metrics, BoundedSlowdownUsesTheTenSecondThreshold) {
  // A 1 s job that waited 9 s: (9 + 1) / max(1, 10) = 1, not 10.
  auto r = simulate({node("n", 1)}, {}, {job("blocker", 0, 1, 9), job("short", 0, 1, 1)});
  // blocker: 1; short: response 10 / 10 = 1.
  EXPECT_DOUBLE_EQ(r.metrics.mean_bounded_slowdown, 1);
}

}  // namespace
}  // namespace taskloom::cluster

namespace taskloom::cluster {
namespace {
using namespace testing;

TEST(DeadlineModel, DeadlinesAtKTimesTheRequestMakeEdfAndFcfsDiffer) {
  // No trace has deadlines; assign_deadlines gives submit + 2 x requested time to the jobs
  // without one. One 1-cpu node, all at 0: L (100 s, due 200), S1-S3 (10 s, due 20).
  // FCFS: L [0, 100), then S1, S2, S3 all late: 3 misses. EDF: S1 [0, 10), S2 [10, 20),
  // S3 [20, 30) late, L [30, 130): 1 miss.
  Workload w;
  w.jobs = {job("L", 0, 1, 100), job("S1", 0, 1, 10), job("S2", 0, 1, 10), job("S3", 0, 1, 10)};
  Job kept = job("K", 0, 1, 10, 0);  // no requested time: the actual runtime is the basis
  kept.requested_runtime = Duration::zero();
  w.jobs.push_back(kept);
  w.jobs.push_back(job("D", 0, 1, 1));
  w.jobs.back().deadline = sec(5000);  // has one: kept
  EXPECT_THROW(assign_deadlines(w, 0), InvalidArgumentError);
  EXPECT_EQ(assign_deadlines(w, 2.0), 5u);
  EXPECT_DOUBLE_EQ(to_sec(*w.jobs[0].deadline), 200);
  EXPECT_DOUBLE_EQ(to_sec(*w.jobs[1].deadline), 20);
  EXPECT_DOUBLE_EQ(to_sec(*w.jobs[4].deadline), 20);
  EXPECT_DOUBLE_EQ(to_sec(*w.jobs[5].deadline), 5000);
  w.jobs.resize(4);
  auto fcfs = simulate({node("n", 1)}, {}, w.jobs, options("fcfs", "first_fit", "none"));
  auto edf = simulate({node("n", 1)}, {}, w.jobs, options("edf", "first_fit", "none"));
  EXPECT_EQ(fcfs.metrics.deadline_misses, 3u);
  EXPECT_EQ(edf.metrics.deadline_misses, 1u);
}

TEST(Metrics, WaitsPerUserRespondToThePolicyWhereSharesDoNot) {
  // One 1-cpu node, 10 s jobs. A submits a1-a3 at 0, B submits b1 at 1. Every job runs, so
  // both users' shares of the usage are the same under any order (3/4 and 1/4).
  // FCFS: a1 [0, 10), a2, a3, then b1 [30, 40): A waits 0, 10, 20 (mean 10), B 29.
  // DRF with past usage: at 10 A has used the node, B has not: b1 [10, 20), a2 [20, 30),
  // a3 [30, 40): A waits 0, 20, 30 (mean 50/3), B 9.
  std::vector<Job> jobs{job("a1", 0, 1, 10), job("a2", 0, 1, 10), job("a3", 0, 1, 10),
                        job("b1", 1, 1, 10)};
  for (Job& j : jobs) j.user = j.id[0] == 'a' ? "A" : "B";
  auto fcfs = simulate({node("n", 1)}, {}, jobs, options("fcfs", "first_fit", "none"));
  SimulationOptions drf = options("drf", "first_fit", "none");
  drf.queue = {"drf", {{"half_life", 1000.0}}};
  auto fair = simulate({node("n", 1)}, {}, jobs, drf);
  EXPECT_DOUBLE_EQ(fcfs.metrics.max_fair_share_deviation, fair.metrics.max_fair_share_deviation);
  EXPECT_DOUBLE_EQ(fcfs.metrics.max_user_mean_wait_s, 29);
  EXPECT_DOUBLE_EQ(fair.metrics.max_user_mean_wait_s, 50.0 / 3);
  EXPECT_DOUBLE_EQ(fcfs.metrics.user_wait_fairness, 39.0 * 39 / (2 * (100.0 + 841)));
  const double a = 50.0 / 3;
  EXPECT_DOUBLE_EQ(fair.metrics.user_wait_fairness, (a + 9) * (a + 9) / (2 * (a * a + 81)));
  ASSERT_EQ(fcfs.metrics.fair_share.size(), 2u);
  EXPECT_EQ(fcfs.metrics.fair_share[1].tenant, "B");
  EXPECT_DOUBLE_EQ(fcfs.metrics.fair_share[1].mean_wait_s, 29);
  EXPECT_EQ(fcfs.metrics.fair_share[0].started, 3u);
}

}  // namespace
}  // namespace taskloom::cluster

namespace taskloom::cluster {
namespace {
using namespace testing;

SimulationOptions power_saving(const char* placement) {
  SimulationOptions o = options("fcfs", placement, "none");
  o.power_saving = {
      .enabled = true, .suspend_after = sec(10), .resume_time = sec(5), .suspended_watts = 0};
  return o;
}

TEST(PowerSaving, IdleNodesSleepAfterTheirIdleTimeAndWakeBeforeTheirNextJob) {
  // Two 1-cpu nodes, idle 100 W, busy 200 W. a [0, 100) on n0, b [50, 70) on n1. n1 is idle
  // [0, 50): asleep 50 - 10 - 5 (resuming for b) = 35 s, and [70, 100): asleep 30 - 10 = 20 s.
  // Energy: idle 2 x 100 W x 100 s - 100 W x 55 s + busy 100 W x (100 + 20) s = 26,500 J.
  std::vector<Node> nodes{node("n0", 1), node("n1", 1)};
  for (Node& n : nodes) n.power = {.idle_watts = 100, .busy_watts = 200};
  std::vector<Job> jobs{job("a", 0, 1, 100), job("b", 50, 1, 20)};
  auto r = simulate(nodes, {}, jobs, power_saving("first_fit"));
  EXPECT_DOUBLE_EQ(r.metrics.suspended_node_hours, 55.0 / 3600);
  EXPECT_EQ(r.metrics.suspensions, 2u);
  EXPECT_DOUBLE_EQ(r.metrics.energy_kwh, 26500 / 3.6e6);
  auto always_on = simulate(nodes, {}, jobs, options("fcfs", "first_fit", "none"));
  EXPECT_DOUBLE_EQ(always_on.metrics.energy_kwh, 32000 / 3.6e6);
  EXPECT_EQ(always_on.metrics.suspensions, 0u);
}

TEST(PowerSaving, PackingJobsOntoFewNodesShowsItsSaving) {
  // Two 2-cpu nodes, two 1-cpu jobs of 100 s at 0. Worst fit spreads them: no node idles.
  // Best fit packs them on n0: n1 sleeps 100 - 10 s. With idle power charged to every node
  // all along, both placements cost the same.
  std::vector<Node> nodes{node("n0", 2), node("n1", 2)};
  for (Node& n : nodes) n.power = {.idle_watts = 100, .busy_watts = 200};
  std::vector<Job> jobs{job("a", 0, 1, 100), job("b", 0, 1, 100)};
  auto packed = simulate(nodes, {}, jobs, power_saving("best_fit"));
  auto spread = simulate(nodes, {}, jobs, power_saving("worst_fit"));
  EXPECT_DOUBLE_EQ(packed.metrics.suspended_node_hours, 90.0 / 3600);
  EXPECT_DOUBLE_EQ(spread.metrics.suspended_node_hours, 0);
  EXPECT_LT(packed.metrics.energy_kwh, spread.metrics.energy_kwh);
  EXPECT_DOUBLE_EQ(
      simulate(nodes, {}, jobs, options("fcfs", "best_fit", "none")).metrics.energy_kwh,
      simulate(nodes, {}, jobs, options("fcfs", "worst_fit", "none")).metrics.energy_kwh);
}

}  // namespace
}  // namespace taskloom::cluster
