// tests/cli/cli_harness.hpp — run the real `taskloom` binary from tests: temporary directories,
// child processes with their output in files, bounded waits, and the recorded database.
//
//   TempDir dir;
//   CliResult r = run_taskloom({"run", (dir.path() / "wf.yaml").string()}, {{"GEN", "1"}});
//   EXPECT_EQ(r.exit_code, 0) << r.err;
//   ChildProcess p = ChildProcess::start(taskloom_path(), {...}, env, dir.path() / "out");
//   p.signal(SIGINT);  p.wait_for(std::chrono::seconds(20));
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace taskloom::cli_test {

using Env = std::vector<std::pair<std::string, std::string>>;

/// A fresh directory under $TMPDIR, removed with its contents when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// The taskloom binary under test (TASKLOOM_BIN).
std::string taskloom_path();

/// A child process whose stdout and stderr go to `<output_stem>.out` and `<output_stem>.err`.
class ChildProcess {
 public:
  static ChildProcess start(const std::string& program, const std::vector<std::string>& args,
                            const Env& env, const std::filesystem::path& output_stem);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  /// SIGKILLs and reaps the process if it is still running.
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  void signal(int sig) const;
  /// The exit status (128 + signal when killed), or nullopt when it did not end in time.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  std::string out() const;
  std::string err() const;

 private:
  ChildProcess(pid_t pid, std::filesystem::path stem) : pid_(pid), stem_(std::move(stem)) {}
  pid_t pid_ = 0;
  bool reaped_ = false;
  std::filesystem::path stem_;
};

struct CliResult {
  int exit_code = -1;  ///< -1 when it had to be killed after the timeout
  std::string out;
  std::string err;
};

/// Runs taskloom with `args` and waits at most `timeout` for it.
CliResult run_taskloom(const std::vector<std::string>& args, const Env& env = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& text);

/// True while a process with this pid exists (and is not a zombie of ours).
bool process_alive(pid_t pid);

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
template <class F>
bool eventually(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace taskloom::cli_test
