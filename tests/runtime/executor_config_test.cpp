// ExecutorOptions from a YAML or JSON document (executor_config.hpp): every key read into its
// field, classes usable as pool priorities, and every problem reported at once with its place
// and fix. The last test starts an executor from a file, as an application would.
#include "taskloom/runtime/executor_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/executor.hpp"

namespace taskloom::runtime {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(ExecutorConfig, EveryKeyReadsIntoItsField) {
  const ExecutorOptions o = parse_executor_options(R"(
pools:
  - {name: interactive, workers: 2, min_priority: ui}
  - name: general
    workers: 3
classes:
  - {name: ui, priority: 800, queue_capacity: 64}
resources: {gpu: 2, memory: 64GiB, license.arnold: 4}
aging_interval: 4
preemption: false
yield_grace: 300us
max_interruptions: 3
caller_helps: false
spin_before_sleep: 10us
thread_name: render
)");
  ASSERT_EQ(o.pools.size(), 2u);
  EXPECT_EQ(o.pools[0].name, "interactive");
  EXPECT_EQ(o.pools[0].workers, 2u);
  EXPECT_EQ(o.pools[0].min_priority, Priority{800}) << "a class of the file names a priority";
  EXPECT_EQ(o.pools[1].name, "general");
  EXPECT_EQ(o.pools[1].workers, 3u);
  EXPECT_EQ(o.pools[1].min_priority, Priority{Priority::kMin});
  ASSERT_EQ(o.classes.size(), 1u);
  EXPECT_EQ(o.classes[0].name, "ui");
  EXPECT_EQ(o.classes[0].queue_capacity, 64u);
  EXPECT_EQ(o.resources.get("gpu"), 2);
  EXPECT_EQ(o.resources.get("memory"), 64.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(o.resources.get("license.arnold"), 4);
  EXPECT_EQ(o.aging_interval, 4u);
  EXPECT_FALSE(o.preemption);
  EXPECT_EQ(o.yield_grace, 300us);
  EXPECT_EQ(o.max_interruptions, 3u);
  EXPECT_FALSE(o.caller_helps);
  EXPECT_EQ(o.spin_before_sleep, 10us);
  EXPECT_EQ(o.thread_name, "render");
}

TEST(ExecutorConfig, JsonReadsTheSame) {
  const ExecutorOptions o = parse_executor_options(
      R"({"workers": 3, "classes": [{"name": "batch", "priority": "background"}],
          "resources": {"cpu": 8}})");
  EXPECT_EQ(o.workers, 3u);
  ASSERT_EQ(o.classes.size(), 1u);
  EXPECT_EQ(o.classes[0].priority, Priority::kBackground);
  EXPECT_EQ(o.resources.get("cpu"), 8);
}

TEST(ExecutorConfig, AnEmptyDocumentGivesTheDefaults) {
  const ExecutorOptions o = parse_executor_options("");
  const ExecutorOptions defaults;
  EXPECT_EQ(o.workers, defaults.workers);
  EXPECT_TRUE(o.pools.empty());
  EXPECT_EQ(o.aging_interval, defaults.aging_interval);
  EXPECT_EQ(o.caller_helps, defaults.caller_helps);
}

TEST(ExecutorConfig, EveryProblemAtOnceWithItsPlaceAndFix) {
  try {
    (void)parse_executor_options(R"(workers: two
agin_interval: 4
classes:
  - {name: ui, priority: interactiv}
preemption: maybe
)",
                                 "executor.yaml");
    FAIL() << "four problems, no error";
  } catch (const InputError& e) {
    ASSERT_EQ(e.diagnostics().size(), 4u) << e.what();
    const std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("executor.yaml:2:1: unknown key \"agin_interval\" — did you "
                                "mean \"aging_interval\"?"));
    EXPECT_THAT(what, HasSubstr("executor.yaml:4:26: priority is \"interactiv\", not a "
                                "priority — did you mean \"interactive\"?"));
    EXPECT_THAT(what, HasSubstr("executor.yaml:1:10: workers is \"two\", not a whole number"));
    EXPECT_THAT(what, HasSubstr("executor.yaml:5:13: preemption is \"maybe\", not true or false"));
  }
}

TEST(ExecutorConfig, SyntaxErrorsAndUnreadableFilesAreInputErrors) {
  EXPECT_THROW((void)parse_executor_options("pools: [unclosed"), InputError);
  EXPECT_THROW((void)parse_executor_options("- a list, not a mapping"), InputError);
  EXPECT_THROW((void)load_executor_options("/nonexistent/executor.yaml"), InputError);
}

TEST(ExecutorConfig, AnExecutorStartsFromAFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("taskloom_executor_config_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream out(path);
    out << "pools:\n  - {name: fast, workers: 1, min_priority: interactive}\n"
           "  - {name: rest, workers: 1}\nclasses:\n  - {name: ui, priority: 950}\n";
  }
  Executor executor(load_executor_options(path));
  std::filesystem::remove(path);
  EXPECT_EQ(executor.worker_count(), 2u);
  EXPECT_EQ(executor.priority_of("ui"), Priority{950});
  EXPECT_EQ(executor.submit([] { return 6 * 7; }, executor.priority_of("ui")).get(), 42);
}

}  // namespace
}  // namespace taskloom::runtime
