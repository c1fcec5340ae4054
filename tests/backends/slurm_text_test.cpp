// The Slurm backend's text side on squeue output recorded from Debian 12's Slurm 22.05
// (tests/data/slurm): submissions, parsing, and the state-to-outcome table of docs/backends.md.
#include "backends/slurm_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "taskloom/core/error.hpp"

namespace taskloom::backends::slurm_text {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using End = AttemptResult::End;
using namespace std::chrono_literals;

std::string read(const std::string& name) {
  std::ifstream in(std::filesystem::path(TASKLOOM_TEST_DATA) / "slurm" / name);
  std::ostringstream s;
  s << in.rdbuf();
  EXPECT_FALSE(s.str().empty()) << name;
  return s.str();
}

JobRow row(const std::string& id) {
  for (JobRow& r : parse_squeue(read("squeue-22.05.txt"))) {
    if (r.id == id) return r;
  }
  ADD_FAILURE() << "no job " << id << " in the sample";
  return {};
}

AttemptSpec spec() {
  return {
      .task = "render-11",
      .attempt = 2,
      .command = "blender -b shot.blend -f 11",
      .env = {{"FRAME", "11"}, {"NOTE", "it's"}},
      .cwd = "/shots/sh010",
      .stdout_path = "/logs/1/render-11.2.out",
      .stderr_path = "/logs/1/render-11.2.err",
      .needs = {{"cpu", 2.5}, {"memory", 3.0 * 1024 * 1024 * 1024 + 1}, {"gpu", 1}, {"arnold", 1}},
      .features = {"gpu", "avx512"},
      .timeout = 90s,
      .priority = Priority::kLow};
}

TEST(SlurmSubmission, MapsEveryNeedFeatureAndLimitToItsOption) {
  const Submission s = submission(spec(), {.partition = "render", .account = "shots"});
  for (const char* arg :
       {"--parsable", "--job-name=render-11", "--output=/logs/1/render-11.2.out",
        "--error=/logs/1/render-11.2.err", "--chdir=/shots/sh010", "--cpus-per-task=3",
        "--mem=3073M", "--gres=gpu:1", "--licenses=arnold:1", "--constraint=gpu&avx512", "--time=3",
        "--nice=1", "--partition=render", "--account=shots", "--requeue"}) {
    EXPECT_THAT(s.args, Contains(std::string(arg)));
  }
  EXPECT_THAT(s.args, Not(Contains(::testing::StartsWith("--qos"))));
}

TEST(SlurmSubmission, NormalAndHigherPrioritiesKeepTheDefaultNice) {
  AttemptSpec sp = spec();
  sp.priority = Priority::kHigh;
  EXPECT_THAT(submission(sp, {}).args, Not(Contains(::testing::StartsWith("--nice"))));
}

TEST(SlurmSubmission, PercentSignsInLogPathsAreNotSlurmPatterns) {
  AttemptSpec sp = spec();
  sp.stdout_path = "/logs/100%/a.out";
  sp.stderr_path = sp.stdout_path;
  const Submission s = submission(sp, {});
  EXPECT_THAT(s.args, Contains(std::string("--output=/logs/100%%/a.out")));
  EXPECT_THAT(s.args, Not(Contains(::testing::StartsWith("--error"))));  // one file for both
}

// The script itself, run by /bin/sh as slurmstepd would: env, exit status file, exit code.
TEST(SlurmSubmission, TheScriptExportsTheEnvironmentAndRecordsTheExitStatus) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("slurm_text_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  AttemptSpec sp = spec();
  sp.cwd = dir;
  sp.stdout_path = dir / "a.out";
  sp.command = "test \"$NOTE\" = \"it's\" && echo \"frame $FRAME\" > " + (dir / "seen").string() +
               " && exit 7";
  const Submission s = submission(sp, {});
  const auto script = dir / "job.sh";
  std::ofstream(script) << s.script;
  const int status = std::system(("/bin/sh " + script.string()).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  std::ifstream seen(dir / "seen");
  std::string line;
  std::getline(seen, line);
  EXPECT_EQ(line, "frame 11");
  std::ifstream exit_status(exit_file(sp));
  std::getline(exit_status, line);
  EXPECT_THAT(line, ::testing::MatchesRegex("7 [0-9]+\\.[0-9]+ [0-9]+\\.[0-9]+"));
  const auto record = parse_exit_file(line);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->status, 7);
  EXPECT_TRUE(record->wall.has_value());
  std::filesystem::remove_all(dir);
}

// slurmd would run the job in /tmp: the script refuses instead, and that is a failed start.
TEST(SlurmSubmission, AWorkingDirectoryTheNodeLacksIsAFailedStartNotARunInTmp) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("slurm_cwd_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  AttemptSpec sp = spec();
  sp.cwd = dir / "does-not-exist";
  sp.stdout_path = dir / "a.out";
  sp.command = "touch " + (dir / "ran").string();
  const auto script = dir / "job.sh";
  std::ofstream(script) << submission(sp, {}).script;
  const std::string err = (dir / "a.err").string();
  const int status =
      std::system(("SLURMD_NODENAME=n3 /bin/sh " + script.string() + " 2>" + err).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 126);
  EXPECT_FALSE(std::filesystem::exists(dir / "ran")) << "the command must not run elsewhere";
  std::ifstream in(err);
  const std::string tail((std::istreambuf_iterator<char>(in)), {});
  JobRow failed = row("266");  // FAILED, exit 3 on n1
  failed.wait_status = 126 << 8;
  const AttemptResult r = result_of(failed, Intent::kNone, sp, tail);
  EXPECT_EQ(r.end, End::kFailedToStart);
  EXPECT_EQ(r.message,
            "working directory " + sp.cwd.string() + " does not exist on n3 (Slurm job 266)");
  EXPECT_EQ(result_of(failed, Intent::kNone, sp, "").end, End::kFailed)
      << "a plain exit 126 (a command that is not executable) stays a failure";
  std::filesystem::remove_all(dir);
}

TEST(SlurmText, ParsesTheJobIdOfParsableOutput) {
  EXPECT_EQ(parse_job_id("41\n"), "41");
  EXPECT_EQ(parse_job_id("41;cluster2\n"), "41");
  EXPECT_EQ(parse_job_id("sbatch: warning: something\n42\n"), "42");
  EXPECT_EQ(parse_job_id(""), std::nullopt);
  EXPECT_EQ(parse_job_id("sbatch: error: Batch job submission failed"), std::nullopt);
}

TEST(SlurmText, ParsesTimeUsedInEverySlurmForm) {
  EXPECT_EQ(parse_time_used("0:00"), 0s);
  EXPECT_EQ(parse_time_used("3:04"), 184s);
  EXPECT_EQ(parse_time_used("02:03:04"), 7384s);
  EXPECT_EQ(parse_time_used("1-02:03:04"), 93784s);
  EXPECT_EQ(parse_time_used("N/A"), std::nullopt);
  EXPECT_EQ(parse_time_used("7"), std::nullopt);
}

TEST(SlurmText, ParsesEveryRecordedRow) {
  const std::vector<JobRow> rows = parse_squeue(read("squeue-22.05.txt"));
  EXPECT_EQ(rows.size(), 13u);  // the comment lines are skipped
  const JobRow r = row("266");
  EXPECT_EQ(r.state, "FAILED");
  EXPECT_EQ(r.nodes, "n1");
  EXPECT_EQ(r.wait_status, 3 << 8);
  EXPECT_EQ(row("283").used, 93784s);
  EXPECT_EQ(row("283").restarts, 1);
  EXPECT_EQ(row("271").nodes, "");
}

TEST(SlurmText, StatesFallIntoWaitingRunningAndEnded) {
  EXPECT_EQ(phase_of("PENDING"), Phase::kWaiting);
  EXPECT_EQ(phase_of("REQUEUED"), Phase::kWaiting);
  EXPECT_EQ(phase_of("SUSPENDED"), Phase::kWaiting);
  EXPECT_EQ(phase_of("RUNNING"), Phase::kRunning);
  EXPECT_EQ(phase_of("COMPLETING"), Phase::kRunning);
  for (const char* s : {"COMPLETED", "FAILED", "CANCELLED", "CANCELLED by 0", "TIMEOUT",
                        "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE"}) {
    EXPECT_EQ(phase_of(s), Phase::kEnded) << s;
  }
  EXPECT_TRUE(never_starts(row("272").reason));
  EXPECT_FALSE(never_starts(row("271").reason));  // Resources: it waits its turn
  EXPECT_FALSE(never_starts(row("282").reason));  // BeginTime after a requeue
}

TEST(SlurmOutcome, EachRecordedEndBecomesItsOutcome) {
  const AttemptSpec sp = spec();
  AttemptResult ok = result_of(row("265"), Intent::kNone, sp, "");
  EXPECT_EQ(ok.end, End::kSucceeded);
  EXPECT_EQ(ok.nodes, "n1");

  AttemptResult exit3 = result_of(row("266"), Intent::kNone, sp, "");
  EXPECT_EQ(exit3.end, End::kFailed);
  EXPECT_EQ(exit3.exit_code, 3);
  EXPECT_EQ(exit3.reason, "");
  EXPECT_THAT(exit3.message, HasSubstr("exit status 3 on n1"));

  AttemptResult segv = result_of(row("267"), Intent::kNone, sp, "");
  EXPECT_EQ(segv.end, End::kFailed);
  EXPECT_EQ(segv.signal, SIGSEGV);
  EXPECT_THAT(segv.message, HasSubstr("SIGSEGV"));

  JobRow realtime = row("267");  // killed by a real-time signal: named as a local kill is
  realtime.wait_status = SIGRTMIN + 2;
  EXPECT_THAT(result_of(realtime, Intent::kNone, sp, "").message,
              HasSubstr("killed by signal SIGRTMIN+2"));

  AttemptResult oom = result_of(row("264"), Intent::kNone, sp, read("oom-stderr.txt"));
  EXPECT_EQ(oom.end, End::kFailed);
  EXPECT_EQ(oom.reason, "OUT_OF_MEMORY");
  EXPECT_THAT(oom.message, HasSubstr("3.2 GB (needs.memory)"));
  // The same SIGKILL without slurmstepd's words is a plain kill.
  EXPECT_EQ(result_of(row("264"), Intent::kNone, sp, "").reason, "FAILED");

  EXPECT_EQ(result_of(row("280"), Intent::kNone, sp, "").end, End::kTimedOut);
  AttemptResult node = result_of(row("281"), Intent::kNone, sp, "");
  EXPECT_EQ(node.reason, "NODE_FAIL");
  EXPECT_THAT(node.message, HasSubstr("n4"));
  EXPECT_THAT(result_of(row("283"), Intent::kNone, sp, "").message,
              HasSubstr("requeued by Slurm 1 time"));
}

TEST(SlurmOutcome, ACancelReadsAsWhoeverAskedForIt) {
  const AttemptSpec sp = spec();
  const JobRow cancelled = row("268");
  EXPECT_EQ(result_of(cancelled, Intent::kStop, sp, "").end, End::kCancelled);
  AttemptResult timeout = result_of(cancelled, Intent::kTimeout, sp, "");
  EXPECT_EQ(timeout.end, End::kTimedOut);
  EXPECT_THAT(timeout.message, HasSubstr("timed out after 90s"));
  AttemptResult someone = result_of(cancelled, Intent::kNone, sp, "");
  EXPECT_EQ(someone.end, End::kFailed);
  EXPECT_EQ(someone.reason, "CANCELLED");
  JobRow refused = cancelled;
  refused.reason = "PartitionConfig";
  AttemptResult never = result_of(refused, Intent::kRefuse, sp, "");
  EXPECT_EQ(never.end, End::kFailedToStart);
  EXPECT_THAT(never.message, HasSubstr("PartitionConfig"));
}

TEST(SlurmOutcome, AnExitStatusFileTellsTheEndOfAForgottenJob) {
  EXPECT_EQ(result_of_exit_file("0\n", "7")->end, End::kSucceeded);
  EXPECT_EQ(result_of_exit_file("3\n", "7")->exit_code, 3);
  EXPECT_EQ(result_of_exit_file("139\n", "7")->signal, SIGSEGV);
  EXPECT_EQ(result_of_exit_file("", "7"), std::nullopt);
  const auto timed = result_of_exit_file("0 1796408481.250000000 1796408483.000000001\n", "7");
  ASSERT_TRUE(timed.has_value());
  EXPECT_NEAR(std::chrono::duration<double>(timed->wall).count(), 1.75, 1e-6)
      << "the script's own times, not Slurm's whole seconds";
  for (const char* odd : {"3 12\n", "3 1796408481.N 1796408483.N\n", "3 9 8\n"}) {
    const auto r = result_of_exit_file(odd, "7");
    ASSERT_TRUE(r.has_value()) << odd;
    EXPECT_EQ(r->exit_code, 3) << "times that do not parse leave the status: " << odd;
    EXPECT_EQ(r->wall, taskloom::Duration::zero()) << odd;
  }
  EXPECT_EQ(result_of_exit_file("garbage", "7"), std::nullopt);
}

}  // namespace
}  // namespace taskloom::backends::slurm_text
