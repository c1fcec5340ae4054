#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "taskloom/graph/algorithms.hpp"

namespace taskloom::graph {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A closed walk along real edges that visits no node twice before closing.
void expect_real_cycle(const Digraph& g, const std::vector<NodeIndex>& cycle) {
  ASSERT_GE(cycle.size(), 2u);
  EXPECT_EQ(cycle.front(), cycle.back());
  for (std::size_t i = 0; i + 1 < cycle.size(); ++i) {
    const auto succ = g.successors(cycle[i]);
    EXPECT_NE(std::find(succ.begin(), succ.end(), cycle[i + 1]), succ.end())
        << cycle[i] << " -> " << cycle[i + 1] << " is not an edge";
  }
  const std::set<NodeIndex> distinct(cycle.begin(), cycle.end() - 1);
  EXPECT_EQ(distinct.size(), cycle.size() - 1) << "the cycle repeats a node";
}

TEST(FindCycle, DagHasNone) {
  const std::vector<Edge> edges{{0, 1}, {0, 2}, {1, 3}, {2, 3}};
  EXPECT_EQ(find_cycle(Digraph(4, edges)), std::nullopt);
  EXPECT_EQ(find_cycle(Digraph{}), std::nullopt);
  EXPECT_EQ(find_cycle(Digraph(3, {})), std::nullopt);
}

TEST(FindCycle, SelfLoop) {
  const std::vector<Edge> edges{{0, 1}, {1, 1}, {1, 2}};
  const Digraph g(3, edges);
  const auto cycle = find_cycle(g);
  ASSERT_TRUE(cycle.has_value());
  EXPECT_THAT(*cycle, ElementsAre(1, 1));
}

TEST(FindCycle, TwoCycle) {
  const std::vector<Edge> edges{{0, 1}, {1, 0}};
  const auto cycle = find_cycle(Digraph(2, edges));
  ASSERT_TRUE(cycle.has_value());
  EXPECT_THAT(*cycle, ElementsAre(0, 1, 0));
}

TEST(FindCycle, PathIsInDependencyOrder) {
  // 2 -> 3 -> 4 -> 2, not reachable from nodes 0 and 1.
  const std::vector<Edge> edges{{0, 1}, {2, 3}, {3, 4}, {4, 2}};
  const Digraph g(5, edges);
  const auto cycle = find_cycle(g);
  ASSERT_TRUE(cycle.has_value());
  EXPECT_THAT(*cycle, ElementsAre(2, 3, 4, 2));
  expect_real_cycle(g, *cycle);
}

TEST(FindCycle, LongCycleInsideLargerDag) {
  // Chain 0 -> 1 -> ... -> 999 plus a back edge 900 -> 100: the only cycle is 100..900.
  std::vector<Edge> edges;
  for (NodeIndex v = 0; v + 1 < 1000; ++v) edges.push_back({v, v + 1});
  for (NodeIndex v = 0; v + 7 < 1000; v += 13) edges.push_back({v, v + 7});  // forward edges
  edges.push_back({900, 100});
  const Digraph g(1000, edges);
  const auto cycle = find_cycle(g);
  ASSERT_TRUE(cycle.has_value());
  expect_real_cycle(g, *cycle);
  EXPECT_EQ(cycle->front(), 100u);
  EXPECT_EQ((*cycle)[cycle->size() - 2], 900u);
  EXPECT_EQ(cycle->size(), 802u);

  const Analysis a = analyze(g);
  EXPECT_EQ(a.cycle, *cycle);
  EXPECT_LT(a.order.size(), 1000u);
  EXPECT_THAT(
      a.order,
      ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                  23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
                  43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
                  63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82,
                  83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99));
}

TEST(FindCycle, RandomDagWithOneBackEdgeYieldsARealCycle) {
  std::mt19937 rng(3);
  for (int round = 0; round < 30; ++round) {
    const std::size_t n = 2 + rng() % 100;
    std::vector<NodeIndex> perm(n);
    std::iota(perm.begin(), perm.end(), NodeIndex{0});
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<Edge> edges;
    for (std::size_t i = 0; i + 1 < n; ++i) edges.push_back({perm[i], perm[i + 1]});
    for (std::size_t k = rng() % (2 * n); k > 0; --k) {
      std::size_t a = rng() % n, b = rng() % n;
      if (a == b) continue;
      if (a > b) std::swap(a, b);
      edges.push_back({perm[a], perm[b]});
    }
    const Digraph dag(n, edges);
    ASSERT_EQ(find_cycle(dag), std::nullopt);
    ASSERT_THAT(analyze(dag).cycle, IsEmpty());

    const std::size_t from = 1 + rng() % (n - 1), to = rng() % from;  // backward in perm
    edges.push_back({perm[from], perm[to]});
    const Digraph g(n, edges);
    const auto cycle = find_cycle(g);
    ASSERT_TRUE(cycle.has_value()) << "round " << round;
    expect_real_cycle(g, *cycle);
    EXPECT_EQ(analyze(g).cycle, *cycle);
  }
}

TEST(Analyze, ReportsSelfLoopAsCycle) {
  const std::vector<Edge> edges{{0, 1}, {1, 1}, {1, 2}};
  const Analysis a = analyze(Digraph(3, edges));
  EXPECT_THAT(a.cycle, ElementsAre(1, 1));
  EXPECT_THAT(a.order, ElementsAre(0));  // only what does not depend on the cycle
}

TEST(Analyze, ReportsTwoCycle) {
  const std::vector<Edge> edges{{0, 2}, {2, 1}, {1, 2}};
  const Analysis a = analyze(Digraph(3, edges));
  EXPECT_THAT(a.cycle, ElementsAre(2, 1, 2));
  EXPECT_THAT(a.order, ElementsAre(0));
}

}  // namespace
}  // namespace taskloom::graph
