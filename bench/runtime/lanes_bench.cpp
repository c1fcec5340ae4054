// bench/runtime/lanes_bench.cpp — what priority lanes and resource admission cost and buy.
//
//   BM_InteractiveLatency_Taskloom/<workers>            preemption on
//   BM_InteractiveLatencyNoPreempt_Taskloom/<workers>   preemption off
//   BM_InteractiveLatency_OneTbb/<workers>              a high-priority task_arena
// Every worker is busy with a stream of 10 ms background tasks that check their stop token
// every ~50 us; an interactive task is submitted every ~2 ms and the time from submit to its
// start is one sample. The reported time is the mean latency; counters p50_us and p99_us.
// oneTBB has no preemption: its high-priority arena gets a thread when a background task
// ends, which is what taskloom without preemption does too.
//
//   BM_AdmissionNone_Taskloom/<workers>     100,000 independent ~1 us tasks, no resources
//   BM_Admission3Pools_Taskloom/<workers>   the same, each needing cpu, memory and io from
//                                           pools large enough never to make one wait
// The ratio of the two is the throughput cost of admission (items_per_second counters).
#include <benchmark/benchmark.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <taskloom/runtime/executor.hpp>
#include <taskloom/runtime/task_context.hpp>
#include <taskloom/runtime/task_graph.hpp>

namespace taskloom::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kSamples = 300;
constexpr auto kSlice = 50us;        // background work between stop-token checks
constexpr int kSlicesPerTask = 200;  // 10 ms per background task
constexpr auto kBetweenSamples = 2ms;

void spin_for(std::chrono::nanoseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

/// "<prefix><i>" (built in two steps: GCC 12 at -O3 warns falsely on "x" + std::to_string).
std::string task_id(const char* prefix, int i) {
  std::string id(prefix);
  id += std::to_string(i);
  return id;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

/// Reports samples (microseconds): manual time = each sample, counters p50/p99.
void report(benchmark::State& state, const std::vector<double>& samples_us) {
  state.counters["p50_us"] = percentile(samples_us, 0.50);
  state.counters["p99_us"] = percentile(samples_us, 0.99);
}

struct Slices {
  int done = 0;
  std::string save() const { return std::to_string(done); }
  static Slices restore(std::string_view bytes) { return {std::stoi(std::string(bytes))}; }
};

void interactive_latency_taskloom(benchmark::State& state, bool preemption) {
  const auto workers = static_cast<unsigned>(state.range(0));
  runtime::Executor executor({.workers = workers,
                              .caller_helps = false,
                              .preemption = preemption,
                              .max_interruptions = 1'000'000});
  // Enough background work to keep every worker busy for the whole measurement.
  const int tasks = static_cast<int>(workers) * (kSamples + 8);
  runtime::TaskGraph background;
  for (int i = 0; i < tasks; ++i) {
    background.add_stateful(task_id("bg", i), Slices{},
                            [](runtime::TaskContext& ctx, Slices& s) {
                              for (; s.done < kSlicesPerTask && !ctx.stop_requested(); ++s.done)
                                spin_for(kSlice);
                            },
                            {.priority = Priority::kBackground});
  }
  runtime::Run run = executor.run(background);
  std::this_thread::sleep_for(20ms);  // every worker inside a background task
  std::vector<double> samples;
  for (auto _ : state) {
    std::atomic<Clock::time_point> started{};
    const auto submitted = Clock::now();
    auto job = executor.submit([&] { started = Clock::now(); }, Priority::kInteractive);
    job.get();
    const double us = std::chrono::duration<double, std::micro>(started.load() - submitted).count();
    samples.push_back(us);
    state.SetIterationTime(us / 1e6);
    std::this_thread::sleep_for(kBetweenSamples);
  }
  run.cancel();
  std::size_t interruptions = 0;
  for (const runtime::TaskReport& t : run.report().tasks) interruptions += t.interruptions;
  report(state, samples);
  state.counters["interruptions"] = static_cast<double>(interruptions);
}

void BM_InteractiveLatency_Taskloom(benchmark::State& state) {
  interactive_latency_taskloom(state, true);
}
void BM_InteractiveLatencyNoPreempt_Taskloom(benchmark::State& state) {
  interactive_latency_taskloom(state, false);
}

void BM_InteractiveLatency_OneTbb(benchmark::State& state) {
  const auto workers = static_cast<int>(state.range(0));
  // Worker threads only run arena work: the measuring thread waits outside both arenas.
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<std::size_t>(workers) + 1);
  tbb::task_arena background(workers, 0, tbb::task_arena::priority::low);
  tbb::task_arena interactive(workers, 0, tbb::task_arena::priority::high);
  std::atomic<bool> stop{false};
  const int tasks = workers * (kSamples + 8);
  for (int i = 0; i < tasks; ++i) {
    background.enqueue([&stop] {
      for (int s = 0; s < kSlicesPerTask && !stop.load(std::memory_order_relaxed); ++s) {
        spin_for(kSlice);
      }
    });
  }
  std::this_thread::sleep_for(20ms);
  std::vector<double> samples;
  for (auto _ : state) {
    std::atomic<Clock::time_point> started{};
    std::atomic<bool> done{false};
    const auto submitted = Clock::now();
    interactive.enqueue([&] {
      started = Clock::now();
      done = true;
    });
    while (!done.load()) std::this_thread::sleep_for(20us);
    const double us = std::chrono::duration<double, std::micro>(started.load() - submitted).count();
    samples.push_back(us);
    state.SetIterationTime(us / 1e6);
    std::this_thread::sleep_for(kBetweenSamples);
  }
  stop = true;
  background.execute([] {});  // let the arena drain (its tasks now end at once)
  std::this_thread::sleep_for(50ms);
  report(state, samples);
}

void admission_throughput(benchmark::State& state, bool pools) {
  const auto workers = static_cast<unsigned>(state.range(0));
  constexpr int kTasks = 100'000;
  runtime::ExecutorOptions options{.workers = workers};
  if (pools) options.resources = {{"cpu", 1024}, {"memory", 1e12}, {"io", 1024}};
  runtime::Executor executor(options);
  runtime::TaskGraph g;
  const Resources needs = pools ? Resources{{"cpu", 1}, {"memory", 1e6}, {"io", 1}} : Resources{};
  for (int i = 0; i < kTasks; ++i) {
    g.add(task_id("t", i), [] { spin_for(1us); }, {.needs = needs});
  }
  for (auto _ : state) executor.run(g).wait();
  state.SetItemsProcessed(state.iterations() * kTasks);
}

void BM_AdmissionNone_Taskloom(benchmark::State& state) {
  admission_throughput(state, false);
}
void BM_Admission3Pools_Taskloom(benchmark::State& state) {
  admission_throughput(state, true);
}

BENCHMARK(BM_InteractiveLatency_Taskloom)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(kSamples)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_InteractiveLatencyNoPreempt_Taskloom)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(kSamples)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_InteractiveLatency_OneTbb)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(kSamples)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AdmissionNone_Taskloom)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(10)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Admission3Pools_Taskloom)
    ->Arg(1)
    ->Arg(2)
    ->Iterations(10)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace taskloom::bench

BENCHMARK_MAIN();
