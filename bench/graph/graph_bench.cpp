// bench/graph/graph_bench.cpp — graph::analyze (Kahn order, waves, upward ranks) on large DAGs.
//
//   BM_Analyze_Chain       1,000,000 nodes in one chain
//   BM_Analyze_RandomDag   1,000,000 nodes, each after up to 4 earlier ones (fixed seed)
// The Digraph is built once, outside the timed loop; single-threaded.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include <taskloom/graph/algorithms.hpp>
#include <taskloom/graph/digraph.hpp>

#include "../runtime/workloads.hpp"

namespace {

using taskloom::bench::Dag;
namespace graph = taskloom::graph;

graph::Digraph to_digraph(const Dag& dag) {
  std::vector<graph::Edge> edges(dag.edges());
  for (std::size_t e = 0; e < dag.edges(); ++e) edges[e] = {dag.from[e], dag.to[e]};
  return graph::Digraph(dag.nodes, edges);
}

void analyze_benchmark(benchmark::State& state, const Dag& dag) {
  const graph::Digraph g = to_digraph(dag);
  for (auto _ : state) {
    graph::Analysis analysis = graph::analyze(g);
    if (!analysis.cycle.empty() || analysis.order.size() != dag.nodes) {
      state.SkipWithError("analyze did not return a full topological order");
      break;
    }
    benchmark::DoNotOptimize(analysis.wave_count);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(dag.nodes));
  state.counters["nodes"] = dag.nodes;
  state.counters["edges"] = static_cast<double>(dag.edges());
}

void BM_Analyze_Chain(benchmark::State& state) {
  static const Dag dag = taskloom::bench::chain(1'000'000);
  analyze_benchmark(state, dag);
}
BENCHMARK(BM_Analyze_Chain)->UseRealTime()->Iterations(20)->Unit(benchmark::kMillisecond);

void BM_Analyze_RandomDag(benchmark::State& state) {
  static const Dag dag = taskloom::bench::random_dag(1'000'000, 4);
  analyze_benchmark(state, dag);
}
BENCHMARK(BM_Analyze_RandomDag)->UseRealTime()->Iterations(20)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
