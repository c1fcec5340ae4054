#include "taskloom/runner/leftovers.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace taskloom::runner {
namespace {

/// Seconds since the epoch at which the machine booted (the btime line of /proc/stat).
std::int64_t boot_time() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("btime ")) return std::stoll(line.substr(6));
  }
  return -1;
}

struct ProcessInfo {
  pid_t pgid = 0;
  std::int64_t start_ms = 0;  // since the epoch
};

/// The process group and start time of `pid`, from /proc/<pid>/stat; false if it is gone.
bool read_process(pid_t pid, std::int64_t boot_s, long ticks, ProcessInfo& info) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  // Fields after the name: 3 state, 4 ppid, 5 pgrp, ..., 22 starttime.
  std::vector<std::string> v;
  while (fields >> f && v.size() < 20) v.push_back(f);
  if (v.size() < 20) return false;
  info.pgid = static_cast<pid_t>(std::stol(v[2]));
  const std::int64_t start_ticks = std::stoll(v[19]);
  info.start_ms = boot_s * 1000 + start_ticks * 1000 / ticks;
  return true;
}

/// True when /proc/<pid>/environ holds exactly `entry` ("NAME=value").
bool environment_has(pid_t pid, const std::string& entry) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string var;
  while (std::getline(in, var, '\0')) {
    if (var == entry) return true;
  }
  return false;
}

}  // namespace

std::string run_key(const std::filesystem::path& database, store::RunId run) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(database, ec);
  if (ec) p = std::filesystem::absolute(database);
  return p.string() + "#" + std::to_string(run);
}

std::size_t kill_leftover_processes(const std::vector<store::AttemptRecord>& attempts,
                                    const std::string& key) {
  constexpr std::int64_t kSlackMs = 2000;
  std::map<pid_t, std::int64_t> groups;  // pgid -> earliest acceptable start (ms since epoch)
  for (const store::AttemptRecord& a : attempts) {
    if (a.status != store::AttemptStatus::kRunning || a.start.pgid <= 1) continue;
    groups[static_cast<pid_t>(a.start.pgid)] = a.started.time_since_epoch().count() - kSlackMs;
  }
  const std::string marker = "TASKLOOM_RUN=" + key;
  const pid_t self = ::getpid();
  const std::int64_t boot_s = boot_time();
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (boot_s < 0 || ticks <= 0) return 0;
  std::size_t killed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == self) continue;
    ProcessInfo info;
    try {
      if (!read_process(pid, boot_s, ticks, info)) continue;
    } catch (const std::exception&) {  // a malformed stat line: not one of ours
      continue;
    }
    auto it = groups.find(info.pgid);
    const bool in_open_group = it != groups.end() && info.start_ms >= it->second;
    if (!in_open_group && (key.empty() || !environment_has(pid, marker))) continue;
    if (::kill(pid, SIGKILL) == 0) ++killed;
  }
  return killed;
}

}  // namespace taskloom::runner
