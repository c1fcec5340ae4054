#include "taskloom/graph/digraph.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "taskloom/core/error.hpp"

namespace taskloom::graph {
namespace {

// Node indices and CSR offsets are 32-bit; the node count itself must fit too, so that loops
// over `NodeIndex v < node_count` terminate.
constexpr std::size_t kMaxCount = std::numeric_limits<NodeIndex>::max();

[[noreturn]] void throw_bad_edge(std::size_t position, const Edge& e, std::size_t node_count) {
  const NodeIndex bad = e.from >= node_count ? e.from : e.to;
  std::string msg = "edge " + std::to_string(position) + " (" + std::to_string(e.from) + " -> " +
                    std::to_string(e.to) + ") names node " + std::to_string(bad) +
                    ", but the graph has " + std::to_string(node_count) +
                    (node_count == 1 ? " node" : " nodes");
  if (node_count > 0) msg += " (indices 0.." + std::to_string(node_count - 1) + ")";
  msg += " — raise the node count or fix the edge";
  throw InvalidArgumentError(msg);
}

// offsets[v + 1] holds the number of entries of v; turns it into the start of v's range.
void counts_to_starts(taskloom::detail::BlockVector<std::uint32_t>& offsets) {
  for (std::size_t v = 1; v < offsets.size(); ++v) offsets[v] += offsets[v - 1];
}

// After the fill pass offsets[v] has advanced to the end of v's range (the start of v + 1);
// shifting by one slot restores the starts.
void ends_to_starts(taskloom::detail::BlockVector<std::uint32_t>& offsets) {
  std::copy_backward(offsets.begin(), offsets.end() - 1, offsets.end());
  offsets[0] = 0;
}

}  // namespace

Digraph::Digraph(std::size_t node_count, std::span<const Edge> edges) {
  if (node_count > kMaxCount) {
    throw InvalidArgumentError("a graph holds at most " + std::to_string(kMaxCount) +
                               " nodes, not " + std::to_string(node_count) + " — split the graph");
  }
  if (edges.size() > kMaxCount) {
    throw InvalidArgumentError("a graph holds at most " + std::to_string(kMaxCount) +
                               " edges, not " + std::to_string(edges.size()) +
                               " — split the graph");
  }

  // Counting sort by source (successors) and by target (predecessors): one counting pass, one
  // prefix sum, one stable fill pass in edge-list order. Four vectors in all.
  succ_offsets_.assign(node_count + 1, 0);
  pred_offsets_.assign(node_count + 1, 0);
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const Edge e = edges[i];
    if (e.from >= node_count || e.to >= node_count) throw_bad_edge(i, e, node_count);
    ++succ_offsets_[std::size_t{e.from} + 1];
    ++pred_offsets_[std::size_t{e.to} + 1];
  }
  counts_to_starts(succ_offsets_);
  counts_to_starts(pred_offsets_);

  succ_.resize(edges.size());
  pred_.resize(edges.size());
  for (const Edge& e : edges) {
    succ_[succ_offsets_[e.from]++] = e.to;
    pred_[pred_offsets_[e.to]++] = e.from;
  }
  ends_to_starts(succ_offsets_);
  ends_to_starts(pred_offsets_);
}

}  // namespace taskloom::graph
