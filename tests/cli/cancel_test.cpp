// Cancelling a run: Ctrl-C (SIGINT) once and twice, `taskloom cancel` from another process, and
// the lease that refuses a second runner of the same run.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_db.hpp"
#include "cli/cli_harness.hpp"

namespace taskloom::cli_test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Three tasks that each leave a background child and record both pids, then wait; a fourth
// that runs after one of them. `fast` makes every task succeed at once (for resume).
const char* kLongWorkflow = R"yaml(name: long
resources: {cpu: 4}
tasks:
  - id: long-{n}
    run: |
      test -f fast && exit 0
      {trap}
      sleep 60 & echo $! >> pids.txt
      echo $$ >> pids.txt
      for i in $(seq 600); do sleep 0.1; done  # bounded: a failed test leaves nothing for long
    matrix: {n: "1-3"}
  - id: after
    run: "true"
    after: long-1
)yaml";

std::string workflow(bool ignore_term) {
  std::string w = kLongWorkflow;
  const auto at = w.find("{trap}");
  w.replace(at, 6, ignore_term ? "trap '' TERM" : ":");
  return w;
}

int lines(const fs::path& file) {
  std::istringstream in(read_file(file));
  int n = 0;
  for (std::string l; std::getline(in, l);) n += l.empty() ? 0 : 1;
  return n;
}

void expect_all_gone(const fs::path& pid_file) {
  std::istringstream in(read_file(pid_file));
  int checked = 0;
  for (int pid; in >> pid; ++checked) {
    EXPECT_TRUE(eventually([&] { return !process_alive(pid); }, seconds(5)))
        << "process " << pid << " outlived the cancelled run";
  }
  EXPECT_EQ(checked, 6);
}

struct RunningWorkflow {
  TempDir dir;
  fs::path file = dir.path() / "long.yaml";
  fs::path db = dir.path() / "state.db";
  std::optional<ChildProcess> runner;

  RunningWorkflow(bool ignore_term, std::vector<std::string> extra = {}) {
    write_file(file, workflow(ignore_term));
    std::vector<std::string> args{"run", file.string(), "--db", db.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    runner.emplace(ChildProcess::start(taskloom_path(), args, {}, dir.path() / "runner"));
    const bool started = eventually([&] { return lines(dir.path() / "pids.txt") == 6; });
    EXPECT_TRUE(started) << runner->out() << runner->err();
  }
};

TEST(Cancel, SigintCancelsEveryTaskAndKillsTheirProcessGroups) {
  RunningWorkflow w(false);
  w.runner->signal(SIGINT);
  const auto code = w.runner->wait_for(seconds(20));
  ASSERT_TRUE(code.has_value()) << "the runner did not stop";
  EXPECT_EQ(*code, 130) << w.runner->err();
  EXPECT_NE(w.runner->out().find("cancelling: interrupted by a signal"), std::string::npos)
      << w.runner->out();
  EXPECT_NE(w.runner->out().find("this runner ran 3 tasks"), std::string::npos)
      << "the three that started, not the one the cancel kept from starting: " << w.runner->out();
  expect_all_gone(w.dir.path() / "pids.txt");
  const auto st = task_statuses(w.db);
  EXPECT_EQ(st.at("long-1"), "cancelled");
  EXPECT_EQ(st.at("long-2"), "cancelled");
  EXPECT_EQ(st.at("long-3"), "cancelled");
  EXPECT_EQ(st.at("after"), "cancelled");  // never started: the run was cancelled first
  EXPECT_EQ(open_attempts(w.db), 0);
  store::RunStore db = store::RunStore::open(w.db);
  EXPECT_EQ(db.find_run(1)->status, store::RunStatus::kCancelled);
  for (const auto& a : db.attempts(1)) EXPECT_EQ(a.status, store::AttemptStatus::kCancelled);
  EXPECT_EQ(db.find_task(1, "after")->message, "not started: the run was cancelled")
      << "a task that never ran says why it ended";
}

TEST(Cancel, SecondSigintForcesGroupsThatIgnoreSigterm) {
  RunningWorkflow w(true, {"--kill-grace", "60"});
  const auto start = std::chrono::steady_clock::now();
  w.runner->signal(SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  w.runner->signal(SIGINT);
  const auto code = w.runner->wait_for(seconds(20));
  ASSERT_TRUE(code.has_value()) << "a second Ctrl-C must not wait for the 60 s grace";
  EXPECT_EQ(*code, 130);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(20));
  EXPECT_NE(w.runner->out().find("forcing: sent SIGKILL to 3 running process groups"),
            std::string::npos)
      << w.runner->out();
  expect_all_gone(w.dir.path() / "pids.txt");
  for (const auto& [task, status] : task_statuses(w.db)) {
    EXPECT_TRUE(status == "cancelled" || status == "skipped") << task << " " << status;
  }
}

TEST(Cancel, CancelFromAnotherProcessStopsTheRunner) {
  RunningWorkflow w(false);
  const CliResult c = run_taskloom({"cancel", "1", "--db", w.db.string()});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(
      c.out.find("cancel requested: the runner of run 1 (pid " + std::to_string(w.runner->pid())),
      std::string::npos)
      << c.out;
  const auto code = w.runner->wait_for(seconds(20));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 130);
  EXPECT_NE(w.runner->out().find("cancel requested (taskloom cancel)"), std::string::npos);
  expect_all_gone(w.dir.path() / "pids.txt");
  store::RunStore db = store::RunStore::open(w.db);
  EXPECT_EQ(db.find_run(1)->status, store::RunStatus::kCancelled);
}

TEST(Lease, SecondRunnerOfALiveRunIsRefusedThenResumeFinishesIt) {
  RunningWorkflow w(false);
  const CliResult second = run_taskloom({"resume", "1", "--db", w.db.string()});
  EXPECT_EQ(second.exit_code, 3);
  EXPECT_NE(
      second.err.find("taskloom: run 1 is being run by pid " + std::to_string(w.runner->pid())),
      std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find("taskloom cancel 1"), std::string::npos) << second.err;
  EXPECT_EQ(open_attempts(w.db), 3) << "the refused runner must not touch the run";

  w.runner->signal(SIGTERM);
  ASSERT_EQ(w.runner->wait_for(seconds(20)).value_or(-1), 130);
  write_file(w.dir.path() / "fast", "");
  const CliResult resumed = run_taskloom({"resume", "1", "--db", w.db.string()});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  for (const auto& [task, status] : task_statuses(w.db)) EXPECT_EQ(status, "succeeded") << task;
  store::RunStore db = store::RunStore::open(w.db);
  const auto attempts = db.attempts(1, "long-1");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, store::AttemptStatus::kCancelled);
  EXPECT_EQ(attempts[1].status, store::AttemptStatus::kSucceeded);
  EXPECT_TRUE(fs::exists(attempts[0].start.stdout_path)) << "earlier logs are kept";
}

TEST(Cancel, CancelOfARunWhoseRunnerDiedFinishesItAsCancelled) {
  RunningWorkflow w(false);
  // The commands may start before their attempts are recorded: wait for the records.
  ASSERT_TRUE(eventually([&] { return open_attempts(w.db) == 3; }));
  w.runner->signal(SIGKILL);
  ASSERT_EQ(w.runner->wait_for(seconds(10)).value_or(-1), 128 + SIGKILL);
  // A command the runner started but died before recording: only its environment tells.
  ChildProcess unrecorded = ChildProcess::start(
      "/bin/sleep", {"60"}, {{"TASKLOOM_RUN", w.db.string() + "#1"}}, w.dir.path() / "unrecorded");
  const CliResult c = run_taskloom({"cancel", "1", "--db", w.db.string()});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(
      eventually([&] { return unrecorded.wait_for(milliseconds(1)).has_value(); }, seconds(5)))
      << "a command of the run that was never recorded must be killed too";
  EXPECT_TRUE(std::regex_search(c.out, std::regex("run 1 had no live runner: recorded as cancelled "
                                                  "\\(3 attempts interrupted, [0-9]+ leftover "
                                                  "processes killed\\)")))
      << c.out;
  expect_all_gone(w.dir.path() / "pids.txt");
  EXPECT_EQ(open_attempts(w.db), 0);
  for (const auto& [task, status] : task_statuses(w.db)) EXPECT_EQ(status, "cancelled") << task;
  store::RunStore db = store::RunStore::open(w.db);
  EXPECT_EQ(db.find_run(1)->status, store::RunStatus::kCancelled);
  EXPECT_EQ(db.attempts(1, "long-1").at(0).status, store::AttemptStatus::kInterrupted);

  write_file(w.dir.path() / "fast", "");
  const CliResult resumed = run_taskloom({"resume", "1", "--db", w.db.string()});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  for (const auto& [task, status] : task_statuses(w.db)) EXPECT_EQ(status, "succeeded") << task;
}

TEST(Resume, KillsWhatARunnerKilledWithSigkillLeftRunning) {
  RunningWorkflow w(false);
  // The commands may start before their attempts are recorded: wait for the records.
  ASSERT_TRUE(eventually([&] { return open_attempts(w.db) == 3; }));
  w.runner->signal(SIGKILL);
  ASSERT_EQ(w.runner->wait_for(seconds(10)).value_or(-1), 128 + SIGKILL);
  std::istringstream in(read_file(w.dir.path() / "pids.txt"));
  int alive = 0;
  for (int pid; in >> pid;) alive += process_alive(pid) ? 1 : 0;
  EXPECT_EQ(alive, 6) << "the commands outlive a runner killed with -9";
  write_file(w.dir.path() / "fast", "");
  const CliResult resumed = run_taskloom({"resume", "1", "--db", w.db.string()});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_TRUE(
      std::regex_search(resumed.out, std::regex("3 to run \\(3 interrupted while running; killed "
                                                "[0-9]+ processes they left behind\\)")))
      << resumed.out;
  expect_all_gone(w.dir.path() / "pids.txt");
  store::RunStore db = store::RunStore::open(w.db);
  const auto attempts = db.attempts(1, "long-2");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, store::AttemptStatus::kInterrupted);
  EXPECT_EQ(attempts[1].status, store::AttemptStatus::kSucceeded);
}

}  // namespace
}  // namespace taskloom::cli_test
