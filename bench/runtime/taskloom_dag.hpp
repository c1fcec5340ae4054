// bench/runtime/taskloom_dag.hpp — the taskloom side of runtime_bench.
//
// Anonymous tasks by handle (TaskGraph::add(body), TaskHandle::precede), the fastest way the
// API offers to build a large graph, run with default RunOptions.
#pragma once

#include <cstdint>
#include <vector>

#include <taskloom/runtime/executor.hpp>
#include <taskloom/runtime/task_graph.hpp>

#include "workloads.hpp"

namespace taskloom::bench {

template <class MakeBody>
void run_dag_taskloom(runtime::Executor& executor, const Dag& dag, MakeBody&& make_body) {
  runtime::TaskGraph graph;
  std::vector<runtime::TaskHandle> tasks;
  tasks.reserve(dag.nodes);
  for (std::uint32_t v = 0; v < dag.nodes; ++v) tasks.push_back(graph.add(make_body(v)));
  for (std::size_t e = 0; e < dag.edges(); ++e) tasks[dag.from[e]].precede(tasks[dag.to[e]]);
  executor.run(graph).wait();
}

}  // namespace taskloom::bench
