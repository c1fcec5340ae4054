// The Slurm backend on its own against a real Slurm: the one-host cluster of
// scripts/slurm-local.sh (4 fake nodes n1..n4 with 2 CPUs each, gpu:2 on n1 and n2, licence
// arnold:4). scripts/test-slurm.sh starts it, runs these (also under TSan: the backend's
// submitter and poller threads) and stops it; they fail without it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/backends/slurm.hpp"

#include "cli/cli_harness.hpp"
#include "slurm/slurm_fixture.hpp"

namespace taskloom::slurm_test {
namespace {

using namespace std::chrono_literals;
using cli_test::read_file;
using cli_test::TempDir;
using ::testing::HasSubstr;
using End = backends::AttemptResult::End;

/// Collects one attempt's callbacks.
struct Attempt {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<backends::Placement> placed;
  std::optional<backends::AttemptResult> result;
  int started_calls = 0;

  backends::AttemptCallbacks callbacks() {
    return {.started =
                [this](const backends::Placement& p) {
                  std::lock_guard lock(mu);
                  placed = p;
                  ++started_calls;
                  cv.notify_all();
                },
            .ended =
                [this](backends::AttemptResult r) {
                  std::lock_guard lock(mu);
                  result = std::move(r);
                  cv.notify_all();
                }};
  }
  /// Where the backend said the attempt runs, waiting up to `limit` for it to say so.
  std::optional<backends::Placement> wait_placed(std::chrono::seconds limit = 10s) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, limit, [&] { return placed.has_value(); });
    return placed;
  }
  backends::AttemptResult wait(std::chrono::seconds limit = 60s) {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, limit, [&] { return result.has_value(); }))
        << "no end reported within " << limit.count() << "s";
    return result.value_or(backends::AttemptResult{});
  }
};

backends::AttemptSpec spec_in(const TempDir& dir, std::string task, std::string command) {
  backends::AttemptSpec s;
  s.task = task;
  s.command = std::move(command);
  s.cwd = dir.path();
  s.stdout_path = dir.path() / "logs" / (task + ".1.out");
  s.stderr_path = dir.path() / "logs" / (task + ".1.err");
  return s;
}

TEST_F(SlurmTest, AnAttemptRunsAsAJobWithItsEnvironmentAndExitStatus) {
  TempDir dir;
  backends::SlurmBackend slurm;
  Attempt a;
  backends::AttemptSpec s =
      spec_in(dir, "frame-7", "echo \"frame $FRAME on $SLURMD_NODENAME\"; echo oops >&2; exit 3");
  s.env = {{"FRAME", "7"}};
  slurm.start(s, {}, a.callbacks());
  const backends::AttemptResult r = a.wait();
  EXPECT_EQ(r.end, End::kFailed) << r.message;
  EXPECT_EQ(r.exit_code, 3);
  ASSERT_TRUE(a.placed.has_value());
  EXPECT_EQ(a.started_calls, 1);
  EXPECT_EQ(a.placed->backend, "slurm");
  EXPECT_FALSE(a.placed->job_id.empty());
  EXPECT_THAT(r.nodes, ::testing::MatchesRegex("n[1-4]"));
  EXPECT_EQ(read_file(s.stdout_path), "frame 7 on " + r.nodes + "\n");
  EXPECT_EQ(read_file(s.stderr_path), "oops\n");
  EXPECT_EQ(slurm.running(), 0u);
}

// Past ids_per_call followed jobs a round is one `squeue --me`: every end is still seen.
TEST_F(SlurmTest, ManyJobsAreFollowedWithOneSqueueOfTheUsersJobs) {
  TempDir dir;
  backends::SlurmBackend slurm({.ids_per_call = 1});
  std::vector<std::unique_ptr<Attempt>> attempts;
  for (int i = 0; i < 3; ++i) {
    attempts.push_back(std::make_unique<Attempt>());
    slurm.start(spec_in(dir, "t" + std::to_string(i), "exit " + std::to_string(i)), {},
                attempts.back()->callbacks());
  }
  for (int i = 0; i < 3; ++i) {
    const backends::AttemptResult r = attempts[static_cast<std::size_t>(i)]->wait();
    EXPECT_EQ(r.exit_code, i) << r.message;
    EXPECT_EQ(r.end, i == 0 ? End::kSucceeded : End::kFailed) << r.message;
  }
  EXPECT_EQ(slurm.running(), 0u);
}

TEST_F(SlurmTest, AJobOverItsMemoryIsRecordedOutOfMemory) {
  TempDir dir;
  backends::SlurmBackend slurm;
  Attempt a;
  backends::AttemptSpec s = spec_in(
      dir, "hog", "python3 -c 'import time; a = bytearray(400 * 1024 * 1024); time.sleep(5)'");
  s.needs.set("memory", 100.0 * 1024 * 1024);
  slurm.start(s, {}, a.callbacks());
  const backends::AttemptResult r = a.wait();
  EXPECT_EQ(r.end, End::kFailed);
  EXPECT_EQ(r.reason, "OUT_OF_MEMORY") << r.message;
  EXPECT_THAT(r.message, HasSubstr("more than 105 MB (needs.memory)"));
}

TEST_F(SlurmTest, ATimeoutIsEnforcedFromTheJobsStartAndTheJobIsGone) {
  TempDir dir;
  backends::SlurmBackend slurm;
  Attempt a;
  backends::AttemptSpec s = spec_in(dir, "slow", "sleep 60");
  s.timeout = 2s;
  const auto t0 = std::chrono::steady_clock::now();
  slurm.start(s, {}, a.callbacks());
  const backends::AttemptResult r = a.wait();
  EXPECT_EQ(r.end, End::kTimedOut) << r.message;
  EXPECT_THAT(r.message, HasSubstr("timed out after 2s"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s) << "Slurm's own limit would take >60 s";
  EXPECT_EQ(shell("squeue -h -t PENDING,RUNNING -j " + a.placed->job_id + " 2>/dev/null"), "");
}

TEST_F(SlurmTest, AStopRequestCancelsTheJob) {
  TempDir dir;
  backends::SlurmBackend slurm;
  Attempt a;
  std::stop_source stop;
  slurm.start(spec_in(dir, "long", "sleep 60"), stop.get_token(), a.callbacks());
  ASSERT_TRUE(a.wait_placed().has_value());
  stop.request_stop();
  const backends::AttemptResult r = a.wait();
  EXPECT_EQ(r.end, End::kCancelled) << r.message;
  ASSERT_TRUE(a.placed.has_value());
  EXPECT_EQ(shell("squeue -h -t PENDING,RUNNING -j " + a.placed->job_id + " 2>/dev/null"), "");
}

TEST_F(SlurmTest, AJobSlurmCouldNeverStartIsRefusedWithTheFix) {
  TempDir dir;
  backends::SlurmBackend slurm;
  Attempt big, licence;
  backends::AttemptSpec s = spec_in(dir, "huge", "true");
  s.needs.set("cpu", 64);
  slurm.start(s, {}, big.callbacks());
  backends::AttemptSpec l = spec_in(dir, "lic", "true");
  l.needs.set("nosuchlicence", 1);
  slurm.start(l, {}, licence.callbacks());
  const backends::AttemptResult r = big.wait();
  EXPECT_EQ(r.end, End::kFailedToStart) << r.message;
  EXPECT_THAT(r.message, HasSubstr("could never start"));
  const backends::AttemptResult rl = licence.wait();
  EXPECT_EQ(rl.end, End::kFailedToStart) << rl.message;
  EXPECT_THAT(rl.message, HasSubstr("Slurm licence"));
}

TEST_F(SlurmTest, AJobIsFollowedAgainByANewBackendAndItsRealOutcomeReported) {
  TempDir dir;
  backends::AttemptSpec s = spec_in(dir, "orphan", "sleep 2; exit 4");
  std::string job;
  {
    backends::SlurmBackend first;
    Attempt a;
    std::stop_source never;
    first.start(s, never.get_token(), a.callbacks());
    const std::optional<backends::Placement> placed = a.wait_placed();
    ASSERT_TRUE(placed.has_value());
    job = placed->job_id;
    // A runner that dies does not cancel its jobs: follow it from another backend instead of
    // destroying this one (whose destructor would scancel it).
    backends::SlurmBackend second;
    Attempt b;
    ASSERT_TRUE(second.reattach(s, {.backend = "slurm", .job_id = job}, {}, b.callbacks()));
    const backends::AttemptResult r = b.wait();
    EXPECT_EQ(r.end, End::kFailed) << r.message;
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_EQ(b.started_calls, 0);
    a.wait();
  }
  // Long after the end, the job is followed again from the record (Slurm still lists it here;
  // the exit-status file answers once it does not).
  backends::SlurmBackend later;
  Attempt c;
  ASSERT_TRUE(later.reattach(s, {.backend = "slurm", .job_id = job}, {}, c.callbacks()));
  EXPECT_EQ(c.wait().exit_code, 4);
  Attempt gone;
  ASSERT_TRUE(later.reattach(s, {.backend = "slurm", .job_id = "99999999"}, {}, gone.callbacks()));
  // A job id Slurm never had, with this attempt's exit-status file: the file's outcome.
  EXPECT_EQ(gone.wait().exit_code, 4);
  std::filesystem::remove(s.stdout_path.string() + ".exit");
  Attempt vanished;
  ASSERT_TRUE(
      later.reattach(s, {.backend = "slurm", .job_id = "99999998"}, {}, vanished.callbacks()));
  const backends::AttemptResult v = vanished.wait();
  EXPECT_EQ(v.end, End::kFailed);
  EXPECT_EQ(v.reason, "VANISHED") << v.message;
}

}  // namespace
}  // namespace taskloom::slurm_test
