// Per-task and per-job controls while work is in flight: Run::status(id), Run::cancel(id) and
// what its dependents become, Future::cancel, Future::wait_for, submit with a stop token or a
// deadline, the results of all dependencies as one view, and the ids of each wave in the
// report. Deadlines run on a ManualClock: no test waits for time to pass.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/error.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::eventually;
using testing::finishes_without_helping;
using testing::HeldWorker;
using ::testing::Pair;
using testing::ready_without_helping;
using testing::Signal;

ExecutorOptions one_worker() {
  return {.workers = 1, .caller_helps = false};
}

TEST(RunControls, StatusOfOneTaskWhileTheRunIsInFlight) {
  Executor executor(one_worker());
  Signal running, release;
  TaskGraph g;
  g.add("first", [&] {
    running.notify();
    EXPECT_TRUE(release.wait());
  });
  g.add("second", [] {}, {.after = {"first"}});
  g.add("other", [] {}, {.priority = Priority::kLow});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(running.wait());
  EXPECT_EQ(run.status("first"), TaskStatus::kRunning);
  EXPECT_EQ(run.status("second"), TaskStatus::kPending);
  EXPECT_EQ(run.status("other"), TaskStatus::kReady);
  EXPECT_THROW((void)run.status("nope"), InvalidArgumentError);
  release.notify();
  ASSERT_TRUE(finishes_without_helping(run));
  EXPECT_EQ(run.status("first"), TaskStatus::kSucceeded);
  EXPECT_EQ(run.status("second"), TaskStatus::kSucceeded);
}

TEST(RunControls, CancellingATaskThatHasNotStartedSkipsItsDependentsOnly) {
  Executor executor(one_worker());
  Signal running, release;
  std::atomic<int> ran_cancelled{0};
  TaskGraph g;
  g.add("gate",
        [&] {
          running.notify();
          EXPECT_TRUE(release.wait());
        },
        {.priority = Priority::kHigh});
  g.add("preview", [&] { ++ran_cancelled; });
  g.add("publish", [&] { ++ran_cancelled; }, {.after = {"preview"}});
  g.add("independent", [] { return 1; });
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(running.wait());
  run.cancel("preview");
  run.cancel("preview");  // idempotent
  release.notify();
  ASSERT_TRUE(finishes_without_helping(run));
  const RunReport& r = run.report();
  EXPECT_EQ(ran_cancelled.load(), 0);
  EXPECT_FALSE(run.cancelled()) << "the run itself was not cancelled";
  EXPECT_EQ(r.task("preview").status, TaskStatus::kCancelled);
  EXPECT_EQ(r.task("publish").status, TaskStatus::kSkipped);
  EXPECT_EQ(r.task("publish").skipped_because, "preview");
  EXPECT_EQ(r.task("independent").status, TaskStatus::kSucceeded);
  EXPECT_EQ(r.task("gate").status, TaskStatus::kSucceeded);
}

TEST(RunControls, CancellingARunningTaskWithItsOwnStopSourceStopsIt) {
  Executor executor(2);
  Signal running;
  std::atomic<int> reason{-1};
  TaskGraph g;
  g.add("long",
        [&](TaskContext& ctx) {
          running.notify();
          EXPECT_TRUE(eventually([&] { return ctx.stop_requested(); }));
          reason = static_cast<int>(ctx.stop_reason());
        },
        {.retries = 3, .timeout = 1h});
  g.add("after", [] {}, {.after = {"long"}});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(running.wait());
  EXPECT_EQ(run.status("long"), TaskStatus::kRunning);
  run.cancel("long");
  ASSERT_TRUE(finishes_without_helping(run));
  EXPECT_EQ(reason.load(), static_cast<int>(StopReason::kCancelled));
  const RunReport& r = run.report();
  EXPECT_EQ(r.task("long").status, TaskStatus::kCancelled);
  EXPECT_EQ(r.task("long").attempts, 1u) << "no retry after a cancel";
  EXPECT_EQ(r.task("after").status, TaskStatus::kSkipped);
}

TEST(RunControls, CancellingATaskWaitingForARetryEndsItWithoutTheBackoff) {
  Executor executor(2);
  std::atomic<int> attempts{0};
  TaskGraph g;
  g.add("flaky",
        [&] {
          ++attempts;
          throw std::runtime_error("no");
        },
        {.retries = 5});
  runtime::Run run = executor.run(g, {.backoff = {.initial = 1h, .jitter = 0}});
  ASSERT_TRUE(eventually([&] { return attempts.load() == 1; }));
  ASSERT_TRUE(eventually([&] { return run.status("flaky") == TaskStatus::kReady; }));
  run.cancel("flaky");
  ASSERT_TRUE(finishes_without_helping(run));
  EXPECT_EQ(run.report().task("flaky").status, TaskStatus::kCancelled);
  EXPECT_EQ(attempts.load(), 1);
}

TEST(FutureControls, CancelAJobThatHasNotStarted) {
  Executor executor(one_worker());
  std::atomic<bool> ran{false};
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  auto f = executor.submit([&] {
    ran = true;
    return 1;
  });
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.ready());
  EXPECT_FALSE(f.cancel()) << "cancelled already";
  EXPECT_THROW((void)f.get(), CancelledError);
  held.release();
  auto after = executor.submit([] { return 2; });
  ASSERT_TRUE(ready_without_helping(after));
  EXPECT_EQ(after.get(), 2);
  EXPECT_FALSE(ran.load());
}

TEST(FutureControls, CancelAJobThatStartedDoesNothing) {
  Executor executor(one_worker());
  Signal started, release;
  auto f = executor.submit([&] {
    started.notify();
    EXPECT_TRUE(release.wait());
    return 5;
  });
  ASSERT_TRUE(started.wait());
  EXPECT_FALSE(f.cancel());
  release.notify();
  ASSERT_TRUE(ready_without_helping(f));
  EXPECT_EQ(f.get(), 5);
}

TEST(FutureControls, WaitForReturnsFalseUntilTheResultIsThere) {
  Executor executor(one_worker());
  Signal release;
  auto f = executor.submit([&] {
    EXPECT_TRUE(release.wait());
    return 3;
  });
  EXPECT_FALSE(f.wait_for(10ms));
  release.notify();
  EXPECT_TRUE(f.wait_for(testing::kEventually));
  EXPECT_EQ(f.get(), 3);
}

TEST(FutureControls, ASubmittedJobStoppedBeforeItStartsNeverRuns) {
  Executor executor(one_worker());
  std::stop_source stop;
  std::atomic<bool> ran{false};
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  auto f = executor.submit([&] { ran = true; }, {.stop_token = stop.get_token()});
  EXPECT_FALSE(f.ready());
  stop.request_stop();
  EXPECT_TRUE(f.ready());
  EXPECT_THROW(f.get(), CancelledError);
  held.release();
  auto after = executor.submit([] { return 1; });
  ASSERT_TRUE(ready_without_helping(after));
  EXPECT_FALSE(ran.load());
}

TEST(FutureControls, ASubmittedJobThatTakesAStopTokenSeesTheStopRequest) {
  Executor executor(one_worker());
  std::stop_source stop;
  Signal started;
  auto f = executor.submit(
      [&](std::stop_token token) {
        started.notify();
        return eventually([&] { return token.stop_requested(); });
      },
      {.stop_token = stop.get_token()});
  ASSERT_TRUE(started.wait());
  stop.request_stop();
  ASSERT_TRUE(ready_without_helping(f));
  EXPECT_TRUE(f.get()) << "the running job saw its token fire";
}

/// One worker, no helping, time moved by the test.
struct ManualTime {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  ExecutorOptions options() const { return {.workers = 1, .clock = clock, .caller_helps = false}; }
};

TEST(FutureControls, AJobWhoseDeadlinePassesBeforeItStartsNeverRuns) {
  ManualTime time;
  Executor executor(time.options());
  std::atomic<bool> ran{false};
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  auto f = executor.submit(
      [&] {
        ran = true;
        return 1;
      },
      {.deadline = executor.clock().now() + 10s});
  time.clock->advance(9s);
  EXPECT_FALSE(f.ready()) << "before its deadline, a queued job stays queued";
  time.clock->advance(1s);
  ASSERT_TRUE(ready_without_helping(f));
  EXPECT_THROW((void)f.get(), DeadlineExceededError);
  held.release();
  auto after = executor.submit([] { return 2; });
  ASSERT_TRUE(ready_without_helping(after));
  EXPECT_EQ(after.get(), 2);
  EXPECT_FALSE(ran.load());
}

TEST(FutureControls, ARunningJobSeesItsDeadlineAsAStopRequest) {
  ManualTime time;
  Executor executor(time.options());
  Signal started;
  auto f = executor.submit(
      [&](std::stop_token token) {
        started.notify();
        return eventually([&] { return token.stop_requested(); }) ? 7 : -1;
      },
      {.deadline = executor.clock().now() + 1min});
  ASSERT_TRUE(started.wait());
  time.clock->advance(1min);
  ASSERT_TRUE(ready_without_helping(f));
  EXPECT_EQ(f.get(), 7) << "what the callable returns once stopped is the result";
}

TEST(FutureControls, WithADeadlineTheCallersStopTokenStillCancels) {
  ManualTime time;
  Executor executor(time.options());
  std::stop_source stop;
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  auto queued = executor.submit(
      [] {}, {.stop_token = stop.get_token(), .deadline = executor.clock().now() + 1h});
  stop.request_stop();
  ASSERT_TRUE(ready_without_helping(queued));
  try {
    queued.get();
    ADD_FAILURE() << "a stopped job has no result";
  } catch (const DeadlineExceededError&) {
    ADD_FAILURE() << "stopped by its token, not by its deadline";
  } catch (const CancelledError&) {
  }
  held.release();
  std::stop_source stop_running;
  Signal started;
  auto running = executor.submit(
      [&](std::stop_token token) {
        started.notify();
        return eventually([&] { return token.stop_requested(); });
      },
      {.stop_token = stop_running.get_token(), .deadline = executor.clock().now() + 1h});
  ASSERT_TRUE(started.wait());
  stop_running.request_stop();
  ASSERT_TRUE(ready_without_helping(running));
  EXPECT_TRUE(running.get()) << "the caller's stop reaches the token the callable was given";
}

TEST(FutureControls, AJobThatEndsBeforeItsDeadlineIsNotTouchedByIt) {
  ManualTime time;
  Executor executor(time.options());
  auto f = executor.submit([](std::stop_token token) { return token.stop_requested(); },
                           {.deadline = executor.clock().now() + 1s});
  ASSERT_TRUE(ready_without_helping(f));
  time.clock->advance(1h);  // the disarmed timer must not touch the job (ASan, TSan)
  EXPECT_FALSE(f.get());
}

TEST(TaskContextView, TheResultsOfAllDependenciesAsOneView) {
  Executor executor(2);
  TaskGraph g;
  g.add("a", [] { return 1; });
  g.add("b", [] { return 20; });
  g.add("c", [] {});
  g.add("sum",
        [](TaskContext& ctx) {
          std::vector<std::pair<std::string, bool>> seen;
          int total = 0;
          for (const DependencyResult& d : ctx.dependency_results()) {
            seen.emplace_back(d.id, d.value->has_value());
            if (d.value->has_value()) total += d.as<int>();
          }
          EXPECT_THAT(seen, ElementsAre(Pair("a", true), Pair("b", true), Pair("c", false)));
          EXPECT_THROW((void)ctx.dependency_results()[2].as<int>(), TypeMismatchError);
          return total;
        },
        {.after = {"a", "b", "c"}});
  const RunReport r = executor.run(g).report();
  ASSERT_TRUE(r.ok()) << r.summary();
  EXPECT_EQ(r.task("sum").result_as<int>(), 21);
}

TEST(ReportWaves, EachWaveListsItsTaskIds) {
  Executor executor(2);
  TaskGraph g;
  g.add("a", [] {});
  g.add("b", [] {});
  g.add("c", [] {}, {.after = {"a"}});
  g.add("d", [] {}, {.after = {"c", "b"}});
  const RunReport r = executor.run(g).report();
  ASSERT_EQ(r.waves.size(), 3u);
  EXPECT_THAT(r.waves[0].ids, ElementsAre("a", "b"));
  EXPECT_THAT(r.waves[1].ids, ElementsAre("c"));
  EXPECT_THAT(r.waves[2].ids, ElementsAre("d"));
  EXPECT_EQ(r.waves[0].tasks, 2u);
}

}  // namespace
}  // namespace taskloom::runtime
