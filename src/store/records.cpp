#include "taskloom/store/records.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>

namespace taskloom::store {
namespace {

constexpr std::array<std::string_view, 5> kRunNames{"running", "succeeded", "failed", "cancelled",
                                                    "interrupted"};
constexpr std::array<std::string_view, 6> kAttemptNames{"running",   "succeeded", "failed",
                                                        "timed_out", "cancelled", "interrupted"};

template <typename Enum, std::size_t N>
std::optional<Enum> parse(const std::array<std::string_view, N>& names, std::string_view text) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string format_time(WallTime t) {
  const auto ms = t.time_since_epoch().count();
  const std::time_t seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int millis = static_cast<int>(ms - static_cast<std::int64_t>(seconds) * 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::string_view to_string(RunStatus s) noexcept {
  return kRunNames[static_cast<std::size_t>(s)];
}

std::optional<RunStatus> parse_run_status(std::string_view text) noexcept {
  return parse<RunStatus>(kRunNames, text);
}

std::string_view to_string(AttemptStatus s) noexcept {
  return kAttemptNames[static_cast<std::size_t>(s)];
}

std::optional<AttemptStatus> parse_attempt_status(std::string_view text) noexcept {
  return parse<AttemptStatus>(kAttemptNames, text);
}

LeaseHolder LeaseHolder::this_process() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) name[0] = '\0';
  return LeaseHolder{name[0] != '\0' ? name : "localhost", static_cast<std::int64_t>(getpid())};
}

}  // namespace taskloom::store
