// Data-driven: every tests/workflow/invalid/*.yaml must fail to load with exactly the text in
// its sibling *.expected file (paths shown relative to the invalid/ folder). Set
// TASKLOOM_UPDATE_EXPECTED=1 to rewrite the expected files from the current output (then
// review the diff word for word).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/workflow/workflow.hpp"

namespace fs = std::filesystem;
using taskloom::workflow::load_workflow;

namespace {

const fs::path kInvalidDir = fs::path(TASKLOOM_WORKFLOW_TEST_DIR) / "invalid";

std::vector<std::string> invalid_files() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kInvalidDir)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size()) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

class InvalidWorkflow : public testing::TestWithParam<std::string> {};

TEST_P(InvalidWorkflow, ReportsExactlyTheExpectedErrors) {
  const fs::path yaml = kInvalidDir / (GetParam() + ".yaml");
  const fs::path expected_file = kInvalidDir / (GetParam() + ".expected");
  std::string actual;
  try {
    load_workflow(yaml);
    FAIL() << yaml << " loaded without error";
  } catch (const taskloom::InputError& e) {
    EXPECT_EQ(e.code(), taskloom::ErrorCode::kBadInput);
    EXPECT_FALSE(e.diagnostics().empty());
    actual = replace_all(e.what(), kInvalidDir.string() + "/", "") + "\n";
  }
  if (std::getenv("TASKLOOM_UPDATE_EXPECTED")) {
    std::ofstream(expected_file) << actual;
  }
  ASSERT_TRUE(fs::exists(expected_file)) << "missing " << expected_file;
  EXPECT_EQ(actual, read(expected_file)) << "for " << yaml;
}

INSTANTIATE_TEST_SUITE_P(Files, InvalidWorkflow, testing::ValuesIn(invalid_files()),
                         [](const testing::TestParamInfo<std::string>& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(InvalidWorkflowFiles, ThereAreAtLeastFifteen) {
  EXPECT_GE(invalid_files().size(), 15u);
}

}  // namespace
