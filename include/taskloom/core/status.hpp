// taskloom/core/status.hpp — the lifecycle of a task, shared by every layer.
//
//   pending -> ready -> running -> succeeded | failed | timed_out | cancelled
//   skipped: a dependency did not succeed (the report names which one).
// An interrupted task goes back to ready; a timed-out attempt with retries left runs again.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace taskloom {

enum class TaskStatus : std::uint8_t {
  kPending,
  kReady,
  kRunning,
  kSucceeded,
  kFailed,
  kTimedOut,
  kCancelled,
  kSkipped,
};

/// "succeeded", "timed_out", ...
std::string_view to_string(TaskStatus s) noexcept;
std::optional<TaskStatus> parse_task_status(std::string_view text) noexcept;

/// True for the states a task never leaves.
constexpr bool is_final(TaskStatus s) noexcept {
  return s >= TaskStatus::kSucceeded;
}

}  // namespace taskloom
