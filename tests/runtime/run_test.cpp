// Contract tests for running a TaskGraph: results between tasks, shared state, the task context,
// progress, targets and reuse of a graph (task_graph.hpp, run.hpp, task_context.hpp,
// shared_state.hpp). Every test runs at 1, 2 and 8 workers.
#include "taskloom/runtime/run.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/shared_state.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "graph_shapes.hpp"
#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::scaled;
using testing::Signal;
using ::testing::UnorderedElementsAre;

class GraphRunTest : public testing::WorkerCountTest {};
TASKLOOM_INSTANTIATE_WORKER_COUNTS(GraphRunTest);

// ---------------------------------------------------------------- results

TEST_P(GraphRunTest, DependentReadsItsDependencysResult) {
  TaskGraph g;
  g.add("fetch", [] { return 41; });
  g.add("parse", [](TaskContext& ctx) { return ctx.result<int>("fetch") + 1; },
        {.after = {"fetch"}});
  g.add("name", [] { return std::string("ana"); });
  g.add("greet", [](TaskContext& ctx) { return "hi " + ctx.result<std::string>("name"); },
        {.after = {"name"}});
  const RunReport& report = executor_.run(g).report();
  ASSERT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.task("parse").result_as<int>(), 42);
  EXPECT_EQ(report.task("fetch").result_as<int>(), 41);
  EXPECT_EQ(report.task("greet").result_as<std::string>(), "hi ana");
}

TEST_P(GraphRunTest, ResultsFlowAlongALongChain) {
  constexpr int kLength = 200;
  TaskGraph g;
  g.add("t0", [] { return 0; });
  for (int i = 1; i < kLength; ++i) {
    const std::string prev = "t" + std::to_string(i - 1);
    g.add("t" + std::to_string(i), [prev](TaskContext& ctx) { return ctx.result<int>(prev) + 1; },
          {.after = {prev}});
  }
  const RunReport& report = executor_.run(g).report();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.task("t" + std::to_string(kLength - 1)).result_as<int>(), kLength - 1);
}

TEST_P(GraphRunTest, JoinReadsEveryDependencysResult) {
  TaskGraph g;
  testing::diamond(
      g, [] { return 1; }, [](TaskContext& ctx) { return ctx.result<int>("a") * 10; },
      [](TaskContext& ctx) { return ctx.result<int>("a") * 100; },
      [](TaskContext& ctx) { return ctx.result<int>("b") + ctx.result<int>("c"); });
  const RunReport& report = executor_.run(g).report();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.task("d").result_as<int>(), 110);
}

TEST_P(GraphRunTest, ResultOfATaskThatIsNotADependencyThrowsInvalidArgument) {
  std::atomic<int> not_a_dependency{0}, unknown_id{0};
  TaskGraph g;
  g.add("a", [] { return 1; });
  g.add("gate", [] {});
  g.add("b",
        [&](TaskContext& ctx) {
          try {
            (void)ctx.result<int>("a");  // exists, but b does not depend on it
          } catch (const InvalidArgumentError&) {
            ++not_a_dependency;
          }
          try {
            (void)ctx.result<int>("nope");  // no such task
          } catch (const InvalidArgumentError&) {
            ++unknown_id;
          }
        },
        {.after = {"gate"}});
  const RunReport& report = executor_.run(g).report();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(not_a_dependency.load(), 1);
  EXPECT_EQ(unknown_id.load(), 1);
}

TEST_P(GraphRunTest, ResultOfTheWrongTypeThrowsTypeMismatch) {
  std::atomic<int> wrong_type{0}, no_result{0};
  TaskGraph g;
  g.add("number", [] { return 7; });
  g.add("nothing", [] {});
  g.add("reader",
        [&](TaskContext& ctx) {
          try {
            (void)ctx.result<std::string>("number");
          } catch (const TypeMismatchError&) {
            ++wrong_type;
          }
          try {
            (void)ctx.result<int>("nothing");  // a void body has no result
          } catch (const TypeMismatchError&) {
            ++no_result;
          }
          return ctx.result<int>("number");  // the right type still works
        },
        {.after = {"number", "nothing"}});
  const RunReport& report = executor_.run(g).report();
  ASSERT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(wrong_type.load(), 1);
  EXPECT_EQ(no_result.load(), 1);
  EXPECT_EQ(report.task("reader").result_as<int>(), 7);
}

TEST_P(GraphRunTest, UncaughtContextMisuseFailsOnlyThatTask) {
  TaskGraph g;
  g.add("number", [] { return 7; });
  g.add("reader", [](TaskContext& ctx) { return ctx.result<std::string>("number"); },
        {.after = {"number"}});
  const RunReport& report = executor_.run(g).report();
  EXPECT_EQ(report.task("number").status, TaskStatus::kSucceeded);
  const TaskReport& reader = report.task("reader");
  EXPECT_EQ(reader.status, TaskStatus::kFailed);
  EXPECT_FALSE(reader.error.empty());
  ASSERT_TRUE(reader.exception);
  EXPECT_THROW(std::rethrow_exception(reader.exception), TypeMismatchError);
}

TEST_P(GraphRunTest, ReportResultAsChecksTheType) {
  TaskGraph g;
  g.add("number", [] { return 7; });
  g.add("nothing", [] {});
  const RunReport& report = executor_.run(g).report();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.task("number").result_as<int>(), 7);
  EXPECT_THROW((void)report.task("number").result_as<long>(), TypeMismatchError);
  EXPECT_FALSE(report.task("nothing").result.has_value());
  EXPECT_THROW((void)report.task("nothing").result_as<int>(), TypeMismatchError);
}

TEST_P(GraphRunTest, MoveOnlyResultIsPassedToDependents) {
  TaskGraph g;
  g.add("make", [] { return std::make_shared<std::vector<int>>(3, 9); });
  g.add("use",
        [](TaskContext& ctx) {
          return static_cast<int>(ctx.result<std::shared_ptr<std::vector<int>>>("make")->size());
        },
        {.after = {"make"}});
  const RunReport& report = executor_.run(g).report();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.task("use").result_as<int>(), 3);
}

// ---------------------------------------------------------------- ordering & visibility

TEST_P(GraphRunTest, TaskStartsOnlyAfterAllItsDependenciesEnded) {
  const testing::DepLists deps = testing::random_dag(scaled(2000), 3, /*seed=*/7, /*window=*/16);
  std::vector<std::atomic<bool>> finished(deps.size());
  std::vector<int> plain(deps.size(), 0);  // non-atomic: the run's happens-before must cover it
  std::atomic<int> violations{0};
  TaskGraph g;
  testing::build(g, deps, [&](std::uint32_t i) {
    return [&, i] {
      for (std::uint32_t d : deps[i]) {
        if (!finished[d].load(std::memory_order_relaxed) || plain[d] != 1) ++violations;
      }
      plain[i] = 1;
      finished[i].store(true, std::memory_order_relaxed);
    };
  });
  const RunReport& report = executor_.run(g).report();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.succeeded, deps.size());
  EXPECT_EQ(violations.load(), 0);
}

// ---------------------------------------------------------------- shared state

TEST_P(GraphRunTest, SharedStateSetInATaskIsVisibleToItsDependents) {
  TaskGraph g;
  g.add("a", [](TaskContext& ctx) {
    ctx.shared().set("frames", 240);
    ctx.shared().set("scene", std::string("forest"));
  });
  g.add("b", [](TaskContext& ctx) { return ctx.shared().get<int>("frames").value_or(-1); },
        {.after = {"a"}});
  g.add("c", [](TaskContext& ctx) { return ctx.shared().get<std::string>("scene").value_or(""); },
        {.after = {"a"}});
  runtime::Run run = executor_.run(g);
  const RunReport& report = run.report();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.task("b").result_as<int>(), 240);
  EXPECT_EQ(report.task("c").result_as<std::string>(), "forest");
  EXPECT_EQ(run.shared().get<int>("frames"), 240);
}

TEST_P(GraphRunTest, SharedStateUpdateIsAtomicUnderConcurrency) {
  const std::size_t tasks = scaled(2000);
  constexpr int kPerTask = 10;
  TaskGraph g;
  for (std::size_t i = 0; i < tasks; ++i) {
    g.add([](TaskContext& ctx) {
      for (int k = 0; k < kPerTask; ++k) ctx.shared().update<long>("n", [](long& v) { ++v; });
    });
  }
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(run.report().ok());
  EXPECT_EQ(run.shared().get<long>("n"), static_cast<long>(tasks) * kPerTask);
}

TEST_P(GraphRunTest, SharedStateFromRunOptionsIsTheRunsState) {
  auto shared = std::make_shared<SharedState>();
  shared->set("input", 5);
  std::atomic<SharedState*> seen{nullptr};
  TaskGraph g;
  g.add("double", [&](TaskContext& ctx) {
    seen = &ctx.shared();
    ctx.shared().set("output", 2 * ctx.shared().get<int>("input").value_or(0));
  });
  runtime::Run run = executor_.run(g, {.shared = shared});
  ASSERT_TRUE(run.report().ok());
  EXPECT_EQ(seen.load(), shared.get());
  EXPECT_EQ(&run.shared(), shared.get());
  EXPECT_EQ(shared->get<int>("output"), 10);
}

TEST_P(GraphRunTest, EachRunGetsFreshSharedStateByDefault) {
  TaskGraph g;
  g.add("count",
        [](TaskContext& ctx) { return ctx.shared().update<int>("n", [](int& v) { ++v; }); });
  for (int i = 0; i < 3; ++i) {
    runtime::Run run = executor_.run(g);
    ASSERT_TRUE(run.report().ok());
    EXPECT_EQ(run.report().task("count").result_as<int>(), 1) << "run " << i;
    EXPECT_EQ(run.shared().get<int>("n"), 1);
  }
}

// SharedState on its own (no executor involved).
TEST(SharedState, GetSetContainsEraseKeys) {
  SharedState s;
  EXPECT_EQ(s.get<int>("x"), std::nullopt);
  EXPECT_FALSE(s.contains("x"));
  s.set("x", 3);
  s.set("y", std::string("why"));
  EXPECT_TRUE(s.contains("x"));
  EXPECT_EQ(s.get<int>("x"), 3);
  EXPECT_THROW((void)s.get<std::string>("x"), TypeMismatchError);
  EXPECT_THAT(s.keys(), UnorderedElementsAre("x", "y"));
  EXPECT_TRUE(s.erase("x"));
  EXPECT_FALSE(s.erase("x"));
  EXPECT_FALSE(s.contains("x"));
  EXPECT_EQ(s.update<int>("fresh", [](int& v) { v += 4; }), 4);  // default-constructed first
  EXPECT_THROW((void)s.update<int>("y", [](int& v) { ++v; }), TypeMismatchError);
}

// ---------------------------------------------------------------- the context

TEST_P(GraphRunTest, ContextKnowsIdAttemptMetadataAndExecutor) {
  testing::Recorder ids;
  std::atomic<unsigned> attempt{0};
  std::atomic<Executor*> executor{nullptr};
  std::atomic<bool> stop_seen{true};
  std::string owner, missing = "unset";
  TaskGraph g;
  g.add("named",
        [&](TaskContext& ctx) {
          ids.add(ctx.id());
          attempt = ctx.attempt();
          executor = &ctx.executor();
          stop_seen = ctx.stop_requested() || ctx.stop_token().stop_requested();
          owner = std::string(ctx.metadata("owner"));
          missing = std::string(ctx.metadata("no-such-key"));
        },
        {.metadata = {{"owner", "ana"}, {"shot", "12"}}});
  TaskHandle anon = g.add([&](TaskContext& ctx) { ids.add(ctx.id()); });
  ASSERT_TRUE(executor_.run(g).report().ok());
  EXPECT_THAT(ids.snapshot(), UnorderedElementsAre("named", anon.id()));
  EXPECT_EQ(attempt.load(), 1u);
  EXPECT_EQ(executor.load(), &executor_);
  EXPECT_FALSE(stop_seen.load());
  EXPECT_EQ(owner, "ana");
  EXPECT_EQ(missing, "");
}

// ---------------------------------------------------------------- progress

TEST_P(GraphRunTest, ProgressCountsTasksInAFinalState) {
  Signal release;
  TaskGraph g;
  g.add("quick", [] {});
  g.add("block", [&] { (void)release.wait(); }, {.after = {"quick"}});
  g.add("after", [] {}, {.after = {"block"}});
  runtime::Run run = executor_.run(g);
  ASSERT_TRUE(run.valid());
  EXPECT_EQ(run.progress().total, 3u);
  EXPECT_TRUE(testing::eventually([&] { return run.progress().done == 1; }))
      << "only 'quick' can end while 'block' is held";
  EXPECT_FALSE(run.done());
  release.notify();
  run.wait();
  EXPECT_TRUE(run.done());
  EXPECT_EQ(run.progress().done, 3u);
  EXPECT_EQ(run.progress().total, 3u);
}

TEST_P(GraphRunTest, EmptyGraphRunsToAnEmptyReport) {
  TaskGraph g;
  runtime::Run run = executor_.run(g);
  run.wait();
  EXPECT_TRUE(run.done());
  EXPECT_EQ(run.progress().total, 0u);
  const RunReport& report = run.report();
  EXPECT_TRUE(report.tasks.empty());
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.speedup(), 0.0);
}

TEST_P(GraphRunTest, ReportOfATemporaryRunIsACopyThatOutlivesTheHandle) {
  TaskGraph g;
  g.add("a", [] { return std::string("kept"); });
  RunReport copy = executor_.run(g).report();  // the Run handle dies at the end of this line
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(copy.task("a").result_as<std::string>(), "kept");
}

TEST(RunHandle, DefaultConstructedRunIsInvalid) {
  runtime::Run run;
  EXPECT_FALSE(run.valid());
}

// ---------------------------------------------------------------- targets

class TargetsTest : public testing::WorkerCountTest {
 protected:
  // a -> b -> c;  d -> e;  a -> f
  TargetsTest() {
    for (const char* id : {"a", "b", "c", "d", "e", "f"}) calls_[id[0] - 'a'] = 0;
    auto body = [this](char id) { return [this, id] { ++calls_[id - 'a']; }; };
    g_.add("a", body('a'));
    g_.add("b", body('b'), {.after = {"a"}});
    g_.add("c", body('c'), {.after = {"b"}});
    g_.add("d", body('d'));
    g_.add("e", body('e'), {.after = {"d"}});
    g_.add("f", body('f'), {.after = {"a"}});
  }
  std::string called() const {
    std::string s;
    for (int i = 0; i < 6; ++i) {
      if (calls_[i] > 0) s += static_cast<char>('a' + i);
    }
    return s;
  }
  std::atomic<int> calls_[6];
  TaskGraph g_;
};
TASKLOOM_INSTANTIATE_WORKER_COUNTS(TargetsTest);

TEST_P(TargetsTest, TargetRunsOnlyItselfAndItsAncestors) {
  const RunReport& report = executor_.run(g_, {.targets = {"c"}}).report();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(called(), "abc");
  EXPECT_EQ(testing::ids_of(report), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(report.succeeded, 3u);
  EXPECT_THROW((void)report.task("d"), InvalidArgumentError);
}

TEST_P(TargetsTest, SeveralTargetsRunTheUnionOfTheirAncestors) {
  const RunReport& report = executor_.run(g_, {.targets = {"b", "e"}}).report();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(called(), "abde");
  EXPECT_EQ(testing::ids_of(report), (std::vector<std::string>{"a", "b", "d", "e"}));
}

TEST_P(TargetsTest, UnknownTargetThrowsInvalidArgumentAndRunsNothing) {
  EXPECT_THROW((void)executor_.run(g_, {.targets = {"c", "zz"}}), InvalidArgumentError);
  EXPECT_TRUE(testing::stays_false([&] { return !called().empty(); }, testing::kQuietWindow));
}

// ---------------------------------------------------------------- reuse

TEST_P(GraphRunTest, SameGraphRunsAgainWithFreshResults) {
  std::atomic<int> counter{0};
  TaskGraph g;
  g.add("count", [&] { return ++counter; });
  g.add("echo", [](TaskContext& ctx) { return ctx.result<int>("count"); }, {.after = {"count"}});
  for (int i = 1; i <= 3; ++i) {
    const RunReport& report = executor_.run(g).report();
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report.task("count").result_as<int>(), i);
    EXPECT_EQ(report.task("echo").result_as<int>(), i);
    EXPECT_EQ(report.task("count").attempts, 1u);
  }
  EXPECT_EQ(counter.load(), 3);
}

TEST_P(GraphRunTest, ClearedGraphCanBeRebuiltAndRun) {
  std::atomic<int> old_calls{0};
  TaskGraph g;
  g.add("a", [&] { ++old_calls; });
  ASSERT_TRUE(executor_.run(g).report().ok());
  g.clear();
  g.add("a", [] { return 1; });  // same id: no DuplicateIdError after clear()
  g.add("z", [](TaskContext& ctx) { return ctx.result<int>("a") + 1; }, {.after = {"a"}});
  const RunReport& report = executor_.run(g).report();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.tasks.size(), 2u);
  EXPECT_EQ(report.task("z").result_as<int>(), 2);
  EXPECT_EQ(old_calls.load(), 1);
}

TEST_P(GraphRunTest, TwoConcurrentRunsOfOneGraphAreIndependent) {
  // Each run's "meet" waits until the other run's "meet" has started too, so the two runs are
  // provably in flight together; each run reads its own tag from its own shared state. One
  // worker keeps to one busy thread (executor.hpp), so there the runs only overlap in time.
  const bool must_meet = workers() >= 2;
  std::atomic<int> arrived{0};
  TaskGraph g;
  g.add("meet", [&] {
    ++arrived;
    return !must_meet || testing::eventually([&] { return arrived.load() >= 2; }, 10s);
  });
  g.add("tag", [](TaskContext& ctx) { return ctx.shared().get<int>("tag").value_or(-1); },
        {.after = {"meet"}});
  auto shared1 = std::make_shared<SharedState>();
  auto shared2 = std::make_shared<SharedState>();
  shared1->set("tag", 1);
  shared2->set("tag", 2);
  runtime::Run run1 = executor_.run(g, {.shared = shared1});
  runtime::Run run2 = executor_.run(g, {.shared = shared2});
  const RunReport& r2 = run2.report();
  const RunReport& r1 = run1.report();
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r1.task("meet").result_as<bool>());
  EXPECT_TRUE(r2.task("meet").result_as<bool>());
  EXPECT_EQ(r1.task("tag").result_as<int>(), 1);
  EXPECT_EQ(r2.task("tag").result_as<int>(), 2);
}

}  // namespace
}  // namespace taskloom::runtime
