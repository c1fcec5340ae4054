// bench/cluster/cluster_bench.cpp — the cluster simulator on a real trace and a large queue.
//
//   BM_Cluster_MetacentrumEasy     replays the whole MetaCentrum 2013 trace (17,900 jobs, 21-field
//                                  SWF, 68 nodes from its .machines file) with FCFS + EASY
//                                  backfilling and first-fit placement; target < 2 s. The trace
//                                  is read once, outside the timed loop.
//   BM_Cluster_MetacentrumRead     reads and converts that trace (the SWF reader alone).
//   BM_Cluster_Metacentrum<Queue><Backfill><Forecaster>, e.g. ..MultifactorConservativeRecent:
//                                  the same replay under every registered queue order x backfill
//                                  (none, easy, conservative, easy:order=shortest as
//                                  "EasyShortest") x forecaster, first-fit placement; and
//   BM_Cluster_MetacentrumPlacement<Name>  every placement with FCFS + EASY; target: each
//                                  combination < 1 s (issue 13). One iteration each.
//   BM_Cluster_BestFitQueue        100,000 jobs queued at time 0 on 10,000 nodes (synthetic,
//                                  seeded), FCFS with best-fit placement and no backfilling: the
//                                  scheduler places the whole queue, pass after pass, until every
//                                  job has run. Counter `decisions_per_s` = placement decisions /
//                                  wall time; target >= 100,000/s.
// Counters: jobs, events, placement decisions per iteration and their rates.
//
//   cluster_bench [google-benchmark flags]
// The trace is found through TASKLOOM_SHARED_DATA (the build's ../shared/data), or the
// environment variable of that name.
#include <benchmark/benchmark.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include <taskloom/cluster/policies.hpp>
#include <taskloom/cluster/simulator.hpp>
#include <taskloom/cluster/synthetic.hpp>
#include <taskloom/cluster/workload.hpp>

namespace taskloom::bench {
namespace {

using namespace taskloom::cluster;

std::filesystem::path shared_data(const char* relative) {
  if (const char* env = std::getenv("TASKLOOM_SHARED_DATA")) {
    return std::filesystem::path(env) / relative;
  }
  return std::filesystem::path(TASKLOOM_SHARED_DATA) / relative;
}

const std::filesystem::path& metacentrum() {
  static const std::filesystem::path path = shared_data("swf/alea-metacentrum-wagap-2013.swf");
  return path;
}

// Users clone only the repository: without the shared data the trace benchmarks say so and skip.
bool have_metacentrum(benchmark::State& state) {
  if (std::filesystem::exists(metacentrum())) return true;
  state.SkipWithError(("skipped: " + metacentrum().string() +
                       " is absent (set TASKLOOM_SHARED_DATA to the shared data folder)")
                          .c_str());
  return false;
}

void report(benchmark::State& state, const Metrics& m) {
  state.counters["jobs"] = static_cast<double>(m.jobs);
  state.counters["events"] = static_cast<double>(m.events);
  state.counters["decisions"] = static_cast<double>(m.placement_decisions);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(m.events) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["decisions_per_s"] = benchmark::Counter(
      static_cast<double>(m.placement_decisions) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

void BM_Cluster_MetacentrumEasy(benchmark::State& state) {
  if (!have_metacentrum(state)) return;
  ClusterSpec cluster = read_cluster(*machines_sibling(metacentrum()));
  Workload w = read_swf(metacentrum());
  exclude_unplaceable(w, cluster.nodes);
  add_missing_partitions(cluster, w);
  SimulationOptions options;
  options.backfill = {"easy", {}};
  options.check_invariants = false;
  Metrics last;
  for (auto _ : state) {
    SimulationResult r = simulate(cluster.nodes, cluster.partitions, w.jobs, options);
    benchmark::DoNotOptimize(r.metrics.mean_wait_s);
    last = r.metrics;
  }
  report(state, last);
}
BENCHMARK(BM_Cluster_MetacentrumEasy)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();

// "least_slack" -> "LeastSlack": benchmark names that bench/compare reads as one case.
std::string camel(const std::string& name) {
  std::string out;
  bool up = true;
  for (char c : name) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

void metacentrum_with(benchmark::State& state, SimulationOptions options) {
  if (!have_metacentrum(state)) return;
  static const auto inputs = [] {
    ClusterSpec cluster = read_cluster(*machines_sibling(metacentrum()));
    Workload w = read_swf(metacentrum());
    exclude_unplaceable(w, cluster.nodes);
    add_missing_partitions(cluster, w);
    return std::pair{cluster, w};
  }();
  options.check_invariants = false;
  Metrics last;
  for (auto _ : state) {
    SimulationResult r =
        simulate(inputs.first.nodes, inputs.first.partitions, inputs.second.jobs, options);
    benchmark::DoNotOptimize(r.metrics.mean_wait_s);
    last = r.metrics;
  }
  report(state, last);
}

const bool kCombinations = [] {
  for (const std::string& q : policy_names(PolicyKind::kQueue)) {
    for (const std::string b : {"none", "easy", "conservative", "easy:order=shortest"}) {
      for (const std::string& f : policy_names(PolicyKind::kForecaster)) {
        SimulationOptions o;
        o.queue = {q, {}};
        o.backfill = parse_policy_choice(b);
        o.forecaster = {f, {}};
        const std::string backfill =
            b == std::string("easy:order=shortest") ? "EasyShortest" : camel(b);
        benchmark::RegisterBenchmark(
            ("BM_Cluster_Metacentrum" + camel(q) + backfill + camel(f)).c_str(),
            [o](benchmark::State& s) { metacentrum_with(s, o); })
            ->Unit(benchmark::kMillisecond)
            ->Iterations(1)
            ->UseRealTime();
      }
    }
  }
  for (const std::string& p : policy_names(PolicyKind::kPlacement)) {
    SimulationOptions o;
    o.placement = {p, {}};
    o.backfill = {"easy", {}};
    benchmark::RegisterBenchmark(("BM_Cluster_MetacentrumPlacement" + camel(p)).c_str(),
                                 [o](benchmark::State& s) { metacentrum_with(s, o); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->UseRealTime();
  }
  return true;
}();

void BM_Cluster_MetacentrumRead(benchmark::State& state) {
  if (!have_metacentrum(state)) return;
  std::size_t jobs = 0;
  for (auto _ : state) {
    Workload w = read_swf(metacentrum());
    jobs = w.jobs.size();
    benchmark::DoNotOptimize(w.jobs.data());
  }
  state.counters["jobs"] = static_cast<double>(jobs);
}
BENCHMARK(BM_Cluster_MetacentrumRead)->Unit(benchmark::kMillisecond)->Iterations(10)->UseRealTime();

void BM_Cluster_BestFitQueue(benchmark::State& state) {
  const auto nodes = synthetic_nodes({.nodes = 10'000});
  const auto jobs = synthetic_jobs({.jobs = 100'000, .seed = 7, .all_at_zero = true});
  SimulationOptions options;
  options.placement = {"best_fit", {}};
  options.check_invariants = false;
  Metrics last;
  for (auto _ : state) {
    SimulationResult r = simulate(nodes, {}, jobs, options);
    benchmark::DoNotOptimize(r.metrics.mean_wait_s);
    last = r.metrics;
  }
  report(state, last);
}
BENCHMARK(BM_Cluster_BestFitQueue)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

}  // namespace
}  // namespace taskloom::bench

BENCHMARK_MAIN();
