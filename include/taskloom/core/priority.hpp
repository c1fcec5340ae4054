// taskloom/core/priority.hpp — numeric task priorities with named levels.
//
// A larger value runs first. Any value in [kMin, kMax] is allowed. Five levels are named:
//   lowest (-2), low (-1), normal (0, the default), high (1), highest (2);
// and three classes sit well apart from them, for mixing latency-critical and bulk work:
//   background (-500), urgent (500, critical but not user-facing), interactive (900).
//   Priority p = Priority::kHigh;  Priority q{7};  parse_priority("interactive") == kInteractive
// Executors may name more classes (ExecutorOptions::classes).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace taskloom {

class Priority {
 public:
  static constexpr int kMin = -1000;
  static constexpr int kMax = 1000;

  constexpr Priority() = default;
  /// Throws InvalidArgumentError outside [kMin, kMax].
  explicit Priority(int value);

  constexpr int value() const noexcept { return value_; }
  friend constexpr auto operator<=>(Priority, Priority) = default;

  static const Priority kLowest, kLow, kNormal, kHigh, kHighest;
  static const Priority kBackground, kUrgent, kInteractive;

 private:
  struct Raw {};
  constexpr Priority(Raw, int v) : value_(static_cast<std::int16_t>(v)) {}
  std::int16_t value_ = 0;
};

inline constexpr Priority Priority::kLowest{Raw{}, -2};
inline constexpr Priority Priority::kLow{Raw{}, -1};
inline constexpr Priority Priority::kNormal{Raw{}, 0};
inline constexpr Priority Priority::kHigh{Raw{}, 1};
inline constexpr Priority Priority::kHighest{Raw{}, 2};
inline constexpr Priority Priority::kBackground{Raw{}, -500};
inline constexpr Priority Priority::kUrgent{Raw{}, 500};
inline constexpr Priority Priority::kInteractive{Raw{}, 900};

/// The named levels and classes, lowest first.
std::span<const std::pair<std::string_view, Priority>> named_priorities() noexcept;

/// "high" for a named level or class, the number otherwise.
std::string to_string(Priority p);
/// Accepts a level or class name or an integer in range; nullopt otherwise.
std::optional<Priority> parse_priority(std::string_view text);

}  // namespace taskloom
