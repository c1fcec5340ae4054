// bench/runtime/tbb_flow.hpp — the oneTBB flow-graph side of runtime_bench.
//
// One continue_node<continue_msg> per task, make_edge per dependency, try_put into every
// source, wait_for_all(). The caller limits TBB's threads with tbb::global_control.
#pragma once

#include <oneapi/tbb/flow_graph.h>

#include <cstdint>
#include <deque>
#include <vector>

#include "workloads.hpp"

namespace taskloom::bench {

template <class MakeBody>
void run_dag_tbb(const Dag& dag, MakeBody&& make_body) {
  using Node = tbb::flow::continue_node<tbb::flow::continue_msg>;
  tbb::flow::graph graph;
  std::deque<Node> nodes;  // declared after graph: the nodes go first
  for (std::uint32_t v = 0; v < dag.nodes; ++v) {
    nodes.emplace_back(graph, [body = make_body(v)](const tbb::flow::continue_msg&) { body(); });
  }
  std::vector<bool> has_predecessor(dag.nodes, false);
  for (std::size_t e = 0; e < dag.edges(); ++e) {
    tbb::flow::make_edge(nodes[dag.from[e]], nodes[dag.to[e]]);
    has_predecessor[dag.to[e]] = true;
  }
  for (std::uint32_t v = 0; v < dag.nodes; ++v) {
    if (!has_predecessor[v]) nodes[v].try_put(tbb::flow::continue_msg());
  }
  graph.wait_for_all();
}

}  // namespace taskloom::bench
