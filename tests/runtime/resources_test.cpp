// Resource admission in runs: impossible requests rejected when added (graph given its pools)
// or at run start, capacities never
// exceeded, all-or-nothing holds (no deadlock), release in every final state, run-private
// pools, cancellation of waiting tasks, no starvation of a large request, and the report's
// per-pool utilisation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::ConcurrencyMeter;
using testing::finishes_without_helping;
using testing::scaled;
using testing::spin_for;
using testing::WorkerCountTest;

TEST(ResourceRequests, AnUnknownPoolIsRejectedWhenTheRunStarts) {
  Executor executor(2);
  TaskGraph g;
  std::atomic<bool> ran{false};
  g.add("render", [&] { ran = true; }, {.needs = {{"gpu", 1}}});
  try {
    (void)executor.run(g);
    FAIL() << "no error";
  } catch (const ResourceRequestError& e) {
    EXPECT_EQ(e.task(), "render");
    EXPECT_EQ(e.pool(), "gpu");
    EXPECT_EQ(std::string(e.what()),
              "task 'render' needs 1 of unknown resource 'gpu' — declare a pool named 'gpu' or "
              "remove it from the task's needs");
  }
  EXPECT_FALSE(ran.load());
}

TEST(ResourceRequests, MoreThanTheCapacityIsRejected) {
  Executor executor({.workers = 2, .resources = {{"gpu", 2}}});
  TaskGraph g;
  g.add("ok", [] {}, {.needs = {{"gpu", 2}}});
  g.add("too-big", [] {}, {.needs = {{"gpu", 3}}});
  try {
    (void)executor.run(g);
    FAIL() << "no error";
  } catch (const ResourceRequestError& e) {
    EXPECT_EQ(e.task(), "too-big");
    EXPECT_EQ(e.requested(), 3);
    EXPECT_EQ(e.capacity(), 2);
  }
}

TEST(ResourceRequests, AGraphGivenItsPoolsRejectsAnImpossibleTaskWhenItIsAdded) {
  TaskGraph g(Resources{{"gpu", 2}, {"license.arnold", 1}});
  g.add("ok", [] {}, {.needs = {{"gpu", 2}, {"license.arnold", 1}}});
  try {
    g.add("too-big", [] {}, {.needs = {{"gpu", 3}}});
    FAIL() << "no error";
  } catch (const ResourceRequestError& e) {
    EXPECT_EQ(e.task(), "too-big");
    EXPECT_EQ(e.pool(), "gpu");
    EXPECT_EQ(e.requested(), 3);
    EXPECT_EQ(e.capacity(), 2);
  }
  try {
    g.add("lost", [] {}, {.needs = {{"disk", 1}}});
    FAIL() << "no error";
  } catch (const ResourceRequestError& e) {
    EXPECT_EQ(e.task(), "lost");
    EXPECT_EQ(e.pool(), "disk");
    EXPECT_LT(e.capacity(), 0) << "an unknown pool";
  }
  // Nothing of the rejected tasks was kept.
  EXPECT_EQ(g.size(), 1u);
  EXPECT_FALSE(g.find("too-big").has_value());
  Executor executor({.workers = 1, .resources = {{"gpu", 2}, {"license.arnold", 1}}});
  EXPECT_EQ(executor.run(g).report().succeeded, 1u);
}

class ResourceAdmissionTest : public WorkerCountTest {};

TEST_P(ResourceAdmissionTest, NeverMoreHoldersThanCapacity) {
  Executor executor({.workers = workers(), .resources = {{"gpu", 2}, {"cpu", 8}}});
  ConcurrencyMeter gpu;
  TaskGraph g;
  const std::size_t n = scaled(60, 3);
  for (std::size_t i = 0; i < n; ++i) {
    g.add("render-" + std::to_string(i),
          [&] {
            gpu.enter();
            spin_for(300us);
            gpu.leave();
          },
          {.needs = {{"gpu", 1}, {"cpu", 2}}});
  }
  const RunReport& r = executor.run(g).report();
  EXPECT_EQ(r.succeeded, n);
  EXPECT_LE(gpu.max(), 2);
  ASSERT_EQ(r.resources.size(), 2u);
  const PoolUsage& u = r.resources[1];  // by name: cpu, gpu
  EXPECT_EQ(u.name, "gpu");
  EXPECT_EQ(u.capacity, 2);
  EXPECT_LE(u.peak, 2);
  EXPECT_GE(u.peak, 1);
  EXPECT_GT(u.average, 0);
  EXPECT_LE(u.average, u.peak);
  EXPECT_EQ(r.resources[0].name, "cpu");
  EXPECT_LE(r.resources[0].peak, 4);  // two gpu holders at 2 cpu each
}

TEST_P(ResourceAdmissionTest, TasksNeedingTwoPoolsNeverDeadlock) {
  // Each task needs both pools; some need only one. Holding one pool while waiting for the
  // other would deadlock two tasks; all-or-nothing admission cannot.
  Executor executor({.workers = workers(), .resources = {{"disk", 1}, {"network", 1}}});
  TaskGraph g;
  ConcurrencyMeter disk, network;
  const std::size_t n = scaled(90, 3);
  for (std::size_t i = 0; i < n; ++i) {
    Resources needs;
    if (i % 3 != 2) needs.set("disk", 1);
    if (i % 3 != 1) needs.set("network", 1);
    g.add("t" + std::to_string(i),
          [&, needs] {
            if (needs.contains("disk")) disk.enter();
            if (needs.contains("network")) network.enter();
            spin_for(100us);
            if (needs.contains("disk")) disk.leave();
            if (needs.contains("network")) network.leave();
          },
          {.needs = needs});
  }
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(run.done() || finishes_without_helping(run));
  EXPECT_EQ(run.report().succeeded, n);
  EXPECT_LE(disk.max(), 1);
  EXPECT_LE(network.max(), 1);
}

TEST_P(ResourceAdmissionTest, ReleasedWhenATaskFailsOrTimesOut) {
  Executor executor({.workers = workers(), .resources = {{"license", 1}}});
  TaskGraph g;
  g.add("throws", [] { throw std::runtime_error("boom"); },
        {.retries = 2, .needs = {{"license", 1}}});
  g.add("times-out",
        [](TaskContext& ctx) {
          while (!ctx.stop_requested()) std::this_thread::sleep_for(100us);
        },
        {.timeout = 5ms, .needs = {{"license", 1}}});
  g.add("after", [] {}, {.needs = {{"license", 1}}});
  const RunReport& r = executor.run(g, {.backoff = {.initial = 0ns}}).report();
  EXPECT_EQ(r.task("throws").status, TaskStatus::kFailed);
  EXPECT_EQ(r.task("throws").attempts, 3u);
  EXPECT_EQ(r.task("times-out").status, TaskStatus::kTimedOut);
  EXPECT_EQ(r.task("after").status, TaskStatus::kSucceeded);
  // Nothing leaked: a second run gets the licence too.
  runtime::Run again = executor.run(g, {.backoff = {.initial = 0ns}});
  ASSERT_TRUE(finishes_without_helping(again));
  EXPECT_EQ(again.report().task("after").status, TaskStatus::kSucceeded);
}

TEST_P(ResourceAdmissionTest, RunPoolsArePrivateToTheRun) {
  Executor executor(workers());
  TaskGraph g;
  ConcurrencyMeter held;
  for (int i = 0; i < 20; ++i) {
    g.add("t" + std::to_string(i),
          [&] {
            held.enter();
            spin_for(200us);
            held.leave();
          },
          {.needs = {{"license.arnold", 1}}});
  }
  const RunReport& r = executor.run(g, {.resources = {{"license.arnold", 1}}}).report();
  EXPECT_EQ(r.succeeded, 20u);
  EXPECT_EQ(held.max(), 1);
}

TEST_P(ResourceAdmissionTest, CancellingEndsTasksWaitingForResources) {
  // The executor's pool is shared by runs: a second run's tasks wait while the first holds it.
  Executor executor({.workers = workers(), .resources = {{"gpu", 1}}});
  TaskGraph holder_graph, waiters;
  testing::Signal holding, release;
  holder_graph.add("holder",
                   [&] {
                     holding.notify();
                     release.wait();
                   },
                   {.needs = {{"gpu", 1}}});
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) {
    waiters.add("w" + std::to_string(i), [&] { ++ran; }, {.needs = {{"gpu", 1}}});
  }
  runtime::Run first = executor.run(holder_graph);
  ASSERT_TRUE(holding.wait());
  runtime::Run second = executor.run(waiters);
  // With a free worker its tasks queue for the gpu; with one worker they are not even taken.
  std::this_thread::sleep_for(5ms);
  second.cancel();
  release.notify();  // a task taken from here on sees the cancel before it asks for the gpu
  ASSERT_TRUE(finishes_without_helping(second));
  ASSERT_TRUE(finishes_without_helping(first));
  EXPECT_EQ(second.report().cancelled, 10u);
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(first.report().succeeded, 1u);
}

TEST_P(ResourceAdmissionTest, ALargeRequestIsNotStarvedBySmallOnes) {
  // 4 cpus. 150 small tasks (1 cpu) come before and after one large task (4 cpus) in the
  // queue. Without a reservation the small ones would keep the pool from ever being free at
  // once; with it the large one starts well before the last small one. The small tasks take
  // 2 ms (75 ms of work after the large one), so that a worker descheduled for tens of ms
  // before it brings the large task to the pool (8 workers on 2 busy cores) does not make it
  // the last to arrive.
  Executor executor({.workers = std::max(workers(), 4u), .resources = {{"cpu", 4}}});
  TaskGraph g;
  for (int i = 0; i < 160; ++i) {
    g.add("small-" + std::to_string(i), [] { spin_for(2ms); }, {.needs = {{"cpu", 1}}});
    if (i == 10) g.add("large", [] { spin_for(200us); }, {.needs = {{"cpu", 4}}});
  }
  const RunReport& r = executor.run(g).report();
  ASSERT_EQ(r.succeeded, 161u);
  Duration last_small_start{};
  for (const TaskReport& t : r.tasks) {
    if (t.id != "large") last_small_start = std::max(last_small_start, t.start);
  }
  EXPECT_LT(r.task("large").start, last_small_start);
}

TEST(ResourceReport, JsonAndSummaryShowEveryPool) {
  Executor executor({.workers = 2, .resources = {{"gpu", 2}}});
  TaskGraph g;
  g.add("a", [] { spin_for(2ms); }, {.needs = {{"gpu", 1}}});
  g.add("b", [] { spin_for(2ms); }, {.after = {"a"}, .needs = {{"gpu", 2}}});
  const RunReport& r = executor.run(g).report();
  ASSERT_EQ(r.resources.size(), 1u);
  EXPECT_EQ(r.resources[0].peak, 2);  // b alone held both
  // One after the other: about 1 gpu for half the wall time and 2 for the other half.
  EXPECT_GT(r.resources[0].average, 0.5);
  EXPECT_LT(r.resources[0].average, 2.0);
  const auto j = nlohmann::json::parse(r.to_json());
  ASSERT_EQ(j["resources"].size(), 1u);
  EXPECT_EQ(j["resources"][0]["name"], "gpu");
  EXPECT_EQ(j["resources"][0]["capacity"], 2.0);
  EXPECT_EQ(j["resources"][0]["peak"], 2.0);
  EXPECT_NE(r.summary().find("resource gpu"), std::string::npos) << r.summary();
}

TASKLOOM_INSTANTIATE_WORKER_COUNTS(ResourceAdmissionTest);

}  // namespace
}  // namespace taskloom::runtime
