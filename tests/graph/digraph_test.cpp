#include "taskloom/graph/digraph.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "taskloom/core/error.hpp"

namespace taskloom::graph {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<NodeIndex> to_vector(std::span<const NodeIndex> s) {
  return {s.begin(), s.end()};
}

TEST(Digraph, HeaderExample) {
  const std::vector<Edge> edges{{0, 1}, {1, 2}};
  const Digraph g(3, edges);
  EXPECT_EQ(g.node_count(), 3u);
  EXPECT_EQ(g.edge_count(), 2u);
  EXPECT_THAT(to_vector(g.successors(0)), ElementsAre(1));
  EXPECT_THAT(to_vector(g.successors(1)), ElementsAre(2));
  EXPECT_THAT(to_vector(g.successors(2)), IsEmpty());
  EXPECT_THAT(to_vector(g.predecessors(0)), IsEmpty());
  EXPECT_THAT(to_vector(g.predecessors(2)), ElementsAre(1));
}

TEST(Digraph, DegreesMatchAdjacency) {
  const std::vector<Edge> edges{{0, 1}, {0, 2}, {1, 3}, {2, 3}};
  const Digraph g(4, edges);
  EXPECT_EQ(g.out_degree(0), 2u);
  EXPECT_EQ(g.in_degree(0), 0u);
  EXPECT_EQ(g.in_degree(3), 2u);
  EXPECT_EQ(g.out_degree(3), 0u);
  EXPECT_EQ(g.in_degree(1), 1u);
  EXPECT_EQ(g.out_degree(1), 1u);
}

TEST(Digraph, SuccessorsAndPredecessorsKeepEdgeListOrder) {
  // Neither list is sorted by index: both follow the order the edges were given in.
  const std::vector<Edge> edges{{0, 3}, {2, 1}, {0, 1}, {1, 3}, {0, 2}, {4, 1}};
  const Digraph g(5, edges);
  EXPECT_THAT(to_vector(g.successors(0)), ElementsAre(3, 1, 2));
  EXPECT_THAT(to_vector(g.predecessors(1)), ElementsAre(2, 0, 4));
  EXPECT_THAT(to_vector(g.predecessors(3)), ElementsAre(0, 1));
}

TEST(Digraph, DuplicateEdgesAreKept) {
  const std::vector<Edge> edges{{0, 1}, {0, 1}, {1, 2}, {0, 1}};
  const Digraph g(3, edges);
  EXPECT_EQ(g.edge_count(), 4u);
  EXPECT_THAT(to_vector(g.successors(0)), ElementsAre(1, 1, 1));
  EXPECT_THAT(to_vector(g.predecessors(1)), ElementsAre(0, 0, 0));
  EXPECT_EQ(g.in_degree(1), 3u);
}

TEST(Digraph, SelfLoopIsBothSuccessorAndPredecessor) {
  const std::vector<Edge> edges{{1, 1}};
  const Digraph g(2, edges);
  EXPECT_THAT(to_vector(g.successors(1)), ElementsAre(1));
  EXPECT_THAT(to_vector(g.predecessors(1)), ElementsAre(1));
}

TEST(Digraph, MatchesNaiveAdjacencyListsOnRandomGraphs) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    const std::size_t n = 1 + rng() % 60;
    std::uniform_int_distribution<NodeIndex> node(0, static_cast<NodeIndex>(n - 1));
    std::vector<Edge> edges(rng() % 300);
    for (Edge& e : edges) e = {node(rng), node(rng)};
    std::vector<std::vector<NodeIndex>> succ(n), pred(n);
    for (const Edge& e : edges) {
      succ[e.from].push_back(e.to);
      pred[e.to].push_back(e.from);
    }
    const Digraph g(n, edges);
    ASSERT_EQ(g.node_count(), n);
    ASSERT_EQ(g.edge_count(), edges.size());
    for (NodeIndex v = 0; v < n; ++v) {
      EXPECT_EQ(to_vector(g.successors(v)), succ[v]) << "node " << v;
      EXPECT_EQ(to_vector(g.predecessors(v)), pred[v]) << "node " << v;
      EXPECT_EQ(g.out_degree(v), succ[v].size());
      EXPECT_EQ(g.in_degree(v), pred[v].size());
    }
  }
}

TEST(Digraph, EmptyGraph) {
  const Digraph by_default;
  EXPECT_EQ(by_default.node_count(), 0u);
  EXPECT_EQ(by_default.edge_count(), 0u);
  const Digraph no_nodes(0, {});
  EXPECT_EQ(no_nodes.node_count(), 0u);
  EXPECT_EQ(no_nodes.edge_count(), 0u);
}

TEST(Digraph, NodesWithoutEdges) {
  const Digraph g(4, {});
  EXPECT_EQ(g.node_count(), 4u);
  EXPECT_EQ(g.edge_count(), 0u);
  for (NodeIndex v = 0; v < 4; ++v) {
    EXPECT_THAT(to_vector(g.successors(v)), IsEmpty());
    EXPECT_THAT(to_vector(g.predecessors(v)), IsEmpty());
  }
}

TEST(Digraph, TargetOutOfRangeThrowsNamingEdgeAndNodeCount) {
  const std::vector<Edge> edges{{0, 1}, {1, 3}};
  try {
    const Digraph g(3, edges);
    FAIL() << "no exception";
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(std::string(e.what()),
              "edge 1 (1 -> 3) names node 3, but the graph has 3 nodes (indices 0..2) — raise "
              "the node count or fix the edge");
  }
}

TEST(Digraph, SourceOutOfRangeThrows) {
  const std::vector<Edge> edges{{7, 0}};
  EXPECT_THROW(Digraph(2, edges), InvalidArgumentError);
}

TEST(Digraph, AnyEdgeInAGraphWithoutNodesThrows) {
  const std::vector<Edge> edges{{0, 0}};
  try {
    const Digraph g(0, edges);
    FAIL() << "no exception";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("has 0 nodes"), std::string::npos) << e.what();
  }
}

TEST(Digraph, CopiesAreIndependentValues) {
  const std::vector<Edge> edges{{0, 1}, {1, 2}};
  Digraph a(3, edges);
  const Digraph b = a;
  a = Digraph(1, {});
  EXPECT_EQ(b.node_count(), 3u);
  EXPECT_THAT(to_vector(b.successors(1)), ElementsAre(2));
  EXPECT_EQ(a.node_count(), 1u);
}

}  // namespace
}  // namespace taskloom::graph
