#include "taskloom/core/status.hpp"

#include <array>

namespace taskloom {
namespace {

constexpr std::array<std::string_view, 8> kNames{"pending", "ready",     "running",   "succeeded",
                                                 "failed",  "timed_out", "cancelled", "skipped"};

}  // namespace

std::string_view to_string(TaskStatus s) noexcept {
  return kNames[static_cast<std::size_t>(s)];
}

std::optional<TaskStatus> parse_task_status(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == text) return static_cast<TaskStatus>(i);
  }
  return std::nullopt;
}

}  // namespace taskloom
