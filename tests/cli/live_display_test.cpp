// On a terminal `taskloom run` redraws a live block in place instead of printing one line per
// state change: run it under a pseudo-terminal and look at what a terminal would receive.
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <string>

#include "cli/cli_harness.hpp"

namespace taskloom::cli_test {
namespace {

namespace fs = std::filesystem;

struct TerminalRun {
  int exit_code = -1;
  std::string screen;  // every byte written to the terminal
};

TerminalRun run_on_terminal(const std::vector<std::string>& args, unsigned short columns = 100,
                            const Env& env = {}) {
  std::vector<std::string> argv_s{taskloom_path()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  winsize size{};
  size.ws_row = 40;
  size.ws_col = columns;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid == 0) {
    ::setenv("LANG", "C.UTF-8", 1);
    ::unsetenv("NO_COLOR");
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  TerminalRun r;
  if (pid < 0) return r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) {
      r.screen.append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO: the child closed the terminal
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

TEST(LiveDisplay, RedrawsABlockInPlaceOnATerminal) {
  TempDir dir;
  const fs::path file = dir.path() / "live.yaml";
  write_file(file, R"yaml(name: live-demo
resources: {cpu: 2}
tasks:
  - id: step-{n}
    run: sleep 0.6
    matrix: {n: "1-4"}
  - id: broken
    run: exit 5
)yaml");
  const TerminalRun r = run_on_terminal({"run", file.string()});
  EXPECT_EQ(r.exit_code, 1) << r.screen;
  // The block: title, a bar of block characters, counts, elapsed time, the running tasks.
  EXPECT_NE(r.screen.find("live-demo"), std::string::npos) << r.screen;
  EXPECT_NE(r.screen.find("\u2588"), std::string::npos) << "a bar is drawn";
  EXPECT_NE(r.screen.find("elapsed "), std::string::npos);
  EXPECT_NE(r.screen.find("running 2"), std::string::npos) << r.screen;
  EXPECT_NE(r.screen.find("> step-"), std::string::npos) << "the running tasks are listed";
  EXPECT_NE(r.screen.find("\x1b[1A\x1b[J"), std::string::npos) << "redrawn in place";
  // Failures are printed above it; successes are not printed one by one.
  EXPECT_NE(r.screen.find("broken failed: exit status 5"), std::string::npos) << r.screen;
  EXPECT_EQ(r.screen.find("step-1 succeeded in"), std::string::npos) << r.screen;
  EXPECT_NE(r.screen.find("run 1 failed in"), std::string::npos) << "the summary follows";
}

/// The visible columns of each line the display drew: split at \r and \n, escapes removed.
std::vector<std::string> drawn_lines(const std::string& screen) {
  std::vector<std::string> lines;
  std::string line;
  for (std::size_t i = 0; i < screen.size(); ++i) {
    const char c = screen[i];
    if (c == '\x1b') {
      while (i < screen.size() && !std::isalpha(static_cast<unsigned char>(screen[i]))) ++i;
    } else if (c == '\r' || c == '\n') {
      lines.push_back(line);
      line.clear();
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      line += c == '\xe2' ? '#' : c;  // a block character counts one column
    }
  }
  lines.push_back(line);
  return lines;
}

// On a narrow terminal every line of the block fits (a wrapped line would leave the old block
// behind on each redraw); NO_COLOR turns the colours off.
TEST(LiveDisplay, FitsANarrowTerminalAndHonoursNoColor) {
  TempDir dir;
  const fs::path file = dir.path() / "narrow.yaml";
  write_file(file, R"yaml(name: a-workflow-with-a-rather-long-name-for-a-narrow-terminal
resources: {cpu: 3}
tasks:
  - id: a-task-with-a-long-name-{n}
    run: sleep 0.6
    matrix: {n: "1-6"}
)yaml");
  const TerminalRun r = run_on_terminal({"run", file.string()}, 50);
  ASSERT_EQ(r.exit_code, 0) << r.screen;
  int block_lines = 0;
  for (const std::string& line : drawn_lines(r.screen)) {
    if (line.find(" [") == std::string::npos && line.find("  done ") != 0 &&
        line.find("  >") != 0) {
      continue;  // the summary and lines printed above the block
    }
    ++block_lines;
    EXPECT_LE(line.size(), 49u) << "wider than the terminal: " << line;
  }
  EXPECT_GT(block_lines, 0) << r.screen;
  EXPECT_NE(r.screen.find("\x1b[32m"), std::string::npos) << "colours by default";
  const TerminalRun plain = run_on_terminal({"run", file.string()}, 50, {{"NO_COLOR", "1"}});
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_EQ(plain.screen.find("\x1b[32m"), std::string::npos) << "NO_COLOR is set";
  EXPECT_EQ(plain.screen.find("\x1b[1m"), std::string::npos);
  EXPECT_NE(plain.screen.find("\x1b[J"), std::string::npos) << "still redrawn in place";
}

}  // namespace
}  // namespace taskloom::cli_test
