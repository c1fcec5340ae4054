// taskloom/core/priority.hpp — numeric task priorities with named levels.
//
// A larger value runs first. Any value in [kMin, kMax] is allowed; five are named:
//   lowest (-2), low (-1), normal (0, the default), high (1), highest (2).
//   Priority p = Priority::kHigh;  Priority q{7};  parse_priority("low") == Priority::kLow
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

/// "high" for a named level, the number otherwise.
std::string to_string(Priority p);
/// Accepts a level name or an integer in range; nullopt otherwise.
std::optional<Priority> parse_priority(std::string_view text);

}  // namespace taskloom
