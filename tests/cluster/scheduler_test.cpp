// Quotas, dependencies, node failures, wall limits, rejections, bad input.
#include <gtest/gtest.h>

#include "taskloom/core/error.hpp"

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

TEST(Quotas, AJobOverItsPartitionQuotaWaitsAndOthersGoOn) {
  // One 8-cpu node; partition p may hold 4 cpus at once, q is unlimited. All at 0, 10 s:
  // j1 (p, 4) starts; j2 (p, 2) would take p to 6: held; j3 (q, 2) starts; j2@10.
  std::vector<Partition> parts{{.name = "p", .quota = {{"cpu", 4}}}, {.name = "q"}};
  Job j1 = job("j1", 0, 4, 10), j2 = job("j2", 0, 2, 10), j3 = job("j3", 0, 2, 10);
  j1.partition = j2.partition = "p";
  j3.partition = "q";
  auto r = simulate({node("n", 8)}, parts, {j1, j2, j3}, options("fcfs", "first_fit", "none"));
  expect_schedule(r, {{"j1", 0, {"n"}}, {"j2", 10, {"n"}}, {"j3", 0, {"n"}}});
}

TEST(Quotas, AJobLargerThanItsQuotaIsRejected) {
  std::vector<Partition> parts{{.name = "p", .quota = {{"cpu", 4}}}};
  Job big = job("big", 0, 6, 10);
  big.partition = "p";
  auto r = simulate({node("n", 8)}, parts, {big}, options("fcfs", "first_fit", "none"));
  EXPECT_EQ(record(r, "big").status, JobStatus::kRejectedTooLarge);
  EXPECT_NE(record(r, "big").reason.find("partition 'p'"), std::string::npos);
}

TEST(Quotas, UnknownPartitionIsAnInputError) {
  Job j = job("j", 0, 1, 10);
  j.partition = "nope";
  EXPECT_THROW(simulate({node("n", 8)}, {{.name = "p"}}, {j}), InputError);
}

TEST(Dependencies, AJobStartsWhenItsDependenciesEnd) {
  // j1 [0, 10); j2 after j1 although the node has room: [10, 15); j3 after j2: 15.
  Job j2 = job("j2", 0, 1, 5), j3 = job("j3", 0, 1, 5);
  j2.after = {"j1"};
  j3.after = {"j2"};
  auto r = simulate({node("n", 4)}, {}, {job("j1", 0, 1, 10), j2, j3},
                    options("fcfs", "first_fit", "easy"));
  expect_schedule(r, {{"j1", 0, {"n"}}, {"j2", 10, {"n"}}, {"j3", 15, {"n"}}});
}

TEST(Dependencies, AFailedDependencyFailsItsDependentsTransitively) {
  // k1 runs 20 s with a 10 s limit: killed at 10. k2 after k1, k3 after k2: never run.
  Job k2 = job("k2", 0, 1, 5), k3 = job("k3", 0, 1, 5);
  k2.after = {"k1"};
  k3.after = {"k2"};
  auto r = simulate({node("n", 4)}, {}, {job("k1", 0, 1, 20, 10), k2, k3});
  EXPECT_EQ(record(r, "k1").status, JobStatus::kKilledAtLimit);
  EXPECT_DOUBLE_EQ(to_sec(*record(r, "k1").end), 10);
  EXPECT_EQ(record(r, "k2").status, JobStatus::kDependencyFailed);
  EXPECT_EQ(record(r, "k3").status, JobStatus::kDependencyFailed);
  EXPECT_FALSE(record(r, "k3").start.has_value());
  EXPECT_EQ(r.metrics.dependency_failed, 2u);
  EXPECT_EQ(r.metrics.killed_at_limit, 1u);
}

TEST(Dependencies, UnknownDependencyAndCyclesAreErrors) {
  Job a = job("a", 0, 1, 5), b = job("b", 0, 1, 5);
  a.after = {"bb"};
  EXPECT_THROW(simulate({node("n", 1)}, {}, {a, b}), UnknownDependencyError);
  a.after = {"b"};
  b.after = {"a"};
  EXPECT_THROW(simulate({node("n", 1)}, {}, {a, b}), CycleError);
}

TEST(NodeFailure, JobsOnADownNodeAreRequeued) {
  // n0, n1 1 cpu. j [0, ...) on n0; n0 goes down at 5: j restarts on n1 at 5, ends 15.
  // k (t=6) waits for a node; n0 comes back at 7: k@7 n0.
  SimulationOptions o = options("fcfs", "first_fit", "none");
  o.node_events = {{sec(5), "n0", NodeState::kDown}, {sec(7), "n0", NodeState::kUp}};
  auto r =
      simulate({node("n0", 1), node("n1", 1)}, {}, {job("j", 0, 1, 10), job("k", 6, 1, 10)}, o);
  const JobRecord& j = record(r, "j");
  EXPECT_DOUBLE_EQ(to_sec(*j.start), 0);
  EXPECT_DOUBLE_EQ(to_sec(*j.end), 15);
  EXPECT_EQ(j.nodes, std::vector<std::string>{"n1"});
  EXPECT_EQ(j.status, JobStatus::kPreemptedThenCompleted);
  EXPECT_EQ(j.failures, 1u);
  expect_schedule(r, {{"k", 7, {"n0"}}});
  EXPECT_EQ(r.metrics.failure_requeues, 1u);
}

TEST(NodeFailure, ADrainingNodeKeepsItsJobsAndTakesNoNewOnes) {
  // n0 (2 cpus) runs a [0, 10) and drains at 1; b (t=2, 1 cpu) would fit on n0 by first fit
  // but goes to n1; a still ends at 10 on n0.
  SimulationOptions o = options("fcfs", "first_fit", "none");
  o.node_events = {{sec(1), "n0", NodeState::kDraining}};
  auto r = simulate({node("n0", 2), node("n1", 2)}, {}, {job("a", 0, 1, 10), job("b", 2, 1, 5)}, o);
  expect_schedule(r, {{"a", 0, {"n0"}}, {"b", 2, {"n1"}}});
  EXPECT_DOUBLE_EQ(to_sec(*record(r, "a").end), 10);
  EXPECT_EQ(record(r, "a").status, JobStatus::kCompleted);
}

TEST(NodeFailure, JobsThatCanNoLongerRunAreReportedNeverStarted) {
  SimulationOptions o = options("fcfs", "first_fit", "easy");
  o.node_events = {{sec(0), "n0", NodeState::kDown}};
  auto r = simulate({node("n0", 4)}, {}, {job("j", 1, 1, 10)}, o);
  EXPECT_EQ(record(r, "j").status, JobStatus::kNeverStarted);
  EXPECT_EQ(r.metrics.never_started, 1u);
}

TEST(NodeFailure, UnknownNodeInAnEventIsAnInputError) {
  SimulationOptions o;
  o.node_events = {{sec(1), "ghost", NodeState::kDown}};
  EXPECT_THROW(simulate({node("n0", 4)}, {}, {job("j", 0, 1, 1)}, o), InputError);
}

TEST(Rejection, JobsLargerThanTheClusterAreRejectedAndCounted) {
  // Two 4-cpu nodes: 8 cpus on one node, or 3 nodes, can never run; the others are unaffected.
  auto r = simulate({node("n0", 4), node("n1", 4)}, {},
                    {job("wide", 0, 8, 10), job("many", 0, 1, 10, -1, 3), job("ok", 0, 4, 10)},
                    options("fcfs", "first_fit", "none"));
  EXPECT_EQ(record(r, "wide").status, JobStatus::kRejectedTooLarge);
  EXPECT_EQ(record(r, "many").status, JobStatus::kRejectedTooLarge);
  EXPECT_FALSE(record(r, "wide").reason.empty());
  EXPECT_EQ(r.metrics.rejected, 2u);
  expect_schedule(r, {{"ok", 0, {"n0"}}});
}

TEST(Rejection, ARequestForAResourceNoNodeHasIsRejected) {
  Job j = job("j", 0, 1, 10);
  j.request.set("gpu", 1);
  auto r = simulate({node("n0", 4)}, {}, {j});
  EXPECT_EQ(record(r, "j").status, JobStatus::kRejectedTooLarge);
}

TEST(BadInput, DuplicateIdsAndEmptyClusters) {
  EXPECT_THROW(simulate({node("n", 1)}, {}, {job("a", 0, 1, 1), job("a", 0, 1, 1)}),
               DuplicateIdError);
  EXPECT_THROW(simulate({node("n", 1), node("n", 1)}, {}, {}), DuplicateIdError);
  EXPECT_THROW(simulate({}, {}, {job("a", 0, 1, 1)}), InputError);
}

TEST(MultiNode, AJobGetsDistinctNodes) {
  auto r = simulate({node("n0", 4), node("n1", 4), node("n2", 4)}, {}, {job("m", 0, 2, 10, -1, 3)},
                    options("fcfs", "best_fit", "none"));
  expect_schedule(r, {{"m", 0, {"n0", "n1", "n2"}}});
}

}  // namespace
}  // namespace taskloom::cluster
