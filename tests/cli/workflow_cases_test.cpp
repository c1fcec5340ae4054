// The data-driven CLI tests on the local backend: every tests/workflows/*.yaml is a case
// (tests/workflows/README.md); tests/slurm runs those whose header names slurm on Slurm.
#include "cli/workflow_cases.hpp"

#include <gtest/gtest.h>

namespace taskloom::cli_test {
namespace {

class WorkflowCase : public ::testing::TestWithParam<std::string> {};

TEST_P(WorkflowCase, RunsAsItsHeaderSays) {
  check_workflow_case(GetParam(), {});
}

INSTANTIATE_TEST_SUITE_P(Workflows, WorkflowCase, ::testing::ValuesIn(workflow_cases("local")),
                         case_name);

}  // namespace
}  // namespace taskloom::cli_test
