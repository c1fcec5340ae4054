// Runs a short-lived tool (sbatch, squeue, scancel) to its end and captures what it prints.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace taskloom::backends {

struct ToolRun {
  int exit_code = -1;  ///< -1: it did not exit normally (signal, timeout, failed to start)
  std::string out;     ///< its stdout
  std::string err;     ///< its stderr, or why it could not run
  bool ok() const noexcept { return exit_code == 0; }
};

/// Runs argv[0] (PATH lookup) with `input` on stdin, stdout and stderr captured, the rest of the
/// environment inherited; kills it (SIGKILL) after `limit`. Thread-safe: reaps only its own
/// child, by pid.
ToolRun run_tool(const std::vector<std::string>& argv, std::string_view input,
                 std::chrono::milliseconds limit);

}  // namespace taskloom::backends
