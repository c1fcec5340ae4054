#include "taskloom/core/priority.hpp"

#include <array>
#include <charconv>
#include <utility>

#include "taskloom/core/error.hpp"

namespace taskloom {
namespace {

constexpr std::array<std::pair<std::string_view, Priority>, 8> kNamed{{
    {"background", Priority::kBackground},
    {"lowest", Priority::kLowest},
    {"low", Priority::kLow},
    {"normal", Priority::kNormal},
    {"high", Priority::kHigh},
    {"highest", Priority::kHighest},
    {"urgent", Priority::kUrgent},
    {"interactive", Priority::kInteractive},
}};

}  // namespace

Priority::Priority(int value) : value_(0) {
  if (value < kMin || value > kMax) {
    throw InvalidArgumentError(
        "priority " + std::to_string(value) + " is out of range — use " + std::to_string(kMin) +
        ".." + std::to_string(kMax) +
        " or a name (background, lowest, low, normal, high, highest, urgent, interactive)");
  }
  value_ = static_cast<std::int16_t>(value);
}

std::span<const std::pair<std::string_view, Priority>> named_priorities() noexcept {
  return kNamed;
}

std::string to_string(Priority p) {
  for (const auto& [name, level] : kNamed) {
    if (level == p) return std::string(name);
  }
  return std::to_string(p.value());
}

std::optional<Priority> parse_priority(std::string_view text) {
  for (const auto& [name, level] : kNamed) {
    if (name == text) return level;
  }
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < Priority::kMin ||
      value > Priority::kMax) {
    return std::nullopt;
  }
  return Priority(value);
}

}  // namespace taskloom
