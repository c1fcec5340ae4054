// bench/runtime/taskflow_dag.hpp — the Taskflow side of runtime_bench, built only when CMake
// is given a Taskflow source tree (-DTASKLOOM_TASKFLOW_DIR=DIR, or bench/compare --taskflow
// DIR). Nothing of Taskflow is vendored or downloaded.
//
// One tf::Taskflow per run, emplace() per task, precede() per dependency, run().wait() on a
// tf::Executor made once per benchmark, as Taskflow's own benchmarks do.
#pragma once

#include <cstdint>
#include <taskflow/taskflow.hpp>
#include <vector>

#include "workloads.hpp"

namespace taskloom::bench {

template <class MakeBody>
void run_dag_taskflow(tf::Executor& executor, const Dag& dag, MakeBody&& make_body) {
  tf::Taskflow taskflow;
  std::vector<tf::Task> tasks;
  tasks.reserve(dag.nodes);
  for (std::uint32_t v = 0; v < dag.nodes; ++v) tasks.push_back(taskflow.emplace(make_body(v)));
  for (std::size_t e = 0; e < dag.edges(); ++e) tasks[dag.from[e]].precede(tasks[dag.to[e]]);
  executor.run(taskflow).wait();
}

}  // namespace taskloom::bench
