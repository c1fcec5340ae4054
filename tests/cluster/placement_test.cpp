// Hand-computed placements: first fit, best fit, worst fit, affinity, energy.
#include <gtest/gtest.h>

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

// n0 8 cpus, n1 4 cpus, n2 6 cpus; all jobs at t=0 for 100 s, started in input order.
//   j1 3 cpu, j2 4 cpu, j3 2 cpu, j4 5 cpu
std::vector<Node> three_nodes() {
  return {node("n0", 8), node("n1", 4), node("n2", 6)};
}
std::vector<Job> four_jobs() {
  return {job("j1", 0, 3, 100), job("j2", 0, 4, 100), job("j3", 0, 2, 100), job("j4", 0, 5, 100)};
}

TEST(PlacementFirstFit, TakesTheFirstNodeInClusterOrder) {
  // j1 n0 (8->5), j2 n0 (5->1), j3 n1 (n0 has 1; 4->2), j4 n2 (only n2 has 5: 6->1).
  auto r = simulate(three_nodes(), {}, four_jobs(), options("fcfs", "first_fit", "none"));
  expect_schedule(r, {{"j1", 0, {"n0"}}, {"j2", 0, {"n0"}}, {"j3", 0, {"n1"}}, {"j4", 0, {"n2"}}});
}

TEST(PlacementBestFit, TakesTheTightestNode) {
  // j1 3 -> n1 (free 4 is the least >= 3; 4->1), j2 4 -> n2 (6->2), j3 2 -> n2 (2->0),
  // j4 5 -> n0 (8->3).
  auto r = simulate(three_nodes(), {}, four_jobs(), options("fcfs", "best_fit", "none"));
  expect_schedule(r, {{"j1", 0, {"n1"}}, {"j2", 0, {"n2"}}, {"j3", 0, {"n2"}}, {"j4", 0, {"n0"}}});
}

TEST(PlacementWorstFit, SpreadsOverTheEmptiestNodes) {
  // j1 3 -> n0 (8->5), j2 4 -> n2 (6 > 5; 6->2), j3 2 -> n0 (5->3), j4 5: free 3, 4, 2, no
  // node fits: waits until everything ends at 100, then n0 (8, the most).
  auto r = simulate(three_nodes(), {}, four_jobs(), options("fcfs", "worst_fit", "none"));
  expect_schedule(r,
                  {{"j1", 0, {"n0"}}, {"j2", 0, {"n2"}}, {"j3", 0, {"n0"}}, {"j4", 100, {"n0"}}});
}

TEST(PlacementBestFit, PacksOnTheDominantResource) {
  // Nodes: a {cpu 8, memory 10}, b {cpu 8, memory 40}. Job x {cpu 1, memory 10}: its dominant
  // resource is memory (10/50 > 1/16); best fit on memory -> a (10 free, exactly enough).
  Node a = node("a", 8), b = node("b", 8);
  a.capacity.set("memory", 10);
  b.capacity.set("memory", 40);
  Job x = job("x", 0, 1, 10);
  x.request.set("memory", 10);
  auto r = simulate({a, b}, {}, {x}, options("fcfs", "best_fit", "none"));
  expect_schedule(r, {{"x", 0, {"a"}}});
}

TEST(PlacementAffinity, KeepsGpuNodesForGpuJobsAndHonoursPreferences) {
  // g0 4 cpu + 1 gpu (label gpu), c0 4 cpu, c1 4 cpu (label ssd). All at t=0, in order:
  //   j1 2 cpu prefers ssd         -> c1 (preference +10)
  //   j2 2 cpu + 1 gpu (10 s)      -> g0 (the only node with a gpu)
  //   j3 4 cpu                     -> c0 (c1 has 2; g0 is a busy GPU node)
  //   j4 2 cpu                     -> c1 (g0 runs j2, so CPU jobs stay off it)
  //   j5 2 cpu                     -> nothing but g0 has room, and g0 is busy: waits; j2 ends
  //                                   at 10 and the idle g0 takes it: j5@10 g0.
  Node g0 = node("g0", 4, {"gpu"});
  g0.capacity.set("gpu", 1);
  std::vector<Node> nodes{g0, node("c0", 4), node("c1", 4, {"ssd"})};
  Job j1 = job("j1", 0, 2, 100);
  j1.preferences = {"ssd"};
  Job j2 = job("j2", 0, 2, 10);
  j2.request.set("gpu", 1);
  std::vector<Job> jobs{j1, j2, job("j3", 0, 4, 100), job("j4", 0, 2, 100), job("j5", 0, 2, 100)};
  auto r = simulate(nodes, {}, jobs, options("fcfs", "affinity", "none"));
  expect_schedule(r, {{"j1", 0, {"c1"}},
                      {"j2", 0, {"g0"}},
                      {"j3", 0, {"c0"}},
                      {"j4", 0, {"c1"}},
                      {"j5", 10, {"g0"}}});
}

TEST(PlacementEnergy, ChoosesTheFewestAddedJoules) {
  // e0: 4 cpu, idle 100 W, busy 300 W.  e1: 4 cpu, idle 50 W, busy 450 W.  Jobs 2 cpu 100 s.
  // j1: e0 (300-100) x 0.5 x 100 + 100 x 100 (waking it) = 20000 J;
  //     e1 (450-50) x 0.5 x 100 + 50 x 100 = 25000 J -> e0.
  // j2: e0 is busy now: 10000 J; e1 25000 J -> e0.   j3: e0 full -> e1.
  Node e0 = node("e0", 4), e1 = node("e1", 4);
  e0.power = {.idle_watts = 100, .busy_watts = 300};
  e1.power = {.idle_watts = 50, .busy_watts = 450};
  std::vector<Job> jobs{job("j1", 0, 2, 100), job("j2", 0, 2, 100), job("j3", 0, 2, 100)};
  auto r = simulate({e0, e1}, {}, jobs, options("fcfs", "energy", "none"));
  expect_schedule(r, {{"j1", 0, {"e0"}}, {"j2", 0, {"e0"}}, {"j3", 0, {"e1"}}});
}

TEST(PlacementConstraints, OnlyNodesWithTheRequiredLabels) {
  // j needs label "highmem": only n1 has it although n0 comes first.
  std::vector<Node> nodes{node("n0", 4), node("n1", 4, {"highmem"})};
  Job j = job("j", 0, 1, 10);
  j.constraints = {"highmem"};
  auto r = simulate(nodes, {}, {j}, options("fcfs", "first_fit", "none"));
  expect_schedule(r, {{"j", 0, {"n1"}}});
}

TEST(PlacementSpeed, AFasterNodeShortensTheRun) {
  // Speed 2: a 10 s job ends after 5 s.
  Node fast = node("fast", 4);
  fast.speed = 2;
  auto r = simulate({fast}, {}, {job("j", 0, 1, 10)}, options("fcfs", "first_fit", "none"));
  EXPECT_DOUBLE_EQ(to_sec(*record(r, "j").end), 5);
}

}  // namespace
}  // namespace taskloom::cluster
