// Contract tests for run_command (backends/subprocess.hpp), with real child processes: exit
// codes and signals, log files, env and cwd, process groups killed on timeout, cancellation and
// normal exit, the SIGTERM grace period, rusage, failures to start, and concurrent callers.
#include "taskloom/backends/subprocess.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/core/error.hpp"

namespace taskloom::backends {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using End = CommandOutcome::End;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<pid_t> read_pids(const fs::path& p) {
  std::ifstream in(p);
  std::vector<pid_t> pids;
  for (pid_t pid = 0; in >> pid;) pids.push_back(pid);
  return pids;
}

/// True once `pid` has ended: no such process, or a zombie waiting for its parent (init) to reap
/// it. Waits up to `limit` for that.
bool ends_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') {
      return true;
    }
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
}

class SubprocessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "taskloom-backends-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  /// A spec running `command` in the test's directory, logging to out.log and err.log there.
  CommandSpec spec(std::string command) const {
    return CommandSpec{.command = std::move(command),
                       .cwd = dir_,
                       .stdout_path = dir_ / "out.log",
                       .stderr_path = dir_ / "err.log"};
  }

  fs::path dir_;
};

TEST_F(SubprocessTest, ExitStatusZeroSucceeds) {
  const CommandOutcome o = run_command(spec("true"));
  EXPECT_EQ(o.end, End::kExited);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.signal, 0);
  EXPECT_TRUE(o.succeeded());
  EXPECT_GT(o.pid, 0);
  EXPECT_EQ(o.message, "exit status 0");
}

TEST_F(SubprocessTest, ExitStatusThreeFails) {
  const CommandOutcome o = run_command(spec("exit 3"));
  EXPECT_EQ(o.end, End::kExited);
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_FALSE(o.succeeded());
  EXPECT_EQ(o.message, "exit status 3");
}

TEST_F(SubprocessTest, ShellStyleSignalExitStatusIsExplained) {
  const CommandOutcome o = run_command(spec("exit 139"));
  EXPECT_EQ(o.exit_code, 139);
  EXPECT_THAT(o.message, StartsWith("exit status 139 ("));
  EXPECT_THAT(o.message, HasSubstr("SIGSEGV"));
}

TEST_F(SubprocessTest, KilledBySignalIsNamed) {
  const CommandOutcome o = run_command(spec("kill -SEGV $$"));
  EXPECT_EQ(o.end, End::kSignaled);
  EXPECT_EQ(o.signal, SIGSEGV);
  EXPECT_EQ(o.exit_code, -1);
  EXPECT_FALSE(o.succeeded());
  EXPECT_THAT(o.message, StartsWith("killed by signal SIGSEGV (11)"));
}

TEST_F(SubprocessTest, StdoutAndStderrGoToTheirOwnFiles) {
  const CommandOutcome o = run_command(spec("echo to-out; echo to-err >&2; echo more-out"));
  ASSERT_TRUE(o.succeeded()) << o.message;
  EXPECT_EQ(slurp(dir_ / "out.log"), "to-out\nmore-out\n");
  EXPECT_EQ(slurp(dir_ / "err.log"), "to-err\n");
}

TEST_F(SubprocessTest, StdoutAndStderrCanShareOneFile) {
  CommandSpec s = spec("echo one; echo two >&2; echo three; echo four >&2");
  s.stderr_path = s.stdout_path;
  ASSERT_TRUE(run_command(s).succeeded());
  EXPECT_EQ(slurp(dir_ / "out.log"), "one\ntwo\nthree\nfour\n");
}

TEST_F(SubprocessTest, LogDirectoriesAreCreatedAndFilesTruncated) {
  CommandSpec s = spec("echo short");
  s.stdout_path = dir_ / "logs" / "task" / "attempt-1.out";
  fs::create_directories(s.stdout_path.parent_path());
  std::ofstream(s.stdout_path) << "a much longer previous content\n";
  s.stderr_path = dir_ / "other" / "attempt-1.err";
  ASSERT_TRUE(run_command(s).succeeded());
  EXPECT_EQ(slurp(s.stdout_path), "short\n");
  EXPECT_TRUE(fs::exists(s.stderr_path));
}

TEST_F(SubprocessTest, EmptyLogPathsMeanDevNull) {
  CommandSpec s = spec("echo gone; echo gone >&2");
  s.stdout_path.clear();
  s.stderr_path.clear();
  EXPECT_TRUE(run_command(s).succeeded());
  EXPECT_FALSE(fs::exists(dir_ / "out.log"));
}

TEST_F(SubprocessTest, StdinIsDevNull) {
  const CommandOutcome o = run_command(spec("cat; echo eof"));
  ASSERT_TRUE(o.succeeded());
  EXPECT_EQ(slurp(dir_ / "out.log"), "eof\n");
}

TEST_F(SubprocessTest, EnvironmentIsAddedToAndOverridesTheInheritedOne) {
  ASSERT_NE(std::getenv("PATH"), nullptr);
  CommandSpec s = spec("echo \"$TL_A $HOME ${PATH:+has-path}\"");
  s.env = {{"TL_A", "1"}, {"HOME", "/custom/home"}, {"TL_A", "2"}};
  ASSERT_TRUE(run_command(s).succeeded());
  EXPECT_EQ(slurp(dir_ / "out.log"), "2 /custom/home has-path\n");
}

TEST_F(SubprocessTest, EnvironmentCanStartEmpty) {
  CommandSpec s = spec("echo \"${PATH_FROM_PARENT-unset} ${ONLY-unset}\"");
  ::setenv("PATH_FROM_PARENT", "x", 1);  // single-threaded here
  s.inherit_env = false;
  s.env = {{"ONLY", "this"}};
  const CommandOutcome o = run_command(s);
  ::unsetenv("PATH_FROM_PARENT");
  ASSERT_TRUE(o.succeeded()) << o.message;
  EXPECT_EQ(slurp(dir_ / "out.log"), "unset this\n");
}

TEST_F(SubprocessTest, WorkingDirectoryIsApplied) {
  fs::create_directories(dir_ / "work");
  CommandSpec s = spec("pwd -P");
  s.cwd = dir_ / "work";
  ASSERT_TRUE(run_command(s).succeeded());
  EXPECT_EQ(slurp(dir_ / "out.log"), fs::canonical(dir_ / "work").string() + "\n");
}

TEST_F(SubprocessTest, RunsInItsOwnProcessGroupAndOnStartedGetsThePid) {
  pid_t started = 0;
  const CommandOutcome o = run_command(spec("echo $$ $(cut -d' ' -f5 /proc/$$/stat)"), {},
                                       [&](pid_t pid) { started = pid; });
  ASSERT_TRUE(o.succeeded()) << o.message;
  EXPECT_GT(started, 0);
  EXPECT_EQ(started, o.pid);
  const std::string expected = std::to_string(o.pid) + " " + std::to_string(o.pid) + "\n";
  EXPECT_EQ(slurp(dir_ / "out.log"), expected);
}

TEST_F(SubprocessTest, ChildGetsDefaultSignalsAndAnEmptyMask) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_int {};
  ASSERT_EQ(::sigaction(SIGINT, &ignore, &old_int), 0);
  sigset_t term, old_mask;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &term, &old_mask), 0);
  const CommandOutcome by_int = run_command(spec("kill -INT $$; sleep 1; exit 7"));
  const CommandOutcome by_term = run_command(spec("kill -TERM $$; sleep 1; exit 7"));
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGINT, &old_int, nullptr);
  EXPECT_EQ(by_int.end, End::kSignaled) << by_int.message;
  EXPECT_EQ(by_int.signal, SIGINT);
  EXPECT_EQ(by_term.end, End::kSignaled) << by_term.message;
  EXPECT_EQ(by_term.signal, SIGTERM);
}

TEST_F(SubprocessTest, NoFileDescriptorOtherThanTheStandardOnesIsInherited) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked, 3);
  const CommandOutcome o =
      run_command(spec("ls /proc/$$/fd | sort -n | tr '\\n' ' '; [ -e /proc/$$/fd/" +
                       std::to_string(leaked) + " ] && echo leaked || echo clean"));
  ::close(leaked);
  ASSERT_TRUE(o.succeeded()) << o.message;
  EXPECT_THAT(slurp(dir_ / "out.log"), HasSubstr("clean"));
}

TEST_F(SubprocessTest, TimeoutKillsTheWholeProcessGroup) {
  CommandSpec s =
      spec("sleep 100 & echo $! > pids; sleep 100 & echo $! >> pids; echo ready > ready; wait");
  s.timeout = 2s;
  s.kill_grace = 2s;
  const auto t0 = std::chrono::steady_clock::now();
  const CommandOutcome o = run_command(s);
  EXPECT_EQ(o.end, End::kTimedOut);
  EXPECT_FALSE(o.succeeded());
  EXPECT_THAT(o.message, StartsWith("timed out after 2s: sent SIGTERM to its process group"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  ASSERT_TRUE(fs::exists(dir_ / "ready")) << "the command did not get to start its children";
  const std::vector<pid_t> pids = read_pids(dir_ / "pids");
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) EXPECT_TRUE(ends_within(pid, 5000ms)) << "pid " << pid << " survived";
  EXPECT_TRUE(ends_within(o.pid, 0ms));
}

TEST_F(SubprocessTest, ChildIgnoringSigtermIsKilledAfterTheGrace) {
  CommandSpec s = spec("trap '' TERM; echo ready > ready; sleep 100");
  s.timeout = 500ms;
  s.kill_grace = 200ms;
  const auto t0 = std::chrono::steady_clock::now();
  const CommandOutcome o = run_command(s);
  EXPECT_EQ(o.end, End::kTimedOut);
  EXPECT_EQ(o.signal, SIGKILL);
  EXPECT_EQ(o.message,
            "timed out after 500ms: sent SIGTERM to its process group, SIGKILL after 200ms grace");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST_F(SubprocessTest, GraceLetsTheRestOfTheGroupFinishCleaningUp) {
  // The shell dies at once from SIGTERM; its child traps it, cleans up for 300 ms and exits.
  CommandSpec s = spec(
      "sh -c 'trap \"sleep 0.3; echo cleaned > cleaned; exit 0\" TERM; echo ready > ready;"
      " while :; do sleep 0.05; done' & wait");
  s.timeout = 1s;
  s.kill_grace = 10s;
  const auto t0 = std::chrono::steady_clock::now();
  const CommandOutcome o = run_command(s);
  EXPECT_EQ(o.end, End::kTimedOut);
  ASSERT_TRUE(fs::exists(dir_ / "ready"));
  EXPECT_EQ(slurp(dir_ / "cleaned"), "cleaned\n");
  EXPECT_THAT(o.message, HasSubstr("which ended within the 10s grace"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 9s);
}

TEST_F(SubprocessTest, StopTokenCancelsPromptly) {
  std::stop_source source;
  std::promise<void> started;
  std::jthread canceller([&, f = started.get_future()]() mutable {
    f.wait();
    std::this_thread::sleep_for(100ms);
    source.request_stop();
  });
  CommandSpec s = spec("sleep 100");
  s.kill_grace = 5s;
  const auto t0 = std::chrono::steady_clock::now();
  const CommandOutcome o = run_command(s, source.get_token(), [&](pid_t) { started.set_value(); });
  EXPECT_EQ(o.end, End::kCancelled);
  EXPECT_FALSE(o.succeeded());
  EXPECT_EQ(o.signal, SIGTERM);
  EXPECT_THAT(o.message, StartsWith("cancelled: sent SIGTERM to its process group"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST_F(SubprocessTest, StopRequestedBeforeStartRunsNothing) {
  std::stop_source source;
  source.request_stop();
  bool called = false;
  const CommandOutcome o =
      run_command(spec("touch ran"), source.get_token(), [&](pid_t) { called = true; });
  EXPECT_EQ(o.end, End::kCancelled);
  EXPECT_EQ(o.pid, 0);
  EXPECT_FALSE(called);
  EXPECT_FALSE(fs::exists(dir_ / "ran"));
}

TEST_F(SubprocessTest, NormalExitLeavesNoOrphan) {
  const CommandOutcome o = run_command(spec("sleep 100 & echo $! > pids; exit 0"));
  ASSERT_TRUE(o.succeeded()) << o.message;
  const std::vector<pid_t> pids = read_pids(dir_ / "pids");
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(ends_within(pids[0], 5000ms)) << "background child " << pids[0] << " survived";
}

TEST_F(SubprocessTest, PeakMemoryIsMeasured) {
  const CommandOutcome o = run_command(spec("python3 -c \"b = b'x' * (64 << 20)\""));
  ASSERT_TRUE(o.succeeded()) << o.message << ": " << slurp(dir_ / "err.log");
  EXPECT_GE(o.peak_rss_kb, 60000);
  EXPECT_LT(o.peak_rss_kb, 1000000);
}

TEST_F(SubprocessTest, CpuTimeAndWallTimeAreMeasured) {
  const CommandOutcome o = run_command(spec("python3 -c \"sum(range(30_000_000))\""));
  ASSERT_TRUE(o.succeeded()) << o.message << ": " << slurp(dir_ / "err.log");
  EXPECT_GE(o.user_cpu + o.system_cpu, 50ms);
  EXPECT_GE(o.wall, o.user_cpu / 2);  // one thread: wall is not far below CPU time
  EXPECT_GE(o.system_cpu, 0ns);
}

TEST_F(SubprocessTest, MissingWorkingDirectoryFailsToStart) {
  CommandSpec s = spec("touch ran");
  s.cwd = dir_ / "nope";
  const CommandOutcome o = run_command(s);
  EXPECT_EQ(o.end, End::kFailedToStart);
  EXPECT_EQ(o.pid, 0);
  EXPECT_EQ(o.message, "working directory " + (dir_ / "nope").string() + " does not exist");
}

TEST_F(SubprocessTest, WorkingDirectoryThatIsAFileFailsToStart) {
  std::ofstream(dir_ / "file") << "x";
  CommandSpec s = spec("true");
  s.cwd = dir_ / "file";
  const CommandOutcome o = run_command(s);
  EXPECT_EQ(o.end, End::kFailedToStart);
  EXPECT_THAT(o.message, HasSubstr("is not a directory"));
}

TEST_F(SubprocessTest, UnusableLogPathsFailToStart) {
  std::ofstream(dir_ / "file") << "x";
  CommandSpec under_file = spec("true");
  under_file.stdout_path = dir_ / "file" / "sub" / "out.log";
  const CommandOutcome a = run_command(under_file);
  EXPECT_EQ(a.end, End::kFailedToStart);
  EXPECT_THAT(a.message, StartsWith("cannot create the directory of log file " +
                                    under_file.stdout_path.string() + ": "));

  CommandSpec is_dir = spec("true");
  is_dir.stderr_path = dir_;
  const CommandOutcome b = run_command(is_dir);
  EXPECT_EQ(b.end, End::kFailedToStart);
  EXPECT_EQ(b.message, "cannot open log file " + dir_.string() + ": Is a directory");
}

TEST_F(SubprocessTest, MissingShellFailsToStart) {
  CommandSpec s = spec("true");
  s.shell = "/nonexistent/sh";
  const CommandOutcome o = run_command(s);
  EXPECT_EQ(o.end, End::kFailedToStart);
  EXPECT_EQ(o.pid, 0);
  EXPECT_THAT(o.message, StartsWith("cannot start /nonexistent/sh in "));
  EXPECT_THAT(o.message, HasSubstr("No such file or directory"));
}

TEST_F(SubprocessTest, FullDiskMakesTheCommandFailWithoutHangingTheRunner) {
  CommandSpec s = spec("echo hello");
  s.stdout_path = "/dev/full";
  const auto t0 = std::chrono::steady_clock::now();
  const CommandOutcome o = run_command(s);
  EXPECT_EQ(o.end, End::kExited);
  EXPECT_NE(o.exit_code, 0);
  EXPECT_THAT(o.message, StartsWith("exit status "));
  EXPECT_THAT(slurp(dir_ / "err.log"), HasSubstr("I/O error"));  // the shell's own report

  s.stderr_path = "/dev/full";
  const CommandOutcome both = run_command(s);
  EXPECT_EQ(both.end, End::kExited);
  EXPECT_FALSE(both.succeeded());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST_F(SubprocessTest, MisuseThrows) {
  EXPECT_THROW(run_command(spec("")), InvalidArgumentError);
  EXPECT_THROW(run_command(spec(std::string("echo a\0b", 8))), InvalidArgumentError);
  CommandSpec bad_env = spec("true");
  bad_env.env = {{"A=B", "x"}};
  EXPECT_THROW(run_command(bad_env), InvalidArgumentError);
  bad_env.env = {{"", "x"}};
  EXPECT_THROW(run_command(bad_env), InvalidArgumentError);
  CommandSpec negative = spec("true");
  negative.timeout = -1s;
  EXPECT_THROW(run_command(negative), InvalidArgumentError);
  negative.timeout = {};
  negative.kill_grace = -1ms;
  EXPECT_THROW(run_command(negative), InvalidArgumentError);
}

TEST_F(SubprocessTest, OnStartedThrowingKillsTheCommandAndPropagates) {
  pid_t pid = 0;
  EXPECT_THROW(run_command(spec("sleep 100"), {},
                           [&](pid_t p) {
                             pid = p;
                             throw std::runtime_error("recording failed");
                           }),
               std::runtime_error);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(ends_within(pid, 0ms));  // reaped before the exception left run_command
}

TEST_F(SubprocessTest, ManyCommandsFromManyThreadsAreEachCorrect) {
  constexpr int kThreads = 8, kPerThread = 4;
  std::vector<CommandOutcome> outcomes(kThreads * kPerThread);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int k = 0; k < kPerThread; ++k) {
          const int i = t * kPerThread + k;
          CommandSpec s =
              spec("echo task-$I; echo err-$I >&2; sleep 0.0$((I % 5)); exit $((I % 7))");
          s.env = {{"I", std::to_string(i)}};
          s.stdout_path = dir_ / ("out-" + std::to_string(i) + ".log");
          s.stderr_path = dir_ / ("err-" + std::to_string(i) + ".log");
          outcomes[i] = run_command(s);
        }
      });
    }
  }
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    SCOPED_TRACE("task " + std::to_string(i));
    EXPECT_EQ(outcomes[i].end, End::kExited) << outcomes[i].message;
    EXPECT_EQ(outcomes[i].exit_code, i % 7);
    EXPECT_EQ(slurp(dir_ / ("out-" + std::to_string(i) + ".log")),
              "task-" + std::to_string(i) + "\n");
    EXPECT_EQ(slurp(dir_ / ("err-" + std::to_string(i) + ".log")),
              "err-" + std::to_string(i) + "\n");
  }
}

TEST(SubprocessEndTest, EveryEndHasAName) {
  EXPECT_EQ(to_string(End::kExited), "exited");
  EXPECT_EQ(to_string(End::kSignaled), "signaled");
  EXPECT_EQ(to_string(End::kTimedOut), "timed_out");
  EXPECT_EQ(to_string(End::kCancelled), "cancelled");
  EXPECT_EQ(to_string(End::kFailedToStart), "failed_to_start");
  EXPECT_EQ(to_string(End::kLost), "lost");
}

}  // namespace
}  // namespace taskloom::backends
