// Forecasts from history through the real binary: `plan` predicts the wall time from the runs
// recorded beside the workflow, and says when there are none.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_harness.hpp"

namespace taskloom::cli_test {
namespace {

namespace fs = std::filesystem;

TEST(Forecast, PlanPredictsTheWallTimeFromEarlierRuns) {
  TempDir dir;
  const fs::path wf = dir.path() / "chain.yaml";
  write_file(wf, R"(name: chain
tasks:
  - id: first
    run: sleep 0.3
  - id: second
    run: sleep 0.3
    after: first
)");
  CliResult r = run_taskloom({"plan", wf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("predicted wall time: no recorded run of this workflow yet"),
            std::string::npos)
      << r.out;
  ASSERT_EQ(run_taskloom({"run", wf.string()}).exit_code, 0);
  r = run_taskloom({"plan", wf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("from the last runs of 2 of 2 tasks"), std::string::npos) << r.out;
  r = run_taskloom({"plan", "--json", wf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  // A chain: the two recorded durations (each at least its sleep) one after the other.
  EXPECT_GE(j["predicted"]["wall_seconds"].get<double>(), 0.6) << r.out;
  EXPECT_EQ(j["predicted"]["wall_seconds"], j["predicted"]["critical_path_seconds"]) << r.out;
  EXPECT_EQ(j["predicted"]["tasks_with_history"], 2);
  // status weighs the run's critical path by the times it recorded.
  r = run_taskloom({"status", "1", "--db", (dir.path() / ".taskloom/taskloom.db").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" (recorded times): first -> second"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace taskloom::cli_test
