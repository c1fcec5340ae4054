// Contract tests for the order and shape of execution: priorities and upward-rank ties
// (run.hpp, docs/design.md "Priorities"), eager vs wave-synchronous mode, max_concurrency.
//
// Ordering tests use one worker, RunOptions::max_concurrency = 1, and a "gate" task that every
// measured task runs after: when the gate ends, all measured tasks become ready together, and
// the test thread polls run.done() instead of calling wait() (a waiting thread may run tasks
// too, see executor.hpp), so exactly one thread picks tasks and must pick them by priority.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <string>
#include <vector>

#include "taskloom/core/priority.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::ConcurrencyMeter;
using testing::Recorder;
using testing::Signal;

std::size_t position(const std::vector<std::string>& order, const std::string& id) {
  return static_cast<std::size_t>(std::find(order.begin(), order.end(), id) - order.begin());
}

/// Runs `g` on one worker with max_concurrency 1 without the test thread helping, and returns
/// the order in which bodies recorded themselves.
std::vector<std::string> strict_order(TaskGraph& g, const Recorder& recorder) {
  Executor executor(1);
  runtime::Run run = executor.run(g, {.max_concurrency = 1});
  EXPECT_TRUE(testing::finishes_without_helping(run));
  EXPECT_TRUE(run.report().ok());
  return recorder.snapshot();
}

// ---------------------------------------------------------------- priority

TEST(WakeUps, EveryReadyTaskStartsWhileAWorkerIsFree) {
  // Regression: a worker whose idle spin expired just as work was pushed (the push saw it
  // spinning and woke nobody) took another ready task and kept it for its long body, leaving
  // the pushed one queued while a worker slept. Each root waits, bounded, until all three run:
  // with three workers they must all start.
  for (int round = 0; round < 30; ++round) {
    Executor executor({.workers = 3, .caller_helps = false});
    if (round % 2 == 1) std::this_thread::sleep_for(2ms);  // workers asleep, or still spinning
    std::atomic<int> started{0};
    std::atomic<int> saw_all{0};
    TaskGraph g;
    for (int i = 0; i < 3; ++i) {
      g.add("root" + std::to_string(i), [&] {
        ++started;
        if (testing::eventually([&] { return started.load() == 3; }, 5s)) ++saw_all;
      });
    }
    runtime::Run run = executor.run(g);
    ASSERT_TRUE(testing::finishes_without_helping(run));
    ASSERT_EQ(saw_all.load(), 3) << "round " << round << ": a ready task waited for a free worker";
  }
}

TEST(Priority, ReadyTasksRunInPriorityOrder) {
  Recorder order;
  TaskGraph g;
  g.add("gate", [] {});
  auto add = [&](const std::string& id, Priority p) {
    g.add(id, [&order, id] { order.add(id); }, {.after = {"gate"}, .priority = p});
  };
  // Added in scrambled order so that insertion order cannot explain the result.
  add("normal", Priority::kNormal);
  add("minus7", Priority{-7});
  add("highest", Priority::kHighest);
  add("low", Priority::kLow);
  add("plus7", Priority{7});
  add("high", Priority::kHigh);
  add("lowest", Priority::kLowest);
  EXPECT_EQ(strict_order(g, order), (std::vector<std::string>{"plus7", "highest", "high", "normal",
                                                              "low", "lowest", "minus7"}));
}

TEST(Priority, EqualPriorityGoesToTheLongestRemainingPathFirst) {
  // After the gate: A heads a chain of 4, C a chain of 2, B stands alone — all normal priority.
  // Added B, C, A so that insertion order would give the opposite answer.
  Recorder order;
  TaskGraph g;
  g.add("gate", [] {});
  auto add = [&](const std::string& id, std::vector<std::string> after) {
    g.add(id, [&order, id] { order.add(id); }, {.after = std::move(after)});
  };
  add("B", {"gate"});
  add("C", {"gate"});
  add("C1", {"C"});
  add("A", {"gate"});
  add("A1", {"A"});
  add("A2", {"A1"});
  add("A3", {"A2"});
  const std::vector<std::string> seen = strict_order(g, order);
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_EQ(seen.front(), "A") << ::testing::PrintToString(seen);
  // B (rank 1) runs only once no task of rank >= 2 is ready: after A (4), A1 (3), A2 and C (2).
  // (A3 and C1 also have rank 1 and may go either side of B.)
  for (const char* before : {"A", "A1", "A2", "C"}) {
    EXPECT_LT(position(seen, before), position(seen, "B"))
        << before << " must run before B: " << ::testing::PrintToString(seen);
  }
}

TEST(Priority, RankIsMeasuredByWeightNotTaskCount) {
  // A -> A1 weighs 2 in total; H weighs 10 on its own: H is on the longer remaining path.
  Recorder order;
  TaskGraph g;
  g.add("gate", [] {});
  g.add("A", [&] { order.add("A"); }, {.after = {"gate"}, .weight = 1});
  g.add("A1", [&] { order.add("A1"); }, {.after = {"A"}, .weight = 1});
  g.add("H", [&] { order.add("H"); }, {.after = {"gate"}, .weight = 10});
  EXPECT_EQ(strict_order(g, order).front(), "H");
}

TEST(Priority, SuccessorHandedToItsWorkerStillYieldsToAHigherPriorityTask) {
  // After the gate: x (high) and m (normal). x readies y (lowest), which goes straight to the
  // worker that ran x — but m is more urgent and must run first.
  Recorder order;
  TaskGraph g;
  g.add("gate", [] {});
  g.add("x", [&] { order.add("x"); }, {.after = {"gate"}, .priority = Priority::kHigh});
  g.add("m", [&] { order.add("m"); }, {.after = {"gate"}});
  g.add("y", [&] { order.add("y"); }, {.after = {"x"}, .priority = Priority::kLowest});
  EXPECT_EQ(strict_order(g, order), (std::vector<std::string>{"x", "m", "y"}));
}

TEST(Priority, PriorityOutranksRemainingPathLength) {
  Recorder order;
  TaskGraph g;
  g.add("gate", [] {});
  g.add("long", [&] { order.add("long"); }, {.after = {"gate"}});
  g.add("long1", [&] { order.add("long1"); }, {.after = {"long"}});
  g.add("long2", [&] { order.add("long2"); }, {.after = {"long1"}});
  g.add("urgent", [&] { order.add("urgent"); }, {.after = {"gate"}, .priority = Priority::kHigh});
  EXPECT_EQ(strict_order(g, order).front(), "urgent");
}

// ---------------------------------------------------------------- execution modes

class ExecutionModeTest : public testing::WorkerCountTest {};
TASKLOOM_INSTANTIATE_WORKER_COUNTS(ExecutionModeTest);

TEST_P(ExecutionModeTest, EagerTaskStartsWhileAnUnrelatedEarlierWaveTaskStillRuns) {
  // wave 0: slow, quick;  wave 1: next (after quick). "slow" waits for "next" to start: in eager
  // mode "next" needs only "quick", so it starts while "slow" is still running.
  if (workers() < 2) {
    GTEST_SKIP() << "needs two tasks running at once; one worker keeps to one busy thread "
                    "(see EagerMode.EagerTaskOvertakesAnEarlierWaveOnOneWorker)";
  }
  Signal next_started;
  TaskGraph g;
  g.add("slow", [&] { return next_started.wait_for(20s); });
  g.add("quick", [] {});
  g.add("next", [&] { next_started.notify(); }, {.after = {"quick"}});
  const RunReport& report = executor_.run(g).report();  // default mode: eager
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report.task("slow").result_as<bool>())
      << "'next' did not start while 'slow' (an earlier wave) was running";
  EXPECT_EQ(report.task("slow").wave, 0u);
  EXPECT_EQ(report.task("next").wave, 1u);
}

TEST(EagerMode, EagerTaskOvertakesAnEarlierWaveOnOneWorker) {
  // One worker, strict order (see the top of this file). After the gate: "slow" (low priority)
  // and "quick"; "next" (high priority) follows "quick". Eager: quick, next, slow — "next"
  // starts before "slow", a task of the wave before its own. Wave-synchronous: quick, slow, next.
  auto build = [](TaskGraph& g, Recorder& order) {
    g.add("gate", [] {});
    g.add("slow", [&order] { order.add("slow"); }, {.after = {"gate"}, .priority = Priority::kLow});
    g.add("quick", [&order] { order.add("quick"); }, {.after = {"gate"}});
    g.add("next", [&order] { order.add("next"); },
          {.after = {"quick"}, .priority = Priority::kHigh});
  };
  for (const ExecutionMode mode : {ExecutionMode::kEager, ExecutionMode::kWaveSynchronous}) {
    Recorder order;
    TaskGraph g;
    build(g, order);
    Executor executor(1);
    runtime::Run run = executor.run(g, {.max_concurrency = 1, .mode = mode});
    ASSERT_TRUE(testing::finishes_without_helping(run));
    ASSERT_TRUE(run.report().ok());
    const auto expected = mode == ExecutionMode::kEager
                              ? std::vector<std::string>{"quick", "next", "slow"}
                              : std::vector<std::string>{"quick", "slow", "next"};
    EXPECT_EQ(order.snapshot(), expected)
        << (mode == ExecutionMode::kEager ? "eager" : "wave-synchronous");
  }
}

TEST_P(ExecutionModeTest, WaveSynchronousStartsAWaveOnlyAfterThePreviousWaveEnded) {
  // 3 waves of 4; task (w, i) runs after (w-1, i). Task (0, 0) is slow: it gives a wave-1 task
  // 200 ms to start (which eager mode would allow) before it ends.
  constexpr int kWaves = 3, kWidth = 4;
  std::array<std::atomic<int>, kWaves> ended{};
  std::atomic<int> violations{0};
  Signal wave1_started;
  TaskGraph g;
  for (int w = 0; w < kWaves; ++w) {
    for (int i = 0; i < kWidth; ++i) {
      const std::string id = "w" + std::to_string(w) + "_" + std::to_string(i);
      TaskOptions options;
      if (w > 0) options.after = {"w" + std::to_string(w - 1) + "_" + std::to_string(i)};
      g.add(
          id,
          [&, w, i] {
            if (w > 0 && ended[w - 1].load() != kWidth) ++violations;
            if (w == 1) wave1_started.notify();
            bool early = false;
            if (w == 0 && i == 0) early = wave1_started.wait_for(200ms);
            ++ended[w];
            return early;
          },
          std::move(options));
    }
  }
  const RunReport& report = executor_.run(g, {.mode = ExecutionMode::kWaveSynchronous}).report();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(violations.load(), 0) << "a task started before its previous wave had ended";
  EXPECT_FALSE(report.task("w0_0").result_as<bool>()) << "a wave-1 task ran beside wave 0";
  ASSERT_EQ(report.waves.size(), 3u);
  for (const WaveSummary& w : report.waves) EXPECT_EQ(w.tasks, 4u);
}

// ---------------------------------------------------------------- max_concurrency

TEST_P(ExecutionModeTest, MaxConcurrencyTwoNeverRunsMoreThanTwoTasks) {
  ConcurrencyMeter meter;
  TaskGraph g;
  for (int i = 0; i < 200; ++i) {
    g.add([&] {
      meter.enter();
      testing::spin_for(200us);
      meter.leave();
    });
  }
  // report() waits from this thread, which may help: the limit still holds for the whole run.
  const RunReport& report = executor_.run(g, {.max_concurrency = 2}).report();
  ASSERT_TRUE(report.ok());
  EXPECT_LE(meter.max(), 2);
  EXPECT_GE(meter.max(), 1);
}

TEST_P(ExecutionModeTest, MaxConcurrencyOneSerialisesTheRun) {
  ConcurrencyMeter meter;
  TaskGraph g;
  for (int i = 0; i < 100; ++i) {
    g.add([&] {
      meter.enter();
      testing::spin_for(100us);
      meter.leave();
    });
  }
  const RunReport& report = executor_.run(g, {.max_concurrency = 1}).report();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(meter.max(), 1);
}

TEST_P(ExecutionModeTest, MaxConcurrencyIsPerRun) {
  // Each of two concurrent runs is limited to one task; together they may run two, and here
  // they must: each run's task waits until the other run's task has started.
  if (workers() < 2) GTEST_SKIP() << "one worker keeps to one busy thread";
  std::atomic<int> arrived{0};
  TaskGraph g;
  g.add("meet", [&] {
    ++arrived;
    return testing::eventually([&] { return arrived.load() >= 2; }, 20s);
  });
  runtime::Run r1 = executor_.run(g, {.max_concurrency = 1});
  runtime::Run r2 = executor_.run(g, {.max_concurrency = 1});
  EXPECT_TRUE(r2.report().task("meet").result_as<bool>());
  EXPECT_TRUE(r1.report().task("meet").result_as<bool>());
}

}  // namespace
}  // namespace taskloom::runtime
