#include "taskloom/graph/algorithms.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "taskloom/core/error.hpp"

namespace taskloom::graph {
namespace {

void check_weights(std::size_t node_count, std::span<const double> weights) {
  if (weights.empty()) return;
  if (weights.size() != node_count) {
    throw InvalidArgumentError("analyze: got " + std::to_string(weights.size()) +
                               " weights for a graph of " + std::to_string(node_count) +
                               " nodes — pass one weight per node, or none for weight 1 each");
  }
  for (std::size_t v = 0; v < weights.size(); ++v) {
    if (!std::isfinite(weights[v]) || weights[v] < 0) {
      std::ostringstream msg;
      msg << "analyze: node " << v << " has weight " << weights[v]
          << " — weights must be finite and >= 0";
      throw InvalidArgumentError(msg.str());
    }
  }
}

std::string cycle_text(const std::vector<NodeIndex>& cycle) {
  std::string out;
  for (std::size_t i = 0; i < cycle.size(); ++i) {
    if (i != 0) out += " -> ";
    out += std::to_string(cycle[i]);
  }
  return out;
}

void require_acyclic(const Analysis& a, const char* caller) {
  if (!a.cycle.empty()) {
    throw InvalidArgumentError(std::string(caller) + ": the graph has a cycle (" +
                               cycle_text(a.cycle) +
                               ") — remove one of its edges; this needs a DAG");
  }
}

/// Kahn's algorithm with `order` itself as the FIFO of ready nodes (sources by index, then each
/// node as it becomes ready). Fills `level` (the wave of each node) unless it is empty. `order`
/// ends short of the node count when the graph has a cycle.
template <class Order>
void kahn(const Digraph& g, Order& order, std::span<std::uint32_t> level) {
  const std::size_t n = g.node_count();
  taskloom::detail::BlockVector<std::uint32_t> remaining(n);  // predecessors not in the order
  for (NodeIndex v = 0; v < n; ++v) {
    remaining[v] = g.in_degree(v);
    if (remaining[v] == 0) order.push_back(v);
  }
  for (std::size_t head = 0; head < order.size(); ++head) {
    const NodeIndex u = order[head];
    for (const NodeIndex v : g.successors(u)) {
      if (!level.empty()) level[v] = std::max(level[v], level[u] + 1);
      if (--remaining[v] == 0) order.push_back(v);
    }
  }
}

double weight_of(std::span<const double> weights, NodeIndex v) noexcept {
  return weights.empty() ? 1.0 : weights[v];
}

/// Ranks the nodes in reverse topological `order`: every successor before its predecessors.
void rank_backwards(const Digraph& g, std::span<const double> weights,
                    std::span<const NodeIndex> order, std::span<double> rank) {
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const NodeIndex u = *it;
    double heaviest_successor = 0.0;
    for (const NodeIndex v : g.successors(u))
      heaviest_successor = std::max(heaviest_successor, rank[v]);
    rank[u] = weight_of(weights, u) + heaviest_successor;
  }
}

/// Ranks backwards by index, which works while every edge goes forwards (each successor is then
/// ranked already); false at the first edge that does not.
bool rank_by_index(const Digraph& g, std::span<const double> weights, std::span<double> rank) {
  for (std::size_t i = g.node_count(); i-- > 0;) {
    const auto u = static_cast<NodeIndex>(i);
    double heaviest_successor = 0.0;
    for (const NodeIndex v : g.successors(u)) {
      if (v <= u) return false;
      heaviest_successor = std::max(heaviest_successor, rank[v]);
    }
    rank[u] = weight_of(weights, u) + heaviest_successor;
  }
  return true;
}

}  // namespace

Analysis analyze(const Digraph& g, std::span<const double> weights) {
  const std::size_t n = g.node_count();
  check_weights(n, weights);

  Analysis a;
  a.order.reserve(n);
  a.level.assign(n, 0);

  kahn(g, a.order, a.level);

  a.upward_rank.assign(n, 0.0);
  if (a.order.size() != n) {
    // Some node never became ready, so it is on a cycle or downstream of one.
    a.cycle = *find_cycle(g);
    return a;
  }

  for (const std::uint32_t l : a.level) a.wave_count = std::max(a.wave_count, l + 1);
  rank_backwards(g, weights, a.order, a.upward_rank);
  return a;
}

bool upward_ranks(const Digraph& g, std::span<const double> weights, std::span<double> rank) {
  const std::size_t n = g.node_count();
  check_weights(n, weights);
  if (rank.size() != n) {
    throw InvalidArgumentError("upward_ranks: got room for " + std::to_string(rank.size()) +
                               " ranks for a graph of " + std::to_string(n) +
                               " nodes — pass one entry per node");
  }
  if (rank_by_index(g, weights, rank)) return true;

  taskloom::detail::BlockVector<NodeIndex> order;
  order.reserve(n);
  kahn(g, order, {});
  if (order.size() != n) return false;
  rank_backwards(g, weights, order, rank);
  return true;
}

std::optional<std::vector<NodeIndex>> find_cycle(const Digraph& g) {
  enum Colour : std::uint8_t { kWhite, kGrey, kBlack };  // unvisited, on the stack, finished
  struct Frame {
    NodeIndex node;
    std::uint32_t next;  // position in successors(node) of the next edge to follow
  };

  const std::size_t n = g.node_count();
  std::vector<std::uint8_t> colour(n, kWhite);
  std::vector<Frame> stack;
  for (NodeIndex root = 0; root < n; ++root) {
    if (colour[root] != kWhite) continue;
    colour[root] = kGrey;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      Frame& top = stack.back();
      const auto successors = g.successors(top.node);
      if (top.next == successors.size()) {
        colour[top.node] = kBlack;
        stack.pop_back();
        continue;
      }
      const NodeIndex v = successors[top.next++];
      if (colour[v] == kWhite) {
        colour[v] = kGrey;
        stack.push_back({v, 0});  // `top` is not used past this point
      } else if (colour[v] == kGrey) {
        // A back edge top.node -> v: the stack from v up to top.node is a path, closed by v.
        auto first =
            std::find_if(stack.rbegin(), stack.rend(), [v](const Frame& f) { return f.node == v; });
        std::vector<NodeIndex> cycle;
        cycle.reserve(static_cast<std::size_t>(first - stack.rbegin()) + 2);
        for (auto f = first.base() - 1; f != stack.end(); ++f) cycle.push_back(f->node);
        cycle.push_back(v);
        return cycle;
      }
    }
  }
  return std::nullopt;
}

std::vector<std::vector<NodeIndex>> waves(const Analysis& a) {
  require_acyclic(a, "waves");
  std::vector<std::vector<NodeIndex>> result(a.wave_count);
  std::vector<std::size_t> sizes(a.wave_count, 0);
  for (const std::uint32_t level : a.level) {
    if (level >= a.wave_count) {
      throw InvalidArgumentError("waves: a node has level " + std::to_string(level) +
                                 " but the analysis has " + std::to_string(a.wave_count) +
                                 " waves — pass an Analysis returned by analyze()");
    }
    ++sizes[level];
  }
  for (std::size_t w = 0; w < result.size(); ++w) result[w].reserve(sizes[w]);
  for (NodeIndex v = 0; v < a.level.size(); ++v) result[a.level[v]].push_back(v);
  return result;
}

CriticalPath critical_path(const Digraph& g, const Analysis& a) {
  require_acyclic(a, "critical_path");
  const std::size_t n = g.node_count();
  if (a.upward_rank.size() != n) {
    throw InvalidArgumentError("critical_path: the analysis covers " +
                               std::to_string(a.upward_rank.size()) + " nodes but the graph has " +
                               std::to_string(n) + " — pass the analysis of this graph");
  }
  CriticalPath path;
  if (n == 0) return path;

  const auto& rank = a.upward_rank;
  // Heaviest source; scanning in index order with a strict comparison keeps the smaller index.
  NodeIndex start = 0;
  bool found = false;
  for (NodeIndex v = 0; v < n; ++v) {
    if (g.in_degree(v) == 0 && (!found || rank[v] > rank[start])) {
      start = v;
      found = true;
    }
  }
  if (!found) {
    throw InvalidArgumentError(
        "critical_path: the graph has no source, so it is not the DAG the analysis describes — "
        "pass the analysis of this graph");
  }

  NodeIndex v = start;
  while (true) {
    path.nodes.push_back(v);
    if (path.nodes.size() > n) {
      throw InvalidArgumentError(
          "critical_path: the path revisits a node, so the graph is not the DAG the analysis "
          "describes — pass the analysis of this graph");
    }
    const auto successors = g.successors(v);
    if (successors.empty()) break;
    NodeIndex next = successors.front();
    for (const NodeIndex s : successors) {
      if (rank[s] > rank[next] || (rank[s] == rank[next] && s < next)) next = s;
    }
    v = next;
  }
  // upward_rank[start] = w(start) + upward_rank[next] = ... : the sum of the path's weights,
  // accumulated from the sink back, exactly as analyze() added them.
  path.length = rank[start];
  return path;
}

}  // namespace taskloom::graph
