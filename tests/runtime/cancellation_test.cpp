// Contract tests for cancelling a run (run.hpp: Run::cancel; docs/design.md "Cancellation is
// prompt": a cancelled run stops starting tasks at once, signals running ones through their stop
// token, and reports every task's final state).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "graph_shapes.hpp"
#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using ::testing::AnyOf;
using testing::eventually;
using testing::Signal;

class CancellationTest : public testing::WorkerCountTest {};
TASKLOOM_INSTANTIATE_WORKER_COUNTS(CancellationTest);

/// Every task of `report` is in a final state, the totals add up and the run's progress agrees.
void expect_fully_reported(const runtime::Run& run, std::size_t total) {
  const RunReport& report = run.report();
  ASSERT_EQ(report.tasks.size(), total);
  for (const TaskReport& t : report.tasks) EXPECT_TRUE(is_final(t.status)) << t.id;
  EXPECT_EQ(testing::total_of(report), total);
  EXPECT_TRUE(run.done());
  EXPECT_EQ(run.progress().done, total);
  EXPECT_EQ(run.progress().total, total);
}

TEST_P(CancellationTest, CancelMidRunEndsEveryTaskInAFinalState) {
  // 5000 tasks in 100 layers of 50. The first kQuick bodies to start return at once; every later
  // one blocks until its stop token fires (bounded at 20 s), so the run is stuck until cancelled.
  constexpr int kQuick = 300;
  const testing::DepLists deps = testing::layered(50, 100);
  struct State {
    explicit State(std::size_t n) : calls(n), blocked(n) {}
    std::vector<std::atomic<int>> calls;
    std::vector<std::atomic<bool>> blocked;
    std::atomic<int> started{0}, blockers{0}, blockers_saw_stop{0}, started_after_cancel{0};
    std::atomic<bool> cancel_returned{false};
    Signal blocking;
  } s(deps.size());
  TaskGraph g;
  testing::build(g, deps, [&s](std::uint32_t i) {
    return [&s, i](TaskContext& ctx) {
      if (s.cancel_returned.load()) ++s.started_after_cancel;
      ++s.calls[i];
      if (s.started.fetch_add(1) < kQuick) return;
      s.blocked[i] = true;
      ++s.blockers;
      s.blocking.notify();
      if (eventually([&] { return ctx.stop_requested(); }, 20s)) ++s.blockers_saw_stop;
    };
  });

  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(s.blocking.wait()) << "no task ever blocked";
  run.cancel();
  s.cancel_returned = true;
  run.cancel();  // idempotent
  EXPECT_TRUE(run.cancelled());
  run.wait();
  run.cancel();  // still harmless once done
  EXPECT_TRUE(run.cancelled());

  expect_fully_reported(run, deps.size());
  const RunReport& report = run.report();
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(report.timed_out, 0u);
  EXPECT_GT(report.cancelled, 0u);
  EXPECT_LE(report.succeeded, static_cast<std::size_t>(kQuick));
  EXPECT_EQ(s.blockers.load(), s.blockers_saw_stop.load()) << "a running task missed its stop";
  // cancel() stops starting tasks at once: only a thread that had already decided to start a
  // task when cancel() was called may still enter it (at most one per worker).
  EXPECT_LE(s.started_after_cancel.load(), static_cast<int>(workers()));
  for (std::size_t i = 0; i < deps.size(); ++i) {
    const TaskReport& t = report.tasks[i];
    EXPECT_LE(s.calls[i].load(), 1) << t.id << " started twice";
    EXPECT_THAT(t.status,
                AnyOf(TaskStatus::kSucceeded, TaskStatus::kCancelled, TaskStatus::kSkipped))
        << t.id;
    if (s.blocked[i]) {
      // It returned after the run was cancelled: it ends cancelled, whatever it returned.
      EXPECT_EQ(t.status, TaskStatus::kCancelled) << t.id;
    }
    if (t.status == TaskStatus::kSucceeded) {
      for (std::uint32_t d : deps[i]) {
        EXPECT_EQ(report.tasks[d].status, TaskStatus::kSucceeded) << t.id << " after " << d;
      }
    }
    if (t.status == TaskStatus::kSkipped) {
      EXPECT_FALSE(t.skipped_because.empty()) << t.id;
    }
    if (s.calls[i].load() == 0) {
      EXPECT_NE(t.status, TaskStatus::kSucceeded) << t.id;
    }
  }
}

TEST_P(CancellationTest, CancelFiresTheStopTokenOfRunningTasks) {
  Signal started;
  std::atomic<bool> callback_fired{false};
  TaskGraph g;
  g.add("listener", [&](TaskContext& ctx) {
    Signal fired;
    std::stop_callback on_stop(ctx.stop_token(), [&] { fired.notify(); });
    started.notify();
    callback_fired = fired.wait();
  });
  g.add("after", [] {}, {.after = {"listener"}});
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(started.wait());
  EXPECT_FALSE(run.cancelled());
  run.cancel();
  run.wait();
  EXPECT_TRUE(callback_fired.load());
  const RunReport& report = run.report();
  EXPECT_EQ(report.task("listener").status, TaskStatus::kCancelled);
  EXPECT_THAT(report.task("after").status, AnyOf(TaskStatus::kCancelled, TaskStatus::kSkipped));
  expect_fully_reported(run, 2);
}

TEST_P(CancellationTest, RunCancelledBeforeAnyTaskStartsRunsNothing) {
  // Occupy every worker with a submitted job, start the run, cancel it, then free the workers.
  Signal release;
  std::atomic<unsigned> blocked{0};
  std::vector<Future<void>> blockers;
  for (unsigned w = 0; w < workers(); ++w) {
    blockers.push_back(executor_.submit([&] {
      ++blocked;
      (void)release.wait();
    }));
  }
  ASSERT_TRUE(eventually([&] { return blocked.load() == workers(); }));

  std::atomic<int> calls{0};
  TaskGraph g;
  const testing::DepLists deps = testing::layered(10, 10);
  testing::build(g, deps, [&](std::uint32_t) { return [&] { ++calls; }; });
  runtime::Run run = executor_.run(g);
  run.cancel();
  release.notify();
  for (auto& f : blockers) f.get();
  run.wait();

  EXPECT_EQ(calls.load(), 0);
  expect_fully_reported(run, deps.size());
  const RunReport& report = run.report();
  EXPECT_EQ(report.succeeded, 0u);
  for (const TaskReport& t : report.tasks) {
    EXPECT_THAT(t.status, AnyOf(TaskStatus::kCancelled, TaskStatus::kSkipped)) << t.id;
    EXPECT_EQ(t.attempts, 0u) << t.id;
  }
}

TEST_P(CancellationTest, TasksThatEndedBeforeTheCancelKeepTheirOutcome) {
  Signal started;
  TaskGraph g;
  g.add("done_early", [] { return 1; });
  g.add("blocker",
        [&](TaskContext& ctx) {
          started.notify();
          (void)eventually([&] { return ctx.stop_requested(); });
        },
        {.after = {"done_early"}});
  g.add("never", [] {}, {.after = {"blocker"}});
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(started.wait());
  run.cancel();
  const RunReport& report = run.report();
  EXPECT_EQ(report.task("done_early").status, TaskStatus::kSucceeded);
  EXPECT_EQ(report.task("done_early").result_as<int>(), 1);
  EXPECT_EQ(report.task("blocker").status, TaskStatus::kCancelled);
  EXPECT_THAT(report.task("never").status, AnyOf(TaskStatus::kCancelled, TaskStatus::kSkipped));
  EXPECT_EQ(report.succeeded, 1u);
  EXPECT_EQ(report.cancelled + report.skipped, 2u);
}

TEST_P(CancellationTest, CancelAfterTheRunEndedChangesNoOutcome) {
  TaskGraph g;
  g.add("a", [] { return 5; });
  runtime::Run run = executor_.run(g);
  run.wait();
  run.cancel();
  const RunReport& report = run.report();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.task("a").status, TaskStatus::kSucceeded);
  EXPECT_EQ(report.task("a").result_as<int>(), 5);
}

TEST_P(CancellationTest, CancelDoesNotWaitForAPendingRetry) {
  // The failed task's retry is an hour away on a manual clock that the test never moves (until
  // teardown, so that a failing run cannot hang the suite); cancelling must end the run now.
  // cancel() is called right after the attempt starts, so it may also land before the runtime
  // has scheduled the retry: that must not matter either.
  auto clock = std::make_shared<ManualClock>();
  ExecutorOptions options;
  options.workers = workers();
  options.clock = clock;
  Executor executor(options);
  std::atomic<int> attempts{0};
  TaskGraph g;
  g.add("flaky",
        [&] {
          ++attempts;
          throw std::runtime_error("fails");
        },
        {.retries = 3});
  struct AdvanceOnExit {
    ManualClock& clock;
    ~AdvanceOnExit() { clock.advance(std::chrono::hours(100)); }
  } unblock_teardown{*clock};  // destroyed before g, whose destructor waits for the run
  runtime::Run run = executor.run(g, {.backoff = {.initial = std::chrono::hours(1),
                                                  .multiplier = 2.0,
                                                  .max = std::chrono::hours(1),
                                                  .jitter = 0.0}});
  ASSERT_TRUE(eventually([&] { return attempts.load() == 1; }));
  run.cancel();
  ASSERT_TRUE(eventually([&] { return run.done(); })) << "cancel waited for the backoff";
  EXPECT_EQ(attempts.load(), 1);
  const TaskReport& t = run.report().task("flaky");
  EXPECT_THAT(t.status, AnyOf(TaskStatus::kCancelled, TaskStatus::kFailed));
  EXPECT_EQ(t.attempts, 1u);
}

TEST_P(CancellationTest, CancellingOneRunLeavesAnotherRunOfTheGraphAlone) {
  // Tasks block until stopped only in the run whose shared state says so.
  Signal blocking;
  TaskGraph g;
  for (int i = 0; i < 4; ++i) {
    g.add([&](TaskContext& ctx) {
      if (ctx.shared().get<bool>("block").value_or(false)) {
        blocking.notify();
        (void)eventually([&] { return ctx.stop_requested(); });
      }
    });
  }
  auto blocked_state = std::make_shared<SharedState>();
  blocked_state->set("block", true);
  runtime::Run doomed = executor_.run(g, {.shared = blocked_state});
  ASSERT_TRUE(blocking.wait());
  runtime::Run fine = executor_.run(g);
  doomed.cancel();
  EXPECT_TRUE(fine.report().ok());
  EXPECT_FALSE(fine.cancelled());
  EXPECT_EQ(doomed.report().cancelled, 4u);
}

}  // namespace
}  // namespace taskloom::runtime
