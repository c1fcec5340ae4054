// Internal: the cheapest monotonic timestamp the CPU offers, for per-task timings. On x86-64
// this is the invariant TSC (about 9 ns a read here, against 22 ns for steady_clock); a run
// maps ticks to nanoseconds with two steady_clock readings taken at its start and end.
#pragma once

#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace taskloom::runtime::detail {

inline std::int64_t ticks() noexcept {
#if defined(__x86_64__)
  return static_cast<std::int64_t>(__rdtsc());
#else
  return std::chrono::steady_clock::now().time_since_epoch().count();
#endif
}

inline std::int64_t steady_ns() noexcept {
  return std::chrono::steady_clock::now().time_since_epoch().count();
}

/// Linear map from ticks to nanoseconds since a start instant, fitted on two paired readings.
class TickScale {
 public:
  TickScale() = default;
  TickScale(std::int64_t start_ticks, std::int64_t end_ticks, std::int64_t start_ns,
            std::int64_t end_ns) noexcept
      : start_ticks_(start_ticks),
        ns_per_tick_(end_ticks > start_ticks ? static_cast<double>(end_ns - start_ns) /
                                                   static_cast<double>(end_ticks - start_ticks)
                                             : 1.0) {}
  /// Nanoseconds from the start instant to `t`.
  std::chrono::nanoseconds since_start(std::int64_t t) const noexcept {
    return std::chrono::nanoseconds(
        static_cast<std::int64_t>(static_cast<double>(t - start_ticks_) * ns_per_tick_));
  }

 private:
  std::int64_t start_ticks_ = 0;
  double ns_per_tick_ = 1.0;
};

}  // namespace taskloom::runtime::detail
