// Contract tests for TaskGraph building, validation and plan() (task_graph.hpp, error.hpp).
#include "taskloom/runtime/task_graph.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/task_context.hpp"

#include "graph_shapes.hpp"
#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using testing::Edges;
using ::testing::ElementsAre;
using testing::follows_edges;
using testing::follows_edges_either_way;
using testing::Signal;
using ::testing::UnorderedElementsAre;

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::size_t position(const std::vector<std::string>& order, const std::string& id) {
  return static_cast<std::size_t>(std::find(order.begin(), order.end(), id) - order.begin());
}

// ---------------------------------------------------------------- building

TEST(TaskGraphBuild, NewGraphIsEmpty) {
  TaskGraph g;
  EXPECT_TRUE(g.empty());
  EXPECT_EQ(g.size(), 0u);
}

TEST(TaskGraphBuild, AddReturnsHandleNamedByIdAndGrowsGraph) {
  TaskGraph g;
  TaskHandle a = g.add("fetch", [] {});
  TaskHandle b = g.add("parse", [] { return 1; });
  EXPECT_EQ(a.id(), "fetch");
  EXPECT_EQ(b.id(), "parse");
  EXPECT_NE(a.index(), b.index());
  EXPECT_EQ(g.size(), 2u);
  EXPECT_FALSE(g.empty());
}

TEST(TaskGraphBuild, AnonymousTaskIdIsHashAndIndex) {
  TaskGraph g;
  g.add("named", [] {});
  TaskHandle anon = g.add([] {});
  TaskHandle anon2 = g.add([](TaskContext&) {});
  EXPECT_EQ(anon.id(), "#" + std::to_string(anon.index()));
  EXPECT_EQ(anon2.id(), "#" + std::to_string(anon2.index()));
  EXPECT_NE(anon.id(), anon2.id());
  EXPECT_EQ(g.size(), 3u);
}

TEST(TaskGraphBuild, FindReturnsHandleOfExistingTaskOnly) {
  TaskGraph g;
  TaskHandle added = g.add("render", [] {});
  std::optional<TaskHandle> found = g.find("render");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id(), "render");
  EXPECT_EQ(found->index(), added.index());
  EXPECT_FALSE(g.find("rendr").has_value());
  EXPECT_FALSE(g.find("").has_value());
}

TEST(TaskGraphBuild, FindLocatesAnonymousTaskByItsId) {
  TaskGraph g;
  TaskHandle anon = g.add([] {});
  std::optional<TaskHandle> found = g.find(anon.id());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->index(), anon.index());
}

TEST(TaskGraphBuild, DuplicateIdThrowsAndLeavesGraphUnchanged) {
  std::atomic<int> original{0}, replacement{0};
  TaskGraph g;
  g.add("a", [&] { ++original; });
  g.add("b", [] {}, {.after = {"a"}});
  try {
    g.add("a", [&] { ++replacement; });
    FAIL() << "expected DuplicateIdError";
  } catch (const DuplicateIdError& e) {
    EXPECT_EQ(e.id(), "a");
    EXPECT_EQ(e.code(), ErrorCode::kDuplicateId);
  }
  EXPECT_EQ(g.size(), 2u);

  Executor executor(1);
  const RunReport& report = executor.run(g).report();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(original.load(), 1) << "the first body must still be the task's body";
  EXPECT_EQ(replacement.load(), 0);
  EXPECT_EQ(report.tasks.size(), 2u);
}

TEST(TaskGraphBuild, EmptyIdThrowsInvalidArgument) {
  TaskGraph g;
  EXPECT_THROW(g.add("", [] {}), InvalidArgumentError);
  EXPECT_TRUE(g.empty());
}

TEST(TaskGraphBuild, NegativeTimeoutThrowsInvalidArgumentAndDoesNotReserveTheId) {
  TaskGraph g;
  EXPECT_THROW(g.add("t", [] {}, {.timeout = -1ms}), InvalidArgumentError);
  EXPECT_TRUE(g.empty());
  // The failed call left nothing behind: the id is still free.
  EXPECT_NO_THROW(g.add("t", [] {}, {.timeout = 1s}));
  EXPECT_EQ(g.size(), 1u);
}

TEST(TaskGraphBuild, ZeroTimeoutMeansNoneAndIsAccepted) {
  TaskGraph g;
  EXPECT_NO_THROW(g.add("t", [] {}, {.timeout = Duration::zero()}));
}

TEST(TaskGraphBuild, NegativeWeightThrowsInvalidArgument) {
  TaskGraph g;
  EXPECT_THROW(g.add("w", [] {}, {.weight = -1.0}), InvalidArgumentError);
  EXPECT_TRUE(g.empty());
}

TEST(TaskGraphBuild, NanWeightThrowsInvalidArgument) {
  TaskGraph g;
  EXPECT_THROW(g.add("w", [] {}, {.weight = std::numeric_limits<double>::quiet_NaN()}),
               InvalidArgumentError);
  EXPECT_TRUE(g.empty());
}

TEST(TaskGraphBuild, InfiniteWeightThrowsInvalidArgument) {
  // "bad weight": the graph layer rejects non-finite weights, so the task graph must too.
  TaskGraph g;
  EXPECT_THROW(g.add("w", [] {}, {.weight = std::numeric_limits<double>::infinity()}),
               InvalidArgumentError);
  EXPECT_TRUE(g.empty());
}

TEST(TaskGraphBuild, ZeroWeightIsAccepted) {
  TaskGraph g;
  EXPECT_NO_THROW(g.add("w", [] {}, {.weight = 0.0}));
}

TEST(TaskGraphBuild, DependenciesMayBeNamedBeforeTheirTaskExists) {
  TaskGraph g;
  g.add("parse", [] {}, {.after = {"fetch"}});  // "fetch" added later
  g.add("fetch", [] {});
  Plan plan;
  ASSERT_NO_THROW(plan = g.plan());
  EXPECT_EQ(plan.order, (std::vector<std::string>{"fetch", "parse"}));
}

TEST(TaskGraphBuild, AddDependencyByIdOrdersTasks) {
  TaskGraph g;
  g.add("b", [] {});
  g.add("a", [] {});
  g.add_dependency("b", "a");  // b runs after a
  const Plan plan = g.plan();
  EXPECT_EQ(plan.edge_count, 1u);
  EXPECT_EQ(plan.order, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(plan.waves.size(), 2u);
  EXPECT_THAT(plan.waves[0], ElementsAre("a"));
  EXPECT_THAT(plan.waves[1], ElementsAre("b"));
}

TEST(TaskGraphBuild, PrecedeAndSucceedWireEdgesBetweenHandles) {
  TaskGraph g;
  TaskHandle a = g.add("a", [] {});
  TaskHandle b = g.add("b", [] {});
  TaskHandle c = g.add("c", [] {});
  TaskHandle d = g.add("d", [] {});
  a.precede(b, c);  // a before b and c
  d.succeed(b, c);  // d after b and c
  const Plan plan = g.plan();
  EXPECT_EQ(plan.task_count, 4u);
  EXPECT_EQ(plan.edge_count, 4u);
  ASSERT_EQ(plan.waves.size(), 3u);
  EXPECT_THAT(plan.waves[0], ElementsAre("a"));
  EXPECT_THAT(plan.waves[1], UnorderedElementsAre("b", "c"));
  EXPECT_THAT(plan.waves[2], ElementsAre("d"));
}

TEST(TaskGraphBuild, ClearRemovesEveryTaskAndFreesTheirIds) {
  TaskGraph g;
  g.add("a", [] {});
  g.add("b", [] {}, {.after = {"a"}});
  g.clear();
  EXPECT_TRUE(g.empty());
  EXPECT_FALSE(g.find("a").has_value());
  EXPECT_NO_THROW(g.add("a", [] {}));
  EXPECT_EQ(g.size(), 1u);
}

TEST(TaskGraphBuild, MovedGraphKeepsItsTasksAndRuns) {
  std::atomic<int> calls{0};
  TaskGraph g;
  g.add("a", [&] { ++calls; });
  g.add("b", [&] { ++calls; }, {.after = {"a"}});
  TaskGraph moved(std::move(g));
  EXPECT_EQ(moved.size(), 2u);
  TaskGraph assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.size(), 2u);

  Executor executor(2);
  EXPECT_TRUE(executor.run(assigned).report().ok());
  EXPECT_EQ(calls.load(), 2);
}

TEST(TaskGraphBuild, DotAndMermaidExportsMentionEveryTask) {
  TaskGraph g;
  g.add("fetch", [] {});
  g.add("parse", [] {}, {.after = {"fetch"}});
  const std::string dot = g.to_dot();
  const std::string mermaid = g.to_mermaid();
  EXPECT_NE(dot.find("digraph"), std::string::npos) << dot;
  EXPECT_NE(dot.find("fetch"), std::string::npos) << dot;
  EXPECT_NE(dot.find("parse"), std::string::npos) << dot;
  EXPECT_NE(mermaid.find("fetch"), std::string::npos) << mermaid;
  EXPECT_NE(mermaid.find("parse"), std::string::npos) << mermaid;
}

// ---------------------------------------------------------------- unknown dependencies

TEST(TaskGraphValidation, UnknownDependencyAtPlanNamesTaskMissingAndSuggestion) {
  TaskGraph g;
  g.add("fetch", [] {});
  g.add("parse", [] {}, {.after = {"fecth"}});
  try {
    (void)g.plan();
    FAIL() << "expected UnknownDependencyError";
  } catch (const UnknownDependencyError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnknownDependency);
    EXPECT_EQ(e.task(), "parse");
    EXPECT_EQ(e.missing(), "fecth");
    EXPECT_EQ(e.suggestion(), "fetch");
    EXPECT_THAT(e.known(), ::testing::Contains("fetch"));
    EXPECT_THAT(std::string(e.what()), ::testing::HasSubstr("fetch"));
  }
}

TEST(TaskGraphValidation, UnknownDependencyFromAddDependency) {
  TaskGraph g;
  g.add("fetch", [] {});
  g.add("parse", [] {});
  g.add_dependency("parse", "fecth");
  try {
    (void)g.plan();
    FAIL() << "expected UnknownDependencyError";
  } catch (const UnknownDependencyError& e) {
    EXPECT_EQ(e.task(), "parse");
    EXPECT_EQ(e.missing(), "fecth");
    EXPECT_EQ(e.suggestion(), "fetch");
  }
}

TEST(TaskGraphValidation, UnknownDependencyWithNothingCloseSuggestsNothing) {
  TaskGraph g;
  g.add("fetch", [] {});
  g.add("parse", [] {}, {.after = {"zzzzzzzzzz"}});
  try {
    (void)g.plan();
    FAIL() << "expected UnknownDependencyError";
  } catch (const UnknownDependencyError& e) {
    EXPECT_EQ(e.missing(), "zzzzzzzzzz");
    EXPECT_EQ(e.suggestion(), "");
  }
}

TEST(TaskGraphValidation, UnknownDependencyAtRunThrowsAndRunsNothing) {
  std::atomic<int> calls{0};
  TaskGraph g;
  g.add("fetch", [&] { ++calls; });
  g.add("parse", [&] { ++calls; }, {.after = {"fecth"}});
  Executor executor(2);
  try {
    (void)executor.run(g);
    FAIL() << "expected UnknownDependencyError";
  } catch (const UnknownDependencyError& e) {
    EXPECT_EQ(e.task(), "parse");
    EXPECT_EQ(e.missing(), "fecth");
    EXPECT_EQ(e.suggestion(), "fetch");
  }
  // Nothing started (give a buggy runtime a moment to start something).
  EXPECT_TRUE(testing::stays_false([&] { return calls.load() != 0; }, testing::kQuietWindow));
  // The failed run left the graph usable: fix it and run.
  g.clear();
  g.add("fetch", [&] { ++calls; });
  EXPECT_TRUE(executor.run(g).report().ok());
  EXPECT_EQ(calls.load(), 1);
}

// ---------------------------------------------------------------- cycles

TEST(TaskGraphValidation, CyclePathIsAClosedCycleOfTheGraph) {
  // a -> b -> c -> a ("x -> y": x runs before y), plus d hanging off a (not on the cycle).
  TaskGraph g;
  g.add("a", [] {}, {.after = {"c"}});
  g.add("b", [] {}, {.after = {"a"}});
  g.add("c", [] {}, {.after = {"b"}});
  g.add("d", [] {}, {.after = {"a"}});
  const Edges edges{{"c", "a"}, {"a", "b"}, {"b", "c"}, {"a", "d"}};
  try {
    (void)g.plan();
    FAIL() << "expected CycleError";
  } catch (const CycleError& e) {
    const std::vector<std::string>& path = e.path();
    EXPECT_EQ(e.code(), ErrorCode::kCycle);
    ASSERT_EQ(path.size(), 4u) << ::testing::PrintToString(path);
    EXPECT_EQ(path.front(), path.back()) << "the path is listed closed";
    EXPECT_THAT(std::vector<std::string>(path.begin(), path.end() - 1),
                UnorderedElementsAre("a", "b", "c"));
    EXPECT_TRUE(follows_edges_either_way(path, edges))
        << "not a cycle of the graph: " << ::testing::PrintToString(path);
  }
}

TEST(TaskGraphValidation, CycleThroughHandlesNamesAnonymousTasks) {
  TaskGraph g;
  TaskHandle a = g.add([] {});
  TaskHandle b = g.add([] {});
  TaskHandle c = g.add([] {});
  a.precede(b);
  b.precede(c);
  c.precede(a);
  const Edges edges{{a.id(), b.id()}, {b.id(), c.id()}, {c.id(), a.id()}};
  try {
    (void)g.plan();
    FAIL() << "expected CycleError";
  } catch (const CycleError& e) {
    const std::vector<std::string>& path = e.path();
    ASSERT_EQ(path.size(), 4u) << ::testing::PrintToString(path);
    EXPECT_EQ(path.front(), path.back());
    EXPECT_THAT(std::vector<std::string>(path.begin(), path.end() - 1),
                UnorderedElementsAre(a.id(), b.id(), c.id()));
    EXPECT_TRUE(follows_edges_either_way(path, edges)) << ::testing::PrintToString(path);
  }
}

TEST(TaskGraphValidation, SelfDependencyIsACycle) {
  TaskGraph g;
  g.add("a", [] {}, {.after = {"a"}});
  try {
    (void)g.plan();
    FAIL() << "expected CycleError";
  } catch (const CycleError& e) {
    EXPECT_EQ(e.path(), (std::vector<std::string>{"a", "a"}));
  }
}

TEST(TaskGraphValidation, CycleAtRunThrowsAndRunsNothing) {
  std::atomic<int> calls{0};
  TaskGraph g;
  g.add("source", [&] { ++calls; });  // runnable on its own, but the run must not start
  g.add("a", [&] { ++calls; }, {.after = {"b"}});
  g.add("b", [&] { ++calls; }, {.after = {"a"}});
  Executor executor(2);
  EXPECT_THROW((void)executor.run(g), CycleError);
  EXPECT_TRUE(testing::stays_false([&] { return calls.load() != 0; }, testing::kQuietWindow));
}

// ---------------------------------------------------------------- building during a run

TEST(TaskGraphValidation, AddAndClearWhileARunIsInFlightThrowInvalidState) {
  Signal started, release;
  TaskGraph g;
  g.add("block", [&] {
    started.notify();
    release.wait();
  });
  Executor executor(2);
  runtime::Run run = executor.run(g);
  ASSERT_TRUE(started.wait());

  EXPECT_THROW(g.add("x", [] {}), InvalidStateError);
  EXPECT_THROW(g.add([] {}), InvalidStateError);
  EXPECT_THROW(g.clear(), InvalidStateError);
  EXPECT_EQ(g.size(), 1u) << "failed calls leave the graph unchanged";
  EXPECT_TRUE(g.find("block").has_value());

  release.notify();
  run.wait();
  EXPECT_TRUE(run.report().ok());
  // Once the run has ended the graph may change again.
  EXPECT_NO_THROW(g.add("x", [] {}));
  EXPECT_NO_THROW(g.clear());
  EXPECT_TRUE(g.empty());
}

// ---------------------------------------------------------------- plan()

TEST(TaskGraphPlan, ReportsCountsWavesAndATopologicalOrder) {
  TaskGraph g;
  // Added out of order on purpose.
  g.add("d", [] {}, {.after = {"b", "c"}});
  g.add("c", [] {}, {.after = {"a"}});
  g.add("b", [] {}, {.after = {"a"}});
  g.add("a", [] {});
  g.add("lone", [] {});
  const Edges edges{{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}};

  const Plan plan = g.plan();
  EXPECT_EQ(plan.task_count, 5u);
  EXPECT_EQ(plan.edge_count, 4u);
  ASSERT_EQ(plan.order.size(), 5u);
  EXPECT_EQ(sorted(plan.order), (std::vector<std::string>{"a", "b", "c", "d", "lone"}));
  for (const auto& [from, to] : edges) {
    EXPECT_LT(position(plan.order, from), position(plan.order, to))
        << from << " must come before " << to << " in " << ::testing::PrintToString(plan.order);
  }
  ASSERT_EQ(plan.waves.size(), 3u);
  EXPECT_THAT(plan.waves[0], UnorderedElementsAre("a", "lone"));
  EXPECT_THAT(plan.waves[1], UnorderedElementsAre("b", "c"));
  EXPECT_THAT(plan.waves[2], ElementsAre("d"));
}

TEST(TaskGraphPlan, CriticalPathIsTheHeaviestChainByWeight) {
  // a(1) -> b(5) -> d(1): 7     a(1) -> c(2) -> d(1): 4     e(3) -> f(3): 6
  TaskGraph g;
  g.add("a", [] {}, {.weight = 1});
  g.add("b", [] {}, {.after = {"a"}, .weight = 5});
  g.add("c", [] {}, {.after = {"a"}, .weight = 2});
  g.add("d", [] {}, {.after = {"b", "c"}, .weight = 1});
  g.add("e", [] {}, {.weight = 3});
  g.add("f", [] {}, {.after = {"e"}, .weight = 3});
  const Plan plan = g.plan();
  EXPECT_EQ(plan.critical_path, (std::vector<std::string>{"a", "b", "d"}));
  EXPECT_DOUBLE_EQ(plan.critical_path_weight, 7.0);
}

TEST(TaskGraphPlan, CriticalPathPrefersWeightOverLength) {
  // A long light chain (4 x 1 = 4) against one heavy task (10).
  TaskGraph g;
  g.add("l1", [] {}, {.weight = 1});
  g.add("l2", [] {}, {.after = {"l1"}, .weight = 1});
  g.add("l3", [] {}, {.after = {"l2"}, .weight = 1});
  g.add("l4", [] {}, {.after = {"l3"}, .weight = 1});
  g.add("heavy", [] {}, {.weight = 10});
  const Plan plan = g.plan();
  EXPECT_EQ(plan.critical_path, (std::vector<std::string>{"heavy"}));
  EXPECT_DOUBLE_EQ(plan.critical_path_weight, 10.0);
}

TEST(TaskGraphPlan, RunsNoBody) {
  std::atomic<int> calls{0};
  TaskGraph g;
  g.add("a", [&] { ++calls; });
  g.add("b", [&](TaskContext&) { ++calls; }, {.after = {"a"}});
  g.add([&] { ++calls; });
  (void)g.plan();
  (void)g.plan();
  EXPECT_EQ(calls.load(), 0);
}

TEST(TaskGraphPlan, EmptyGraphHasAnEmptyPlan) {
  TaskGraph g;
  const Plan plan = g.plan();
  EXPECT_EQ(plan.task_count, 0u);
  EXPECT_EQ(plan.edge_count, 0u);
  EXPECT_TRUE(plan.order.empty());
  EXPECT_TRUE(plan.waves.empty());
  EXPECT_TRUE(plan.critical_path.empty());
}

TEST(TaskGraphPlan, AnonymousTasksArePlannedByTheirIds) {
  TaskGraph g;
  TaskHandle a = g.add([] {});
  TaskHandle b = g.add([] {});
  a.precede(b);
  const Plan plan = g.plan();
  EXPECT_EQ(plan.order, (std::vector<std::string>{a.id(), b.id()}));
  EXPECT_TRUE(follows_edges(plan.critical_path, {{a.id(), b.id()}}));
  EXPECT_EQ(plan.critical_path.size(), 2u);
}

}  // namespace
}  // namespace taskloom::runtime
