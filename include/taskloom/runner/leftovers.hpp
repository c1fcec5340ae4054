// taskloom/runner/leftovers.hpp — the processes a dead runner left behind.
//
//   std::size_t n = kill_leftover_processes(open_attempts);   // before prepare_resume()
//
// A runner killed with kill -9 cannot stop its commands: each runs in its own process group and
// lives on. Two ways find them:
//  - every command gets TASKLOOM_RUN=<run_key()> in its environment (inherited by what it
//    starts), so a process whose /proc/<pid>/environ holds the run's key is one of its commands,
//    even one whose attempt the runner died before recording;
//  - an attempt recorded as open names its process group (pgid = the shell's pid); as a pid may
//    have been reused since, a process of that group is only taken when it started no earlier
//    than 2 s before the attempt was recorded (start time from /proc/<pid>/stat and the boot
//    time), which also covers commands that cleared their environment.
// Call it holding the run's lease, before starting any task. Linux only; processes of other
// hosts are not seen.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "taskloom/store/records.hpp"

namespace taskloom::runner {

/// "<canonical database path>#<run>": the value of TASKLOOM_RUN in the run's commands.
std::string run_key(const std::filesystem::path& database, store::RunId run);

/// SIGKILLs every process carrying `key` in its environment and every process of the open
/// attempts' process groups that started with the attempt; returns how many were killed. An
/// empty `key` searches only the process groups.
std::size_t kill_leftover_processes(const std::vector<store::AttemptRecord>& attempts,
                                    const std::string& key);

}  // namespace taskloom::runner
