// taskloom/graph/algorithms.hpp — O(V+E) DAG algorithms, no threads.
//
//   graph::Digraph g(n, edges);
//   graph::Analysis a = graph::analyze(g, weights);   // one Kahn pass
//   if (!a.cycle.empty()) { /* a.cycle = {2, 5, 7, 2} */ }
//   a.order;        // topological order
//   a.level;        // wave of each node (longest distance from a source, sources are 0)
//   a.upward_rank;  // weight of the heaviest path from the node to a sink, node included
//   graph::critical_path(g, a);   // {nodes, length}
// Weights are per-node costs (>= 0); an empty span means every node weighs 1.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "taskloom/graph/digraph.hpp"

namespace taskloom::graph {

struct Analysis {
  /// Kahn order: the sources by index, then each node as it becomes ready (first in, first
  /// out, successors in edge order), so the order is the same on every call. Holds every node
  /// only when the graph is acyclic.
  std::vector<NodeIndex> order;
  /// Wave of each node: 0 for sources, else 1 + max wave of its predecessors.
  std::vector<std::uint32_t> level;
  /// Number of waves (max level + 1; 0 for an empty graph).
  std::uint32_t wave_count = 0;
  /// weight(v) + max upward_rank of v's successors.
  std::vector<double> upward_rank;
  /// Empty for a DAG; otherwise one cycle, closed: {a, b, c, a}. When non-empty, level and
  /// upward_rank are unspecified.
  std::vector<NodeIndex> cycle;
};

/// Topological order, waves and upward ranks in O(V+E), or a cycle. Throws
/// InvalidArgumentError if `weights` is non-empty and its size differs from the node count or
/// holds a negative or non-finite weight.
Analysis analyze(const Digraph& g, std::span<const double> weights = {});

/// The upward ranks alone (analyze()'s upward_rank), written to `rank` (one entry per node):
/// what a scheduler needs before every run. When every edge goes from a lower index to a higher
/// one (a graph built in dependency order) this is one backward pass with no scratch memory.
/// Returns false, `rank` then unspecified, when `g` has a cycle. Throws InvalidArgumentError
/// for bad weights (as analyze()) or a `rank` of the wrong size.
bool upward_ranks(const Digraph& g, std::span<const double> weights, std::span<double> rank);

/// A cycle of `g`, closed ({a, b, a}; a self-loop is {a, a}), or nullopt for a DAG. O(V+E),
/// iterative (no recursion, so deep graphs cannot overflow the stack).
std::optional<std::vector<NodeIndex>> find_cycle(const Digraph& g);

/// Nodes grouped by wave, each wave in increasing index order. Requires an acyclic analysis.
std::vector<std::vector<NodeIndex>> waves(const Analysis& a);

struct CriticalPath {
  std::vector<NodeIndex> nodes;  ///< source to sink, along the heaviest path
  double length = 0;             ///< sum of the weights on it
};

/// The heaviest source-to-sink path, following upward ranks; ties go to the smaller index.
/// Requires an acyclic analysis of `g`.
CriticalPath critical_path(const Digraph& g, const Analysis& a);

}  // namespace taskloom::graph
