// Priority classes, worker pools (lanes), per-worker resources, bounded class queues, priority
// changes of queued work, and aging. Orderings are checked with one worker that only the
// executor runs (caller_helps = false, waits without helping), so they are deterministic.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::HeldWorker;
using testing::kQuietWindow;
using testing::ready_without_helping;
using testing::Recorder;
using testing::Signal;
using testing::stays_false;

ExecutorOptions one_worker() {
  return {.workers = 1, .caller_helps = false};
}

std::size_t position(const std::vector<std::string>& order, const std::string& item) {
  return static_cast<std::size_t>(std::find(order.begin(), order.end(), item) - order.begin());
}

// ---------------------------------------------------------------- classes

TEST(PriorityClasses, BuiltInNamesResolve) {
  Executor executor(1);
  EXPECT_EQ(executor.priority_of("interactive"), Priority::kInteractive);
  EXPECT_EQ(executor.priority_of("urgent"), Priority::kUrgent);
  EXPECT_EQ(executor.priority_of("background"), Priority::kBackground);
  EXPECT_EQ(executor.priority_of("low"), Priority::kLow);
  EXPECT_EQ(executor.class_of(Priority{3}), "highest");
  EXPECT_EQ(executor.class_of(Priority{-800}), "background");  // below every class: the lowest
  EXPECT_EQ(executor.class_of(Priority{950}), "interactive");
}

TEST(PriorityClasses, UnknownNameListsTheClasses) {
  Executor executor(1);
  try {
    (void)executor.priority_of("interactiv");
    FAIL() << "no error";
  } catch (const UnknownNameError& e) {
    EXPECT_EQ(e.suggestion(), "interactive");
    EXPECT_EQ(std::string(e.what()),
              "unknown priority class 'interactiv' — did you mean 'interactive'? (known: "
              "background, lowest, low, normal, high, highest, urgent, interactive)");
  }
}

TEST(PriorityClasses, UsersDefineTheirOwn) {
  Executor executor({.workers = 1, .classes = {{.name = "ui", .priority = Priority{800}}}});
  EXPECT_EQ(executor.priority_of("ui"), Priority{800});
  EXPECT_EQ(executor.class_of(Priority{850}), "ui");
  EXPECT_EQ(executor.class_of(Priority{900}), "interactive");
}

TEST(PriorityClasses, ConflictingDefinitionsAreRejected) {
  EXPECT_THROW(Executor({.workers = 1, .classes = {{.name = "urgent", .priority = Priority{7}}}}),
               InvalidArgumentError);
  EXPECT_THROW(Executor({.workers = 1, .classes = {{.name = "ui", .priority = Priority{900}}}}),
               InvalidArgumentError);
}

// ---------------------------------------------------------------- pools

TEST(WorkerPools, EveryPoolRestrictedIsRejected) {
  try {
    Executor executor({.pools = {{.name = "ui", .workers = 1, .min_priority = Priority::kHigh}}});
    FAIL() << "no error";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("give one pool no min_priority"), std::string::npos);
  }
  EXPECT_THROW(Executor({.pools = {{.name = "empty", .workers = 0}}}), InvalidArgumentError);
}

ExecutorOptions lanes() {
  // Worker 0 runs only interactive work; worker 1 runs anything.
  return {.caller_helps = false,
          .pools = {{.name = "interactive", .workers = 1, .min_priority = Priority::kInteractive},
                    {.name = "general", .workers = 1}}};
}

TEST(WorkerPools, PoolsReplaceTheWorkerCount) {
  Executor executor(lanes());
  EXPECT_EQ(executor.worker_count(), 2u);
}

TEST(WorkerPools, ALaneRunsOnlyItsWork) {
  Executor executor(lanes());
  std::vector<Future<int>> background;
  for (int i = 0; i < 200; ++i) {
    background.push_back(
        executor.submit([&] { return executor.this_worker(); }, Priority::kBackground));
  }
  for (auto& f : background) {
    ASSERT_TRUE(ready_without_helping(f));
    EXPECT_EQ(f.get(), 1) << "background work ran on the interactive lane";
  }
}

TEST(WorkerPools, InteractiveWorkRunsWhileTheGeneralWorkersAreBusy) {
  Executor executor(lanes());
  Signal general_started, release;
  auto long_job = executor.submit([&] {
    general_started.notify();
    release.wait();
  });
  ASSERT_TRUE(general_started.wait());
  // Background work waits for the general worker...
  auto background = executor.submit([] { return 1; }, Priority::kBackground);
  // ...interactive work takes its lane at once.
  auto interactive =
      executor.submit([&] { return executor.this_worker(); }, Priority::kInteractive);
  ASSERT_TRUE(ready_without_helping(interactive));
  EXPECT_EQ(interactive.get(), 0);
  EXPECT_TRUE(stays_false([&] { return background.ready(); }, kQuietWindow));
  release.notify();
  ASSERT_TRUE(ready_without_helping(background));
  ASSERT_TRUE(ready_without_helping(long_job));
}

TEST(WorkerPools, GraphSuccessorsBelowALaneLeaveIt) {
  // A graph whose interactive task readies background work: that work must go to the general
  // worker, not stay in the lane worker's slot.
  Executor executor(lanes());
  TaskGraph g;
  std::atomic<int> bg_worker{-1};
  g.add("ui", [] {}, {.priority = Priority::kInteractive});
  g.add("bg", [&] { bg_worker = executor.this_worker(); },
        {.after = {"ui"}, .priority = Priority::kBackground});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(bg_worker.load(), 1);
}

// ---------------------------------------------------------------- per-worker resources

struct Connection {
  unsigned worker;
  std::string pool;
};

TEST(WorkerResources, MadeOncePerWorkerWithItsIndexAndPool) {
  std::atomic<int> made{0};
  ExecutorOptions options = lanes();
  options.worker_resource = [&](unsigned worker, const std::string& pool) {
    ++made;
    return std::any(std::make_shared<Connection>(Connection{worker, pool}));
  };
  Executor executor(options);
  std::vector<Future<bool>> jobs;
  for (int i = 0; i < 100; ++i) {
    const Priority p = i % 2 == 0 ? Priority::kInteractive : Priority::kNormal;
    jobs.push_back(executor.submit(
        [&] {
          auto c = executor.worker_resource<std::shared_ptr<Connection>>();
          const auto w = static_cast<unsigned>(executor.this_worker());
          return c->worker == w && c->pool == (w == 0 ? "interactive" : "general");
        },
        p));
  }
  for (auto& f : jobs) {
    ASSERT_TRUE(ready_without_helping(f));
    EXPECT_TRUE(f.get());
  }
  EXPECT_LE(made.load(), 2);
  EXPECT_GE(made.load(), 1);
}

TEST(WorkerResources, ReadFromATaskContextWithItsType) {
  Executor executor({.workers = 2, .worker_resource = [](unsigned w, const std::string&) {
                       return std::any(std::string("scratch-") + std::to_string(w));
                     }});
  TaskGraph g;
  g.add("read", [](TaskContext& ctx) { return ctx.worker_resource<std::string>(); });
  g.add("wrong", [](TaskContext& ctx) { return ctx.worker_resource<int>(); });
  const RunReport r = executor.run(g).report();
  EXPECT_EQ(r.task("read").status, TaskStatus::kSucceeded);
  EXPECT_EQ(r.task("read").result_as<std::string>().rfind("scratch-", 0), 0u);
  EXPECT_EQ(r.task("wrong").status, TaskStatus::kFailed);
  EXPECT_EQ(r.task("wrong").error,
            "the worker resource holds std::string, not the requested int — ask for the type "
            "ExecutorOptions::worker_resource returns");
}

TEST(WorkerResources, WithoutAFactoryIsAnError) {
  Executor executor(1);
  auto f = executor.submit([&] { (void)executor.worker_resource<int>(); });
  EXPECT_THROW(f.get(), InvalidStateError);
  EXPECT_THROW((void)executor.worker_resource<int>(), InvalidStateError);  // not a worker
}

// ---------------------------------------------------------------- bounded queues

ExecutorOptions bounded_background() {
  ExecutorOptions o = one_worker();
  o.classes = {{.name = "background", .priority = Priority::kBackground, .queue_capacity = 2}};
  return o;
}

TEST(BoundedQueues, FailsAtOnceWhenFullIfAsked) {
  Executor executor(bounded_background());
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  std::atomic<int> ran{0};
  auto a = executor.submit([&] { ++ran; }, Priority::kBackground);
  auto b = executor.submit([&] { ++ran; }, Priority::kBackground);
  try {
    (void)executor.submit([&] { ++ran; },
                          {.priority = Priority::kBackground, .on_full = QueueFullAction::kFail});
    FAIL() << "no error";
  } catch (const QueueFullError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kQueueFull);
    EXPECT_EQ(std::string(e.what()),
              "the queue of priority class 'background' is full (2 jobs waiting) — retry "
              "later, wait longer, or raise its queue_capacity");
  }
  // Other classes are not bounded by it.
  auto normal = executor.submit([&] { ++ran; });
  held.release();
  ASSERT_TRUE(ready_without_helping(a));
  ASSERT_TRUE(ready_without_helping(b));
  ASSERT_TRUE(ready_without_helping(normal));
  EXPECT_EQ(ran.load(), 3);  // nothing dropped, nothing extra
  // Room again once they started.
  auto again = executor.submit(
      [&] { ++ran; }, {.priority = Priority::kBackground, .on_full = QueueFullAction::kFail});
  ASSERT_TRUE(ready_without_helping(again));
  EXPECT_EQ(ran.load(), 4);
}

TEST(BoundedQueues, BlockingGivesUpAfterItsWait) {
  Executor executor(bounded_background());
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  auto a = executor.submit([] {}, Priority::kBackground);
  auto b = executor.submit([] {}, Priority::kBackground);
  EXPECT_THROW((void)executor.submit([] {}, {.priority = Priority::kBackground,
                                             .on_full = QueueFullAction::kBlock,
                                             .max_wait = 20ms}),
               QueueFullError);
  held.release();
  ASSERT_TRUE(ready_without_helping(a));
  ASSERT_TRUE(ready_without_helping(b));
}

TEST(BoundedQueues, BlockingWaitsForRoom) {
  Executor executor(bounded_background());
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  auto a = executor.submit([] {}, Priority::kBackground);
  auto b = executor.submit([] {}, Priority::kBackground);
  std::atomic<bool> submitted{false}, ran{false};
  std::thread producer([&] {
    auto c = executor.submit([&] { ran = true; }, Priority::kBackground);  // blocks
    submitted = true;
    (void)ready_without_helping(c);
  });
  EXPECT_TRUE(stays_false([&] { return submitted.load(); }, kQuietWindow));
  held.release();
  EXPECT_TRUE(eventually([&] { return ran.load(); }));
  producer.join();
  EXPECT_TRUE(submitted.load());
  ASSERT_TRUE(ready_without_helping(a));
  ASSERT_TRUE(ready_without_helping(b));
}

// ---------------------------------------------------------------- priority changes

TEST(PriorityChange, AQueuedJobMovesAtOnce) {
  Executor executor(one_worker());
  Recorder order;
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  auto a = executor.submit([&] { order.add("a"); }, Priority::kLow);
  auto b = executor.submit([&] { order.add("b"); }, Priority::kLow);
  auto c = executor.submit([&] { order.add("c"); }, Priority::kLow);
  c.set_priority(Priority::kHigh);
  held.release();
  ASSERT_TRUE(ready_without_helping(a));
  ASSERT_TRUE(ready_without_helping(b));
  ASSERT_TRUE(ready_without_helping(c));
  EXPECT_EQ(order.snapshot(), (std::vector<std::string>{"c", "a", "b"}));
}

TEST(PriorityChange, AQueuedGraphTaskMovesAtOnce) {
  Executor executor(one_worker());
  Recorder order;
  Signal hold_started, release;
  TaskGraph g;
  g.add("gate", [] {});
  g.add("hold",
        [&] {
          hold_started.notify();
          release.wait();
        },
        {.after = {"gate"}, .priority = Priority::kHighest});
  for (const char* id : {"x", "y", "z"}) {
    g.add(id, [&order, id] { order.add(id); }, {.after = {"gate"}});
  }
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(hold_started.wait());  // x, y and z are queued behind it now
  run.set_priority("z", Priority::kHigh);
  release.notify();
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(order.snapshot().front(), "z");
}

TEST(PriorityChange, ATaskNotReadyYetIsQueuedByItsNewPriority) {
  Executor executor(one_worker());
  Recorder order;
  Signal gate_started, release;
  TaskGraph g;
  g.add("gate", [&] {
    gate_started.notify();
    release.wait();
  });
  for (const char* id : {"x", "y", "z"}) {
    g.add(id, [&order, id] { order.add(id); }, {.after = {"gate"}});
  }
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(gate_started.wait());
  run.set_priority("y", Priority::kHighest);
  release.notify();
  ASSERT_TRUE(testing::finishes_without_helping(run));
  EXPECT_EQ(order.snapshot().front(), "y");
  EXPECT_THROW(run.set_priority("nope", Priority::kHigh), InvalidArgumentError);
}

// ---------------------------------------------------------------- aging

TEST(Aging, BackgroundWorkRunsWhileHigherWorkKeepsArriving) {
  // One worker; a background job waits while every interactive job submits the next one, so
  // interactive work never runs out. The documented bound: with k = 0 items queued before it,
  // the background job starts within 2 * aging_interval takes.
  constexpr unsigned kInterval = 4;
  ExecutorOptions o = one_worker();
  o.aging_interval = kInterval;
  Executor executor(o);
  Recorder order;
  std::atomic<int> remaining{200};
  std::function<void()> interactive = [&] {
    order.add("interactive");
    if (--remaining > 0) (void)executor.submit(interactive, Priority::kInteractive);
  };
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  auto background = executor.submit([&] { order.add("background"); }, Priority::kBackground);
  (void)executor.submit(interactive, Priority::kInteractive);
  held.release();
  ASSERT_TRUE(ready_without_helping(background));
  ASSERT_TRUE(eventually([&] { return remaining.load() == 0; }));
  const auto snapshot = order.snapshot();
  const std::size_t at = position(snapshot, "background");
  ASSERT_LT(at, snapshot.size());
  EXPECT_LE(at, 2 * kInterval) << "background waited behind " << at << " interactive jobs";
  EXPECT_GE(at, 1u) << "aging must not take the place of priority";
}

TEST(Aging, StrictPriorityBetweenAgingTakes) {
  // With a large interval, queued work goes strictly by priority.
  ExecutorOptions o = one_worker();
  o.aging_interval = 1000;
  Executor executor(o);
  Recorder order;
  HeldWorker held(executor);
  ASSERT_TRUE(held.started());
  std::vector<Future<void>> jobs;
  for (int i = 0; i < 5; ++i) {
    jobs.push_back(executor.submit([&] { order.add("low"); }, Priority::kLow));
    jobs.push_back(executor.submit([&] { order.add("high"); }, Priority::kHigh));
  }
  held.release();
  for (auto& f : jobs) ASSERT_TRUE(ready_without_helping(f));
  const auto snapshot = order.snapshot();
  EXPECT_EQ(std::count(snapshot.begin(), snapshot.begin() + 5, "high"), 5);
}

}  // namespace
}  // namespace taskloom::runtime
