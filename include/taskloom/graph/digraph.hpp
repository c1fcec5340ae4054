// taskloom/graph/digraph.hpp — an immutable directed graph in compressed sparse row form.
//
// Nodes are dense indices 0..n-1; an edge u -> v means "v runs after u". Built once from an
// edge list in O(V+E) (counting sort, no per-node allocation); successors and predecessors
// keep the order the edges were given in, so every algorithm over a Digraph is deterministic.
//   std::vector<graph::Edge> edges{{0, 1}, {1, 2}};
//   graph::Digraph g(3, edges);
//   g.successors(0);   // {1}
// Thread-safety: a const Digraph may be read from any number of threads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "taskloom/core/detail/block_allocator.hpp"

namespace taskloom::graph {

using NodeIndex = std::uint32_t;

struct Edge {
  NodeIndex from;
  NodeIndex to;
  friend bool operator==(const Edge&, const Edge&) = default;
};

class Digraph {
 public:
  Digraph() = default;
  /// Throws InvalidArgumentError if an edge names a node >= node_count.
  Digraph(std::size_t node_count, std::span<const Edge> edges);

  std::size_t node_count() const noexcept {
    return succ_offsets_.empty() ? 0 : succ_offsets_.size() - 1;
  }
  std::size_t edge_count() const noexcept { return succ_.size(); }

  std::span<const NodeIndex> successors(NodeIndex v) const noexcept {
    return {succ_.data() + succ_offsets_[v], succ_.data() + succ_offsets_[v + 1]};
  }
  std::span<const NodeIndex> predecessors(NodeIndex v) const noexcept {
    return {pred_.data() + pred_offsets_[v], pred_.data() + pred_offsets_[v + 1]};
  }
  std::uint32_t in_degree(NodeIndex v) const noexcept {
    return pred_offsets_[v + 1] - pred_offsets_[v];
  }
  std::uint32_t out_degree(NodeIndex v) const noexcept {
    return succ_offsets_[v + 1] - succ_offsets_[v];
  }

 private:
  // Sized by the graph: in cached blocks (taskloom/core/memory.hpp).
  taskloom::detail::BlockVector<std::uint32_t> succ_offsets_, pred_offsets_;  // node_count + 1
  taskloom::detail::BlockVector<NodeIndex> succ_, pred_;
};

}  // namespace taskloom::graph
