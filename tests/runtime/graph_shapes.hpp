// Graph shapes shared by the runtime tests: dependency lists generated independently of the
// runtime (so tests can check a run against them), and builders that turn them into a
// TaskGraph of anonymous tasks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "taskloom/runtime/task_graph.hpp"

namespace taskloom::runtime::testing {

/// deps[i] = the indices task i runs after (every index < i, so the shape is acyclic).
using DepLists = std::vector<std::vector<std::uint32_t>>;

/// `count` tasks; each depends on up to `max_deps` distinct earlier tasks chosen at random from
/// the `window` tasks before it (a window keeps the DAG deep rather than flat).
inline DepLists random_dag(std::size_t count, unsigned max_deps, std::uint32_t seed,
                           std::uint32_t window = 64) {
  std::mt19937 rng(seed);
  DepLists deps(count);
  for (std::uint32_t i = 1; i < count; ++i) {
    const std::uint32_t lo = i > window ? i - window : 0;
    std::uniform_int_distribution<std::uint32_t> pick(lo, i - 1);
    std::uniform_int_distribution<unsigned> how_many(0, max_deps);
    for (unsigned k = how_many(rng); k > 0; --k) {
      const std::uint32_t d = pick(rng);
      bool seen = false;
      for (std::uint32_t e : deps[i]) seen = seen || e == d;
      if (!seen) deps[i].push_back(d);
    }
  }
  return deps;
}

/// `depth` layers of `width` tasks; task (k, i) runs after (k-1, i) and (k-1, (i+1) % width).
/// Index of (k, i) is k * width + i.
inline DepLists layered(std::uint32_t width, std::uint32_t depth) {
  DepLists deps(std::size_t{width} * depth);
  for (std::uint32_t k = 1; k < depth; ++k) {
    for (std::uint32_t i = 0; i < width; ++i) {
      auto& d = deps[std::size_t{k} * width + i];
      d.push_back((k - 1) * width + i);
      if (width > 1) d.push_back((k - 1) * width + (i + 1) % width);
    }
  }
  return deps;
}

/// Adds one anonymous task per entry of `deps` (task i is the i-th task added after whatever
/// the graph already holds), with body `make_body(i)`, and wires the dependencies by handle.
template <class MakeBody>
std::vector<TaskHandle> build(TaskGraph& g, const DepLists& deps, MakeBody make_body) {
  std::vector<TaskHandle> handles;
  handles.reserve(deps.size());
  for (std::uint32_t i = 0; i < deps.size(); ++i) {
    handles.push_back(g.add(make_body(i)));
    for (std::uint32_t d : deps[i]) handles[i].succeed(handles[d]);
  }
  return handles;
}

/// Adds the diamond a -> {b, c} -> d by id with the given bodies.
template <class A, class B, class C, class D>
void diamond(TaskGraph& g, A a, B b, C c, D d) {
  g.add("a", std::move(a));
  g.add("b", std::move(b), {.after = {"a"}});
  g.add("c", std::move(c), {.after = {"a"}});
  g.add("d", std::move(d), {.after = {"b", "c"}});
}

using Edges = std::vector<std::pair<std::string, std::string>>;  ///< {runs first, runs after}

/// True when every consecutive pair of `path` is an edge of `edges`, in "runs before" order.
inline bool follows_edges(const std::vector<std::string>& path, const Edges& edges) {
  auto has = [&](const std::string& from, const std::string& to) {
    for (const auto& [f, t] : edges) {
      if (f == from && t == to) return true;
    }
    return false;
  };
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    if (!has(path[i], path[i + 1])) return false;
  }
  return true;
}

/// Same, in either direction ("runs before" or "depends on") — a cycle may be listed either way.
inline bool follows_edges_either_way(std::vector<std::string> path, const Edges& edges) {
  if (follows_edges(path, edges)) return true;
  std::reverse(path.begin(), path.end());
  return follows_edges(path, edges);
}

}  // namespace taskloom::runtime::testing
