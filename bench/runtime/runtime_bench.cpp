// bench/runtime/runtime_bench.cpp — taskloom vs oneTBB flow graph vs a plain std::thread pool.
//
// Every workload runs on the three systems in this one binary, at 1 and 2 workers:
//   BM_<Workload>_Taskloom/<workers>   taskloom::runtime::Executor(workers) + TaskGraph
//   BM_<Workload>_OneTbb/<workers>     tbb::flow::graph under global_control(parallelism)
//   BM_<Workload>_StdThread/<workers>  ThreadPool(workers): one locked queue, atomic counters
// and, when built with a Taskflow source tree (TASKLOOM_TASKFLOW_DIR), on a fourth:
//   BM_<Workload>_Taskflow/<workers>   tf::Executor(workers) + tf::Taskflow; submit-and-wait
//                                      is executor.async(fn).get()
// Task bodies are empty. One iteration builds the graph, runs it and destroys it; the executor,
// the TBB limit and the pool are set up once per benchmark, outside the timed loop.
// "Workers" is each system's own knob, and they do not count the same threads: taskloom's
// Executor(N) has N workers and the thread in Run::wait()/Future::get() helps run tasks;
// TBB's max_allowed_parallelism N counts the thread in wait_for_all(); the std::thread pool
// has N workers while the waiting thread only sleeps.
//
//   runtime_bench [google-benchmark flags]     e.g. --benchmark_filter=Chain
//   runtime_bench --verify                     runs every workload once on every system with
//                                              bodies that check the dependencies held
#include <benchmark/benchmark.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <taskloom/runtime/executor.hpp>

#include "taskloom_dag.hpp"
#if TASKLOOM_WITH_TASKFLOW
#include "taskflow_dag.hpp"
#endif
#include "tbb_flow.hpp"
#include "thread_pool.hpp"
#include "workloads.hpp"

namespace taskloom::bench {
namespace {

struct Workload {
  const char* name;
  Dag (*make)();
  int iterations;  // per benchmark, fixed so that the whole suite takes a few minutes
  benchmark::TimeUnit unit;
};

const Workload kWorkloads[] = {
    {"Chain", [] { return chain(100'000); }, 200, benchmark::kMillisecond},
    {"Independent", [] { return independent(1'000'000); }, 20, benchmark::kMillisecond},
    {"BinaryTree", [] { return binary_tree(18); }, 60, benchmark::kMillisecond},
    {"Wavefront", [] { return wavefront(512); }, 60, benchmark::kMillisecond},
    {"RandomDag", [] { return random_dag(100'000, 4); }, 60, benchmark::kMillisecond},
    {"Graph100", [] { return random_dag(100, 4); }, 60'000, benchmark::kMicrosecond},
};
constexpr int kSubmitWaitIterations = 40'000;

/// The body every timed task runs: nothing.
struct EmptyBody {
  auto operator()(std::uint32_t) const {
    return [] {};
  }
};

/// Bodies that record which tasks ran and whether each ran after all of its predecessors.
class Checker {
 public:
  explicit Checker(const Dag& dag) : preds_(dag), done_(dag.nodes) {}
  auto operator()(std::uint32_t v) {
    return [this, v] { visit(v); };
  }
  bool ok(const Dag& dag) const { return executed_.load() == dag.nodes && violations_.load() == 0; }
  std::uint64_t executed() const { return executed_.load(); }
  std::uint64_t violations() const { return violations_.load(); }

 private:
  void visit(std::uint32_t v) {
    for (std::uint32_t i = preds_.offsets[v]; i < preds_.offsets[v + 1]; ++i) {
      if (done_[preds_.nodes[i]].load(std::memory_order_acquire) == 0) violations_.fetch_add(1);
    }
    if (done_[v].exchange(1, std::memory_order_acq_rel) != 0) violations_.fetch_add(1);
    executed_.fetch_add(1, std::memory_order_relaxed);
  }
  Predecessors preds_;
  std::vector<std::atomic<std::uint8_t>> done_;
  std::atomic<std::uint64_t> executed_{0}, violations_{0};
};

// One function per system: runs `dag` once with bodies from `make_body`, on `workers`.
struct TaskloomSystem {
  static constexpr const char* kName = "Taskloom";
  explicit TaskloomSystem(unsigned workers) : executor(workers) {}
  template <class MakeBody>
  void run(const Dag& dag, MakeBody&& make_body) {
    run_dag_taskloom(executor, dag, make_body);
  }
  void submit_and_wait() {
    executor.submit([] {}).get();
  }
  runtime::Executor executor;
};

struct OneTbbSystem {
  static constexpr const char* kName = "OneTbb";
  explicit OneTbbSystem(unsigned workers)
      : limit(tbb::global_control::max_allowed_parallelism, workers) {}
  template <class MakeBody>
  void run(const Dag& dag, MakeBody&& make_body) {
    run_dag_tbb(dag, make_body);
  }
  // wait() takes the task back from the calling thread's own queue and runs it there, so
  // this measures a spawn and an inline run rather than a hand-off to another thread.
  void submit_and_wait() {
    group.run([] {});
    group.wait();
  }
  tbb::global_control limit;
  tbb::task_group group;
};

struct StdThreadSystem {
  static constexpr const char* kName = "StdThread";
  explicit StdThreadSystem(unsigned workers) : pool(workers) {}
  template <class MakeBody>
  void run(const Dag& dag, MakeBody&& make_body) {
    run_dag(pool, dag, make_body);
  }
  void submit_and_wait() {
    std::promise<void> done;
    std::future<void> f = done.get_future();
    pool.push([&done] { done.set_value(); });
    f.get();
  }
  ThreadPool pool;
};

#if TASKLOOM_WITH_TASKFLOW
struct TaskflowSystem {
  static constexpr const char* kName = "Taskflow";
  explicit TaskflowSystem(unsigned workers) : executor(workers) {}
  template <class MakeBody>
  void run(const Dag& dag, MakeBody&& make_body) {
    run_dag_taskflow(executor, dag, make_body);
  }
  // The waiting thread blocks on a std::future; Taskflow's workers run the task.
  void submit_and_wait() {
    executor.async([] {}).get();
  }
  tf::Executor executor;
};
#endif

const Dag& cached(const Workload& w) {
  static std::vector<std::unique_ptr<Dag>> dags(std::size(kWorkloads));
  auto& slot = dags[static_cast<std::size_t>(&w - kWorkloads)];
  if (!slot) slot = std::make_unique<Dag>(w.make());
  return *slot;
}

template <class System>
void dag_benchmark(benchmark::State& state, const Workload* workload) {
  const Dag& dag = cached(*workload);
  System system(static_cast<unsigned>(state.range(0)));
  for (auto _ : state) system.run(dag, EmptyBody{});
  state.SetItemsProcessed(state.iterations() * dag.nodes);
  state.counters["tasks"] = dag.nodes;
}

template <class System>
void submit_wait_benchmark(benchmark::State& state) {
  System system(static_cast<unsigned>(state.range(0)));
  for (auto _ : state) system.submit_and_wait();
}

// Not a system but the machine: a cache line's trip from one CPU to another and back. On a
// virtual machine it depends on where the host puts the virtual CPUs (this project's 2-vCPU
// VMs switch between ~90 and ~390 ns from one minute to the next), and every figure with more
// than one thread moves with it; bench/compare prints it before and after the runtime suite.
void cross_cpu_round_trip(benchmark::State& state) {
  cpu_set_t original;
  CPU_ZERO(&original);
  pthread_getaffinity_np(pthread_self(), sizeof original, &original);
  int cpus[2] = {-1, -1};
  for (int c = 0, found = 0; c < CPU_SETSIZE && found < 2; ++c) {
    if (CPU_ISSET(c, &original)) cpus[found++] = c;
  }
  if (cpus[1] < 0) {
    state.SkipWithError("needs two CPUs");
    return;
  }
  const auto pin = [](int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  };
  struct alignas(64) Line {
    std::atomic<std::uint64_t> value{0};  // odd: the partner's turn to add one
  };
  Line ball;
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    pin(cpus[1]);
    while (!stop.load(std::memory_order_relaxed)) {
      const std::uint64_t v = ball.value.load(std::memory_order_acquire);
      if (v % 2 == 1) ball.value.store(v + 1, std::memory_order_release);
    }
  });
  pin(cpus[0]);
  std::uint64_t v = 0;
  for (auto _ : state) {
    ball.value.store(v + 1, std::memory_order_release);
    while (ball.value.load(std::memory_order_acquire) != v + 2) {
    }
    v += 2;
  }
  stop.store(true, std::memory_order_relaxed);
  partner.join();
  pthread_setaffinity_np(pthread_self(), sizeof original, &original);
}

template <class System>
void register_system(const Workload& w) {
  const std::string name = std::string("BM_") + w.name + "_" + System::kName;
  benchmark::RegisterBenchmark(name.c_str(), dag_benchmark<System>, &w)
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Iterations(w.iterations)
      ->Unit(w.unit);
}

template <class System>
void register_submit_wait() {
  const std::string name = std::string("BM_SubmitWait_") + System::kName;
  benchmark::RegisterBenchmark(name.c_str(), submit_wait_benchmark<System>)
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Iterations(kSubmitWaitIterations)
      ->Unit(benchmark::kMicrosecond);
}

void register_all() {
  benchmark::RegisterBenchmark("BM_CrossCpuRoundTrip_Machine", cross_cpu_round_trip)
      ->UseRealTime()
      ->Iterations(200'000)
      ->Unit(benchmark::kNanosecond);
  for (const Workload& w : kWorkloads) {
    register_system<TaskloomSystem>(w);
    register_system<OneTbbSystem>(w);
    register_system<StdThreadSystem>(w);
#if TASKLOOM_WITH_TASKFLOW
    register_system<TaskflowSystem>(w);
#endif
  }
  register_submit_wait<TaskloomSystem>();
  register_submit_wait<OneTbbSystem>();
  register_submit_wait<StdThreadSystem>();
#if TASKLOOM_WITH_TASKFLOW
  register_submit_wait<TaskflowSystem>();
#endif
}

template <class System>
bool verify_system(const Workload& w, unsigned workers) {
  const Dag& dag = cached(w);
  System system(workers);
  Checker checker(dag);
  system.run(dag, checker);
  const bool ok = checker.ok(dag);
  std::printf("  %-12s %-10s %u worker(s): %s (%llu of %u ran, %llu order violations)\n", w.name,
              System::kName, workers, ok ? "ok" : "FAILED",
              static_cast<unsigned long long>(checker.executed()), dag.nodes,
              static_cast<unsigned long long>(checker.violations()));
  for (int i = 0; i < 1000; ++i) system.submit_and_wait();
  return ok;
}

int verify_all() {
  std::printf("runtime_bench --verify: every workload once per system, bodies checking order\n");
  bool ok = true;
  for (const Workload& w : kWorkloads) {
    for (unsigned workers : {1u, 2u}) {
      ok = verify_system<TaskloomSystem>(w, workers) && ok;
      ok = verify_system<OneTbbSystem>(w, workers) && ok;
      ok = verify_system<StdThreadSystem>(w, workers) && ok;
#if TASKLOOM_WITH_TASKFLOW
      ok = verify_system<TaskflowSystem>(w, workers) && ok;
#endif
    }
  }
  std::printf(ok ? "verify: all ok\n" : "verify: FAILED\n");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace taskloom::bench

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--verify") == 0) return taskloom::bench::verify_all();
  }
  taskloom::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
