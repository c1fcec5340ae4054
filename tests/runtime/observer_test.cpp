// Contract tests for RunObserver (observer.hpp): every transition of every task is reported,
// in each task's order, and agrees with the run's report; TaskContext::stop_reason says why a
// stop token fired.
#include "taskloom/runtime/observer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

/// Keeps, per task, the transitions it was told ("ready", "begin 1", "end 1 failed retry",
/// "final succeeded"), and the global order of final statuses and readiness.
class Journal : public RunObserver {
 public:
  void on_ready(const TaskRef& t) override { add(t, "ready"); }
  void on_attempt_begin(const TaskRef& t, unsigned attempt, unsigned) override {
    add(t, "begin " + std::to_string(attempt));
  }
  void on_attempt_end(const TaskRef& t, const AttemptEnd& e) override {
    std::string s = "end " + std::to_string(e.attempt) + " " + std::string(to_string(e.status));
    if (e.retry) s += " retry";
    add(t, s);
    std::lock_guard lock(mutex_);
    if (!e.message.empty()) messages_[std::string(t.id)].emplace_back(e.message);
  }
  void on_task_end(const TaskRef& t, TaskStatus status, std::string_view upstream) override {
    std::string s = "final " + std::string(to_string(status));
    if (!upstream.empty()) s += " after " + std::string(upstream);
    add(t, s);
  }
  void on_run_end(bool cancelled) override {
    std::lock_guard lock(mutex_);
    ++run_ends_;
    order_.push_back(cancelled ? "run cancelled" : "run end");
  }

  std::vector<std::string> of(const std::string& task) const {
    std::lock_guard lock(mutex_);
    auto it = per_task_.find(task);
    return it == per_task_.end() ? std::vector<std::string>{} : it->second;
  }
  std::vector<std::string> messages(const std::string& task) const {
    std::lock_guard lock(mutex_);
    auto it = messages_.find(task);
    return it == messages_.end() ? std::vector<std::string>{} : it->second;
  }
  std::vector<std::string> order() const {
    std::lock_guard lock(mutex_);
    return order_;
  }
  int run_ends() const {
    std::lock_guard lock(mutex_);
    return run_ends_;
  }
  std::map<std::string, std::string> finals() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, std::string> out;
    for (const auto& [task, events] : per_task_) {
      for (const std::string& e : events) {
        if (e.starts_with("final ")) out[task] += e.substr(6);
      }
    }
    return out;
  }

 private:
  void add(const TaskRef& t, std::string what) {
    std::lock_guard lock(mutex_);
    per_task_[std::string(t.id)].push_back(what);
    if (what == "ready" || what.starts_with("final"))
      order_.push_back(std::string(t.id) + " " + what);
  }
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> per_task_;  // guarded by mutex_
  std::map<std::string, std::vector<std::string>> messages_;  // guarded by mutex_
  std::vector<std::string> order_;                            // guarded by mutex_
  int run_ends_ = 0;                                          // guarded by mutex_
};

class ObserverTest : public testing::WorkerCountTest {};
TASKLOOM_INSTANTIATE_WORKER_COUNTS(ObserverTest);

constexpr RetryBackoff kNoBackoff{.initial = 0ms, .multiplier = 1.0, .max = 0ms, .jitter = 0.0};

TEST_P(ObserverTest, EveryTransitionOfEveryTaskComesInItsOrder) {
  TaskGraph g;
  std::atomic<int> b_calls{0};
  g.add("a", [] {});
  g.add("b",
        [&] {
          if (b_calls.fetch_add(1) == 0) throw std::runtime_error("flaky");
        },
        {.after = {"a"}, .retries = 1});
  g.add("c", [] {}, {.after = {"a"}});
  g.add("d", [] {}, {.after = {"b", "c"}});
  auto journal = std::make_shared<Journal>();
  runtime::Run run = executor_.run(g, {.backoff = kNoBackoff, .observer = journal});
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_THAT(journal->of("a"),
              ElementsAre("ready", "begin 1", "end 1 succeeded", "final succeeded"));
  EXPECT_THAT(journal->of("b"), ElementsAre("ready", "begin 1", "end 1 failed retry", "begin 2",
                                            "end 2 succeeded", "final succeeded"));
  EXPECT_THAT(journal->messages("b"), ElementsAre("flaky"));
  EXPECT_THAT(journal->of("d"),
              ElementsAre("ready", "begin 1", "end 1 succeeded", "final succeeded"));
  // d becomes ready only after both of its dependencies ended; the run's end comes last.
  const std::vector<std::string> order = journal->order();
  auto at = [&](const std::string& e) { return std::find(order.begin(), order.end(), e); };
  EXPECT_LT(at("b final succeeded"), at("d ready"));
  EXPECT_LT(at("c final succeeded"), at("d ready"));
  EXPECT_EQ(order.back(), "run end");
  EXPECT_EQ(journal->run_ends(), 1);
}

TEST_P(ObserverTest, SkippedTasksNameTheUpstreamTaskAndNeverBegin) {
  TaskGraph g;
  g.add("a", [] { throw std::runtime_error("broken"); });
  g.add("b", [] {}, {.after = {"a"}});
  g.add("c", [] {}, {.after = {"b"}});
  g.add("other", [] {});
  auto journal = std::make_shared<Journal>();
  runtime::Run run = executor_.run(g, {.observer = journal});
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_THAT(journal->of("a"), ElementsAre("ready", "begin 1", "end 1 failed", "final failed"));
  EXPECT_THAT(journal->of("b"), ElementsAre("final skipped after a"));
  EXPECT_THAT(journal->of("c"), ElementsAre("final skipped after a"));
  EXPECT_THAT(journal->of("other"),
              ElementsAre("ready", "begin 1", "end 1 succeeded", "final succeeded"));
}

TEST_P(ObserverTest, ATimeoutIsReportedAsSuchAndTheBodySeesWhy) {
  TaskGraph g;
  std::atomic<int> reason{-1};
  g.add("slow",
        [&](TaskContext& ctx) {
          while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
          reason = static_cast<int>(ctx.stop_reason());
        },
        {.timeout = 20ms});
  auto journal = std::make_shared<Journal>();
  runtime::Run run = executor_.run(g, {.observer = journal});
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(reason.load(), static_cast<int>(StopReason::kTimedOut));
  EXPECT_THAT(journal->of("slow"),
              ElementsAre("ready", "begin 1", "end 1 timed_out", "final timed_out"));
  EXPECT_THAT(journal->messages("slow"), ElementsAre("timed out after 20ms"));
}

TEST_P(ObserverTest, CancellingReportsEveryTaskFinalAndTheBodySeesWhy) {
  TaskGraph g;
  testing::Signal started;
  std::atomic<int> reason{-1};
  g.add("running", [&](TaskContext& ctx) {
    EXPECT_EQ(ctx.stop_reason(), StopReason::kNone);
    started.notify();
    while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
    reason = static_cast<int>(ctx.stop_reason());
  });
  g.add("later", [] {}, {.after = {"running"}});
  auto journal = std::make_shared<Journal>();
  runtime::Run run = executor_.run(g, {.observer = journal});
  ASSERT_TRUE(started.wait());
  run.cancel();
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(reason.load(), static_cast<int>(StopReason::kCancelled));
  EXPECT_THAT(journal->of("running"),
              ElementsAre("ready", "begin 1", "end 1 cancelled", "final cancelled"));
  EXPECT_THAT(journal->of("later"), ElementsAre("final cancelled"));
  EXPECT_EQ(journal->order().back(), "run cancelled");
}

TEST_P(ObserverTest, FinalStatusesAgreeWithTheReportOnALargeGraph) {
  const std::size_t n = testing::scaled(2000);
  TaskGraph g;
  for (std::size_t i = 0; i < n; ++i) {
    TaskOptions o;
    if (i >= 10) o.after = {"t" + std::to_string(i / 2), "t" + std::to_string(i - 7)};
    g.add(
        "t" + std::to_string(i),
        [i] {
          if (i % 97 == 13) throw std::runtime_error("unlucky");
        },
        std::move(o));
  }
  auto journal = std::make_shared<Journal>();
  runtime::Run run = executor_.run(g, {.observer = journal});
  const RunReport& report = run.report();
  const auto finals = journal->finals();
  ASSERT_EQ(finals.size(), n);
  for (const TaskReport& t : report.tasks) {
    std::string expected(to_string(t.status));
    if (t.status == TaskStatus::kSkipped) expected += " after " + t.skipped_because;
    EXPECT_EQ(finals.at(t.id), expected) << t.id;  // once each: no concatenated duplicates
  }
  EXPECT_GT(report.skipped, 0u);
  EXPECT_EQ(journal->run_ends(), 1);
}

}  // namespace
}  // namespace taskloom::runtime
