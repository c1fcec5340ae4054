// Contract tests for Executor (executor.hpp) and Future (future.hpp): submit, futures, worker
// identity, dynamic tasking (spawn, nested runs), helping waits, idle sleep and destruction.
#include "taskloom/runtime/executor.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/resource.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/future.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "graph_shapes.hpp"
#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::HeldWorker;
using testing::ready_without_helping;
using testing::Recorder;
using testing::scaled;
using testing::Signal;

class ExecutorTest : public testing::WorkerCountTest {};
TASKLOOM_INSTANTIATE_WORKER_COUNTS(ExecutorTest);

struct CustomError : std::runtime_error {
  CustomError() : std::runtime_error("custom") {}
};

// ---------------------------------------------------------------- submit & Future

TEST_P(ExecutorTest, SubmitDeliversTheValue) {
  EXPECT_EQ(executor_.submit([] { return 6 * 7; }).get(), 42);
  EXPECT_EQ(executor_.submit([] { return std::string("text"); }).get(), "text");
  std::unique_ptr<int> p = executor_.submit([] { return std::make_unique<int>(5); }).get();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 5);
}

TEST_P(ExecutorTest, SubmitOfAVoidCallableCompletesAndItsEffectsAreVisible) {
  int plain = 0;  // not atomic: the Future's visibility contract must cover it
  Future<void> f = executor_.submit([&] { plain = 7; });
  f.get();
  EXPECT_EQ(plain, 7);
}

TEST_P(ExecutorTest, ExceptionIsRethrownFromGet) {
  Future<int> f = executor_.submit([]() -> int { throw CustomError(); });
  EXPECT_THROW(f.get(), CustomError);
  Future<void> g = executor_.submit([] { throw 3; });
  EXPECT_THROW(g.get(), int);
}

TEST_P(ExecutorTest, ReadyAndWaitReflectCompletion) {
  Signal release;
  Future<int> f = executor_.submit([&] {
    (void)release.wait();
    return 1;
  });
  EXPECT_FALSE(f.ready());
  release.notify();
  f.wait();
  EXPECT_TRUE(f.ready());
  EXPECT_TRUE(f.valid()) << "wait() keeps the result for get()";
  EXPECT_EQ(f.get(), 1);
}

TEST_P(ExecutorTest, MovedFromFutureIsInvalidAndThrowsInvalidState) {
  Future<int> f = executor_.submit([] { return 1; });
  Future<int> g = std::move(f);
  EXPECT_FALSE(f.valid());  // NOLINT(bugprone-use-after-move): that is the point
  EXPECT_THROW((void)f.get(), InvalidStateError);
  EXPECT_THROW(f.wait(), InvalidStateError);
  EXPECT_THROW((void)f.ready(), InvalidStateError);
  ASSERT_TRUE(g.valid());
  EXPECT_EQ(g.get(), 1);
  EXPECT_FALSE(g.valid()) << "get() leaves the future invalid";
  EXPECT_THROW((void)g.get(), InvalidStateError);
  Future<int> h;
  EXPECT_FALSE(h.valid());
  EXPECT_THROW((void)h.get(), InvalidStateError);
  h = executor_.submit([] { return 2; });  // move-assignment gives it a state
  EXPECT_EQ(h.get(), 2);
}

TEST_P(ExecutorTest, DroppingAFutureDoesNotCancelTheWork) {
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) (void)executor_.submit([&] { ++ran; });
  EXPECT_TRUE(eventually([&] { return ran.load() == 10; }));
}

TEST_P(ExecutorTest, ManyThreadsSubmitConcurrently) {
  const int per_thread = static_cast<int>(scaled(5000));
  constexpr int kThreads = 4;
  std::vector<long> sums(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Future<int>> futures;
      futures.reserve(per_thread);
      for (int i = 0; i < per_thread; ++i) futures.push_back(executor_.submit([i] { return i; }));
      for (auto& f : futures) sums[t] += f.get();
    });
  }
  for (auto& th : threads) th.join();
  const long expected = static_cast<long>(per_thread) * (per_thread - 1) / 2;
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(sums[t], expected) << "thread " << t;
}

TEST(ExecutorSubmit, PriorityOrdersQueuedJobs) {
  // One worker, held by a blocker while jobs queue up; once released it takes them by priority.
  Executor executor(1);
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  Recorder order;
  std::vector<Future<void>> jobs;
  auto submit = [&](const std::string& name, Priority p) {
    jobs.push_back(executor.submit([&order, name] { order.add(name); }, p));
  };
  submit("low", Priority::kLow);
  submit("normal", Priority::kNormal);
  submit("highest", Priority::kHighest);
  submit("lowest", Priority::kLowest);
  submit("high", Priority::kHigh);
  held.release();
  for (auto& f : jobs) ASSERT_TRUE(ready_without_helping(f));  // no helping: strict order
  EXPECT_EQ(order.snapshot(),
            (std::vector<std::string>{"highest", "high", "normal", "low", "lowest"}));
}

// ---------------------------------------------------------------- worker identity

TEST_P(ExecutorTest, WorkerCountIsAsConfigured) {
  EXPECT_EQ(executor_.worker_count(), workers());
}

TEST(ExecutorOptionsTest, ZeroWorkersMeansOnePerHardwareThread) {
  Executor executor;
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw == 0) GTEST_SKIP() << "hardware_concurrency unknown";
  EXPECT_EQ(executor.worker_count(), hw);
}

TEST_P(ExecutorTest, ThisWorkerIsMinusOneOutsideAndAnIndexInside) {
  EXPECT_EQ(executor_.this_worker(), -1);
  Executor other(1);
  std::vector<Future<std::pair<int, int>>> futures;
  for (int i = 0; i < 50; ++i) {
    futures.push_back(executor_.submit(
        [&] { return std::make_pair(executor_.this_worker(), other.this_worker()); }));
  }
  for (auto& f : futures) {
    ASSERT_TRUE(ready_without_helping(f));
    const auto [mine, theirs] = f.get();
    EXPECT_GE(mine, 0);
    EXPECT_LT(mine, static_cast<int>(workers()));
    EXPECT_EQ(theirs, -1) << "a worker of one executor is not a worker of another";
  }
}

TEST_P(ExecutorTest, TaskContextWorkerMatchesThisWorker) {
  std::atomic<int> mismatches{0}, out_of_range{0};
  TaskGraph g;
  for (int i = 0; i < 50; ++i) {
    g.add([&](TaskContext& ctx) {
      const int w = ctx.executor().this_worker();
      if (w != static_cast<int>(ctx.worker())) ++mismatches;
      if (w < 0 || w >= static_cast<int>(workers())) ++out_of_range;
    });
  }
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(testing::finishes_without_helping(run));  // so every task runs on a worker
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(out_of_range.load(), 0);
}

TEST(ExecutorOptionsTest, WorkersAreNamedAfterThreadNameAndIndex) {
  ExecutorOptions options;
  options.workers = 2;
  options.thread_name = "tlx";
  Executor executor(options);
  std::vector<Future<std::pair<std::string, int>>> futures;
  for (int i = 0; i < 20; ++i) {
    futures.push_back(executor.submit([&] {
      char name[16] = {};
      pthread_getname_np(pthread_self(), name, sizeof name);
      return std::make_pair(std::string(name), executor.this_worker());
    }));
  }
  for (auto& f : futures) {
    ASSERT_TRUE(ready_without_helping(f));
    const auto [name, index] = f.get();
    EXPECT_EQ(name, "tlx-" + std::to_string(index));
  }
}

// ---------------------------------------------------------------- helping waits

TEST(ExecutorHelping, ThreadWaitingOnARunRunsItsTasksWhileTheWorkersAreBusy) {
  // The only worker is held until after run.wait() returns, so the waiting thread must have run
  // every task itself. The blocker gives up after 20 s, which the test detects.
  Executor executor(1);
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  std::atomic<int> on_this_thread{0};
  TaskGraph g;
  testing::build(g, testing::layered(3, 4), [&](std::uint32_t) {
    return [&](TaskContext& ctx) {
      if (ctx.executor().this_worker() == -1) ++on_this_thread;
    };
  });
  runtime::Run run = executor.run(g);
  run.wait();
  held.release();
  EXPECT_FALSE(held.gave_up()) << "wait() did not help: the run needed the blocked worker";
  EXPECT_TRUE(run.report().ok());
  EXPECT_EQ(on_this_thread.load(), 12);
}

TEST(ExecutorHelping, ThreadWaitingOnAFutureRunsTheCallable) {
  Executor executor(1);
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  Future<int> f = executor.submit([&] { return executor.this_worker(); });
  EXPECT_EQ(f.get(), -1) << "the callable ran on the waiting (non-worker) thread";
  held.release();
  EXPECT_FALSE(held.gave_up());
}

TEST(ExecutorHelping, AWorkerDisplacedByAWaitingCallerTakesUpARunNobodyWaitsFor) {
  // The worker gives its slot to a caller that waits, and leaves a slot the caller frees to it
  // for a while (the caller usually comes back for its next run). A run that nobody waits for
  // must still start on that worker: while it watches, asleep, and after its timed sleep.
  Executor executor(1);
  for (const auto pause : {0ms, 1ms, 5ms}) {
    HeldWorker held(executor);
    ASSERT_TRUE(held.started());
    TaskGraph helped;
    auto previous = helped.add([&] { held.release(); });
    for (int i = 0; i < 20; ++i) {  // the caller stays in its slot while the worker returns
      auto link = helped.add([] { std::this_thread::sleep_for(200us); });
      previous.precede(link);
      previous = link;
    }
    executor.run(helped).wait();
    EXPECT_FALSE(held.gave_up());
    std::this_thread::sleep_for(pause);
    std::atomic<int> ran_on{-2};
    TaskGraph alone;
    alone.add([&](TaskContext& ctx) { ran_on = ctx.executor().this_worker(); });
    runtime::Run run = executor.run(alone);
    ASSERT_TRUE(testing::finishes_without_helping(run)) << "after a pause of " << pause.count();
    EXPECT_EQ(ran_on.load(), 0);
  }
}

TEST(ExecutorHelping, WithCallerHelpsOffAWaitingThreadRunsNothing) {
  ExecutorOptions options;
  options.workers = 2;
  options.caller_helps = false;
  Executor executor(options);
  std::atomic<int> on_waiting_thread{0};
  TaskGraph g;
  testing::build(g, testing::layered(4, 25), [&](std::uint32_t) {
    return [&](TaskContext& ctx) {
      if (ctx.executor().this_worker() == -1) ++on_waiting_thread;
    };
  });
  runtime::Run run = executor.run(g);
  run.wait();  // only sleeps
  EXPECT_TRUE(run.report().ok());
  EXPECT_EQ(on_waiting_thread.load(), 0);
  for (int i = 0; i < 50; ++i) {
    EXPECT_GE(executor.submit([&] { return executor.this_worker(); }).get(), 0);
  }
}

// ---------------------------------------------------------------- dynamic tasking

TEST_P(ExecutorTest, TaskSpawnsAHundredChildrenAndWaitsForThem) {
  TaskGraph g;
  g.add("parent", [](TaskContext& ctx) {
    std::vector<Future<int>> children;
    for (int i = 0; i < 100; ++i) children.push_back(ctx.spawn([i] { return i; }));
    int sum = 0;
    for (auto& c : children) sum += c.get();  // the worker runs children meanwhile
    return sum;
  });
  g.add("after", [](TaskContext& ctx) { return ctx.result<int>("parent") + 1; },
        {.after = {"parent"}});
  runtime::Run run = executor_.run(g);
  // Not helping: with one worker, only that worker can run the children — no deadlock allowed.
  ASSERT_TRUE(testing::finishes_without_helping(run));
  ASSERT_TRUE(run.report().ok());
  EXPECT_EQ(run.report().task("parent").result_as<int>(), 4950);
  EXPECT_EQ(run.report().task("after").result_as<int>(), 4951);
}

int fibonacci(Executor& executor, int n) {
  if (n < 2) return n;
  Future<int> left = executor.submit([&executor, n] { return fibonacci(executor, n - 1); });
  const int right = fibonacci(executor, n - 2);
  return left.get() + right;
}

TEST_P(ExecutorTest, RecursiveSpawnComputesFibonacci) {
  constexpr int kDepth = 15;  // fib(15) = 610, about a thousand nested submits
  TaskGraph g;
  g.add("fib", [](TaskContext& ctx) {
    Future<int> top =
        ctx.spawn([&executor = ctx.executor()] { return fibonacci(executor, kDepth); });
    return top.get();
  });
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(testing::finishes_without_helping(run));
  ASSERT_TRUE(run.report().ok()) << run.report().summary();
  EXPECT_EQ(run.report().task("fib").result_as<int>(), 610);
}

TEST_P(ExecutorTest, RecursiveSubmitFromAnOutsideThread) {
  EXPECT_EQ(fibonacci(executor_, 12), 144);
}

TEST_P(ExecutorTest, TaskRunsASubgraphAndWaitsForIt) {
  TaskGraph sub;
  sub.add("x", [] { return 20; });
  sub.add("y", [](TaskContext& ctx) { return ctx.result<int>("x") + 1; }, {.after = {"x"}});
  TaskGraph outer;
  outer.add("nested", [&sub](TaskContext& ctx) {
    runtime::Run inner = ctx.run(sub);
    return inner.report().task("y").result_as<int>() * 2;  // waiting keeps the worker busy
  });
  runtime::Run run = executor_.run(outer);
  ASSERT_TRUE(testing::finishes_without_helping(run));
  ASSERT_TRUE(run.report().ok()) << run.report().summary();
  EXPECT_EQ(run.report().task("nested").result_as<int>(), 42);
}

TEST_P(ExecutorTest, ManyTasksRunSubgraphsConcurrently) {
  TaskGraph sub;
  testing::build(sub, testing::layered(4, 4), [](std::uint32_t) { return [] {}; });
  TaskGraph outer;
  for (int i = 0; i < 16; ++i) {
    outer.add([&sub](TaskContext& ctx) { return ctx.run(sub).report().succeeded; });
  }
  const RunReport& report = executor_.run(outer).report();
  ASSERT_TRUE(report.ok());
  for (const TaskReport& t : report.tasks) EXPECT_EQ(t.result_as<std::size_t>(), 16u);
}

// ---------------------------------------------------------------- idle

std::chrono::microseconds process_cpu_time() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto tv = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return std::chrono::duration_cast<std::chrono::microseconds>(tv(usage.ru_utime) +
                                                               tv(usage.ru_stime));
}

TEST(ExecutorIdle, IdleWorkersSleepInsteadOfSpinning) {
  // After some work, two idle workers must not burn CPU. A single spinning worker would use
  // ~200 ms of CPU during the 200 ms sleep; we allow 50 ms (150 ms under sanitizers, whose
  // runtimes have background threads of their own) — far above what sleeping threads and this
  // thread's own wake-ups cost, far below any spinning.
  Executor executor(2);
  std::vector<Future<int>> futures;
  for (int i = 0; i < 1000; ++i) futures.push_back(executor.submit([i] { return i; }));
  for (auto& f : futures) (void)f.get();
  std::this_thread::sleep_for(20ms);  // let the brief idle spin (50 us by default) end

  const auto before = process_cpu_time();
  std::this_thread::sleep_for(200ms);
  const auto used = process_cpu_time() - before;
  const auto limit = testing::kSanitized ? 150ms : 50ms;
  EXPECT_LT(used, limit) << "idle executor used " << used.count() << " us of CPU in 200 ms";
  // And it still wakes up for new work.
  EXPECT_EQ(executor.submit([] { return 1; }).get(), 1);
}

// ---------------------------------------------------------------- destruction

TEST(ExecutorLifetime, DestructorWaitsForSubmittedWork) {
  std::atomic<int> done{0};
  {
    Executor executor(2);
    for (int i = 0; i < 100; ++i) {
      (void)executor.submit([&] {
        testing::spin_for(200us);
        ++done;
      });
    }
  }
  EXPECT_EQ(done.load(), 100);
}

TEST(ExecutorLifetime, DestructorWaitsForRunsInFlight) {
  std::atomic<int> done{0};
  TaskGraph g;  // outlives the executor
  testing::build(g, testing::layered(5, 20), [&](std::uint32_t) {
    return [&] {
      testing::spin_for(100us);
      ++done;
    };
  });
  {
    Executor executor(2);
    (void)executor.run(g);  // the Run handle is dropped at once
  }
  EXPECT_EQ(done.load(), 100);
}

TEST(TaskGraphLifetime, DestructorWaitsForItsRuns) {
  Executor executor(2);
  std::atomic<int> finished{0};
  {
    TaskGraph g;
    g.add("slow", [&] {
      std::this_thread::sleep_for(30ms);  // work that outlasts the scope, not synchronisation
      ++finished;
    });
    g.add("after", [&] { ++finished; }, {.after = {"slow"}});
    (void)executor.run(g);
    (void)executor.run(g);
  }  // ~TaskGraph waits here
  EXPECT_EQ(finished.load(), 4);
}

}  // namespace
}  // namespace taskloom::runtime
