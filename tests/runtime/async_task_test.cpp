// Contract tests for async tasks (TaskGraph::add_async, completion.hpp): an attempt that waits
// for outside work holds no worker, yet timeouts, cancellation, retries, resource admission and
// max_concurrency apply to it as to any task.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/completion.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::stays_false;

/// Outside work: completions handed over by bodies, completed later by the test thread.
class Outside {
 public:
  void take(Completion c) {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(c));
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  /// Completes the oldest pending completion with `f` (false when there is none).
  template <class F>
  bool complete_one(F f) {
    Completion c;
    {
      std::lock_guard lock(mutex_);
      if (pending_.empty()) return false;
      c = std::move(pending_.front());
      pending_.pop_front();
    }
    f(c);
    return true;
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Completion> pending_;  // guarded by mutex_
};

constexpr RetryBackoff kNoBackoff{.initial = 0ms, .multiplier = 1.0, .max = 0ms, .jitter = 0.0};

class AsyncTaskTest : public testing::WorkerCountTest {};
TASKLOOM_INSTANTIATE_WORKER_COUNTS(AsyncTaskTest);

TEST_P(AsyncTaskTest, ManyAttemptsWaitAtOnceWithoutHoldingAWorker) {
  // Far more open attempts than workers: each one would need a worker of its own otherwise.
  const std::size_t n = 200;
  Outside outside;
  TaskGraph g;
  for (std::size_t i = 0; i < n; ++i) {
    g.add_async("job" + std::to_string(i),
                [&](TaskContext&, Completion done) { outside.take(std::move(done)); });
  }
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(eventually([&] { return outside.size() == n; }));
  EXPECT_FALSE(run.done());
  // The workers are free meanwhile: a plain job runs.
  EXPECT_EQ(executor_.submit([] { return 7; }).get(), 7);
  while (outside.complete_one([](Completion& c) { EXPECT_TRUE(c.succeed()); })) {
  }
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(run.report().succeeded, n);
}

TEST_P(AsyncTaskTest, DependentsStartOnlyOnceTheWorkCompleted) {
  Outside outside;
  std::atomic<bool> completed{false};
  std::atomic<bool> dependent_saw_completion{false};
  TaskGraph g;
  g.add_async("upload", [&](TaskContext&, Completion done) { outside.take(std::move(done)); });
  g.add("notify", [&] { dependent_saw_completion = completed.load(); }, {.after = {"upload"}});
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(eventually([&] { return outside.size() == 1; }));
  EXPECT_TRUE(stays_false([&] { return run.done(); }, testing::kQuietWindow));
  completed = true;
  outside.complete_one([](Completion& c) { c.succeed(); });
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_TRUE(dependent_saw_completion.load());
  EXPECT_EQ(run.report().succeeded, 2u);
}

TEST_P(AsyncTaskTest, AFailureIsRetriedWithANewCompletionAndKeepsItsMessage) {
  std::atomic<int> attempts{0};
  std::vector<std::thread> threads;
  std::mutex threads_mutex;
  TaskGraph g;
  g.add_async("flaky",
              [&](TaskContext& ctx, Completion done) {
                ++attempts;
                std::lock_guard lock(threads_mutex);
                threads.emplace_back([done, attempt = ctx.attempt()]() mutable {
                  if (attempt < 3) {
                    done.fail("exit status " + std::to_string(attempt));
                  } else {
                    done.succeed();
                  }
                });
              },
              {.retries = 2});
  runtime::Run run = executor_.run(g, {.backoff = kNoBackoff});
  const RunReport& r = run.report();
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(r.tasks.size(), 1u);
  EXPECT_EQ(r.tasks[0].status, TaskStatus::kSucceeded);
  EXPECT_EQ(r.tasks[0].attempts, 3u);
  EXPECT_EQ(attempts.load(), 3);
  ASSERT_EQ(r.tasks[0].history.size(), 3u);
  EXPECT_EQ(r.tasks[0].history[0].error, "exit status 1");
  EXPECT_EQ(r.tasks[0].history[1].error, "exit status 2");
}

TEST_P(AsyncTaskTest, TheTimeoutFiresTheStopTokenAndTheAttemptEndsTimedOut) {
  std::atomic<int> reason{-1};
  std::vector<std::unique_ptr<std::stop_callback<std::function<void()>>>> watches;
  std::mutex watches_mutex;
  TaskGraph g;
  g.add_async("hangs",
              [&](TaskContext&, Completion done) {
                // The outside work stops when asked, and reports a failure: it counts as the
                // timeout.
                std::lock_guard lock(watches_mutex);
                watches.push_back(std::make_unique<std::stop_callback<std::function<void()>>>(
                    done.stop_token(), std::function<void()>([&reason, done]() mutable {
                      reason = static_cast<int>(done.stop_reason());
                      done.fail("killed");
                    })));
              },
              {.timeout = 20ms});
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(reason.load(), static_cast<int>(StopReason::kTimedOut));
  ASSERT_EQ(run.report().tasks.size(), 1u);
  EXPECT_EQ(run.report().tasks[0].status, TaskStatus::kTimedOut);
}

TEST_P(AsyncTaskTest, WorkThatTimesOutByItselfEndsTimedOutWithItsMessage) {
  TaskGraph g;
  g.add_async("render",
              [](TaskContext&, Completion done) { done.time_out("Slurm job 41 ended TIMEOUT"); });
  const RunReport r = executor_.run(g).report();
  ASSERT_EQ(r.tasks.size(), 1u);
  EXPECT_EQ(r.tasks[0].status, TaskStatus::kTimedOut);
  EXPECT_EQ(r.tasks[0].error, "Slurm job 41 ended TIMEOUT");
}

TEST_P(AsyncTaskTest, CancellingTheRunStopsTheWorkAndEndsItCancelled) {
  Outside outside;
  TaskGraph g;
  g.add_async("long", [&](TaskContext&, Completion done) { outside.take(std::move(done)); });
  g.add("after", [] {}, {.after = {"long"}});
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(eventually([&] { return outside.size() == 1; }));
  run.cancel();
  outside.complete_one([](Completion& c) {
    EXPECT_TRUE(c.stop_token().stop_requested());
    EXPECT_EQ(c.stop_reason(), StopReason::kCancelled);
    c.fail("terminated");
  });
  ASSERT_TRUE(testing::finishes_without_helping(run));
  const RunReport& r = run.report();
  EXPECT_EQ(r.cancelled, 2u);
}

TEST_P(AsyncTaskTest, WorkThatSucceededAfterACancelStillCounts) {
  Outside outside;
  TaskGraph g;
  g.add_async("encode", [&](TaskContext&, Completion done) { outside.take(std::move(done)); });
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(eventually([&] { return outside.size() == 1; }));
  run.cancel();
  outside.complete_one([](Completion& c) { c.succeed(); });
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(run.report().succeeded, 1u);
}

TEST_P(AsyncTaskTest, ADroppedCompletionFailsTheAttemptInsteadOfHangingTheRun) {
  TaskGraph g;
  g.add_async("forgetful", [](TaskContext&, Completion) {});
  const RunReport r = executor_.run(g).report();
  ASSERT_EQ(r.tasks.size(), 1u);
  EXPECT_EQ(r.tasks[0].status, TaskStatus::kFailed);
  EXPECT_THAT(r.tasks[0].error, ::testing::HasSubstr("destroyed without an outcome"));
}

TEST_P(AsyncTaskTest, ABodyThatThrowsFailsTheAttemptWithItsException) {
  TaskGraph g;
  g.add_async("submit", [](TaskContext&, Completion) {
    throw std::runtime_error("sbatch: error: invalid partition");
  });
  const RunReport r = executor_.run(g).report();
  ASSERT_EQ(r.tasks.size(), 1u);
  EXPECT_EQ(r.tasks[0].status, TaskStatus::kFailed);
  EXPECT_EQ(r.tasks[0].error, "sbatch: error: invalid partition");
  EXPECT_TRUE(r.tasks[0].exception);
}

TEST_P(AsyncTaskTest, OnlyTheFirstCompletionCounts) {
  TaskGraph g;
  std::atomic<int> second{-1};
  g.add_async("twice", [&](TaskContext&, Completion done) {
    EXPECT_TRUE(done.succeed());
    second = done.fail("late") ? 1 : 0;
  });
  const RunReport r = executor_.run(g).report();
  EXPECT_EQ(second.load(), 0);
  EXPECT_EQ(r.succeeded, 1u);
}

TEST_P(AsyncTaskTest, ResourcesAreHeldUntilTheWorkCompletes) {
  Outside outside;
  TaskGraph g;
  for (int i = 0; i < 3; ++i) {
    g.add_async("gpu" + std::to_string(i),
                [&](TaskContext&, Completion done) { outside.take(std::move(done)); },
                {.needs = {{"gpu", 1}}});
  }
  runtime::Run run = executor_.run(g, {.resources = {{"gpu", 2}}});
  ASSERT_TRUE(eventually([&] { return outside.size() == 2; }));
  EXPECT_TRUE(stays_false([&] { return outside.size() > 2; }, testing::kQuietWindow));
  outside.complete_one([](Completion& c) { c.succeed(); });
  ASSERT_TRUE(eventually([&] { return outside.size() == 2; }));  // the third started
  while (outside.complete_one([](Completion& c) { c.succeed(); })) {
  }
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(run.report().succeeded, 3u);
}

TEST_P(AsyncTaskTest, MaxConcurrencyCountsOpenAttempts) {
  Outside outside;
  TaskGraph g;
  for (int i = 0; i < 5; ++i) {
    g.add_async("j" + std::to_string(i),
                [&](TaskContext&, Completion done) { outside.take(std::move(done)); });
  }
  runtime::Run run = executor_.run(g, {.max_concurrency = 2});
  ASSERT_TRUE(eventually([&] { return outside.size() == 2; }));
  EXPECT_TRUE(stays_false([&] { return outside.size() > 2; }, testing::kQuietWindow));
  for (int done = 0; done < 5;) {
    if (outside.complete_one([](Completion& c) { c.succeed(); })) {
      ++done;
    } else {
      std::this_thread::sleep_for(100us);
    }
    EXPECT_LE(outside.size(), 2u);
  }
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(run.report().succeeded, 5u);
}

TEST(AsyncTask, CannotBeInterruptible) {
  TaskGraph g;
  EXPECT_THROW(g.add_async("x", [](TaskContext&, Completion done) { done.succeed(); },
                           {.interruptible = true}),
               InvalidArgumentError);
  EXPECT_EQ(g.size(), 0u);
}

TEST(AsyncTask, AnEmptyCompletionRefusesToComplete) {
  Completion c;
  EXPECT_FALSE(c.valid());
  EXPECT_THROW(c.succeed(), InvalidStateError);
  EXPECT_FALSE(c.completed());
}

TEST(AsyncTask, APlainTaskCannotDefer) {
  Executor executor(1);
  TaskGraph g;
  g.add("plain", [](TaskContext& ctx) { (void)ctx.defer(); });
  const RunReport r = executor.run(g).report();
  ASSERT_EQ(r.tasks.size(), 1u);
  EXPECT_EQ(r.tasks[0].status, TaskStatus::kFailed);
  EXPECT_THAT(r.tasks[0].error, ::testing::HasSubstr("is not async"));
}

}  // namespace
}  // namespace taskloom::runtime
