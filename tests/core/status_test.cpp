#include "taskloom/core/status.hpp"

#include <gtest/gtest.h>

#include <array>

namespace taskloom {
namespace {

constexpr std::array kAll{TaskStatus::kPending,   TaskStatus::kReady,  TaskStatus::kRunning,
                          TaskStatus::kSucceeded, TaskStatus::kFailed, TaskStatus::kTimedOut,
                          TaskStatus::kCancelled, TaskStatus::kSkipped};

TEST(TaskStatus, NamesAreSnakeCase) {
  EXPECT_EQ(to_string(TaskStatus::kPending), "pending");
  EXPECT_EQ(to_string(TaskStatus::kReady), "ready");
  EXPECT_EQ(to_string(TaskStatus::kRunning), "running");
  EXPECT_EQ(to_string(TaskStatus::kSucceeded), "succeeded");
  EXPECT_EQ(to_string(TaskStatus::kFailed), "failed");
  EXPECT_EQ(to_string(TaskStatus::kTimedOut), "timed_out");
  EXPECT_EQ(to_string(TaskStatus::kCancelled), "cancelled");
  EXPECT_EQ(to_string(TaskStatus::kSkipped), "skipped");
}

TEST(TaskStatus, ParseRoundTripsEveryName) {
  for (const TaskStatus s : kAll) EXPECT_EQ(parse_task_status(to_string(s)), s);
}

TEST(TaskStatus, ParseRejectsUnknownText) {
  EXPECT_EQ(parse_task_status(""), std::nullopt);
  EXPECT_EQ(parse_task_status("done"), std::nullopt);
  EXPECT_EQ(parse_task_status("Failed"), std::nullopt);
  EXPECT_EQ(parse_task_status("timed-out"), std::nullopt);
}

TEST(TaskStatus, IsFinalOnlyForTerminalStates) {
  EXPECT_FALSE(is_final(TaskStatus::kPending));
  EXPECT_FALSE(is_final(TaskStatus::kReady));
  EXPECT_FALSE(is_final(TaskStatus::kRunning));
  EXPECT_TRUE(is_final(TaskStatus::kSucceeded));
  EXPECT_TRUE(is_final(TaskStatus::kFailed));
  EXPECT_TRUE(is_final(TaskStatus::kTimedOut));
  EXPECT_TRUE(is_final(TaskStatus::kCancelled));
  EXPECT_TRUE(is_final(TaskStatus::kSkipped));
  static_assert(is_final(TaskStatus::kSkipped) && !is_final(TaskStatus::kRunning));
}

}  // namespace
}  // namespace taskloom
