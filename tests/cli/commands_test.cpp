// The commands around `run`: plan, status, runs, logs, the JSON report, resume of a changed
// workflow, and bad input (a database from a newer taskloom, an unreadable workflow file).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <nlohmann/json.hpp>
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

const char* kSmall = R"yaml(name: small
tasks:
  - id: hello-{n}
    run: echo "hello from {n}"; echo "warning {n}" >&2
    matrix: {n: [one, two]}
  - id: flaky
    run: echo "try" >> tries.txt; test "$(wc -l < tries.txt)" -ge 2
    retries: 1
  - id: last
    run: exit {code}
    after: [hello, flaky]
)yaml";

std::string small(int code) {
  std::string w = kSmall;
  w.replace(w.find("{code}"), 6, std::to_string(code));
  return w;
}

TEST(Commands, TheSummaryShowsMemoryAsASize) {
  // units::format_size, as `plan` and the load errors print memory: "1.5 GB", not "1.5G".
  TempDir dir;
  const fs::path file = dir.path() / "memory.yaml";
  write_file(file,
             "name: memory\nresources: {cpu: 1, memory: 2G}\ntasks:\n"
             "  - {id: one, run: \"true\", needs: {memory: 1500M}}\n");
  const CliResult r = run_taskloom({"run", file.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("memory peak 1.5 GB of 2 GB"), std::string::npos) << r.out;
}

TEST(Commands, StatusRunsLogsAndJsonShowWhatWasRecorded) {
  TempDir dir;
  const fs::path file = dir.path() / "small.yaml";
  write_file(file, small(0));
  const fs::path report = dir.path() / "report.json";
  const fs::path trace = dir.path() / "trace.json";
  const CliResult r =
      run_taskloom({"run", file.string(), "--json", report.string(), "--trace", trace.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto tj = nlohmann::json::parse(read_file(trace));
  ASSERT_TRUE(tj.contains("traceEvents")) << "a Chrome trace";
  EXPECT_NE(tj.dump().find("\"hello-two\""), std::string::npos);
  const fs::path db = dir.path() / ".taskloom" / "taskloom.db";
  ASSERT_TRUE(fs::exists(db)) << "the default database is beside the workflow";

  const auto j = nlohmann::json::parse(read_file(report));
  EXPECT_EQ(j["status"], "succeeded");
  EXPECT_EQ(j["counts"]["succeeded"], 4);
  ASSERT_EQ(j["tasks"].size(), 4u);
  for (const auto& t : j["tasks"]) {
    if (t["id"] == "flaky") {
      ASSERT_EQ(t["history"].size(), 2u);
      EXPECT_EQ(t["history"][0]["status"], "failed");
      EXPECT_EQ(t["history"][0]["exit_code"], 1);
      EXPECT_EQ(t["history"][1]["status"], "succeeded");
      EXPECT_GT(t["history"][1]["peak_rss_kb"].get<long>(), 0);
    }
  }
  EXPECT_TRUE(j.contains("runtime"));

  const CliResult status = run_taskloom({"status", "--db", db.string()});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("run 1  small  succeeded"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("tasks    4, 4 succeeded"), std::string::npos) << status.out;
  EXPECT_TRUE(std::regex_search(status.out, std::regex("\nflaky +succeeded +2 "))) << status.out;

  const CliResult runs = run_taskloom({"runs", "--db", db.string(), "--json"});
  EXPECT_EQ(runs.exit_code, 0);
  const auto rj = nlohmann::json::parse(runs.out);
  ASSERT_EQ(rj.size(), 1u);
  EXPECT_EQ(rj[0]["succeeded"], 4);

  const CliResult out = run_taskloom({"logs", "1", "hello-two", "--db", db.string()});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "hello from two\n");
  const CliResult err = run_taskloom({"logs", "1", "hello-two", "--stderr", "--db", db.string()});
  EXPECT_EQ(err.out, "warning two\n");
  const CliResult first =
      run_taskloom({"logs", "1", "flaky", "--attempt", "1", "--db", db.string()});
  EXPECT_EQ(first.out, "");
  EXPECT_EQ(first.exit_code, 0);
  const CliResult missing =
      run_taskloom({"logs", "1", "flaky", "--attempt", "3", "--db", db.string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("task 'flaky' has no attempt 3 (it has 1 to 2)"), std::string::npos)
      << missing.err;
  const CliResult unknown = run_taskloom({"status", "9", "--db", db.string()});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("there is no run 9"), std::string::npos) << unknown.err;
}

TEST(Commands, ResumeRefusesAChangedWorkflowUnlessForced) {
  TempDir dir;
  const fs::path file = dir.path() / "small.yaml";
  const fs::path db = dir.path() / "state.db";
  write_file(file, small(4));
  const CliResult r = run_taskloom({"run", file.string(), "--db", db.string()});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("last failed: exit status 4"), std::string::npos) << r.out;

  write_file(file, small(0));
  const CliResult refused = run_taskloom({"resume", "1", "--db", db.string()});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("changed since run 1 started"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--force"), std::string::npos);
  EXPECT_EQ(task_statuses(db).at("last"), "failed") << "a refused resume changes nothing";

  const CliResult forced = run_taskloom({"resume", "1", "--db", db.string(), "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  EXPECT_NE(forced.out.find("3 tasks succeeded before, 1 to run"), std::string::npos) << forced.out;
  store::RunStore s = store::RunStore::open(db);
  EXPECT_EQ(s.attempts(1, "hello-one").size(), 1u) << "a succeeded task never runs again";
  EXPECT_EQ(s.attempts(1, "last").size(), 2u);
}

TEST(Commands, TheWorkflowNamesItsBackendAndTheCommandLineOverridesIt) {
  TempDir dir;
  const fs::path file = dir.path() / "w.yaml";
  const fs::path db = dir.path() / "state.db";
  write_file(file,
             "name: w\nbackend: slurm\nslurm: {partition: nowhere}\n"
             "tasks:\n  - {id: a, run: 'exit 3', features: [gpu]}\n");
  const CliResult r =
      run_taskloom({"run", file.string(), "--db", db.string(), "--backend", "local"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out.find("on slurm"), std::string::npos) << r.out;
  store::RunStore s = store::RunStore::open(db);
  ASSERT_EQ(s.attempts(1, "a").size(), 1u);
  EXPECT_EQ(s.attempts(1, "a")[0].start.backend, "local") << "--backend beats backend:";

  // A run with a Slurm job still open cannot resume elsewhere: nothing would follow the job.
  s.begin_attempt(1, "a", 2, {.backend = "slurm", .job_id = "4242"});
  const CliResult refused =
      run_taskloom({"resume", "1", "--db", db.string(), "--backend", "local"});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("run 1 has 1 slurm job that may still be in flight — resume it "
                             "with --backend slurm"),
            std::string::npos)
      << refused.err;
  EXPECT_FALSE(s.attempts(1, "a")[1].ended) << "a refused resume changes nothing";
}

// A resumed task has the retries it had left, not a fresh count: one that used them all gets
// the one attempt a resume is for.
TEST(Commands, AResumedTaskHasTheRetriesItHadLeft) {
  TempDir dir;
  const fs::path file = dir.path() / "flaky.yaml";
  write_file(file,
             "name: flaky\ntasks:\n  - id: flaky\n    retries: 2\n"
             "    run: 'n=$(cat n 2>/dev/null || echo 0); echo $((n + 1)) > n; test $n -ge 4'\n");
  const fs::path db = dir.path() / "t.db";
  const CliResult first = run_taskloom({"run", file.string(), "--db", db.string(), "-q"});
  ASSERT_EQ(first.exit_code, 1) << first.out << first.err;
  store::RunStore s = store::RunStore::open(db);
  ASSERT_EQ(s.attempts(1, "flaky").size(), 3u) << "1 attempt and 2 retries";
  EXPECT_EQ(s.find_task(1, "flaky")->failures, 3);
  const CliResult resumed = run_taskloom({"resume", "1", "--db", db.string(), "-q"});
  EXPECT_EQ(resumed.exit_code, 1) << resumed.out << resumed.err;
  EXPECT_EQ(s.attempts(1, "flaky").size(), 4u)
      << "no retries left: one attempt (a fresh count would have run 4 and 5, and succeeded)";
}

// `taskloom run FILE TASK...` runs those tasks and what they need, nothing else; a resume of
// that run keeps to them.
TEST(Commands, RunWithTargetsRunsThemAndWhatTheyNeedOnly) {
  TempDir dir;
  const fs::path file = dir.path() / "t.yaml";
  write_file(file,
             "name: t\ntasks:\n  - {id: prep, run: 'echo prep >> ran'}\n"
             "  - {id: other, run: 'echo other >> ran'}\n"
             "  - {id: main, run: 'echo main >> ran; test -f ok', after: prep}\n");
  const fs::path db = dir.path() / "t.db";
  const CliResult r = run_taskloom({"run", file.string(), "main", "--db", db.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("2 tasks for main"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(dir.path() / "ran"), "prep\nmain\n");
  store::RunStore s = store::RunStore::open(db);
  EXPECT_EQ(s.tasks(1).size(), 2u) << "only what the target needs is in the run";
  EXPECT_EQ(s.find_run(1)->targets, std::vector<std::string>{"main"});
  write_file(dir.path() / "ok", "");
  const CliResult resumed = run_taskloom({"resume", "1", "--db", db.string(), "-q"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err << "same targets, same fingerprint";
  EXPECT_EQ(read_file(dir.path() / "ran"), "prep\nmain\nmain\n") << "other never ran";
}

// --dry-run prints what would run, in the order it would start, and runs and records nothing.
TEST(Commands, DryRunPrintsTheTasksInStartOrderAndDoesNothing) {
  TempDir dir;
  const fs::path file = dir.path() / "d.yaml";
  write_file(file,
             "name: d\ntasks:\n"
             "  - {id: low, run: 'touch ran', priority: low}\n"
             "  - {id: high, run: 'touch ran', priority: high, env: {FRAME: '7'}}\n"
             "  - {id: last, run: 'touch ran', after: [low, high], needs: {cpu: 2}}\n");
  const CliResult r = run_taskloom({"run", "--dry-run", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto high = r.out.find("1. high  (priority high");
  const auto low = r.out.find("2. low  (priority low");
  const auto last = r.out.find("3. last  (priority normal, needs cpu=2, after low high)");
  EXPECT_TRUE(high != std::string::npos && low > high && last > low) << r.out;
  EXPECT_NE(r.out.find("     env FRAME=7\n     $ touch ran\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 tasks would run; nothing was run or recorded"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.path() / "ran")) << "a dry run ran a task";
  EXPECT_FALSE(fs::exists(dir.path() / ".taskloom")) << "a dry run recorded something";
  const CliResult part = run_taskloom({"run", "-n", file.string(), "low"});
  EXPECT_NE(part.out.find("1 task would run"), std::string::npos) << part.out;
}

// logs --follow prints an attempt's log as it grows, then its retry's, and ends with the task;
// status --watch prints the run as it changes and ends with it.
TEST(Commands, LogsFollowAndStatusWatchEndWithTheirTaskAndRun) {
  TempDir dir;
  const fs::path file = dir.path() / "slow.yaml";
  write_file(file,
             "name: slow\ntasks:\n  - id: slow\n    retries: 1\n"
             "    run: 'echo start $TASKLOOM_ATTEMPT; sleep 1; echo end $TASKLOOM_ATTEMPT; "
             "test $TASKLOOM_ATTEMPT = 2'\n");
  const fs::path db = dir.path() / "t.db";
  ChildProcess run = ChildProcess::start(
      taskloom_path(), {"run", file.string(), "--db", db.string()}, {}, dir.path() / "run");
  ASSERT_TRUE(eventually([&] {
    return run_taskloom({"status", "1", "--db", db.string()}).exit_code == 0;
  }));
  ChildProcess follow =
      ChildProcess::start(taskloom_path(), {"logs", "1", "slow", "--db", db.string(), "--follow"},
                          {}, dir.path() / "follow");
  const CliResult watch = run_taskloom({"status", "1", "--db", db.string(), "--watch"});
  ASSERT_EQ(run.wait_for(std::chrono::seconds(30)), 0) << run.out() << run.err();
  EXPECT_EQ(follow.wait_for(std::chrono::seconds(10)), 0) << follow.err();
  EXPECT_NE(follow.out().find("start 1\nend 1\n==> attempt 2 <==\nstart 2\nend 2\n"),
            std::string::npos)
      << follow.out();
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_NE(watch.out.find("slow  running"), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.rfind("slow  succeeded"), std::string::npos) << "it ends with the run";
}

// The bash completion script the tool generates completes commands and each command's options.
TEST(Commands, TheGeneratedBashCompletionCompletesCommandsAndOptions) {
  TempDir dir;
  const CliResult script = run_taskloom({"completion", "bash"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  write_file(dir.path() / "c.sh",
             script.out +
                 "COMP_WORDS=(taskloom ru); COMP_CWORD=1; _taskloom; echo \"${COMPREPLY[*]}\"\n"
                 "COMP_WORDS=(taskloom run --dry); COMP_CWORD=2; _taskloom; "
                 "echo \"${COMPREPLY[*]}\"\n"
                 "COMP_WORDS=(taskloom logs 1 x --fol); COMP_CWORD=4; _taskloom; "
                 "echo \"${COMPREPLY[*]}\"\n");
  const CliResult r = [&] {
    ChildProcess p =
        ChildProcess::start("/bin/bash", {(dir.path() / "c.sh").string()}, {}, dir.path() / "bash");
    CliResult out;
    out.exit_code = p.wait_for(std::chrono::seconds(10)).value_or(-1);
    out.out = p.out();
    out.err = p.err();
    return out;
  }();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "run runs\n--dry-run\n--follow\n") << r.err;
  EXPECT_EQ(run_taskloom({"completion", "fish"}).exit_code, 2);
}

// The zsh completion, in an interactive zsh (a pseudo-terminal driven by zsh/zpty) with the
// completion system loaded as a user's .zshrc does: Tab completes a command and an option.
TEST(Commands, TheGeneratedZshCompletionCompletesInAnInteractiveZsh) {
  TempDir dir;
  write_file(dir.path() / "drive.zsh",
             "zmodload zsh/zpty\n"
             "zpty -b z 'zsh -f -i'\n"
             "zpty -w z 'PS1=\"%% \"; autoload -U compinit && compinit -u; eval \"$(" +
                 taskloom_path() +
                 " completion zsh)\"; show() { print -r -- \"BUF<$BUFFER>\" }; zle -N show; "
                 "bindkey \"^X\" show'\n"
                 "sleep 1\n"
                 "zpty -w -n z $'taskloom run --dry\\t\\x18'\n"
                 "sleep 1\n"
                 "zpty -w -n z $'\\x15taskloom sim\\t\\x18'\n"
                 "sleep 1\n"
                 "out=''\n"
                 "while zpty -r -t z line; do out+=\"$line\"; done\n"
                 "print -r -- ${(j:\\n:)${(M)${(s:>:)out}:#*BUF<taskloom*}}\n"
                 "zpty -d z\n");
  ChildProcess p = ChildProcess::start("/usr/bin/zsh", {"-f", (dir.path() / "drive.zsh").string()},
                                       {}, dir.path() / "zsh");
  ASSERT_EQ(p.wait_for(std::chrono::seconds(20)).value_or(-1), 0) << p.err();
  EXPECT_NE(p.out().find("BUF<taskloom run --dry-run"), std::string::npos) << p.out() << p.err();
  EXPECT_NE(p.out().find("BUF<taskloom simulate"), std::string::npos) << p.out() << p.err();
}

// A resumed run's time is the time runners spent on it, not the idle gap before the resume.
TEST(Commands, ARunsTimeLeavesOutTheIdleGapBeforeAResume) {
  TempDir dir;
  const fs::path file = dir.path() / "gap.yaml";
  write_file(file, "name: gap\ntasks:\n  - {id: a, run: 'test -f ok'}\n");
  const fs::path db = dir.path() / "t.db";
  ASSERT_EQ(run_taskloom({"run", file.string(), "--db", db.string(), "-q"}).exit_code, 1);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the gap, not a measurement
  write_file(dir.path() / "ok", "");
  ASSERT_EQ(run_taskloom({"resume", "1", "--db", db.string(), "-q"}).exit_code, 0);
  const CliResult st = run_taskloom({"status", "1", "--db", db.string()});
  const std::smatch m = [&] {
    std::smatch found;
    std::regex_search(st.out, found, std::regex("took ([0-9.]+)(ms|s) over 2 runner sessions"));
    return found;
  }();
  ASSERT_FALSE(m.empty()) << st.out;
  const double seconds = std::stod(m[1]) / (m[2] == "ms" ? 1000.0 : 1.0);
  EXPECT_LT(seconds, 2.5) << "the 3 s gap was counted: " << st.out;
}

TEST(Commands, PlanShowsWavesAndGraphsWithoutRunning) {
  TempDir dir;
  const fs::path file = dir.path() / "small.yaml";
  write_file(file, small(0));
  const CliResult p = run_taskloom({"plan", file.string()});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("small (" + file.string() + "): 4 tasks, 3 dependencies, 2 waves"),
            std::string::npos)
      << p.out;
  EXPECT_NE(p.out.find("0: 3 tasks"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("nothing was run"), std::string::npos);
  const CliResult dot = run_taskloom({"plan", file.string(), "--dot"});
  EXPECT_EQ(dot.out.rfind("digraph", 0), 0u) << dot.out;
  EXPECT_NE(dot.out.find("last"), std::string::npos);
  const CliResult mermaid = run_taskloom({"plan", file.string(), "--mermaid"});
  EXPECT_NE(mermaid.out.find("flowchart"), std::string::npos) << mermaid.out;
  const CliResult json = run_taskloom({"plan", file.string(), "--json"});
  const auto pj = nlohmann::json::parse(json.out);
  EXPECT_EQ(pj["tasks"], 4);
  EXPECT_EQ(pj["dependencies"], 3);
  ASSERT_EQ(pj["waves"].size(), 2u);
  EXPECT_EQ(pj["waves"][1][0], "last");
  EXPECT_EQ(pj["critical_path"].back(), "last");
  const CliResult both = run_taskloom({"plan", file.string(), "--dot", "--mermaid"});
  EXPECT_NE(both.exit_code, 0) << "--dot and --mermaid exclude each other";
  EXPECT_FALSE(fs::exists(dir.path() / ".taskloom")) << "plan must not create a database";
  EXPECT_FALSE(fs::exists(dir.path() / "tries.txt")) << "plan must not run anything";
}

// Every line of plan is bounded however large the workflow, and counts read as English.
TEST(Commands, PlanLinesAreBoundedAndCountsAreSingularWhenOne) {
  TempDir dir;
  std::string chain = "name: chain\ntasks:\n";
  for (int i = 1; i <= 40; ++i) {
    chain += "  - {id: step" + std::to_string(i) + ", run: 'true'" +
             (i > 1 ? ", after: step" + std::to_string(i - 1) : std::string()) + "}\n";
  }
  write_file(dir.path() / "chain.yaml", chain);
  const CliResult p = run_taskloom({"plan", (dir.path() / "chain.yaml").string()});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  std::istringstream lines(p.out);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    EXPECT_LT(line.size(), 200u) << line;
  }
  EXPECT_LT(count, 25) << p.out;
  EXPECT_NE(p.out.find("groups: step1 (1) step10 (1)"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("... (28 more)"), std::string::npos) << "40 groups, 12 shown";
  EXPECT_NE(p.out.find("  ... (27 more waves)\n  39: 1 task  step40"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("step6 -> ... (28 more tasks) -> step35"), std::string::npos) << p.out;
  write_file(dir.path() / "one.yaml", "name: one\ntasks:\n  - {id: a, run: 'true'}\n");
  const CliResult one = run_taskloom({"plan", (dir.path() / "one.yaml").string()});
  EXPECT_NE(one.out.find("1 task, 0 dependencies, 1 wave\n"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("critical path (1 task,"), std::string::npos) << one.out;
  const CliResult ids = run_taskloom({"plan", "--list", (dir.path() / "chain.yaml").string()});
  EXPECT_EQ(ids.out.substr(0, 18), "step1\nstep2\nstep3\n") << ids.out;
  EXPECT_EQ(std::count(ids.out.begin(), ids.out.end(), '\n'), 40);
}

// Usage errors as git and make users expect them: named, with the closest valid word, exit 2.
TEST(BadInput, UsageErrorsNameTheWordAndTheClosestValidOneAndExitTwo) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const std::vector<Case> cases = {
      {{"rnu"}, "taskloom: unknown command 'rnu' — did you mean 'run'?"},
      {{"--versoin"}, "taskloom: unknown option '--versoin' — did you mean '--version'?"},
      {{"run", "--wrokers", "2", "x.yaml"},
       "taskloom run: unknown option '--wrokers' — did you mean '--workers'?"},
      {{"run", "x.yaml", "--kill-grace", "abc"},
       "--kill-grace: must be a duration from 0 to 1h (5, 2.5s, 500ms), not 'abc'"},
      {{"plan", "x.yaml", "extra"}, "taskloom plan: unexpected argument 'extra'"},
      {{"help", "rnu"}, "taskloom help: unknown command 'rnu' — did you mean 'run'?"},
  };
  for (const Case& c : cases) {
    const CliResult r = run_taskloom(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << ": " << r.err;
    EXPECT_NE(r.err.find(c.err), std::string::npos) << r.err;
  }
  const CliResult bare = run_taskloom({});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("Usage: taskloom"), std::string::npos) << "usage on no arguments";
  const CliResult help = run_taskloom({"help", "run"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("Usage: taskloom run"), std::string::npos) << help.out;
  EXPECT_EQ(run_taskloom({"--version"}).exit_code, 0);
}

// After `taskloom run dir/wf.yaml`, the inspecting commands run in the same directory find the
// run's database (remembered per user), and say which file they used.
TEST(Commands, TheCommandsAfterARunFindItsDatabaseFromTheSameDirectory) {
  TempDir dir;
  const fs::path shots = dir.path() / "shots";
  fs::create_directories(shots);
  write_file(shots / "wf.yaml", "name: w\ntasks:\n  - {id: a, run: 'true'}\n");
  const Env state = {{"XDG_STATE_HOME", (dir.path() / "state").string()}};
  const fs::path before = fs::current_path();
  fs::current_path(dir.path());
  const CliResult r = run_taskloom({"run", "shots/wf.yaml", "--quiet"}, state);
  const CliResult status = run_taskloom({"status"}, state);
  const CliResult elsewhere = run_taskloom({"status"}, {{"XDG_STATE_HOME", "/nonexistent"}});
  fs::current_path(before);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("run 1  w  succeeded"), std::string::npos) << status.out;
  EXPECT_NE(status.err.find("taskloom: using " + (shots / ".taskloom" / "taskloom.db").string()),
            std::string::npos)
      << status.err;
  EXPECT_EQ(elsewhere.exit_code, 2) << "another user's memory does not have it";
  EXPECT_NE(elsewhere.err.find("no .taskloom/taskloom.db in"), std::string::npos) << elsewhere.err;
}

// Only `run` creates a database: reading commands refuse what is not one, and change nothing.
TEST(BadInput, ReadingCommandsNeverCreateADatabaseOrItsDirectory) {
  TempDir dir;
  const fs::path empty = dir.path() / "empty.db";
  write_file(empty, "");
  const CliResult runs = run_taskloom({"runs", "--db", empty.string()});
  EXPECT_EQ(runs.exit_code, 2);
  EXPECT_NE(runs.err.find("is an empty file, not a taskloom database"), std::string::npos)
      << runs.err;
  EXPECT_EQ(fs::file_size(empty), 0u) << "the empty file must stay empty";
  const fs::path missing = dir.path() / "no" / "such" / "x.db";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status", "--db", missing.string()},
        {"runs", "--db", missing.string()},
        {"cancel", "1", "--db", missing.string()},
        {"resume", "1", "--db", missing.string()}}) {
    const CliResult r = run_taskloom(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("no taskloom database at " + missing.string()), std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(fs::exists(dir.path() / "no")) << "a directory was created";
  // An SQLite file that is not taskloom's gets no tables.
  const fs::path foreign = dir.path() / "other.db";
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &handle), SQLITE_OK);
  sqlite3_exec(handle, "CREATE TABLE t (x)", nullptr, nullptr, nullptr);
  sqlite3_close(handle);
  const CliResult other = run_taskloom({"runs", "--db", foreign.string()});
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("is not a taskloom database"), std::string::npos) << other.err;
}

TEST(BadInput, DatabaseFromANewerSchemaIsRefusedUntouched) {
  TempDir dir;
  const fs::path file = dir.path() / "small.yaml";
  const fs::path db = dir.path() / "state.db";
  write_file(file, small(0));
  ASSERT_EQ(run_taskloom({"run", file.string(), "--db", db.string()}).exit_code, 0);
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA user_version = 99;", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(h);
  const std::string before = read_file(db);

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"run", file.string(), "--db", db.string()},
        std::vector<std::string>{"status", "--db", db.string()},
        std::vector<std::string>{"resume", "1", "--db", db.string()}}) {
    const CliResult r = run_taskloom(args);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_NE(r.err.find("schema version 99 is newer than this taskloom"), std::string::npos)
        << r.err;
  }
  EXPECT_EQ(read_file(db), before) << "the newer database must not be modified";
}

TEST(BadInput, UnreadableWorkflowFileIsAClearError) {
  TempDir dir;
  const fs::path missing = dir.path() / "nope.yaml";
  const CliResult r = run_taskloom({"run", missing.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("taskloom: " + missing.string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / ".taskloom"));
  const CliResult d = run_taskloom({"plan", dir.path().string()});
  EXPECT_EQ(d.exit_code, 2);
  EXPECT_NE(d.err.find(dir.path().string()), std::string::npos) << d.err;
  const CliResult nodb = run_taskloom({"status", "--db", (dir.path() / "none.db").string()});
  EXPECT_EQ(nodb.exit_code, 2);
  EXPECT_NE(nodb.err.find("no taskloom database at"), std::string::npos) << nodb.err;
}

TEST(BadInput, FullDiskWhileWritingALogFailsThatTaskAndKeepsTheRest) {
  TempDir dir;
  const fs::path file = dir.path() / "disk.yaml";
  write_file(file, R"yaml(name: disk
tasks:
  - id: writer
    run: echo "a frame worth of output"
  - id: other
    run: echo fine
)yaml");
  // Run 1's first log of `writer` is a full device: every write to it fails with ENOSPC.
  const fs::path logs = dir.path() / ".taskloom" / "logs" / "1";
  fs::create_directories(logs);
  fs::create_symlink("/dev/full", logs / "writer.1.out");
  const CliResult r = run_taskloom({"run", file.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("writer failed: exit status 1"), std::string::npos) << r.out;
  const fs::path db = dir.path() / ".taskloom" / "taskloom.db";
  const auto st = task_statuses(db);
  EXPECT_EQ(st.at("writer"), "failed");
  EXPECT_EQ(st.at("other"), "succeeded");
  // The shell says why in the task's stderr log (dash: "echo: I/O error").
  EXPECT_NE(read_file(logs / "writer.1.err").find("error"), std::string::npos);
  EXPECT_EQ(read_file(logs / "other.1.out"), "fine\n");
  const CliResult status = run_taskloom({"status", "1", "--db", db.string()});
  EXPECT_NE(status.out.find("tasks    2, 1 failed, 1 succeeded"), std::string::npos) << status.out;
}

TEST(Examples, EveryExampleWorkflowRunsToSuccess) {
  for (const auto& entry : fs::directory_iterator(TASKLOOM_EXAMPLES_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    TempDir dir;
    fs::copy(TASKLOOM_EXAMPLES_DIR, dir.path(), fs::copy_options::recursive);
    const fs::path file = dir.path() / entry.path().filename();
    const CliResult r = run_taskloom({"run", file.string()}, {}, std::chrono::seconds(90));
    EXPECT_EQ(r.exit_code, 0) << entry.path() << "\n" << r.out << r.err;
  }
}

}  // namespace
}  // namespace taskloom::cli_test
