// inputs/outputs through the real binary: make's rule over several runs (only what changed runs
// again), --force, and outputs that a killed runner's attempt left are not taken as results.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/store/run_store.hpp"

#include "cli/cli_db.hpp"
#include "cli/cli_harness.hpp"

namespace taskloom::cli_test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// Attempts each task has in run `run` (0: it did not run, up to date or not started).
std::map<std::string, int> attempts_of(const fs::path& db_file, store::RunId run) {
  store::RunStore db = store::RunStore::open(db_file);
  std::map<std::string, int> m;
  for (const auto& t : db.tasks(run)) m[t.id] = t.attempts;
  return m;
}

/// Sets the file's modification time `age` in the past, so that newer/older is unambiguous
/// whatever the file system's time resolution.
void age(const fs::path& file, std::chrono::seconds by) {
  fs::last_write_time(file, fs::file_time_type::clock::now() - by);
}

constexpr const char* kShot = R"(name: shot
tasks:
  - id: render-{f}
    matrix: {f: "1-3"}
    run: cat scene-{f}.txt > frame-{f}.txt
    inputs: scene-{f}.txt
    outputs: frame-{f}.txt
  - id: encode
    run: cat frame-*.txt > shot.txt
    outputs: shot.txt
    after: render
  - id: notify
    run: "true"
    after: encode
)";

TEST(Outputs, OnlyWhatChangedRunsAgainAsWithMake) {
  TempDir dir;
  const fs::path wf = dir.path() / "shot.yaml", db = dir.path() / ".taskloom/taskloom.db";
  write_file(wf, kShot);
  for (int f = 1; f <= 3; ++f)
    write_file(dir.path() / ("scene-" + std::to_string(f) + ".txt"), "s\n");
  using M = std::map<std::string, int>;

  CliResult r = run_taskloom({"run", wf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(attempts_of(db, 1),
            (M{{"encode", 1}, {"notify", 1}, {"render-1", 1}, {"render-2", 1}, {"render-3", 1}}));

  // Nothing changed: every task with outputs is up to date; notify has none, so it runs.
  for (const char* f : {"frame-1.txt", "frame-2.txt", "frame-3.txt"}) age(dir.path() / f, 20s);
  age(dir.path() / "shot.txt", 10s);
  for (int f = 1; f <= 3; ++f) age(dir.path() / ("scene-" + std::to_string(f) + ".txt"), 30s);
  r = run_taskloom({"run", wf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(attempts_of(db, 2),
            (M{{"encode", 0}, {"notify", 1}, {"render-1", 0}, {"render-2", 0}, {"render-3", 0}}));
  EXPECT_NE(r.out.find("5 of 5 tasks succeeded, 4 of them up to date (not run)"), std::string::npos)
      << r.out;
  EXPECT_EQ(task_statuses(db, 2).at("encode"), "succeeded");
  {
    store::RunStore s = store::RunStore::open(db);
    EXPECT_EQ(s.find_task(2, "render-1")->message, "up to date: 1 output newer than 1 input");
    EXPECT_EQ(s.find_task(2, "encode")->message,
              "up to date: 1 output newer than 3 outputs of what it runs after");
  }

  // One input touched: its frame, and the encode after it, run; the other frames do not.
  write_file(dir.path() / "scene-2.txt", "changed\n");
  r = run_taskloom({"run", wf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(attempts_of(db, 3),
            (M{{"encode", 1}, {"notify", 1}, {"render-1", 0}, {"render-2", 1}, {"render-3", 0}}));
  EXPECT_EQ(read_file(dir.path() / "shot.txt"), "s\nchanged\ns\n");

  // --force=TASK runs that task (and, its output now newer, what runs after it).
  for (const char* f : {"frame-1.txt", "frame-2.txt", "frame-3.txt"}) age(dir.path() / f, 20s);
  age(dir.path() / "shot.txt", 10s);
  for (int f = 1; f <= 3; ++f) age(dir.path() / ("scene-" + std::to_string(f) + ".txt"), 30s);
  r = run_taskloom({"run", wf.string(), "--force=render-3"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(attempts_of(db, 4),
            (M{{"encode", 1}, {"notify", 1}, {"render-1", 0}, {"render-2", 0}, {"render-3", 1}}));
  // --force alone: everything.
  r = run_taskloom({"run", wf.string(), "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(attempts_of(db, 5),
            (M{{"encode", 1}, {"notify", 1}, {"render-1", 1}, {"render-2", 1}, {"render-3", 1}}));
  // The dry run says which tasks are up to date, which are forced, and why the rest would run.
  for (const char* f : {"frame-1.txt", "frame-2.txt", "frame-3.txt"}) age(dir.path() / f, 20s);
  age(dir.path() / "shot.txt", 10s);
  r = run_taskloom({"run", "-n", wf.string(), "--force=render-2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("up to date: 1 output newer than 1 input: would not run"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("runs: forced (--force)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("runs: render-2, which it runs after, would run"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("3 tasks would run, 2 up to date; nothing was run or recorded"),
            std::string::npos)
      << r.out;
  // A name that is neither a task nor a group is refused before anything runs.
  r = run_taskloom({"run", wf.string(), "--force=rendr"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no task or group 'rendr' — did you mean 'render'?"), std::string::npos)
      << r.err;
}

TEST(Outputs, WhatAKilledRunnersAttemptWroteIsNotTakenForAResult) {
  // The command writes its output at once, then works on (sleep); the runner is killed -9
  // meanwhile, so the output exists, newer than the input, though the attempt never finished.
  TempDir dir;
  const fs::path wf = dir.path() / "long.yaml", db = dir.path() / ".taskloom/taskloom.db";
  write_file(dir.path() / "in.txt", "in\n");
  age(dir.path() / "in.txt", 30s);
  write_file(wf, R"(name: long
tasks:
  - id: sim
    run: 'echo partial > out.txt; echo $$ > sim.pid; test -e done || exec sleep 30; echo full > out.txt'
    inputs: in.txt
    outputs: out.txt
)");
  ChildProcess runner =
      ChildProcess::start(taskloom_path(), {"run", wf.string()}, {}, dir.path() / "runner");
  for (int i = 0; i < 400 && !fs::exists(dir.path() / "sim.pid"); ++i)
    std::this_thread::sleep_for(25ms);
  ASSERT_TRUE(fs::exists(dir.path() / "sim.pid")) << runner.out() << runner.err();
  std::this_thread::sleep_for(100ms);  // the pid file is written: the attempt is recorded
  runner.signal(SIGKILL);
  runner.wait_for(10s);
  const pid_t sim = std::stoi(read_file(dir.path() / "sim.pid"));
  ::kill(sim, SIGKILL);  // the orphan a dead runner leaves (a resume would stop it)
  ASSERT_TRUE(fs::exists(dir.path() / "out.txt"));

  write_file(dir.path() / "done", "");
  const CliResult r = run_taskloom({"run", wf.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(attempts_of(db, 2).at("sim"), 1) << "the partial output was taken as up to date";
  EXPECT_EQ(read_file(dir.path() / "out.txt"), "full\n");
}

TEST(Outputs, TheRenderShotExampleRebuildsOnlyWhatATouchedFrameFeeds) {
  TempDir dir;
  fs::copy(TASKLOOM_EXAMPLES_DIR, dir.path(), fs::copy_options::recursive);
  const fs::path wf = dir.path() / "render-shot.yaml", db = dir.path() / ".taskloom/taskloom.db";
  CliResult r = run_taskloom({"run", wf.string()}, {}, std::chrono::seconds(90));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_taskloom({"run", wf.string()}, {}, std::chrono::seconds(90));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("33 of 33 tasks succeeded, 33 of them up to date"), std::string::npos)
      << r.out;
  age(dir.path() / "render-shot/out/render/7.ppm", -std::chrono::seconds(5));  // newer than all
  r = run_taskloom({"run", wf.string()}, {}, std::chrono::seconds(90));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> ran;
  for (const auto& [task, n] : attempts_of(db, 3)) {
    if (n > 0) ran.push_back(task);
  }
  EXPECT_EQ(ran, (std::vector<std::string>{"composite-10", "composite-11", "composite-12",
                                           "composite-7", "composite-8", "composite-9", "encode"}));
}

}  // namespace
}  // namespace taskloom::cli_test
