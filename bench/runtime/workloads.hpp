// bench/runtime/workloads.hpp — the DAG shapes every system of runtime_bench runs.
//
// A workload is an edge list over dense node indices, generated once outside the timed loop;
// each system then builds its own graph from it, runs it and tears it down inside the loop.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace taskloom::bench {

struct Dag {
  std::uint32_t nodes = 0;
  std::vector<std::uint32_t> from, to;  // edge i is from[i] -> to[i]: to runs after from
  std::vector<std::uint32_t> in_degree;

  void add_edge(std::uint32_t u, std::uint32_t v) {
    from.push_back(u);
    to.push_back(v);
    ++in_degree[v];
  }
  std::size_t edges() const { return from.size(); }
};

inline Dag empty_dag(std::uint32_t n) {
  Dag d;
  d.nodes = n;
  d.in_degree.assign(n, 0);
  return d;
}

/// 0 -> 1 -> ... -> n-1.
inline Dag chain(std::uint32_t n) {
  Dag d = empty_dag(n);
  for (std::uint32_t i = 0; i + 1 < n; ++i) d.add_edge(i, i + 1);
  return d;
}

/// n tasks and no edges.
inline Dag independent(std::uint32_t n) {
  return empty_dag(n);
}

/// A complete binary tree of the given depth (2^depth - 1 nodes); the root fans out.
inline Dag binary_tree(unsigned depth) {
  const std::uint32_t n = (1u << depth) - 1;
  Dag d = empty_dag(n);
  for (std::uint32_t i = 0; 2 * i + 2 < n; ++i) {
    d.add_edge(i, 2 * i + 1);
    d.add_edge(i, 2 * i + 2);
  }
  return d;
}

/// A side x side grid; cell (r, c) runs after (r-1, c) and (r, c-1).
inline Dag wavefront(std::uint32_t side) {
  Dag d = empty_dag(side * side);
  for (std::uint32_t r = 0; r < side; ++r) {
    for (std::uint32_t c = 0; c < side; ++c) {
      const std::uint32_t v = r * side + c;
      if (r > 0) d.add_edge(v - side, v);
      if (c > 0) d.add_edge(v - 1, v);
    }
  }
  return d;
}

/// n tasks, each after up to `max_preds` distinct earlier tasks chosen at random (fixed seed).
inline Dag random_dag(std::uint32_t n, unsigned max_preds, std::uint64_t seed = 20240601) {
  Dag d = empty_dag(n);
  std::mt19937_64 rng(seed);
  std::vector<std::uint32_t> picked;
  for (std::uint32_t v = 1; v < n; ++v) {
    const unsigned k = static_cast<unsigned>(rng() % (max_preds + 1));
    picked.clear();
    for (unsigned j = 0; j < k; ++j) {
      const auto u = static_cast<std::uint32_t>(rng() % v);
      bool seen = false;
      for (std::uint32_t p : picked) seen = seen || p == u;
      if (!seen) {
        picked.push_back(u);
        d.add_edge(u, v);
      }
    }
  }
  return d;
}

/// Predecessor lists in compressed form, for checking that a run kept the dependencies.
struct Predecessors {
  std::vector<std::uint32_t> offsets, nodes;
  explicit Predecessors(const Dag& d) : offsets(d.nodes + 1, 0), nodes(d.edges()) {
    for (std::uint32_t v = 0; v < d.nodes; ++v) offsets[v + 1] = offsets[v] + d.in_degree[v];
    std::vector<std::uint32_t> fill(offsets.begin(), offsets.end() - 1);
    for (std::size_t e = 0; e < d.edges(); ++e) nodes[fill[d.to[e]]++] = d.from[e];
  }
};

}  // namespace taskloom::bench
