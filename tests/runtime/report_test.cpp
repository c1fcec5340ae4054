// Contract tests for RunReport (report.hpp): totals, times, waves, critical path, summary,
// JSON and Chrome trace export.
#include "taskloom/runtime/report.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "graph_shapes.hpp"
#include "runtime_test_support.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using testing::spin_for;

class ReportTest : public testing::WorkerCountTest {
 protected:
  /// A fresh directory for this test's files, removed afterwards.
  std::filesystem::path scratch() {
    if (dir_.empty()) {
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      std::string name = std::string(info->test_suite_name()) + "_" + info->name();
      std::replace(name.begin(), name.end(), '/', '_');
      dir_ = std::filesystem::temp_directory_path() /
             ("taskloom_rt_" + std::to_string(::getpid()) + "_" + name);
      std::filesystem::create_directories(dir_);
    }
    return dir_;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};
TASKLOOM_INSTANTIATE_WORKER_COUNTS(ReportTest);

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// True when `s` occurs in `j` as a string value or an object key, at any depth.
bool mentions(const json& j, const std::string& s) {
  if (j.is_string()) return j.get<std::string>().find(s) != std::string::npos;
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == s || mentions(value, s)) return true;
    }
  }
  if (j.is_array()) {
    for (const json& e : j) {
      if (mentions(e, s)) return true;
    }
  }
  return false;
}

/// The complete ("ph":"X") events of a Chrome trace.
std::vector<json> complete_events(const std::string& trace) {
  const json j = json::parse(trace);  // throws (failing the test) if not JSON
  const json& events = j.is_array() ? j : j.at("traceEvents");
  std::vector<json> out;
  for (const json& e : events) {
    if (e.value("ph", "") == "X") out.push_back(e);
  }
  return out;
}

/// diamond a -> {b, c} -> d doing real work, plus "bad" (fails) -> "bad_child" (skipped).
void build_mixed(TaskGraph& g) {
  testing::diamond(
      g, [] { spin_for(2ms); }, [] { spin_for(2ms); }, [] { spin_for(2ms); },
      [] { spin_for(2ms); });
  g.add("bad", [] { throw std::runtime_error("bad input"); });
  g.add("bad_child", [] {}, {.after = {"bad"}});
}

TEST_P(ReportTest, TotalsAddUpAndTimesAreConsistent) {
  TaskGraph g;
  build_mixed(g);
  const RunReport& r = executor_.run(g).report();
  EXPECT_EQ(r.tasks.size(), 6u);
  EXPECT_EQ(r.succeeded, 4u);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.timed_out, 0u);
  EXPECT_EQ(r.cancelled, 0u);
  EXPECT_EQ(testing::total_of(r), r.tasks.size());
  EXPECT_FALSE(r.ok());

  EXPECT_GT(r.wall_time, Duration::zero());
  Duration attempts_sum{};
  std::size_t attempts = 0;
  for (const TaskReport& t : r.tasks) {
    for (const AttemptRecord& a : t.history) {
      EXPECT_LE(a.start, a.end) << t.id;
      attempts_sum += a.end - a.start;
      ++attempts;
    }
    if (t.attempts > 0) {
      EXPECT_LE(t.start, t.end) << t.id;
      EXPECT_LE(t.end, r.wall_time) << t.id << " ended after the run";
      EXPECT_EQ(t.duration(), t.end - t.start);
    }
  }
  EXPECT_EQ(attempts, 5u);  // every task but the skipped one ran once
  // sequential_time is the sum of every attempt's duration (allow rounding per attempt).
  EXPECT_NEAR(static_cast<double>(r.sequential_time.count()),
              static_cast<double>(attempts_sum.count()), 1000.0 * attempts);
  EXPECT_GE(r.sequential_time, Duration(8ms)) << "four tasks spun 2 ms each";
  EXPECT_GT(r.speedup(), 0.0);
  EXPECT_NEAR(
      r.speedup(),
      static_cast<double>(r.sequential_time.count()) / static_cast<double>(r.wall_time.count()),
      1e-6 * r.speedup());
  // Dependencies ran first, as the times show.
  EXPECT_LE(r.task("a").end, r.task("b").start);
  EXPECT_LE(r.task("a").end, r.task("c").start);
  EXPECT_LE(std::max(r.task("b").end, r.task("c").end), r.task("d").start);
}

TEST_P(ReportTest, TaskReportsDescribeEachTask) {
  TaskGraph g;
  build_mixed(g);
  const RunReport& r = executor_.run(g).report();
  EXPECT_EQ(testing::ids_of(r), (std::vector<std::string>{"a", "b", "c", "d", "bad", "bad_child"}))
      << "tasks are reported in the order they were added";
  const TaskReport& a = r.task("a");
  EXPECT_EQ(a.id, "a");
  EXPECT_EQ(a.status, TaskStatus::kSucceeded);
  EXPECT_EQ(a.attempts, 1u);
  ASSERT_EQ(a.history.size(), 1u);
  EXPECT_EQ(a.history[0].number, 1u);
  EXPECT_EQ(a.history[0].status, TaskStatus::kSucceeded);
  EXPECT_TRUE(a.error.empty());
  EXPECT_FALSE(a.exception);
  const TaskReport& bad = r.task("bad");
  EXPECT_THAT(bad.error, HasSubstr("bad input"));
  const TaskReport& child = r.task("bad_child");
  EXPECT_EQ(child.skipped_because, "bad");
  EXPECT_EQ(child.attempts, 0u);
}

TEST_P(ReportTest, UnknownTaskIdThrowsInvalidArgumentNamingTheClosestId) {
  TaskGraph g;
  g.add("encode", [] {});
  const RunReport& r = executor_.run(g).report();
  try {
    (void)r.task("encdoe");
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("encode"));
  }
}

TEST_P(ReportTest, ReportIsBuiltOnceAndCached) {
  TaskGraph g;
  g.add("a", [] {});
  runtime::Run run = executor_.run(g);
  const RunReport& first = run.report();
  const RunReport& second = run.report();
  EXPECT_EQ(&first, &second);
}

TEST_P(ReportTest, WavesAreCountedPerWave) {
  TaskGraph g;
  testing::diamond(
      g, [] {}, [] {}, [] {}, [] {});
  g.add("lone", [] {});
  const RunReport& r = executor_.run(g).report();
  ASSERT_EQ(r.waves.size(), 3u);
  const std::vector<std::size_t> expected{2, 2, 1};
  for (unsigned k = 0; k < 3; ++k) {
    EXPECT_EQ(r.waves[k].index, k);
    EXPECT_EQ(r.waves[k].tasks, expected[k]) << "wave " << k;
    EXPECT_LE(r.waves[k].start, r.waves[k].end);
    EXPECT_EQ(r.waves[k].duration(), r.waves[k].end - r.waves[k].start);
  }
  EXPECT_EQ(r.task("a").wave, 0u);
  EXPECT_EQ(r.task("lone").wave, 0u);
  EXPECT_EQ(r.task("b").wave, 1u);
  EXPECT_EQ(r.task("c").wave, 1u);
  EXPECT_EQ(r.task("d").wave, 2u);
}

TEST_P(ReportTest, CriticalPathIsTheHeaviestMeasuredDependencyChain) {
  // b does 150 ms of work, every other task 2 ms: the measured critical path is a -> b -> d.
  TaskGraph g;
  testing::diamond(
      g, [] { spin_for(2ms); }, [] { spin_for(150ms); }, [] { spin_for(2ms); },
      [] { spin_for(2ms); });
  g.add("lone", [] { spin_for(2ms); });
  const RunReport& r = executor_.run(g).report();
  ASSERT_FALSE(r.critical_path.empty());
  EXPECT_TRUE(
      testing::follows_edges(r.critical_path, {{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}}))
      << ::testing::PrintToString(r.critical_path);
  EXPECT_EQ(r.critical_path, (std::vector<std::string>{"a", "b", "d"}));
  EXPECT_GE(r.critical_path_time, r.task("b").duration());
  EXPECT_LE(r.critical_path_time, r.wall_time);
}

TEST_P(ReportTest, CriticalPathIsAChainEvenThroughNearInstantTasks) {
  // x -> y -> z where y does nothing: y may measure (close to) zero, but the reported path must
  // still be a real chain of dependencies — never {x, z}, which is not one. Repeated, because a
  // near-instant task measures exactly zero only now and then.
  TaskGraph g;
  g.add("x", [] { spin_for(500us); });
  g.add("y", [] {}, {.after = {"x"}});
  g.add("z", [] { spin_for(500us); }, {.after = {"y"}});
  for (int i = 0; i < 300; ++i) {
    const RunReport r = executor_.run(g).report();
    ASSERT_TRUE(testing::follows_edges(r.critical_path, {{"x", "y"}, {"y", "z"}}))
        << "run " << i << ": " << ::testing::PrintToString(r.critical_path);
  }
}

TEST_P(ReportTest, SummaryIsATableMentioningTheTasks) {
  TaskGraph g;
  build_mixed(g);
  const std::string summary = executor_.run(g).report().summary();
  ASSERT_FALSE(summary.empty());
  for (const char* id : {"a", "b", "d", "bad"}) EXPECT_THAT(summary, HasSubstr(id));
}

TEST_P(ReportTest, JsonParsesAndNamesEveryTask) {
  TaskGraph g;
  build_mixed(g);
  g.add("with_result", [] { return std::string("not serialised"); });
  const RunReport& r = executor_.run(g).report();
  json j;
  ASSERT_NO_THROW(j = json::parse(r.to_json())) << r.to_json();
  EXPECT_TRUE(j.is_object());
  for (const TaskReport& t : r.tasks) EXPECT_TRUE(mentions(j, t.id)) << t.id;
  EXPECT_TRUE(mentions(j, "bad input")) << "the failure's message is kept";
}

TEST_P(ReportTest, ChromeTraceHasOneCompleteEventPerAttempt) {
  TaskGraph g;
  g.add("once", [] {});
  g.add("twice",
        [](TaskContext& ctx) {
          if (ctx.attempt() == 1) throw std::runtime_error("first try fails");
        },
        {.retries = 1});
  g.add("after", [] {}, {.after = {"twice"}});
  g.add("never", [] {}, {.after = {"doomed"}});
  g.add("doomed", [] { throw std::runtime_error("x"); });
  const RunReport& r =
      executor_.run(g, {.backoff = {.initial = 1ms, .multiplier = 1.0, .max = 1ms, .jitter = 0}})
          .report();
  std::size_t attempts = 0;
  for (const TaskReport& t : r.tasks) attempts += t.attempts;
  ASSERT_EQ(attempts, 5u);  // once 1, twice 2, after 1, doomed 1, never 0

  const std::string trace = r.to_chrome_trace();
  EXPECT_THAT(trace, HasSubstr("traceEvents"));
  const std::vector<json> events = complete_events(trace);
  EXPECT_EQ(events.size(), attempts);
  for (const json& e : events) {
    EXPECT_TRUE(e.contains("name") && e.contains("ts") && e.contains("dur") && e.contains("pid") &&
                e.contains("tid"))
        << e.dump();
  }
  for (const char* id : {"once", "twice", "after", "doomed"}) {
    const auto n = std::count_if(events.begin(), events.end(), [&](const json& e) {
      return e.value("name", "").find(id) != std::string::npos;
    });
    EXPECT_EQ(n, std::string(id) == "twice" ? 2 : 1) << id;
  }
}

TEST_P(ReportTest, WriteChromeTraceWritesTheTraceToAFile) {
  TaskGraph g;
  build_mixed(g);
  const RunReport& r = executor_.run(g).report();
  const std::filesystem::path path = scratch() / "trace.json";
  r.write_chrome_trace(path.string());
  ASSERT_TRUE(std::filesystem::exists(path));
  const std::string written = read_file(path);
  EXPECT_THAT(written, HasSubstr("traceEvents"));
  EXPECT_EQ(complete_events(written).size(), 5u);
}

TEST_P(ReportTest, WriteChromeTraceToAnUnwritablePathThrowsInvalidArgumentNamingIt) {
  TaskGraph g;
  g.add("a", [] {});
  const RunReport& r = executor_.run(g).report();
  // A path below a regular file cannot be created, whoever runs the test (even root).
  const std::filesystem::path file = scratch() / "plain_file";
  std::ofstream(file) << "x";
  const std::string bad = (file / "trace.json").string();
  try {
    r.write_chrome_trace(bad);
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr(bad));
  }
}

TEST_P(ReportTest, TracePathOptionWritesATraceWhenTheRunEnds) {
  TaskGraph g;
  build_mixed(g);
  const std::filesystem::path path = scratch() / "run_trace.json";
  runtime::Run run = executor_.run(g, {.trace_path = path.string()});
  run.wait();
  ASSERT_TRUE(std::filesystem::exists(path)) << "no trace after wait() returned";
  EXPECT_EQ(complete_events(read_file(path)).size(), 5u);
}

}  // namespace
}  // namespace taskloom::runtime
