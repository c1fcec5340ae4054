// src/cluster/readers/reader_support.hpp — helpers shared by the workload and cluster readers
// (trimming is core's taskloom::trim, sizes and durations core's units).
#pragma once

#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "taskloom/cluster/workload.hpp"
#include "taskloom/core/error.hpp"

namespace taskloom::cluster::detail::readers {

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/// A whitespace-separated field and its 1-based column in the line.
struct Field {
  std::string_view text;
  int column = 0;
};

inline void split_fields(std::string_view line, std::vector<Field>& out) {
  out.clear();
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size()) break;
    std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    out.push_back({line.substr(start, i - start), static_cast<int>(start) + 1});
  }
}

/// The whole of `s` as a finite number, or nothing.
inline std::optional<double> parse_number(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

inline Duration seconds(double s) {
  return std::chrono::round<Duration>(std::chrono::duration<double>(s));
}

/// Records one problem: throws InputError when the caller chose kStop, else keeps it in
/// `w.warnings` and prints it to options.warn.
inline void report(Workload& w, const WorkloadOptions& options, Diagnostic d, bool is_error) {
  if (is_error && options.on_error == OnError::kStop) throw InputError({std::move(d)});
  if (options.warn != nullptr) *options.warn << "warning: " << to_string(d) << '\n';
  w.warnings.push_back(std::move(d));
}

}  // namespace taskloom::cluster::detail::readers
