#include "taskloom/graph/algorithms.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "taskloom/core/error.hpp"

namespace taskloom::graph {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// 0 -> {1, 2} -> 3
const std::vector<Edge> kDiamond{{0, 1}, {0, 2}, {1, 3}, {2, 3}};

struct RandomDag {
  std::size_t n;
  std::vector<Edge> edges;
};

// Edges go from earlier to later positions of a random permutation, so node indices say
// nothing about the topological order.
RandomDag random_dag(std::mt19937& rng, std::size_t n, std::size_t edge_count) {
  std::vector<NodeIndex> perm(n);
  std::iota(perm.begin(), perm.end(), NodeIndex{0});
  std::shuffle(perm.begin(), perm.end(), rng);
  RandomDag dag{n, {}};
  if (n < 2) return dag;
  std::uniform_int_distribution<std::size_t> pos(0, n - 1);
  for (std::size_t i = 0; i < edge_count; ++i) {
    std::size_t a = pos(rng), b = pos(rng);
    if (a == b) continue;
    if (a > b) std::swap(a, b);
    dag.edges.push_back({perm[a], perm[b]});
  }
  return dag;
}

// Kahn's algorithm as analyze() documents it, written plainly: sources by index, then ready
// nodes first in, first out, successors in edge order.
std::vector<NodeIndex> reference_order(const Digraph& g) {
  const std::size_t n = g.node_count();
  std::vector<std::uint32_t> remaining(n);
  std::deque<NodeIndex> ready;
  for (NodeIndex v = 0; v < n; ++v) {
    remaining[v] = g.in_degree(v);
    if (remaining[v] == 0) ready.push_back(v);
  }
  std::vector<NodeIndex> order;
  while (!ready.empty()) {
    const NodeIndex v = ready.front();
    ready.pop_front();
    order.push_back(v);
    for (const NodeIndex s : g.successors(v)) {
      if (--remaining[s] == 0) ready.push_back(s);
    }
  }
  return order;
}

void expect_valid_topological_order(const Digraph& g, const std::vector<NodeIndex>& order) {
  ASSERT_EQ(order.size(), g.node_count());
  std::vector<std::size_t> position(order.size(), std::numeric_limits<std::size_t>::max());
  for (std::size_t i = 0; i < order.size(); ++i) {
    ASSERT_LT(order[i], g.node_count());
    ASSERT_EQ(position[order[i]], std::numeric_limits<std::size_t>::max()) << "repeated node";
    position[order[i]] = i;
  }
  for (NodeIndex u = 0; u < g.node_count(); ++u) {
    for (const NodeIndex v : g.successors(u)) {
      ASSERT_LT(position[u], position[v]) << "edge " << u << " -> " << v << " goes backward";
    }
  }
}

TEST(Analyze, EmptyGraph) {
  const Analysis a = analyze(Digraph{});
  EXPECT_THAT(a.order, IsEmpty());
  EXPECT_THAT(a.level, IsEmpty());
  EXPECT_THAT(a.upward_rank, IsEmpty());
  EXPECT_THAT(a.cycle, IsEmpty());
  EXPECT_EQ(a.wave_count, 0u);
  EXPECT_THAT(waves(a), IsEmpty());
  const CriticalPath path = critical_path(Digraph{}, a);
  EXPECT_THAT(path.nodes, IsEmpty());
  EXPECT_EQ(path.length, 0);
}

TEST(Analyze, DiamondOrderLevelsAndRanks) {
  const Digraph g(4, kDiamond);
  const Analysis a = analyze(g);
  EXPECT_THAT(a.cycle, IsEmpty());
  EXPECT_THAT(a.order, ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(a.level, ElementsAre(0, 1, 1, 2));
  EXPECT_EQ(a.wave_count, 3u);
  EXPECT_THAT(a.upward_rank, ElementsAre(3, 2, 2, 1));  // unit weights: nodes on longest path
}

TEST(Analyze, ReadyNodesQueueInTheOrderTheyBecomeReady) {
  // Sources 2, 3, 4 come first by index; 1 (ready after 3) and 0 (ready after 4) follow in
  // the order they became ready, not by index.
  const std::vector<Edge> edges{{4, 0}, {3, 1}};
  const Digraph g(5, edges);
  EXPECT_THAT(analyze(g).order, ElementsAre(2, 3, 4, 1, 0));
}

TEST(Analyze, SuccessorsBecomeReadyInEdgeOrder) {
  // 0's edges list 3 before 1, so 3 is queued first; 2 waits for 1.
  const std::vector<Edge> edges{{0, 3}, {1, 2}, {0, 1}};
  const Digraph g(4, edges);
  EXPECT_THAT(analyze(g).order, ElementsAre(0, 3, 1, 2));
}

TEST(Analyze, NoEdgesIsOneWaveInIndexOrder) {
  const Digraph g(5, {});
  const Analysis a = analyze(g);
  EXPECT_THAT(a.order, ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(a.level, ElementsAre(0, 0, 0, 0, 0));
  EXPECT_EQ(a.wave_count, 1u);
  EXPECT_THAT(waves(a), ElementsAre(ElementsAre(0, 1, 2, 3, 4)));
}

TEST(Analyze, OrderMatchesReferenceOnRandomDags) {
  std::mt19937 rng(2024);
  for (int round = 0; round < 50; ++round) {
    const std::size_t n = 1 + rng() % 80;
    const RandomDag dag = random_dag(rng, n, rng() % (3 * n));
    const Digraph g(dag.n, dag.edges);
    const Analysis a = analyze(g);
    ASSERT_THAT(a.cycle, IsEmpty());
    expect_valid_topological_order(g, a.order);
    EXPECT_EQ(a.order, reference_order(g)) << "round " << round;
  }
}

TEST(Analyze, IsDeterministicAcrossCalls) {
  std::mt19937 rng(99);
  const RandomDag dag = random_dag(rng, 2000, 8000);
  const Digraph g(dag.n, dag.edges);
  const Analysis a = analyze(g), b = analyze(g);
  EXPECT_EQ(a.order, b.order);
  EXPECT_EQ(a.level, b.level);
  EXPECT_EQ(a.upward_rank, b.upward_rank);
}

TEST(Analyze, LevelsAndRanksSatisfyTheirDefinitionsOnRandomDags) {
  std::mt19937 rng(5);
  for (int round = 0; round < 20; ++round) {
    const std::size_t n = 1 + rng() % 200;
    const RandomDag dag = random_dag(rng, n, rng() % (4 * n));
    const Digraph g(dag.n, dag.edges);
    std::vector<double> weights(n);
    for (double& w : weights) w = static_cast<double>(rng() % 10);  // zero weights included
    const Analysis a = analyze(g, weights);
    std::uint32_t max_level = 0;
    for (NodeIndex v = 0; v < n; ++v) {
      std::uint32_t expected_level = 0;
      for (const NodeIndex p : g.predecessors(v)) {
        expected_level = std::max(expected_level, a.level[p] + 1);
      }
      EXPECT_EQ(a.level[v], expected_level);
      max_level = std::max(max_level, a.level[v]);
      double heaviest = 0;
      for (const NodeIndex s : g.successors(v)) heaviest = std::max(heaviest, a.upward_rank[s]);
      EXPECT_EQ(a.upward_rank[v], weights[v] + heaviest);
    }
    EXPECT_EQ(a.wave_count, max_level + 1);
  }
}

TEST(Analyze, LevelIsLongestDistanceFromASource) {
  // 0 -> 1 -> 2 and a shortcut 0 -> 2: node 2 is in wave 2, not 1.
  const std::vector<Edge> edges{{0, 2}, {0, 1}, {1, 2}};
  const Analysis a = analyze(Digraph(3, edges));
  EXPECT_THAT(a.level, ElementsAre(0, 1, 2));
  EXPECT_EQ(a.wave_count, 3u);
}

TEST(Analyze, DuplicateEdgesDoNotBreakTheOrder) {
  const std::vector<Edge> edges{{0, 1}, {0, 1}, {1, 2}, {1, 2}};
  const Analysis a = analyze(Digraph(3, edges));
  EXPECT_THAT(a.cycle, IsEmpty());
  EXPECT_THAT(a.order, ElementsAre(0, 1, 2));
  EXPECT_THAT(a.level, ElementsAre(0, 1, 2));
}

TEST(Analyze, UpwardRankAddsWeightsAlongHeaviestPath) {
  const Digraph g(4, kDiamond);
  const std::vector<double> weights{1, 2, 3, 4};
  const Analysis a = analyze(g, weights);
  // r3 = 4, r2 = 3 + 4, r1 = 2 + 4, r0 = 1 + max(6, 7).
  EXPECT_THAT(a.upward_rank, ElementsAre(8, 6, 7, 4));
}

TEST(Analyze, ZeroWeightsAreAllowed) {
  const Digraph g(4, kDiamond);
  const std::vector<double> weights{0, 0, 0, 0};
  EXPECT_THAT(analyze(g, weights).upward_rank, ElementsAre(0, 0, 0, 0));
}

TEST(Analyze, WeightCountMismatchThrows) {
  const Digraph g(4, kDiamond);
  const std::vector<double> weights{1, 1, 1};
  try {
    analyze(g, weights);
    FAIL() << "no exception";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("3 weights for a graph of 4 nodes"), std::string::npos)
        << e.what();
  }
}

TEST(Analyze, NegativeOrNonFiniteWeightThrowsNamingTheNode) {
  const Digraph g(3, {});
  for (const double bad :
       {-1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    const std::vector<double> weights{1, bad, 1};
    try {
      analyze(g, weights);
      FAIL() << "no exception for " << bad;
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find("node 1"), std::string::npos) << e.what();
    }
  }
}

TEST(UpwardRanks, MatchAnalyzeOnShuffledAndIndexOrderedRandomDags) {
  std::mt19937 rng(7);
  for (int round = 0; round < 40; ++round) {
    RandomDag dag = random_dag(rng, 1 + rng() % 300, rng() % 900);
    if (round % 2 == 1) {
      // Index-ordered: every edge forwards, the one-pass case.
      for (Edge& e : dag.edges) {
        if (e.from > e.to) std::swap(e.from, e.to);
      }
    }
    const Digraph g(dag.n, dag.edges);
    std::vector<double> weights(dag.n);
    for (double& w : weights) w = static_cast<double>(rng() % 7);
    std::vector<double> rank(dag.n, -1.0);
    ASSERT_TRUE(upward_ranks(g, weights, rank)) << "round " << round;
    EXPECT_EQ(rank, analyze(g, weights).upward_rank) << "round " << round;
  }
}

TEST(UpwardRanks, DiamondWithUnitWeights) {
  const Digraph g(4, kDiamond);
  std::vector<double> rank(4);
  ASSERT_TRUE(upward_ranks(g, {}, rank));
  EXPECT_THAT(rank, ElementsAre(3, 2, 2, 1));
}

TEST(UpwardRanks, BackwardEdgeFallsBackToTopologicalOrder) {
  // 3 -> 1 -> 0 and 2 -> 0: no edge goes forwards by index.
  const Digraph g(4, std::vector<Edge>{{3, 1}, {1, 0}, {2, 0}});
  std::vector<double> rank(4);
  ASSERT_TRUE(upward_ranks(g, {}, rank));
  EXPECT_THAT(rank, ElementsAre(1, 2, 2, 3));
}

TEST(UpwardRanks, CycleReturnsFalse) {
  const Digraph g(4, std::vector<Edge>{{0, 1}, {1, 2}, {2, 1}, {2, 3}});
  std::vector<double> rank(4);
  EXPECT_FALSE(upward_ranks(g, {}, rank));
  const Digraph self_loop(2, std::vector<Edge>{{1, 1}});
  std::vector<double> two(2);
  EXPECT_FALSE(upward_ranks(self_loop, {}, two));
}

TEST(UpwardRanks, WrongOutputSizeOrBadWeightThrows) {
  const Digraph g(4, kDiamond);
  std::vector<double> rank(3);
  EXPECT_THROW(upward_ranks(g, {}, rank), InvalidArgumentError);
  std::vector<double> four(4);
  const std::vector<double> weights{1, -1, 1, 1};
  EXPECT_THROW(upward_ranks(g, weights, four), InvalidArgumentError);
}

TEST(Waves, ChainHasOneNodePerWave) {
  const std::vector<Edge> edges{{0, 1}, {1, 2}, {2, 3}, {3, 4}};
  const Analysis a = analyze(Digraph(5, edges));
  EXPECT_THAT(a.level, ElementsAre(0, 1, 2, 3, 4));
  EXPECT_EQ(a.wave_count, 5u);
  EXPECT_THAT(waves(a), ElementsAre(ElementsAre(0), ElementsAre(1), ElementsAre(2), ElementsAre(3),
                                    ElementsAre(4)));
}

TEST(Waves, DiamondHasThreeWaves) {
  const Analysis a = analyze(Digraph(4, kDiamond));
  EXPECT_THAT(waves(a), ElementsAre(ElementsAre(0), ElementsAre(1, 2), ElementsAre(3)));
}

TEST(Waves, WideFanOutAndFanInInIncreasingIndexOrder) {
  // Source 100 fans out to 0..99 (given in decreasing order), which all feed sink 101.
  std::vector<Edge> edges;
  for (NodeIndex v = 100; v-- > 0;) edges.push_back({100, v});
  for (NodeIndex v = 0; v < 100; ++v) edges.push_back({v, 101});
  const Analysis a = analyze(Digraph(102, edges));
  EXPECT_EQ(a.wave_count, 3u);
  const auto w = waves(a);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_THAT(w[0], ElementsAre(100));
  std::vector<NodeIndex> middle(100);
  std::iota(middle.begin(), middle.end(), NodeIndex{0});
  EXPECT_EQ(w[1], middle);
  EXPECT_THAT(w[2], ElementsAre(101));
  // Waves list by index; the order follows the edges, which listed 99 first.
  EXPECT_EQ(a.order.front(), 100u);
  EXPECT_EQ(a.order[1], 99u);
  EXPECT_EQ(a.order.back(), 101u);
}

TEST(Waves, CyclicAnalysisThrows) {
  const std::vector<Edge> edges{{0, 1}, {1, 0}};
  const Analysis a = analyze(Digraph(2, edges));
  ASSERT_THAT(a.cycle, ElementsAre(0, 1, 0));
  EXPECT_THROW(waves(a), InvalidArgumentError);
}

TEST(CriticalPath, FollowsHeaviestPathWithWeights) {
  // 0 -> 1 -> 3 -> 5, 0 -> 2 -> {3, 4}, 4 -> 5, 6 -> 5.
  const std::vector<Edge> edges{{0, 1}, {0, 2}, {1, 3}, {2, 3}, {2, 4}, {3, 5}, {4, 5}, {6, 5}};
  const std::vector<double> weights{1, 1, 2, 1, 4, 1, 3};
  const Digraph g(7, edges);
  const Analysis a = analyze(g, weights);
  // ranks: r5 = 1, r4 = 5, r3 = 2, r2 = 7, r1 = 3, r0 = 8, r6 = 4.
  EXPECT_THAT(a.upward_rank, ElementsAre(8, 3, 7, 2, 5, 1, 4));
  const CriticalPath path = critical_path(g, a);
  EXPECT_THAT(path.nodes, ElementsAre(0, 2, 4, 5));
  EXPECT_EQ(path.length, 1 + 2 + 4 + 1);
}

TEST(CriticalPath, HeaviestSourceWinsEvenWithHigherIndex) {
  const std::vector<Edge> edges{{0, 1}, {2, 1}};
  const std::vector<double> weights{1, 1, 5};
  const Digraph g(3, edges);
  const CriticalPath path = critical_path(g, analyze(g, weights));
  EXPECT_THAT(path.nodes, ElementsAre(2, 1));
  EXPECT_EQ(path.length, 6);
}

TEST(CriticalPath, TiesGoToSmallerIndex) {
  // Sources 3 and 1 tie; from 1 the successors 5 and 2 (listed in that order) tie.
  const std::vector<Edge> edges{{3, 0}, {1, 5}, {1, 2}, {5, 4}, {2, 4}};
  const Digraph g(6, edges);
  const Analysis a = analyze(g, std::vector<double>{2, 1, 1, 1, 1, 1});
  ASSERT_EQ(a.upward_rank[3], a.upward_rank[1]);
  ASSERT_EQ(a.upward_rank[5], a.upward_rank[2]);
  const CriticalPath path = critical_path(g, a);
  EXPECT_THAT(path.nodes, ElementsAre(1, 2, 4));
  EXPECT_EQ(path.length, 3);
}

TEST(CriticalPath, UnitWeightsGiveLongestChain) {
  const std::vector<Edge> edges{{0, 3}, {0, 1}, {1, 2}, {2, 3}};
  const Digraph g(4, edges);
  const CriticalPath path = critical_path(g, analyze(g));
  EXPECT_THAT(path.nodes, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(path.length, 4);
}

TEST(CriticalPath, LengthIsTheSumOfFractionalWeights) {
  const std::vector<Edge> edges{{0, 1}, {1, 2}};
  const Digraph g(3, edges);
  const CriticalPath path = critical_path(g, analyze(g, std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_THAT(path.nodes, ElementsAre(0, 1, 2));
  EXPECT_DOUBLE_EQ(path.length, 0.6);
}

TEST(CriticalPath, IsARealSourceToSinkPathOnRandomDags) {
  std::mt19937 rng(11);
  for (int round = 0; round < 20; ++round) {
    const std::size_t n = 1 + rng() % 150;
    const RandomDag dag = random_dag(rng, n, rng() % (3 * n));
    const Digraph g(dag.n, dag.edges);
    std::vector<double> weights(n);
    for (double& w : weights) w = 0.5 * static_cast<double>(rng() % 8);
    const Analysis a = analyze(g, weights);
    const CriticalPath path = critical_path(g, a);
    ASSERT_FALSE(path.nodes.empty());
    EXPECT_EQ(g.in_degree(path.nodes.front()), 0u);
    EXPECT_EQ(g.out_degree(path.nodes.back()), 0u);
    double sum = 0;
    for (std::size_t i = 0; i < path.nodes.size(); ++i) {
      sum += weights[path.nodes[i]];
      if (i + 1 < path.nodes.size()) {
        const auto succ = g.successors(path.nodes[i]);
        EXPECT_NE(std::find(succ.begin(), succ.end(), path.nodes[i + 1]), succ.end());
      }
    }
    EXPECT_DOUBLE_EQ(path.length, sum);
    EXPECT_EQ(path.length, *std::max_element(a.upward_rank.begin(), a.upward_rank.end()));
  }
}

TEST(CriticalPath, CyclicAnalysisThrows) {
  const std::vector<Edge> edges{{0, 0}};
  const Digraph g(1, edges);
  EXPECT_THROW(critical_path(g, analyze(g)), InvalidArgumentError);
}

TEST(CriticalPath, AnalysisOfAnotherGraphThrows) {
  const Digraph small(2, {});
  const Digraph big(3, {});
  EXPECT_THROW(critical_path(big, analyze(small)), InvalidArgumentError);
}

}  // namespace
}  // namespace taskloom::graph
