// 1M-node graphs: analyze() and find_cycle() stay correct (and iterative) at scale. No timing
// assertions; see the performance notes in the report for measured times.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "taskloom/graph/algorithms.hpp"

namespace taskloom::graph {
namespace {

constexpr std::size_t kNodes = 1'000'000;

std::vector<Edge> chain_edges(std::size_t n) {
  std::vector<Edge> edges;
  edges.reserve(n);
  for (NodeIndex v = 1; v < n; ++v) edges.push_back({v - 1, v});
  return edges;
}

TEST(LargeGraph, MillionNodeChain) {
  const Digraph g(kNodes, chain_edges(kNodes));
  const Analysis a = analyze(g);
  ASSERT_TRUE(a.cycle.empty());
  ASSERT_EQ(a.order.size(), kNodes);
  EXPECT_EQ(a.wave_count, kNodes);
  for (NodeIndex v = 0; v < kNodes; ++v) {
    ASSERT_EQ(a.order[v], v);
    ASSERT_EQ(a.level[v], v);
    ASSERT_EQ(a.upward_rank[v], static_cast<double>(kNodes - v));
  }
  const CriticalPath path = critical_path(g, a);
  EXPECT_EQ(path.nodes.size(), kNodes);
  EXPECT_EQ(path.nodes.front(), 0u);
  EXPECT_EQ(path.nodes.back(), kNodes - 1);
  EXPECT_EQ(path.length, static_cast<double>(kNodes));
  EXPECT_EQ(find_cycle(g), std::nullopt);
}

TEST(LargeGraph, MillionNodeRingIsFoundWithoutRecursion) {
  // A chain closed back to its start: a depth-first search must go 1M deep.
  std::vector<Edge> edges = chain_edges(kNodes);
  edges.push_back({static_cast<NodeIndex>(kNodes - 1), 0});
  const Digraph g(kNodes, edges);
  const auto cycle = find_cycle(g);
  ASSERT_TRUE(cycle.has_value());
  ASSERT_EQ(cycle->size(), kNodes + 1);
  for (NodeIndex v = 0; v < kNodes; ++v) ASSERT_EQ((*cycle)[v], v);
  EXPECT_EQ(cycle->back(), 0u);

  const Analysis a = analyze(g);
  EXPECT_EQ(a.cycle, *cycle);
  EXPECT_TRUE(a.order.empty());  // every node depends on the ring
}

TEST(LargeGraph, MillionNodeRandomDag) {
  // About 4M edges between random positions of a shuffled order.
  std::mt19937_64 rng(123);
  std::vector<NodeIndex> perm(kNodes);
  std::iota(perm.begin(), perm.end(), NodeIndex{0});
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<Edge> edges;
  edges.reserve(4 * kNodes);
  for (std::size_t i = 1; i < kNodes; ++i) {
    for (int k = 0; k < 4; ++k) {
      const std::size_t from = std::uniform_int_distribution<std::size_t>(0, i - 1)(rng);
      edges.push_back({perm[from], perm[i]});
    }
  }
  const Digraph g(kNodes, edges);
  ASSERT_EQ(g.edge_count(), edges.size());
  const Analysis a = analyze(g);
  ASSERT_TRUE(a.cycle.empty());
  ASSERT_EQ(a.order.size(), kNodes);

  std::vector<std::uint32_t> position(kNodes, UINT32_MAX);
  for (std::uint32_t i = 0; i < kNodes; ++i) {
    ASSERT_EQ(position[a.order[i]], UINT32_MAX) << "node " << a.order[i] << " twice";
    position[a.order[i]] = i;
  }
  std::uint32_t max_level = 0;
  for (NodeIndex u = 0; u < kNodes; ++u) {
    std::uint32_t level = 0;
    for (const NodeIndex p : g.predecessors(u)) level = std::max(level, a.level[p] + 1);
    ASSERT_EQ(a.level[u], level) << "node " << u;
    max_level = std::max(max_level, level);
    double heaviest = 0;
    for (const NodeIndex v : g.successors(u)) {
      ASSERT_LT(position[u], position[v]) << "edge " << u << " -> " << v << " goes backward";
      heaviest = std::max(heaviest, a.upward_rank[v]);
    }
    ASSERT_EQ(a.upward_rank[u], 1 + heaviest) << "node " << u;
  }
  EXPECT_EQ(a.wave_count, max_level + 1);

  const auto w = waves(a);
  ASSERT_EQ(w.size(), a.wave_count);
  std::size_t total = 0;
  for (const auto& wave : w) {
    total += wave.size();
    EXPECT_TRUE(std::is_sorted(wave.begin(), wave.end()));
  }
  EXPECT_EQ(total, kNodes);

  const CriticalPath path = critical_path(g, a);
  EXPECT_EQ(path.length, static_cast<double>(a.wave_count));  // unit weights
  EXPECT_EQ(path.nodes.size(), a.wave_count);
  EXPECT_EQ(find_cycle(g), std::nullopt);
}

}  // namespace
}  // namespace taskloom::graph
