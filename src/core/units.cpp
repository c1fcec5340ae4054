#include "taskloom/core/units.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "taskloom/core/text.hpp"

namespace taskloom::units {
namespace {

std::optional<double> parse_number(std::string_view s) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

constexpr double kMaxSeconds = 1e9;

Duration from_seconds(double s) {
  return Duration{static_cast<Duration::rep>(std::llround(s * 1e9))};
}

/// `value` with at most three decimals, trailing zeros dropped: "1.5", "90", "0.25".
std::string decimal(double value) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  std::string s = buf;
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  const std::string_view s = trim(text);
  if (s.empty()) return std::nullopt;
  if (auto seconds = parse_number(s)) {
    if (*seconds < 0 || *seconds > kMaxSeconds) return std::nullopt;
    return from_seconds(*seconds);
  }
  double total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    const auto number = parse_number(s.substr(i, j - i));
    std::size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
    const std::string_view unit = s.substr(j, k - j);
    double scale = 0;
    if (unit == "us") {
      scale = 1e-6;
    } else if (unit == "ms") {
      scale = 1e-3;
    } else if (unit == "s") {
      scale = 1;
    } else if (unit == "m" || unit == "min") {
      scale = 60;
    } else if (unit == "h") {
      scale = 3600;
    } else if (unit == "d") {
      scale = 86400;
    }
    if (!number || scale == 0) return std::nullopt;
    total += *number * scale;
    i = k;
  }
  if (total > kMaxSeconds) return std::nullopt;
  return from_seconds(total);
}

std::optional<double> parse_size(std::string_view text) {
  const std::string_view s = trim(text);
  std::size_t j = 0;
  while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.' ||
                          s[j] == 'e' || s[j] == 'E' || s[j] == '+')) {
    ++j;
  }
  // "1e" of "1EB" is not an exponent: give the letter back to the unit.
  while (j > 0 && (s[j - 1] == 'e' || s[j - 1] == 'E' || s[j - 1] == '+')) --j;
  const auto number = parse_number(s.substr(0, j));
  if (!number || *number < 0) return std::nullopt;
  std::string_view unit = trim(s.substr(j));
  if (!unit.empty() && unit.back() == 'B') unit.remove_suffix(1);  // "Gb" would be bits
  if (unit.empty()) return *number;
  const std::string_view prefixes = "KMGTPE";
  const std::size_t p = prefixes.find(static_cast<char>(std::toupper(unit[0])));
  if (p == std::string_view::npos) return std::nullopt;
  double base = 1000;
  if (unit.size() == 2 && unit[1] == 'i') {
    base = 1024;
  } else if (unit.size() != 1) {
    return std::nullopt;
  }
  const double bytes = *number * std::pow(base, static_cast<double>(p + 1));
  if (!std::isfinite(bytes)) return std::nullopt;
  return bytes;
}

std::string format_duration(Duration d) {
  using namespace std::chrono;
  if (d < Duration::zero()) return "-" + format_duration(-d);
  const double s = duration<double>(d).count();
  char buf[48];
  if (d == Duration::zero()) {
    return "0s";
  } else if (s < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.0fus", s * 1e6);
  } else if (s < 1.0) {
    std::snprintf(buf, sizeof buf, "%.0fms", s * 1e3);
  } else if (s < 10.0) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 60.0) {
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  } else if (s < 3600.0) {
    const long total = std::lround(s);
    std::snprintf(buf, sizeof buf, "%ldm%02lds", total / 60, total % 60);
  } else if (s < 86400.0) {
    const long total = std::lround(s / 60.0);
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", total / 60, total % 60);
  } else {
    const long total = std::lround(s / 3600.0);
    std::snprintf(buf, sizeof buf, "%ldd%02ldh", total / 24, total % 24);
  }
  return buf;
}

std::string format_limit(Duration d) {
  using namespace std::chrono;
  if (d <= Duration::zero()) return format_duration(d);
  if (d % 24h == Duration::zero())
    return std::to_string(duration_cast<hours>(d).count() / 24) + "d";
  if (d % 1h == Duration::zero()) return std::to_string(duration_cast<hours>(d).count()) + "h";
  if (d % 1min == Duration::zero()) return std::to_string(duration_cast<minutes>(d).count()) + "m";
  if (d % 1s == Duration::zero()) return std::to_string(duration_cast<seconds>(d).count()) + "s";
  if (d < 1s && d % 1ms == Duration::zero()) {
    return std::to_string(duration_cast<milliseconds>(d).count()) + "ms";
  }
  if (d < 1ms && d % 1us == Duration::zero()) {
    return std::to_string(duration_cast<microseconds>(d).count()) + "us";
  }
  // In the unit of its size, as parse_duration reads it back: "1.5s", "2.25ms", "0.5us".
  if (d < 1ms) return decimal(duration<double, std::micro>(d).count()) + "us";
  if (d < 1s) return decimal(duration<double, std::milli>(d).count()) + "ms";
  return decimal(duration<double>(d).count()) + "s";
}

std::string format_size(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (!(bytes > 0)) return "0 B";
  int u = 0;
  double v = bytes;
  while (v >= 999.5 && u < 6) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0 || v >= 99.95 || std::fabs(v - std::round(v)) < 0.05) {
    std::snprintf(buf, sizeof buf, "%.0f %s", v, kUnits[u]);
  } else if (v >= 9.995) {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  }
  return buf;
}

}  // namespace taskloom::units
