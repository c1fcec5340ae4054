// Integration tests of LocalBackend (local.hpp): real processes, watched by one event thread,
// reported through the Backend callbacks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/backends/local.hpp"

namespace taskloom::backends {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

/// Collects `ended` results; waits for them with a bound (a broken backend fails, never hangs).
class Results {
 public:
  AttemptCallbacks callbacks() {
    return {.started =
                [this](const Placement& p) {
                  std::lock_guard lock(mutex_);
                  placements_.push_back(p);
                },
            .ended =
                [this](AttemptResult r) {
                  // Notified under the lock: the waiter may destroy this object as soon as
                  // it sees the result.
                  std::lock_guard lock(mutex_);
                  results_.push_back(std::move(r));
                  cv_.notify_all();
                }};
  }
  bool wait_for(std::size_t n, std::chrono::seconds timeout = 30s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return results_.size() >= n; });
  }
  std::vector<AttemptResult> results() {
    std::lock_guard lock(mutex_);
    return results_;
  }
  std::vector<Placement> placements() {
    std::lock_guard lock(mutex_);
    return placements_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<AttemptResult> results_;  // guarded by mutex_
  std::vector<Placement> placements_;   // guarded by mutex_
};

/// Processes of group `pgid` that are not zombies, from /proc.
int live_members(long pgid) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(line.substr(paren + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (rest >> state >> ppid >> pgrp && pgrp == pgid && state != 'Z' && state != 'X') ++n;
  }
  return n;
}

class LocalBackendTest : public ::testing::Test {
 protected:
  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("taskloom-local-" + std::to_string(::getpid()));
  void TearDown() override { std::filesystem::remove_all(dir_); }
  AttemptSpec spec(std::string command) {
    return {.task = "t",
            .command = std::move(command),
            .stdout_path = dir_ / "t.out",
            .stderr_path = dir_ / "t.err",
            .kill_grace = 2s};
  }
  static std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST(SplitPlainCommand, WordsWithoutShellSyntaxRunDirectly) {
  EXPECT_THAT(split_plain_command("  render --frames 1-10 out/f.exr "),
              ElementsAre("render", "--frames", "1-10", "out/f.exr"));
  EXPECT_TRUE(split_plain_command("echo $HOME").empty());
  EXPECT_TRUE(split_plain_command("a | b").empty());
  EXPECT_TRUE(split_plain_command("echo 'x'").empty());
  EXPECT_TRUE(split_plain_command("FOO=1 cmd").empty());  // an assignment, for the shell
  EXPECT_TRUE(split_plain_command("").empty());
  EXPECT_TRUE(split_plain_command("exit 3").empty());  // builtins need the shell
  EXPECT_TRUE(split_plain_command("cd sub").empty());
}

TEST_F(LocalBackendTest, ACommandRunsWithItsLogsAndPlacement) {
  LocalBackend backend;
  Results r;
  AttemptSpec s = spec("echo out; echo err >&2");
  s.env = {{"GREETING", "hi"}};
  backend.start(s, {}, r.callbacks());
  ASSERT_TRUE(r.wait_for(1));
  ASSERT_EQ(r.results().size(), 1u);
  EXPECT_TRUE(r.results()[0].succeeded()) << r.results()[0].message;
  EXPECT_EQ(read(dir_ / "t.out"), "out\n");
  EXPECT_EQ(read(dir_ / "t.err"), "err\n");
  ASSERT_EQ(r.placements().size(), 1u);
  EXPECT_EQ(r.placements()[0].backend, "local");
  EXPECT_GT(r.placements()[0].pid, 0);
  EXPECT_EQ(backend.running(), 0u);
}

TEST_F(LocalBackendTest, APlainCommandRunsWithoutAShellAndSeesItsEnvironment) {
  LocalBackend backend;
  Results r;
  AttemptSpec s = spec("printenv GREETING");
  s.env = {{"GREETING", "hi"}};
  backend.start(s, {}, r.callbacks());
  ASSERT_TRUE(r.wait_for(1));
  EXPECT_TRUE(r.results()[0].succeeded());
  EXPECT_EQ(read(dir_ / "t.out"), "hi\n");
}

TEST_F(LocalBackendTest, ExitStatusesSignalsAndStartFailuresAreOutcomes) {
  LocalBackend backend;
  Results r;
  backend.start(spec("exit 3"), {}, r.callbacks());
  ASSERT_TRUE(r.wait_for(1));
  backend.start(spec("kill -SEGV $$"), {}, r.callbacks());
  ASSERT_TRUE(r.wait_for(2));
  AttemptSpec no_dir = spec("true");
  no_dir.cwd = dir_ / "missing";
  backend.start(no_dir, {}, r.callbacks());
  ASSERT_TRUE(r.wait_for(3));
  backend.start(spec("no-such-command-xyz"), {}, r.callbacks());
  ASSERT_TRUE(r.wait_for(4));
  const auto res = r.results();
  EXPECT_EQ(res[0].end, AttemptResult::End::kFailed);
  EXPECT_EQ(res[0].exit_code, 3);
  EXPECT_EQ(res[0].message, "exit status 3");
  EXPECT_EQ(res[1].signal, 11);
  EXPECT_THAT(res[1].message, HasSubstr("SIGSEGV"));
  EXPECT_EQ(res[2].end, AttemptResult::End::kFailedToStart);
  EXPECT_THAT(res[2].message, HasSubstr("does not exist"));
  EXPECT_EQ(res[3].end, AttemptResult::End::kFailedToStart);
  EXPECT_THAT(res[3].message, HasSubstr("not found in PATH"));
}

TEST_F(LocalBackendTest, TheTimeoutTerminatesTheWholeGroup) {
  LocalBackend backend;
  Results r;
  AttemptSpec s = spec("sleep 30 & sleep 30; wait");
  s.timeout = 200ms;
  backend.start(s, {}, r.callbacks());
  ASSERT_TRUE(r.wait_for(1, 10s));
  EXPECT_EQ(r.results()[0].end, AttemptResult::End::kTimedOut);
  EXPECT_THAT(r.results()[0].message, HasSubstr("timed out after 200ms"));
  const auto pgid = static_cast<long>(r.placements()[0].pid);
  // Nobody of the group is left alive (killed orphans may stay zombies until init reaps them).
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (live_members(pgid) > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(live_members(pgid), 0);
}

TEST_F(LocalBackendTest, AStopRequestCancelsAndAProcessThatIgnoresSigtermIsKilled) {
  LocalBackend backend;
  Results r;
  std::stop_source stop;
  AttemptSpec s = spec("trap '' TERM; sleep 30");
  s.kill_grace = 100ms;
  backend.start(s, stop.get_token(), r.callbacks());
  std::this_thread::sleep_for(50ms);
  stop.request_stop();
  ASSERT_TRUE(r.wait_for(1, 10s));
  EXPECT_EQ(r.results()[0].end, AttemptResult::End::kCancelled);
  EXPECT_THAT(r.results()[0].message, HasSubstr("SIGKILL after 100ms grace"));
}

TEST_F(LocalBackendTest, ManyProcessesRunAtOnceAndKillAllEndsThem) {
  LocalBackend backend;
  Results r;
  constexpr std::size_t kCount = 200;
  for (std::size_t i = 0; i < kCount; ++i) backend.start(spec("sleep 30"), {}, r.callbacks());
  EXPECT_EQ(backend.running(), kCount);
  backend.kill_all();
  ASSERT_TRUE(r.wait_for(kCount, 20s));
  for (const AttemptResult& res : r.results()) EXPECT_EQ(res.end, AttemptResult::End::kCancelled);
  EXPECT_EQ(backend.running(), 0u);
}

TEST_F(LocalBackendTest, DestroyingTheBackendEndsWhatStillRuns) {
  Results r;
  {
    LocalBackend backend;
    backend.start(spec("sleep 30"), {}, r.callbacks());
  }
  ASSERT_EQ(r.results().size(), 1u);
  EXPECT_EQ(r.results()[0].end, AttemptResult::End::kCancelled);
}

}  // namespace
}  // namespace taskloom::backends
