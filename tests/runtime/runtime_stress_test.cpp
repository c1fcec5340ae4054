// Stress tests for the runtime (executable runtime_stress_tests, labels concurrency;slow):
// large random DAGs, cancellation storms, many concurrent runs of one graph, exception storms.
// Sizes shrink under TSan/ASan (see runtime_test_support.hpp), so the suite also runs there.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/future.hpp"
#include "taskloom/runtime/job_context.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "graph_shapes.hpp"
#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::DepLists;
using testing::scaled;

class RuntimeStressTest : public testing::WorkerCountTest {};
TASKLOOM_INSTANTIATE_WORKER_COUNTS(RuntimeStressTest);

TEST_P(RuntimeStressTest, LargeRandomDagRunsEveryTaskAfterItsDependencies) {
  const std::size_t n = scaled(100'000);
  const DepLists deps = testing::random_dag(n, 4, /*seed=*/2024 + workers());
  struct State {
    explicit State(const DepLists& d) : deps(d), finished(d.size()), calls(d.size()) {}
    const DepLists& deps;
    std::vector<std::atomic<bool>> finished;
    std::vector<std::atomic<int>> calls;
    std::atomic<long> violations{0};
  } s(deps);
  TaskGraph g;
  testing::build(g, deps, [&s](std::uint32_t i) {
    return [&s, i] {
      ++s.calls[i];
      for (std::uint32_t d : s.deps[i]) {
        if (!s.finished[d].load(std::memory_order_acquire)) ++s.violations;
      }
      s.finished[i].store(true, std::memory_order_release);
    };
  });
  runtime::Run run = executor_.run(g);
  const RunReport& report = run.report();
  EXPECT_EQ(report.tasks.size(), n);
  EXPECT_EQ(report.succeeded, n);
  EXPECT_EQ(s.violations.load(), 0);
  long not_once = 0;
  for (auto& c : s.calls) not_once += c.load() != 1;
  EXPECT_EQ(not_once, 0) << "every body runs exactly once";
  EXPECT_EQ(run.progress().done, n);
}

TEST_P(RuntimeStressTest, CancellationStormLeavesEveryRunFullyReported) {
  // Many runs of one graph in flight together, each cancelled at a random moment.
  const DepLists deps = testing::layered(40, 50);  // 2000 tasks
  const std::size_t runs = scaled(16, 4);
  TaskGraph g;
  testing::build(g, deps, [](std::uint32_t) {
    return [](TaskContext& ctx) {
      for (int k = 0; k < 20 && !ctx.stop_requested(); ++k) testing::spin_for(2us);
    };
  });
  std::vector<runtime::Run> in_flight;
  for (std::size_t r = 0; r < runs; ++r) in_flight.push_back(executor_.run(g));
  std::thread canceller([&] {
    std::mt19937 rng(static_cast<unsigned>(workers()));
    std::vector<std::size_t> order(runs);
    for (std::size_t i = 0; i < runs; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    std::uniform_int_distribution<int> delay_us(0, 3000);
    for (std::size_t i : order) {
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));  // jitter only
      in_flight[i].cancel();
    }
  });
  canceller.join();
  std::size_t cancelled_tasks = 0;
  for (runtime::Run& run : in_flight) {
    run.wait();
    const RunReport& report = run.report();
    ASSERT_EQ(report.tasks.size(), deps.size());
    EXPECT_EQ(testing::total_of(report), deps.size());
    EXPECT_EQ(run.progress().done, deps.size());
    EXPECT_EQ(report.failed, 0u);
    if (report.cancelled > 0) {
      EXPECT_TRUE(run.cancelled());
    }
    std::size_t inconsistent = 0;
    for (std::size_t i = 0; i < deps.size(); ++i) {
      const TaskStatus st = report.tasks[i].status;
      if (!is_final(st)) ++inconsistent;
      if (st == TaskStatus::kSucceeded) {
        for (std::uint32_t d : deps[i])
          inconsistent += report.tasks[d].status != TaskStatus::kSucceeded;
      }
    }
    EXPECT_EQ(inconsistent, 0u);
    cancelled_tasks += report.cancelled;
  }
  EXPECT_GT(cancelled_tasks, 0u) << "every run ended before its cancel: the storm tested nothing";
}

TEST_P(RuntimeStressTest, ManyConcurrentRunsOfOneGraphComputeTheSameResults) {
  // value(i) = 1 + sum of value(d) over deps, mod a prime — computed by the tasks from their
  // dependencies' results, and offline here.
  constexpr long kMod = 1'000'000'007;
  const DepLists deps = testing::random_dag(scaled(2000), 3, /*seed=*/99);
  std::vector<long> expected(deps.size());
  for (std::size_t i = 0; i < deps.size(); ++i) {
    long v = 1;
    for (std::uint32_t d : deps[i]) v = (v + expected[d]) % kMod;
    expected[i] = v;
  }
  std::vector<std::string> ids(deps.size());
  TaskGraph g;
  const std::vector<TaskHandle> handles = testing::build(g, deps, [&](std::uint32_t i) {
    return [&deps, &ids, i](TaskContext& ctx) {
      long v = 1;
      for (std::uint32_t d : deps[i]) v = (v + ctx.result<long>(ids[d])) % kMod;
      return v;
    };
  });
  for (std::size_t i = 0; i < deps.size(); ++i) ids[i] = handles[i].id();

  constexpr int kThreads = 4;
  const int runs_per_thread = static_cast<int>(scaled(5, 5));
  std::atomic<long> wrong{0}, not_ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < runs_per_thread; ++r) {
        const RunReport& report = executor_.run(g).report();
        if (!report.ok()) ++not_ok;
        for (std::size_t i = 0; i < deps.size() && i < report.tasks.size(); ++i) {
          const long* v = std::any_cast<long>(&report.tasks[i].result);
          if (!v || *v != expected[i]) ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(not_ok.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

TEST_P(RuntimeStressTest, ExceptionStormFailsAndSkipsExactlyTheRightTasks) {
  // Every 7th task throws; every 5th (that does not throw) fails once and succeeds on retry.
  const DepLists deps = testing::random_dag(scaled(20'000), 3, /*seed=*/5);
  auto throws = [](std::uint32_t i) { return i % 7 == 3; };
  auto flaky = [](std::uint32_t i) { return i % 7 != 3 && i % 5 == 1; };
  std::vector<TaskStatus> expected(deps.size());
  for (std::uint32_t i = 0; i < deps.size(); ++i) {
    bool deps_ok = true;
    for (std::uint32_t d : deps[i]) deps_ok = deps_ok && expected[d] == TaskStatus::kSucceeded;
    expected[i] = !deps_ok    ? TaskStatus::kSkipped
                  : throws(i) ? TaskStatus::kFailed
                              : TaskStatus::kSucceeded;
  }
  TaskGraph g;
  for (std::uint32_t i = 0; i < deps.size(); ++i) {
    TaskHandle h = g.add("t" + std::to_string(i),
                         [i, throws, flaky](TaskContext& ctx) {
                           if (throws(i)) throw std::runtime_error("storm " + std::to_string(i));
                           if (flaky(i) && ctx.attempt() == 1) throw std::logic_error("flaky");
                         },
                         {.retries = flaky(i) ? 1u : 0u});
    for (std::uint32_t d : deps[i]) g.add_dependency(h.id(), "t" + std::to_string(d));
  }
  const RunReport& report =
      executor_.run(g, {.backoff = {.initial = Duration::zero(), .jitter = 0.0}}).report();
  ASSERT_EQ(report.tasks.size(), deps.size());
  std::size_t wrong_status = 0, bad_skip_reason = 0, bad_attempts = 0;
  std::size_t failed = 0, skipped = 0;
  for (std::uint32_t i = 0; i < deps.size(); ++i) {
    const TaskReport& t = report.tasks[i];
    wrong_status += t.status != expected[i];
    failed += expected[i] == TaskStatus::kFailed;
    skipped += expected[i] == TaskStatus::kSkipped;
    if (t.status == TaskStatus::kSkipped) {
      // Names a task that did not succeed.
      const std::string& why = t.skipped_because;
      bad_skip_reason += why.size() < 2 || why[0] != 't' ||
                         report.tasks[std::stoul(why.substr(1))].status == TaskStatus::kSucceeded;
    }
    if (expected[i] == TaskStatus::kSucceeded) bad_attempts += t.attempts != (flaky(i) ? 2u : 1u);
  }
  EXPECT_EQ(wrong_status, 0u);
  EXPECT_EQ(bad_skip_reason, 0u);
  EXPECT_EQ(bad_attempts, 0u);
  EXPECT_EQ(report.failed, failed);
  EXPECT_EQ(report.skipped, skipped);
  EXPECT_EQ(testing::total_of(report), deps.size());
}

TEST_P(RuntimeStressTest, RetriedSourcesNeverEndTheRunEarly) {
  // Regression: a source whose attempt failed was queued again while the rest of its range
  // still waited, borrowed, in its thread's next slot; when another thread finished the retry
  // first, the run ended with that range (and everything after it) still to run.
  const std::size_t n = 64;
  TaskGraph g;
  for (std::size_t i = 0; i < n; ++i) {
    g.add("s" + std::to_string(i),
          [](TaskContext& ctx) {
            if (ctx.attempt() == 1) throw std::runtime_error("first attempt fails");
          },
          {.retries = 1});
  }
  const int runs = static_cast<int>(scaled(400, 10));
  for (int k = 0; k < runs; ++k) {
    const RunReport r =
        executor_.run(g, {.backoff = {.initial = Duration::zero(), .jitter = 0.0}}).report();
    ASSERT_EQ(r.succeeded, n) << "run " << k << " ended with tasks still to run";
  }
}

TEST_P(RuntimeStressTest, SubmitStormFromManyThreadsWithExceptions) {
  constexpr int kThreads = 8;
  const int per_thread = static_cast<int>(scaled(20'000));
  std::atomic<long> values{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<Future<int>> futures;
      futures.reserve(per_thread);
      for (int i = 0; i < per_thread; ++i) {
        futures.push_back(executor_.submit(
            [i]() -> int {
              if (i % 10 == 0) throw std::runtime_error("x");
              return 1;
            },
            i % 3 == 0 ? Priority::kHigh : Priority::kNormal));
      }
      for (auto& f : futures) {
        try {
          values += f.get();
        } catch (const std::runtime_error&) {
          ++errors;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const long throwing = kThreads * ((per_thread + 9) / 10);
  EXPECT_EQ(errors.load(), throwing);
  EXPECT_EQ(values.load(), static_cast<long>(kThreads) * per_thread - throwing);
}

// Interruptible and stateful submitted jobs (JobContext), with stop tokens, deadlines and
// Future::cancel racing their starts, their yields and their resumptions, while interactive
// jobs keep arriving from another thread to preempt them (how often a job is asked to yield
// depends on the machine's timing). Every future must end exactly once: with the full count,
// stopped, or cancelled — never with what a yield returned or threw.
TEST_P(RuntimeStressTest, InterruptibleJobsWithCancelsStopsAndDeadlines) {
  // Waiters only wait, so that the jobs run on pool workers, where they can be interrupted.
  Executor executor({.workers = workers(), .caller_helps = false});
  const int jobs = static_cast<int>(scaled(2'000));
  constexpr int kSteps = 2'000;
  struct Steps {
    int next = 0;
    std::string save() const { return std::to_string(next); }
    static Steps restore(std::string_view bytes) { return {std::stoi(std::string(bytes))}; }
  };
  std::atomic<bool> stop_pressure{false};
  std::atomic<long> interactive_ran{0}, yields{0};
  std::thread pressure([&] {
    while (!stop_pressure.load()) {
      executor.submit([&] { ++interactive_ran; }, Priority::kInteractive).get();
    }
  });
  std::vector<std::stop_source> stops(static_cast<std::size_t>(jobs));
  std::vector<Future<int>> futures;
  futures.reserve(static_cast<std::size_t>(jobs));
  for (int i = 0; i < jobs; ++i) {
    SubmitOptions options{.priority = Priority::kBackground,
                          .stop_token = stops[static_cast<std::size_t>(i)].get_token()};
    if (i % 7 == 0) options.deadline = executor.clock().now() + std::chrono::microseconds(i % 50);
    futures.push_back(executor.submit_stateful(
        Steps{},
        [&yields](JobContext& job, Steps& s) {
          for (; s.next < kSteps; ++s.next) {
            if (job.interrupt_requested()) {
              ++yields;
              if (s.next % 2 == 0) throw std::runtime_error("interrupted");
              return -1;
            }
            if (job.stop_requested()) return -2;  // stopped by its caller or its deadline
            volatile int work = s.next;           // a step of work the compiler keeps
            (void)work;
          }
          return s.next;
        },
        options));
    if (i % 5 == 1) stops[static_cast<std::size_t>(i)].request_stop();
    if (i % 5 == 2) (void)futures.back().cancel();
  }
  // Jobs nobody stops, cancels or gives a deadline must run to the end, however often they
  // yielded; the others may end any of the three ways.
  long full = 0, stopped = 0, cancelled = 0, other = 0, untouched_not_full = 0;
  for (int i = 0; i < jobs; ++i) {
    const bool untouched = i % 5 != 1 && i % 5 != 2 && i % 7 != 0;
    try {
      const int v = futures[static_cast<std::size_t>(i)].get();
      if (v == kSteps) {
        ++full;
      } else if (v == -2) {
        ++stopped;
      } else {
        ++other;
      }
      if (v != kSteps && untouched) ++untouched_not_full;
    } catch (const CancelledError&) {
      ++cancelled;
      if (untouched) ++untouched_not_full;
    } catch (...) {
      ++other;
    }
  }
  stop_pressure = true;
  pressure.join();
  EXPECT_EQ(full + stopped + cancelled, jobs);
  EXPECT_EQ(other, 0) << "a yield (return -1 or a throw) is never a job's outcome";
  EXPECT_EQ(untouched_not_full, 0);
  RecordProperty("yields", static_cast<int>(yields.load()));
  RecordProperty("interactive", static_cast<int>(interactive_ran.load()));
}

TEST_P(RuntimeStressTest, SpawnTreeFromManyTasks) {
  // Every task of a wide graph spawns children that spawn grandchildren, all waited on.
  std::atomic<long> leaves{0};
  TaskGraph g;
  const int width = static_cast<int>(scaled(64, 4));
  for (int i = 0; i < width; ++i) {
    g.add([&](TaskContext& ctx) {
      std::vector<Future<void>> children;
      for (int c = 0; c < 8; ++c) {
        children.push_back(ctx.spawn([&leaves, &executor = ctx.executor()] {
          std::vector<Future<void>> grandchildren;
          for (int k = 0; k < 8; ++k)
            grandchildren.push_back(executor.submit([&leaves] { ++leaves; }));
          for (auto& f : grandchildren) f.get();
        }));
      }
      for (auto& f : children) f.get();
    });
  }
  EXPECT_TRUE(executor_.run(g).report().ok());
  EXPECT_EQ(leaves.load(), static_cast<long>(width) * 64);
}

}  // namespace
}  // namespace taskloom::runtime

namespace taskloom::runtime {
namespace {

// Thousands of mixed-priority tasks, a third of them interruptible and a quarter needing
// resources, on lanes; interactive jobs keep arriving from another thread (preempting), and
// every other run is cancelled half-way. Every run must end with every task in a final state,
// capacities never exceeded, interrupted tasks resumed from their saved state.
struct Counter {
  int value = 0;
  std::string save() const { return std::to_string(value); }
  static Counter restore(std::string_view bytes) { return {std::stoi(std::string(bytes))}; }
};

class MixedPriorityStressTest : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(Workers, MixedPriorityStressTest, ::testing::Values(1u, 2u, 4u),
                         testing::worker_count_name);

TEST_P(MixedPriorityStressTest, PreemptionCancellationAndAdmissionTogether) {
  ExecutorOptions options{.pools = {{.name = "general", .workers = GetParam()}},
                          .resources = {{"gpu", 2}, {"license", 1}},
                          .max_interruptions = 3};
  if (GetParam() > 1) {
    options.pools.push_back(
        {.name = "interactive", .workers = 1, .min_priority = Priority::kInteractive});
  }
  Executor executor(options);
  std::atomic<bool> stop_feeding{false};
  std::atomic<int> interactive_done{0};
  std::thread feeder([&] {
    std::vector<Future<void>> pending;
    while (!stop_feeding.load()) {
      pending.push_back(executor.submit([&] { ++interactive_done; }, Priority::kInteractive));
      std::this_thread::sleep_for(200us);
      if (pending.size() > 64) pending.erase(pending.begin(), pending.begin() + 32);
    }
    for (auto& f : pending) f.wait();
  });

  const std::size_t n = scaled(3000, 10);
  const DepLists deps = testing::random_dag(n, 2, /*seed=*/77);
  std::atomic<int> gpu_holders{0}, gpu_max{0};
  TaskGraph g;
  for (std::size_t i = 0; i < n; ++i) {
    TaskOptions o;
    o.priority = Priority{static_cast<int>(i % 5) - 2};
    for (std::size_t d : deps[i]) o.after.push_back("t" + std::to_string(d));
    if (i % 4 == 0) o.needs = {{"gpu", 1}};
    if (i % 17 == 0) o.needs.set("license", 1);
    const std::string id = "t" + std::to_string(i);
    if (i % 3 == 0) {
      g.add_stateful(
          id, Counter{},
          [&, gpu = i % 4 == 0](TaskContext& ctx, Counter& c) {
            if (gpu) {
              const int now = ++gpu_holders;
              int seen = gpu_max.load();
              while (now > seen && !gpu_max.compare_exchange_weak(seen, now)) {
              }
            }
            for (; c.value < 20 && !ctx.stop_requested(); ++c.value) {
              std::this_thread::sleep_for(10us);
            }
            if (gpu) --gpu_holders;
          },
          o);
    } else {
      g.add(
          id, [] { std::this_thread::yield(); }, o);
    }
  }
  const int runs = static_cast<int>(scaled(6, 3));
  for (int k = 0; k < runs; ++k) {
    runtime::Run run = executor.run(g);
    if (k % 2 == 1) {
      std::this_thread::sleep_for(2ms);
      run.cancel();
    }
    const RunReport& r = run.report();
    ASSERT_EQ(testing::total_of(r), n) << "run " << k;
    if (k % 2 == 0) {
      EXPECT_EQ(r.succeeded, n) << "run " << k;
    }
    for (const PoolUsage& u : r.resources) EXPECT_LE(u.peak, u.capacity) << u.name;
  }
  stop_feeding = true;
  feeder.join();
  EXPECT_LE(gpu_max.load(), 2);
  EXPECT_GT(interactive_done.load(), 0);
}

}  // namespace
}  // namespace taskloom::runtime
