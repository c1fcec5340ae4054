// tests/cli/workflow_cases.hpp — the data-driven workflow cases of tests/workflows, run through
// the real `taskloom` binary and checked against their comment headers (tests/workflows/
// README.md). Shared by the CLI tests (local backend) and the Slurm tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace taskloom::cli_test {

/// The cases (file names without .yaml, sorted) whose `backends:` header names `backend`
/// ("local" when the header does not say).
std::vector<std::string> workflow_cases(std::string_view backend);

/// Runs case `name` as `taskloom run <copy> <its args> <extra_args>` in a fresh directory and
/// checks everything its header expects and every invariant of a finished run (gtest failures).
void check_workflow_case(const std::string& name, const std::vector<std::string>& extra_args);

/// The test name of a case: its file name, "-" as "_".
std::string case_name(const ::testing::TestParamInfo<std::string>& param);

}  // namespace taskloom::cli_test
