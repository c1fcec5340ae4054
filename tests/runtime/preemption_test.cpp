// Preemption of interruptible tasks and submitted jobs: yielding to more important work,
// restarting or resuming from saved state, declining to be rescheduled, and the bound on
// interruptions. One worker,
// run only by the executor (caller_helps = false), so "interactive runs before background
// continues" is checked exactly.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/job_context.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::finishes_without_helping;
using testing::kQuietWindow;
using testing::ready_without_helping;
using testing::Recorder;
using testing::Signal;
using testing::stays_false;

ExecutorOptions one_worker() {
  return {.workers = 1, .caller_helps = false};
}

/// Waits (bounded) until the attempt is asked to stop; true if it was.
bool wait_for_stop(const TaskContext& ctx) {
  return eventually([&] { return ctx.stop_requested(); });
}

/// An interruptible task that runs until it is asked to stop or finish() is called.
class LongTask {
 public:
  void add_to(TaskGraph& g, const std::string& id, TaskOptions options) {
    options.interruptible = true;
    g.add(
        id,
        [this](TaskContext& ctx) {
          ++starts_;
          started_.notify();
          while (!ctx.stop_requested() && !finish_.load()) std::this_thread::sleep_for(50us);
        },
        std::move(options));
  }
  bool started() const { return started_.wait(); }
  int starts() const { return starts_.load(); }
  void finish() { finish_ = true; }

 private:
  Signal started_;
  std::atomic<int> starts_{0};
  std::atomic<bool> finish_{false};
};

TEST(Preemption, InteractiveWorkRunsBeforeTheBackgroundTaskContinues) {
  Executor executor(one_worker());
  Recorder order;
  Signal started;
  TaskGraph g;
  g.add("background",
        [&](TaskContext& ctx) {
          if (ctx.interruptions() == 0) {
            order.add("background-start");
            started.notify();
            EXPECT_TRUE(wait_for_stop(ctx));
            EXPECT_TRUE(ctx.interrupt_requested());
            return;  // stateless: it will start over
          }
          order.add("background-again");
        },
        {.priority = Priority::kBackground, .interruptible = true});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(started.wait());
  auto interactive = executor.submit([&] { order.add("interactive"); }, Priority::kInteractive);
  ASSERT_TRUE(finishes_without_helping(run));
  ASSERT_TRUE(ready_without_helping(interactive));
  EXPECT_EQ(order.snapshot(),
            (std::vector<std::string>{"background-start", "interactive", "background-again"}));
  const TaskReport& t = run.report().task("background");
  EXPECT_EQ(t.status, TaskStatus::kSucceeded);
  EXPECT_EQ(t.interruptions, 1u);
  EXPECT_EQ(t.attempts, 1u) << "an interruption is not a failed attempt";
}

/// A counter that saves itself as text.
struct Progress {
  int next = 0;
  std::string save() const { return std::to_string(next); }
  static Progress restore(std::string_view bytes) { return {std::stoi(std::string(bytes))}; }
};

TEST(Preemption, AStatefulTaskResumesFromItsSavedState) {
  Executor executor(one_worker());
  Signal at_ten;
  std::vector<int> resumed_at;
  TaskGraph g;
  g.add_stateful("count", Progress{},
                 [&](TaskContext& ctx, Progress& p) {
                   resumed_at.push_back(p.next);
                   for (; p.next < 100; ++p.next) {
                     if (p.next == 10 && ctx.interruptions() == 0) {
                       at_ten.notify();
                       EXPECT_TRUE(wait_for_stop(ctx));
                     }
                     if (ctx.interrupt_requested()) return -1;  // the state as it is now is saved
                   }
                   return p.next;
                 },
                 {.priority = Priority::kLow});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(at_ten.wait());
  auto urgent = executor.submit([] {}, Priority::kUrgent);
  ASSERT_TRUE(finishes_without_helping(run));
  ASSERT_TRUE(ready_without_helping(urgent));
  EXPECT_EQ(resumed_at, (std::vector<int>{0, 10}));  // not from 0 again
  const TaskReport& t = run.report().task("count");
  EXPECT_EQ(t.result_as<int>(), 100);
  EXPECT_EQ(t.interruptions, 1u);
}

// ------------------------------------------------- interruptible and stateful submitted jobs

TEST(PreemptedJobs, AnInterruptibleJobYieldsToInteractiveWorkAndIsCalledAgain) {
  Executor executor(one_worker());
  Recorder order;
  Signal started;
  auto background = executor.submit(
      [&](JobContext& job) {
        if (job.interruptions() == 0) {
          order.add("background-start");
          started.notify();
          EXPECT_TRUE(eventually([&] { return job.stop_requested(); }));
          EXPECT_TRUE(job.interrupt_requested());
          return -1;  // yielded: this value is not the result
        }
        order.add("background-again");
        return static_cast<int>(job.interruptions());
      },
      Priority::kBackground);
  ASSERT_TRUE(started.wait());
  auto interactive = executor.submit([&] { order.add("interactive"); }, Priority::kInteractive);
  ASSERT_TRUE(ready_without_helping(background));
  ASSERT_TRUE(ready_without_helping(interactive));
  EXPECT_EQ(background.get(), 1);
  EXPECT_EQ(order.snapshot(),
            (std::vector<std::string>{"background-start", "interactive", "background-again"}));
}

TEST(PreemptedJobs, AStatefulJobResumesFromItsSavedStateEvenWhenItThrows) {
  for (const bool throws : {false, true}) {
    SCOPED_TRACE(throws ? "throws when interrupted" : "returns when interrupted");
    Executor executor(one_worker());
    Signal at_ten;
    std::vector<int> resumed_at;  // only the worker's thread touches it until the end
    auto count = executor.submit_stateful(
        Progress{},
        [&](JobContext& job, Progress& p) {
          resumed_at.push_back(p.next);
          for (; p.next < 100; ++p.next) {
            if (p.next == 10 && job.interruptions() == 0) {
              at_ten.notify();
              EXPECT_TRUE(eventually([&] { return job.interrupt_requested(); }));
            }
            if (job.interrupt_requested()) {
              if (throws) throw std::runtime_error("interrupted");
              return -1;
            }
          }
          return p.next;
        },
        {.priority = Priority::kLow});
    ASSERT_TRUE(at_ten.wait());
    auto urgent = executor.submit([] {}, Priority::kUrgent);
    ASSERT_TRUE(ready_without_helping(count));
    ASSERT_TRUE(ready_without_helping(urgent));
    EXPECT_EQ(count.get(), 100) << "a throw after an interruption request is a yield";
    EXPECT_EQ(resumed_at, (std::vector<int>{0, 10})) << "not from 0 again";
  }
}

TEST(PreemptedJobs, AYieldedJobWaitingToResumeCanBeCancelled) {
  Executor executor(one_worker());
  Signal started;
  std::atomic<int> calls{0};
  Future<void> background = executor.submit(
      [&](JobContext& job) {
        ++calls;
        started.notify();
        EXPECT_TRUE(eventually([&] { return job.interrupt_requested(); }));
      },
      Priority::kBackground);
  ASSERT_TRUE(started.wait());
  // Runs while the yielded job waits in the queue behind it, on the only worker.
  auto interactive = executor.submit([&] { return background.cancel(); }, Priority::kInteractive);
  ASSERT_TRUE(ready_without_helping(interactive));
  EXPECT_TRUE(interactive.get()) << "queued again after yielding: it has not started";
  ASSERT_TRUE(ready_without_helping(background));
  EXPECT_THROW(background.get(), CancelledError);
  auto after = executor.submit([] { return 1; });
  ASSERT_TRUE(ready_without_helping(after));
  EXPECT_EQ(calls.load(), 1);
}

// As for tasks (issue 12, defect 3): a thread that starts waiting while an interruptible job
// runs must not run the more important work beside it, but let it preempt the job.
TEST(PreemptedJobs, AWaitingCallerDoesNotRunWorkBesideTheJobItPreempts) {
  Executor executor(1);  // caller_helps on, as by default
  Recorder order;
  Signal started;
  auto background = executor.submit(
      [&](JobContext& job) {
        if (job.interruptions() == 0) {
          order.add("background-start");
          started.notify();
          EXPECT_TRUE(eventually([&] { return job.interrupt_requested(); }));
          order.add("background-yields");
          return;
        }
        order.add("background-again");
      },
      Priority::kBackground);
  ASSERT_TRUE(started.wait());
  auto interactive = executor.submit(
      [&] {
        order.add("interactive");
        return executor.this_worker();
      },
      Priority::kInteractive);
  EXPECT_EQ(interactive.get(), 0) << "the job ran on the waiting thread, not the worker";
  ASSERT_TRUE(ready_without_helping(background));
  EXPECT_EQ(order.snapshot(), (std::vector<std::string>{"background-start", "background-yields",
                                                        "interactive", "background-again"}));
}

TEST(PreemptedJobs, AJobThatIsNotInterruptibleIsNeverAsked) {
  Executor executor(one_worker());
  Signal started, release;
  auto background = executor.submit(
      [&](std::stop_token token) {
        started.notify();
        EXPECT_TRUE(release.wait());
        return token.stop_requested();
      },
      Priority::kBackground);
  ASSERT_TRUE(started.wait());
  auto interactive = executor.submit([] {}, Priority::kInteractive);
  EXPECT_TRUE(stays_false([&] { return interactive.ready(); }, kQuietWindow));
  release.notify();
  ASSERT_TRUE(ready_without_helping(background));
  EXPECT_FALSE(background.get()) << "a stop_token job is stopped by its caller, not for work";
  ASSERT_TRUE(ready_without_helping(interactive));
}

TEST(Preemption, ATaskMayDeclineToBeRescheduled) {
  Executor executor(one_worker());
  Signal started;
  std::atomic<int> starts{0};
  TaskGraph g;
  g.add("preview",
        [&](TaskContext& ctx) {
          ++starts;
          started.notify();
          EXPECT_TRUE(wait_for_stop(ctx));
          ctx.decline_reschedule();
          return std::string("partial");
        },
        {.interruptible = true});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(started.wait());
  auto interactive = executor.submit([] {}, Priority::kInteractive);
  ASSERT_TRUE(finishes_without_helping(run));
  ASSERT_TRUE(ready_without_helping(interactive));
  const TaskReport& t = run.report().task("preview");
  EXPECT_EQ(starts.load(), 1);
  EXPECT_EQ(t.status, TaskStatus::kSucceeded);
  EXPECT_EQ(t.result_as<std::string>(), "partial");
  EXPECT_EQ(t.interruptions, 1u);
}

TEST(Preemption, InterruptionsAreBounded) {
  Executor executor(one_worker());
  LongTask task;
  TaskGraph g;
  task.add_to(g, "long", {.priority = Priority::kBackground, .max_interruptions = 2});
  runtime::Run run = executor.run(g);
  for (int k = 1; k <= 2; ++k) {
    ASSERT_TRUE(eventually([&] { return task.starts() == k; }));
    auto urgent = executor.submit([] {}, Priority::kUrgent);
    ASSERT_TRUE(ready_without_helping(urgent));
  }
  // Interrupted twice: now it keeps its worker and the next urgent job waits for it.
  ASSERT_TRUE(eventually([&] { return task.starts() == 3; }));
  auto third = executor.submit([] {}, Priority::kUrgent);
  EXPECT_TRUE(stays_false([&] { return third.ready(); }, kQuietWindow));
  task.finish();
  ASSERT_TRUE(ready_without_helping(third));
  ASSERT_TRUE(finishes_without_helping(run));
  EXPECT_EQ(run.report().task("long").interruptions, 2u);
  EXPECT_EQ(task.starts(), 3);
}

TEST(Preemption, NoInterruptionWhileAWorkerIsFree) {
  Executor executor({.workers = 2, .caller_helps = false});
  LongTask task;
  TaskGraph g;
  task.add_to(g, "long", {.priority = Priority::kBackground});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(task.started());
  // Back to back: a worker whose job returned counts as free before its result is seen, so
  // the next submission never finds both workers busy (however late that worker runs on).
  for (int i = 0; i < 20; ++i) {
    auto interactive = executor.submit([] {}, Priority::kInteractive);
    ASSERT_TRUE(ready_without_helping(interactive));
  }
  task.finish();
  ASSERT_TRUE(finishes_without_helping(run));
  EXPECT_EQ(run.report().task("long").interruptions, 0u);
}

TEST(Preemption, OnlyMoreImportantWorkInterrupts) {
  Executor executor(one_worker());
  LongTask task;
  TaskGraph g;
  task.add_to(g, "normal", {});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(task.started());
  auto same = executor.submit([] {}, Priority::kNormal);
  auto lower = executor.submit([] {}, Priority::kBackground);
  EXPECT_TRUE(stays_false([&] { return same.ready() || lower.ready(); }, kQuietWindow));
  task.finish();
  ASSERT_TRUE(finishes_without_helping(run));
  ASSERT_TRUE(ready_without_helping(same));
  ASSERT_TRUE(ready_without_helping(lower));
  EXPECT_EQ(run.report().task("normal").interruptions, 0u);
}

TEST(Preemption, CanBeTurnedOff) {
  ExecutorOptions o = one_worker();
  o.preemption = false;
  Executor executor(o);
  LongTask task;
  TaskGraph g;
  task.add_to(g, "long", {.priority = Priority::kBackground});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(task.started());
  auto interactive = executor.submit([] {}, Priority::kInteractive);
  EXPECT_TRUE(stays_false([&] { return interactive.ready(); }, kQuietWindow));
  task.finish();
  ASSERT_TRUE(ready_without_helping(interactive));
  ASSERT_TRUE(finishes_without_helping(run));
  EXPECT_EQ(run.report().task("long").interruptions, 0u);
}

TEST(Preemption, ATaskThatIsNotInterruptibleIsNeverAsked) {
  Executor executor(one_worker());
  Signal started;
  std::atomic<bool> finish{false}, saw_stop{false};
  TaskGraph g;
  g.add("plain",
        [&](TaskContext& ctx) {
          started.notify();
          while (!finish.load()) {
            if (ctx.stop_requested()) saw_stop = true;
            std::this_thread::sleep_for(50us);
          }
        },
        {.priority = Priority::kBackground});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(started.wait());
  auto interactive = executor.submit([] {}, Priority::kInteractive);
  EXPECT_TRUE(stays_false([&] { return interactive.ready(); }, kQuietWindow));
  finish = true;
  ASSERT_TRUE(ready_without_helping(interactive));
  ASSERT_TRUE(finishes_without_helping(run));
  EXPECT_FALSE(saw_stop.load());
}

TEST(Preemption, ALaneRunsInteractiveWorkWithoutInterruptingAnyone) {
  // An idle interactive lane is a free worker for interactive work: nobody is interrupted.
  Executor executor(
      {.caller_helps = false,
       .pools = {{.name = "interactive", .workers = 1, .min_priority = Priority::kInteractive},
                 {.name = "general", .workers = 1}}});
  LongTask task;
  TaskGraph g;
  task.add_to(g, "long", {.priority = Priority::kBackground});
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(task.started());
  for (int i = 0; i < 10; ++i) {
    auto interactive = executor.submit([] {}, Priority::kInteractive);
    ASSERT_TRUE(ready_without_helping(interactive));
    // A future is ready a moment before its worker leaves the job; submitted in that moment,
    // the next job would find the lane busy and rightly interrupt "long".
    std::this_thread::sleep_for(10ms);
  }
  task.finish();
  ASSERT_TRUE(finishes_without_helping(run));
  EXPECT_EQ(run.report().task("long").interruptions, 0u);
}

/// Two workers: "deaf" (background, the first one asked) never checks its stop token;
/// "polite" (low) does. Returns the interactive job, submitted once both run.
struct DeafAndPolite {
  explicit DeafAndPolite(Executor& executor) {
    g.add("deaf",
          [this](TaskContext& ctx) {
            deaf_started.notify();
            while (!release_deaf.load()) std::this_thread::sleep_for(50us);
            deaf_was_asked = ctx.interrupt_requested();
            ctx.decline_reschedule();
          },
          {.priority = Priority::kBackground, .interruptible = true});
    polite.add_to(g, "polite", {.priority = Priority::kLow});
    run = executor.run(g);
  }
  TaskGraph g;
  Signal deaf_started;
  std::atomic<bool> release_deaf{false}, deaf_was_asked{false};
  LongTask polite;
  Run run;
};

TEST(Preemption, WhenTheTaskAskedDoesNotYieldTheNextOneIsAskedAfterTheGrace) {
  Executor executor({.workers = 2, .caller_helps = false, .yield_grace = 1ms});
  DeafAndPolite tasks(executor);
  ASSERT_TRUE(tasks.deaf_started.wait());
  ASSERT_TRUE(tasks.polite.started());
  auto interactive = executor.submit([] {}, Priority::kInteractive);
  // It runs in place of "polite" while "deaf" still runs.
  ASSERT_TRUE(ready_without_helping(interactive));
  tasks.release_deaf = true;
  tasks.polite.finish();
  ASSERT_TRUE(finishes_without_helping(tasks.run));
  EXPECT_TRUE(tasks.deaf_was_asked.load()) << "the lowest-priority task is asked first";
  EXPECT_EQ(tasks.run.report().task("polite").interruptions, 1u);
}

TEST(Preemption, WithNoGraceOnlyOneTaskIsAsked) {
  Executor executor({.workers = 2, .caller_helps = false, .yield_grace = Duration::zero()});
  DeafAndPolite tasks(executor);
  ASSERT_TRUE(tasks.deaf_started.wait());
  ASSERT_TRUE(tasks.polite.started());
  auto interactive = executor.submit([] {}, Priority::kInteractive);
  EXPECT_TRUE(stays_false([&] { return interactive.ready(); }, kQuietWindow));
  tasks.release_deaf = true;  // it yields at last: the interactive job takes its worker
  ASSERT_TRUE(ready_without_helping(interactive));
  tasks.polite.finish();
  ASSERT_TRUE(finishes_without_helping(tasks.run));
  EXPECT_TRUE(tasks.deaf_was_asked.load());
  EXPECT_EQ(tasks.run.report().task("polite").interruptions, 0u);
}

}  // namespace
}  // namespace taskloom::runtime
