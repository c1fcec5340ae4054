// Regression tests for promises the runtime's documentation made and broke (issue 12): a
// priority change of a task without dependencies, a stateful task that throws when
// interrupted, a waiting thread that helps against lane and preemption rules, "did you mean"
// naming the task itself, and type mismatches that did not say which types. Each failed before
// its fix. One worker and no helping where an exact order is checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <any>
#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/shared_state.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::finishes_without_helping;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ready_without_helping;
using testing::Recorder;
using testing::Signal;

ExecutorOptions one_worker() {
  return {.workers = 1, .caller_helps = false};
}

// ---------------------------------------------------------------- 1. set_priority on sources

/// Independent tasks a, b, c behind a gate that holds the only worker; `change` is applied
/// while the gate holds it. Returns the order the tasks ran in.
template <class Change>
std::vector<std::string> order_of_sources_after(Change change) {
  Executor executor(one_worker());
  Recorder order;
  Signal gate_started, open_gate;
  std::atomic<int> runs{0};
  TaskGraph g;
  g.add("gate",
        [&] {
          gate_started.notify();
          EXPECT_TRUE(open_gate.wait());
        },
        {.priority = Priority::kHigh});
  for (const char* id : {"a", "b", "c"}) {
    g.add(id, [&order, &runs, id] {
      ++runs;
      order.add(id);
    });
  }
  runtime::Run run = executor.run(g);
  EXPECT_TRUE(gate_started.wait());
  change(run);
  open_gate.notify();
  EXPECT_TRUE(finishes_without_helping(run));
  EXPECT_TRUE(run.report().ok());
  EXPECT_EQ(runs.load(), 3) << "every task runs exactly once";
  return order.snapshot();
}

TEST(KeptPromises, RaisingThePriorityOfATaskWithoutDependenciesRunsItFirst) {
  const auto order =
      order_of_sources_after([](runtime::Run& run) { run.set_priority("c", Priority::kUrgent); });
  EXPECT_EQ(order, (std::vector<std::string>{"c", "a", "b"}));
}

TEST(KeptPromises, LoweringThePriorityOfATaskWithoutDependenciesRunsItLast) {
  const auto order =
      order_of_sources_after([](runtime::Run& run) { run.set_priority("a", Priority::kLow); });
  EXPECT_EQ(order, (std::vector<std::string>{"b", "c", "a"}));
}

TEST(KeptPromises, ChangingASourceTwiceOrAfterItRanChangesNothingElse) {
  const auto order = order_of_sources_after([](runtime::Run& run) {
    run.set_priority("gate", Priority::kLow);  // running already: no effect, no second run
    run.set_priority("b", Priority::kUrgent);
    run.set_priority("b", Priority::kLowest);  // moved out already: re-queued at its new place
  });
  EXPECT_EQ(order, (std::vector<std::string>{"a", "c", "b"}));
}

TEST(KeptPromises, SetPriorityAfterTheRunEndedIsHarmless) {
  Executor executor(2);
  TaskGraph g;
  g.add("a", [] {});
  runtime::Run run = executor.run(g);
  run.wait();
  run.set_priority("a", Priority::kUrgent);
  EXPECT_TRUE(run.done());
  EXPECT_TRUE(run.report().ok());
}

// ---------------------------------------------------------------- 2. stateful tasks that throw

struct Counter {
  int next = 0;
  std::string save() const { return std::to_string(next); }
  static Counter restore(std::string_view bytes) { return {std::stoi(std::string(bytes))}; }
};

void expect_throwing_stateful_task_resumes(unsigned retries) {
  Executor executor(one_worker());
  Signal at_ten;
  std::vector<int> resumed_at;  // written by the only worker, read after the run
  TaskGraph g;
  g.add_stateful("count", Counter{},
                 [&](TaskContext& ctx, Counter& c) {
                   resumed_at.push_back(c.next);
                   for (; c.next < 100; ++c.next) {
                     if (c.next == 10 && ctx.interruptions() == 0) {
                       at_ten.notify();
                       EXPECT_TRUE(eventually([&] { return ctx.stop_requested(); }));
                     }
                     if (ctx.interrupt_requested()) throw std::runtime_error("interrupted");
                   }
                   return c.next;
                 },
                 {.priority = Priority::kLow, .retries = retries});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(at_ten.wait());
  auto urgent = executor.submit([] {}, Priority::kUrgent);
  ASSERT_TRUE(finishes_without_helping(run));
  ASSERT_TRUE(ready_without_helping(urgent));
  const TaskReport& t = run.report().task("count");
  EXPECT_EQ(t.status, TaskStatus::kSucceeded) << t.error;
  EXPECT_EQ(resumed_at, (std::vector<int>{0, 10})) << "resumed from its saved state";
  EXPECT_EQ(t.result_as<int>(), 100);
  EXPECT_EQ(t.interruptions, 1u);
  EXPECT_EQ(t.attempts, 1u) << "yielding by throwing is not a failed attempt";
  EXPECT_TRUE(t.history.empty() || t.history.back().status == TaskStatus::kSucceeded);
}

TEST(KeptPromises, AStatefulTaskThatThrowsWhenInterruptedYieldsWithItsState) {
  expect_throwing_stateful_task_resumes(0);
}

TEST(KeptPromises, AStatefulTaskWithRetriesThatThrowsWhenInterruptedYieldsWithItsState) {
  expect_throwing_stateful_task_resumes(2);
}

TEST(KeptPromises, AnInterruptedTaskThatDeclinesAndThrowsFails) {
  Executor executor(one_worker());
  Signal started;
  TaskGraph g;
  g.add("preview",
        [&](TaskContext& ctx) {
          started.notify();
          EXPECT_TRUE(eventually([&] { return ctx.stop_requested(); }));
          ctx.decline_reschedule();
          throw std::runtime_error("gave up");
        },
        {.interruptible = true});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(started.wait());
  auto interactive = executor.submit([] {}, Priority::kInteractive);
  ASSERT_TRUE(finishes_without_helping(run));
  ASSERT_TRUE(ready_without_helping(interactive));
  EXPECT_EQ(run.report().task("preview").status, TaskStatus::kFailed);
  EXPECT_EQ(run.report().task("preview").error, "gave up");
}

// ---------------------------------------------------------------- 3. a waiting caller's help

TEST(KeptPromises, AWaitingCallerLeavesLanedWorkToTheLanes) {
  // A factory that knows only the executor's pools, as an application's would.
  Executor executor(
      {.pools = {{.name = "default", .workers = 1},
                 {.name = "interactive", .workers = 1, .min_priority = Priority::kInteractive}},
       .worker_resource = [](unsigned, const std::string& pool) {
         return pool == "default" || pool == "interactive" ? std::any(std::string(pool))
                                                           : std::any();
       }});
  for (int i = 0; i < 20; ++i) {
    auto f = executor.submit(
        [&] {
          return std::make_pair(executor.this_worker(), executor.worker_resource<std::string>());
        },
        Priority::kInteractive);
    const auto [worker, pool] = f.get();  // the caller waits, and may help
    EXPECT_GE(worker, 0) << "job " << i << " ran on the waiting thread, outside every lane";
    EXPECT_TRUE(pool == "default" || pool == "interactive") << pool;
  }
}

TEST(KeptPromises, AWaitingCallerDoesNotRunWorkBesideTheBodyItPreempts) {
  Executor executor(1);  // caller_helps on, as by default
  Recorder order;
  Signal started;
  TaskGraph g;
  g.add("background",
        [&](TaskContext& ctx) {
          if (ctx.interruptions() == 0) {
            order.add("background-start");
            started.notify();
            EXPECT_TRUE(eventually([&] { return ctx.stop_requested(); }));
            order.add("background-yields");
            return;
          }
          order.add("background-again");
        },
        {.priority = Priority::kBackground, .interruptible = true});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(started.wait());
  auto interactive = executor.submit(
      [&] {
        order.add("interactive");
        return executor.this_worker();
      },
      Priority::kInteractive);
  EXPECT_EQ(interactive.get(), 0) << "the job ran on the waiting thread, not the worker";
  ASSERT_TRUE(finishes_without_helping(run));
  EXPECT_EQ(order.snapshot(), (std::vector<std::string>{"background-start", "background-yields",
                                                        "interactive", "background-again"}));
  EXPECT_EQ(run.report().task("background").interruptions, 1u);
}

// ---------------------------------------------------------------- 4. did you mean

TEST(KeptPromises, AnUnknownDependencyNeverSuggestsTheTaskItself) {
  TaskGraph g;
  g.add("a", [] {}, {.after = {"zz"}});
  try {
    (void)g.plan();
    FAIL() << "expected UnknownDependencyError";
  } catch (const UnknownDependencyError& e) {
    EXPECT_EQ(e.missing(), "zz");
    EXPECT_EQ(e.suggestion(), "");
    EXPECT_THAT(e.what(), Not(HasSubstr("did you mean 'a'")));
  }
}

TEST(KeptPromises, AnUnknownDependencySuggestsAnotherTask) {
  TaskGraph g;
  g.add("fetch", [] {});
  g.add("fetcher", [] {}, {.after = {"fetchez"}});  // closer to itself than to "fetch"
  try {
    (void)g.plan();
    FAIL() << "expected UnknownDependencyError";
  } catch (const UnknownDependencyError& e) {
    EXPECT_EQ(e.suggestion(), "fetch");
  }
}

// ---------------------------------------------------------------- 5. type mismatches

TEST(KeptPromises, TypeMismatchesNameTheTypeHeldAndTheTypeAskedFor) {
  Executor executor(1);
  TaskGraph g;
  g.add("number", [] { return 7; });
  g.add("reader",
        [](TaskContext& ctx) { return ctx.result<std::vector<std::string>>("number").size(); },
        {.after = {"number"}});
  const RunReport r = executor.run(g).report();
  EXPECT_EQ(r.task("reader").error,
            "task 'reader' reads the result of 'number', which holds int, not the requested "
            "std::vector<std::string, std::allocator<std::string> > — read it with the type the "
            "dependency returns");
  try {
    (void)r.task("number").result_as<long>();
    FAIL() << "expected TypeMismatchError";
  } catch (const TypeMismatchError& e) {
    EXPECT_STREQ(e.what(),
                 "the result of task 'number' holds int, not the requested long — read it with "
                 "the type the task returns");
  }
  try {
    (void)r.task("reader").result_as<int>();  // failed: no result
    FAIL() << "expected TypeMismatchError";
  } catch (const TypeMismatchError& e) {
    EXPECT_THAT(e.what(), HasSubstr("holds nothing, not the requested int"));
  }
  SharedState s;
  s.set("x", 3.5);
  try {
    (void)s.get<std::string>("x");
    FAIL() << "expected TypeMismatchError";
  } catch (const TypeMismatchError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("shared state 'x' holds double, not the requested std::string"));
  }
}

}  // namespace
}  // namespace taskloom::runtime
