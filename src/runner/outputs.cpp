// make's rule for tasks with outputs (runner/outputs.hpp): glob(3) for patterns, stat for times.
#include "taskloom/runner/outputs.hpp"

#include <glob.h>

#include <algorithm>
#include <optional>
#include <system_error>

namespace taskloom::runner {
namespace {

namespace fs = std::filesystem;

struct Found {
  fs::path path;
  fs::file_time_type time;
};

bool is_glob(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

/// The files `pattern` names under `cwd`, with their modification times; none when it matches
/// nothing.
std::vector<Found> match(const fs::path& cwd, const std::string& pattern) {
  const fs::path full = fs::path(pattern).is_absolute() ? fs::path(pattern) : cwd / pattern;
  std::vector<Found> out;
  auto add = [&](const fs::path& p) {
    std::error_code ec;
    const fs::file_time_type t = fs::last_write_time(p, ec);
    if (!ec) out.push_back({p, t});
  };
  if (!is_glob(pattern)) {
    add(full);
    return out;
  }
  glob_t g{};
  if (::glob(full.c_str(), 0, nullptr, &g) == 0) {
    for (std::size_t i = 0; i < g.gl_pathc; ++i) add(g.gl_pathv[i]);
  }
  ::globfree(&g);
  return out;
}

/// Why a pattern of `kind` ("input", "output") found nothing.
std::string missing(const char* kind, const std::string& pattern) {
  return std::string(kind) + " " + pattern +
         (is_glob(pattern) ? " matches no file" : " does not exist");
}

std::string shown(const Found& f, const fs::path& cwd) {
  const fs::path rel = f.path.lexically_relative(cwd);
  return (rel.empty() || *rel.begin() == "..") ? f.path.string() : rel.string();
}

}  // namespace

Freshness freshness(const workflow::Task& t, std::span<const workflow::Task* const> upstream) {
  if (t.outputs.empty()) return {false, "it declares no outputs"};
  const fs::path& cwd = t.cwd;
  std::optional<Found> oldest;
  std::size_t outputs = 0;
  for (const std::string& pattern : t.outputs) {
    const std::vector<Found> found = match(cwd, pattern);
    if (found.empty()) return {false, missing("output", pattern)};
    outputs += found.size();
    for (const Found& f : found) {
      if (!oldest || f.time < oldest->time) oldest = f;
    }
  }
  std::size_t inputs = 0;
  for (const std::string& pattern : t.inputs) {
    const std::vector<Found> found = match(cwd, pattern);
    if (found.empty()) return {false, missing("input", pattern)};
    inputs += found.size();
    for (const Found& f : found) {
      if (f.time > oldest->time) {
        return {false, "input " + shown(f, cwd) + " is newer than output " + shown(*oldest, cwd)};
      }
    }
  }
  std::size_t upstream_outputs = 0;
  for (const workflow::Task* u : upstream) {
    for (const std::string& pattern : u->outputs) {
      for (const Found& f : match(u->cwd, pattern)) {
        ++upstream_outputs;
        if (f.time > oldest->time) {
          return {false, "output " + shown(f, cwd) + " of " + u->id + " is newer than output " +
                             shown(*oldest, cwd)};
        }
      }
    }
  }
  auto count = [](std::size_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  std::string than;
  if (inputs > 0) than = count(inputs, "input");
  if (upstream_outputs > 0) {
    than += (than.empty() ? "" : " and ") + count(upstream_outputs, "output") +
            " of what it runs after";
  }
  return {true, "up to date: " + count(outputs, "output") +
                    (than.empty() ? " present, nothing to be newer than" : " newer than " + than)};
}

std::vector<fs::path> remove_partial_outputs(const workflow::Task& t, fs::file_time_type since) {
  std::vector<fs::path> removed;
  for (const std::string& pattern : t.outputs) {
    for (const Found& f : match(t.cwd, pattern)) {
      std::error_code ec;
      if (f.time < since || !fs::is_regular_file(f.path, ec)) continue;
      if (fs::remove(f.path, ec)) removed.push_back(f.path);
    }
  }
  return removed;
}

}  // namespace taskloom::runner
