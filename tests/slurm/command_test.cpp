// `taskloom run/resume --backend slurm` against a real Slurm, as users run it: the examples and
// the data-driven workflow cases on the cluster, GPUs within the gres, resume after kill -9,
// Ctrl-C, a node failure. The one-host cluster of scripts/slurm-local.sh (4 fake nodes n1..n4
// with 2 CPUs each, gpu:2 on n1 and n2, licence arnold:4); scripts/test-slurm.sh starts it,
// runs these and stops it; they fail without it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/runner/leftovers.hpp"
#include "taskloom/runner/workflow_run.hpp"
#include "taskloom/store/run_store.hpp"

#include "cli/cli_db.hpp"
#include "cli/cli_harness.hpp"
#include "cli/workflow_cases.hpp"
#include "slurm/slurm_fixture.hpp"

namespace taskloom::slurm_test {
namespace {

using namespace std::chrono_literals;
using cli_test::ChildProcess;
using cli_test::read_file;
using cli_test::run_taskloom;
using cli_test::TempDir;
using cli_test::write_file;
using ::testing::HasSubstr;

/// Runs of the `taskloom` command on the cluster.
class SlurmRunTest : public SlurmTest {
 protected:
  /// `taskloom run dir/wf.yaml --backend slurm extra...` in the background.
  static ChildProcess start_run(const std::filesystem::path& dir, std::vector<std::string> extra) {
    std::vector<std::string> args{"run", (dir / "wf.yaml").string(), "--backend", "slurm"};
    args.insert(args.end(), extra.begin(), extra.end());
    return ChildProcess::start(cli_test::taskloom_path(), args, {}, dir / "proc");
  }
  /// Waits (up to 20 s) until `n` attempts of the run in `db` are open.
  static int wait_for_open_attempts(const std::filesystem::path& db, int n) {
    for (int i = 0; i < 200 && cli_test::open_attempts(db) < n; ++i)
      std::this_thread::sleep_for(100ms);
    return cli_test::open_attempts(db);
  }
  static std::filesystem::path local_cluster_script() {
    return std::filesystem::path(TASKLOOM_SOURCE_DIR) / "scripts" / "slurm-local.sh";
  }
};

nlohmann::json status_json(const std::filesystem::path& db) {
  const cli_test::CliResult r = run_taskloom({"status", "1", "--db", db.string(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out, nullptr, false);
}

/// The .out and .err logs under `dir` (the run's log directory), by name, with their text.
std::map<std::string, std::string> logs_in(const std::filesystem::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".out" || ext == ".err") out[e.path().filename().string()] = read_file(e.path());
  }
  return out;
}

/// The examples run unchanged on Slurm, and end as a local run of them does: the same statuses,
/// attempts and log files word for word; each attempt its own job, on a node of the cluster.
class ExampleOnSlurm : public SlurmRunTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(ExampleOnSlurm, EndsAsALocalRunDoes) {
  const std::string file = GetParam() + ".yaml";
  TempDir local, cluster;
  for (const TempDir* d : {&local, &cluster}) {
    std::filesystem::copy(TASKLOOM_EXAMPLES_DIR, d->path(),
                          std::filesystem::copy_options::recursive);
  }
  const auto local_db = local.path() / "t.db", db = cluster.path() / "t.db";
  const cli_test::CliResult here = run_taskloom(
      {"run", (local.path() / file).string(), "--db", local_db.string(), "--quiet"}, {}, 120s);
  ASSERT_EQ(here.exit_code, 0) << here.out << here.err;
  const cli_test::CliResult r = run_taskloom({"run", (cluster.path() / file).string(), "--db",
                                              db.string(), "--backend", "slurm", "--quiet"},
                                             {}, 240s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  const auto statuses = cli_test::task_statuses(db);
  EXPECT_EQ(statuses, cli_test::task_statuses(local_db));
  store::RunStore store = store::RunStore::open(db);
  store::RunStore local_store = store::RunStore::open(local_db);
  std::map<std::string, int> attempts, local_attempts;
  std::set<std::string> jobs;
  for (const store::AttemptRecord& a : store.attempts(1)) {
    ++attempts[a.task];
    EXPECT_EQ(a.start.backend, "slurm") << a.task;
    EXPECT_FALSE(a.start.job_id.empty()) << a.task;
    EXPECT_THAT(a.start.nodes, ::testing::MatchesRegex("n[1-4]")) << a.task;
    jobs.insert(a.start.job_id);
  }
  for (const store::AttemptRecord& a : local_store.attempts(1)) ++local_attempts[a.task];
  EXPECT_EQ(attempts, local_attempts) << "retries happen as they do locally";
  EXPECT_EQ(jobs.size(), store.attempts(1).size()) << "each attempt is its own job";
  const auto logs = logs_in(runner::log_directory(store, 1));
  EXPECT_EQ(logs.size(), 2 * store.attempts(1).size()) << "a stdout and a stderr log per attempt";
  EXPECT_EQ(logs, logs_in(runner::log_directory(local_store, 1)));
  const nlohmann::json j = status_json(db);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_THAT(j.dump(), HasSubstr("\"job_id\""));
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleOnSlurm, ::testing::Values("render-shot", "sim-campaign"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

/// The data-driven workflow cases whose header names slurm (tests/workflows/README.md), run
/// with --backend slurm and checked as on the local backend.
class WorkflowCaseOnSlurm : public SlurmRunTest,
                            public ::testing::WithParamInterface<std::string> {};

TEST_P(WorkflowCaseOnSlurm, RunsAsItsHeaderSays) {
  cli_test::check_workflow_case(GetParam(), {"--backend", "slurm"});
}

INSTANTIATE_TEST_SUITE_P(Workflows, WorkflowCaseOnSlurm,
                         ::testing::ValuesIn(cli_test::workflow_cases("slurm")),
                         cli_test::case_name);

// Every task records when and where it ran; GPU tasks never overlap beyond a node's gres.
TEST_F(SlurmRunTest, GpuTasksNeverExceedTheGres) {
  TempDir dir;
  write_file(dir.path() / "gpu.yaml", R"yaml(name: gpu
resources: {gpu: 4}  # n1 and n2 have gpu:2 each
tasks:
  - id: gpu-{i}
    matrix: {i: "1-8"}
    needs: {gpu: 1, cpu: 1}
    run: 'echo "start $(date +%s.%N) $SLURMD_NODENAME" >> times.$TASKLOOM_TASK; sleep 2; echo "end $(date +%s.%N)" >> times.$TASKLOOM_TASK'
)yaml");
  const cli_test::CliResult r = run_taskloom(
      {"run", (dir.path() / "gpu.yaml").string(), "--backend", "slurm", "--quiet"}, {}, 180s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  struct Span {
    double start, end;
    std::string node;
  };
  std::vector<Span> spans;
  for (int i = 1; i <= 8; ++i) {
    std::istringstream in(read_file(dir.path() / ("times.gpu-" + std::to_string(i))));
    Span s{};
    std::string word;
    in >> word >> s.start >> s.node >> word >> s.end;
    ASSERT_GT(s.end, s.start) << i;
    spans.push_back(s);
  }
  for (const Span& s : spans) {
    EXPECT_TRUE(s.node == "n1" || s.node == "n2") << "a GPU task ran on " << s.node;
    std::map<std::string, int> at;  // GPU tasks running at s.start, per node
    for (const Span& o : spans) at[o.node] += o.start <= s.start && s.start < o.end;
    for (const auto& [node, n] : at) EXPECT_LE(n, 2) << "more GPU tasks than gres on " << node;
  }
}

TEST_F(SlurmRunTest, ResumeAfterKillNineFollowsTheJobsInsteadOfSubmittingThemAgain) {
  TempDir dir;
  write_file(dir.path() / "wf.yaml", R"yaml(name: resumable
tasks:
  - id: step-{i}
    matrix: {i: "1-4"}
    run: 'echo "$TASKLOOM_TASK $SLURM_JOB_ID" >> ran.txt; sleep 6'
  - id: after
    after: step
    run: 'echo "$TASKLOOM_TASK $SLURM_JOB_ID" >> ran.txt'
)yaml");
  const auto db = dir.path() / ".taskloom" / "taskloom.db";
  ChildProcess proc = start_run(dir.path(), {"--quiet"});
  ASSERT_EQ(wait_for_open_attempts(db, 4), 4) << proc.out() << proc.err();
  proc.signal(SIGKILL);
  ASSERT_TRUE(proc.wait_for(10s).has_value());
  const cli_test::CliResult r = run_taskloom({"resume", "1", "--db", db.string()}, {}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("following again 4 slurm jobs"));
  for (const auto& [task, status] : cli_test::task_statuses(db))
    EXPECT_EQ(status, "succeeded") << task;
  std::map<std::string, int> runs;
  std::istringstream ran(read_file(dir.path() / "ran.txt"));
  for (std::string task, job; ran >> task >> job;) ++runs[task];
  EXPECT_EQ(runs.size(), 5u);
  for (const auto& [task, n] : runs) EXPECT_EQ(n, 1) << task << " ran more than once";
  store::RunStore store = store::RunStore::open(db);
  for (const store::AttemptRecord& a : store.attempts(1)) {
    EXPECT_EQ(a.number, 1) << a.task;
    EXPECT_EQ(a.status, store::AttemptStatus::kSucceeded) << a.task;
  }
}

// resume --force of a file that lost a task whose job still runs: that job is scancelled and
// its attempt recorded, not left running with nobody to follow it.
TEST_F(SlurmRunTest, ResumeCancelsTheJobOfATaskRemovedFromTheWorkflow) {
  TempDir dir;
  const std::string kept = "  - id: kept\n    run: 'sleep 4'\n";
  write_file(dir.path() / "wf.yaml",
             "name: shrinking\ntasks:\n" + kept + "  - id: dropped\n    run: 'sleep 300'\n");
  const auto db = dir.path() / ".taskloom" / "taskloom.db";
  ChildProcess proc = start_run(dir.path(), {"--quiet"});
  ASSERT_EQ(wait_for_open_attempts(db, 2), 2) << proc.out() << proc.err();
  proc.signal(SIGKILL);
  ASSERT_TRUE(proc.wait_for(10s).has_value());
  const std::string key = runner::run_key(db, 1);
  ASSERT_EQ(live_jobs_of(key), 2);
  write_file(dir.path() / "wf.yaml", "name: shrinking\ntasks:\n" + kept);
  const cli_test::CliResult r =
      run_taskloom({"resume", "1", "--db", db.string(), "--force"}, {}, 120s);
  // The run ends failed (exit 1), as any run with a cancelled task does: 1 of 2 succeeded.
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(live_jobs_of(key), 0) << "the dropped task's job is still in Slurm";
  store::RunStore store = store::RunStore::open(db);
  const auto dropped = store.attempts(1, "dropped");
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].status, store::AttemptStatus::kCancelled);
  EXPECT_THAT(dropped[0].outcome.message, HasSubstr("not in the workflow any more"));
  EXPECT_EQ(cli_test::task_statuses(db).at("dropped"), "cancelled");
  EXPECT_EQ(cli_test::task_statuses(db).at("kept"), "succeeded");
  EXPECT_EQ(store.attempts(1, "kept").size(), 1u) << "followed again, not submitted twice";
}

TEST_F(SlurmRunTest, CtrlCLeavesNoJobOfTheRunInSlurm) {
  TempDir dir;
  write_file(dir.path() / "wf.yaml", R"yaml(name: cancelled
tasks:
  - id: long-{i}
    matrix: {i: "1-12"}
    needs: {cpu: 1}
    run: sleep 120
)yaml");
  const auto db = dir.path() / ".taskloom" / "taskloom.db";
  ChildProcess proc = start_run(dir.path(), {"--kill-grace", "1"});
  wait_for_open_attempts(db, 12);
  const std::string key = runner::run_key(db, 1);
  ASSERT_GE(live_jobs_of(key), 8) << "some jobs should be running or pending";
  proc.signal(SIGINT);
  ASSERT_EQ(proc.wait_for(60s), 130) << proc.out() << proc.err();
  EXPECT_EQ(live_jobs_of(key), 0) << "jobs of the run left in Slurm";
  for (const auto& [task, status] : cli_test::task_statuses(db))
    EXPECT_EQ(status, "cancelled") << task;
}

TEST_F(SlurmRunTest, ANodeFailureMidJobEndsWithTheTaskSucceededOnAnotherNode) {
  TempDir dir;
  write_file(dir.path() / "wf.yaml", R"yaml(name: node-failure
tasks:
  - id: sim
    run: 'echo "$SLURMD_NODENAME" >> nodes.txt; sleep 8'
)yaml");
  const auto db = dir.path() / ".taskloom" / "taskloom.db";
  ChildProcess proc = start_run(dir.path(), {});
  std::string first;
  for (int i = 0; i < 200 && first.empty(); ++i) {
    std::this_thread::sleep_for(100ms);
    std::istringstream in(read_file(dir.path() / "nodes.txt"));
    in >> first;
  }
  ASSERT_FALSE(first.empty()) << proc.out() << proc.err();
  ASSERT_EQ(std::system((local_cluster_script().string() + " kill-node " + first).c_str()), 0);
  const std::optional<int> code = proc.wait_for(150s);
  std::system((local_cluster_script().string() + " revive-node " + first + " >/dev/null").c_str());
  ASSERT_EQ(code, 0) << proc.out() << proc.err();
  std::istringstream in(read_file(dir.path() / "nodes.txt"));
  std::vector<std::string> nodes;
  for (std::string n; in >> n;) nodes.push_back(n);
  ASSERT_EQ(nodes.size(), 2u) << "it should have started twice: on " << first << ", then elsewhere";
  EXPECT_NE(nodes[1], first);
  store::RunStore store = store::RunStore::open(db);
  const auto attempts = store.attempts(1, "sim");
  ASSERT_EQ(attempts.size(), 1u) << "Slurm's requeue is the same attempt";
  EXPECT_EQ(attempts[0].start.nodes, nodes[1]);
  EXPECT_THAT(attempts[0].outcome.message, HasSubstr("requeued by Slurm 1 time"));
}

}  // namespace
}  // namespace taskloom::slurm_test
