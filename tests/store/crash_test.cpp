// Crash durability: a writer process is killed with SIGKILL at random moments while recording
// transitions; every reopen must find an intact database whose events are a gap-free prefix of
// what the writer did, containing at least everything the store had acknowledged.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/store/run_store.hpp"

#include "store/store_test_support.hpp"

extern char** environ;

namespace taskloom::store {
namespace {

using namespace std::chrono_literals;
using testing::RawDb;
using testing::TempDir;

constexpr int kTasks = 3;

/// The writer child with its stdout on a pipe.
class Writer {
 public:
  /// `background`: the writer records with Durability::kBackground.
  Writer(const std::filesystem::path& db, RunId run, bool background = false) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::string exe = TASKLOOM_STORE_CRASH_WRITER;
    std::string file = db.string();
    std::string run_text = std::to_string(run);
    std::string tasks = std::to_string(kTasks);
    std::string mode = "background";
    char* argv[] = {
        exe.data(), file.data(), run_text.data(), tasks.data(), background ? mode.data() : nullptr,
        nullptr};
    const int rc = posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
    if (rc != 0) throw std::runtime_error("posix_spawn " + exe);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() {
    kill_now();
    if (out_ >= 0) close(out_);
  }

  /// SIGKILL, reap; returns the child's wait status.
  int kill_now() {
    int status = 0;
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    return status;
  }

  /// The last iteration the child reported as returned (0 if none).
  long last_acknowledged() {
    std::string all;
    char buf[4096];
    ssize_t n = 0;
    while ((n = read(out_, buf, sizeof buf)) > 0) all.append(buf, static_cast<std::size_t>(n));
    const auto end = all.rfind('\n');
    if (end == std::string::npos) return 0;
    const auto begin = all.rfind('\n', end - 1);
    return std::stol(all.substr(begin == std::string::npos ? 0 : begin + 1, end));
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

NewRun crash_run() {
  NewRun run{"crash", "/w/crash.yaml", "f", {}};
  for (int t = 0; t < kTasks; ++t) run.tasks.push_back({"t" + std::to_string(t), ""});
  return run;
}

/// Checks run `run` against the writer's protocol; returns how many iterations it holds.
long check_run(RunStore& store, RunId run) {
  const auto events = store.events(run);
  EXPECT_FALSE(events.empty());
  auto attempts = store.attempts(run);  // by task, then number: put them in write order
  std::sort(attempts.begin(), attempts.end(), [](const AttemptRecord& a, const AttemptRecord& b) {
    return std::stol(a.start.stdout_path) < std::stol(b.start.stdout_path);
  });
  std::size_t next_attempt = 0;
  for (std::size_t e = 0; e < events.size(); ++e) {
    const EventRecord& ev = events[e];
    EXPECT_EQ(ev.seq, static_cast<std::int64_t>(e + 1)) << "gap in run " << run;
    if (e == 0) continue;  // "created"
    const long i = static_cast<long>(e);
    EXPECT_EQ(ev.task, "t" + std::to_string((i / 4) % kTasks)) << "event " << ev.seq;
    switch (i % 4) {
      case 0:
      case 3:
        EXPECT_EQ(ev.detail, std::to_string(i));
        break;
      case 1:
        // An event for a begun attempt exists exactly when the attempt row does.
        if (next_attempt < attempts.size()) {
          EXPECT_EQ(attempts[next_attempt].start.stdout_path, std::to_string(i));
        } else {
          ADD_FAILURE() << "event " << ev.seq << " has no attempt row";
        }
        break;
      case 2:
        if (next_attempt < attempts.size()) {
          EXPECT_EQ(attempts[next_attempt].outcome.message, std::to_string(i));
          EXPECT_EQ(attempts[next_attempt].status, AttemptStatus::kFailed);
        }
        ++next_attempt;
        break;
    }
  }
  const long iterations = static_cast<long>(events.size()) - 1;
  // Attempts: one per begun block; only the last can be open, and only if its finish is absent.
  const std::size_t begun = static_cast<std::size_t>((iterations + 3) / 4);
  EXPECT_EQ(attempts.size(), begun) << "run " << run;
  // Each task's status is the target of its last event: nothing half-written.
  for (const TaskRecord& t : store.tasks(run)) {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->task == t.id) {
        EXPECT_EQ(to_string(t.status), it->to) << "task " << t.id << " of run " << run;
        break;
      }
    }
  }
  return iterations;
}

TEST(StoreCrash, KilledAtRandomMomentsLosesNothingAcknowledgedAndWritesNothingHalfway) {
  TempDir dir;
  const auto file = dir / ".taskloom/taskloom.db";
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(5, 250);
  constexpr int kKills = 20;
  std::vector<long> acknowledged;
  for (int k = 0; k < kKills; ++k) {
    RunId run = 0;
    {
      auto store = RunStore::open(file);
      run = store.create_run(crash_run());
    }
    const bool background = k % 2 == 1;  // what `taskloom run` uses: the same promise
    Writer writer(file, run, background);
    const int delay = delay_ms(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    const int status = writer.kill_now();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer ended by itself (status " << status << ")";
    const long acked = writer.last_acknowledged();
    acknowledged.push_back(acked);

    auto store = RunStore::open(file);
    const long found = check_run(store, run);
    EXPECT_GE(found, acked) << "an acknowledged transition was lost (kill " << k << ")";
    EXPECT_LE(found, acked + 1) << "kill " << k;
    // Resume: the open attempt, if any, becomes interrupted; nothing stays open.
    store.prepare_resume(run);
    for (const auto& a : store.attempts(run)) EXPECT_NE(a.status, AttemptStatus::kRunning);
    std::printf("[ crash    ] kill %2d after %3d ms (%s): %ld acknowledged, %ld recorded\n", k,
                delay, background ? "background" : "outcomes", acked, found);
  }
  RawDb raw(file);
  EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.scalar("PRAGMA foreign_key_check"), "");
  EXPECT_EQ(raw.integer("SELECT count(*) FROM runs"), kKills);
  long total = 0;
  for (long a : acknowledged) total += a;
  EXPECT_GT(total, 0) << "the writer never got to write: the test tested nothing";
}

TEST(StoreCrash, KilledDuringItsFirstOpenLeavesAUsableDatabase) {
  for (int delay_us : {0, 500, 1000, 2000, 4000, 8000}) {
    TempDir dir;
    const auto file = dir / "fresh.db";
    Writer writer(file, 1);  // run 1 does not exist: the child fails at once if not killed
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    writer.kill_now();
    auto store = RunStore::open(file);
    const RunId run = store.create_run(crash_run());
    store.set_task_status(run, "t0", TaskStatus::kReady);
    RawDb raw(file);
    EXPECT_EQ(raw.integer("PRAGMA user_version"), RunStore::kSchemaVersion);
    EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok");
  }
}

TEST(StoreCrash, ReadersAndCancelFromAnotherProcessWorkWhileTheRunnerWrites) {
  TempDir dir;
  const auto file = dir / "t.db";
  RunId run = 0;
  {
    auto store = RunStore::open(file);
    run = store.create_run(crash_run());
  }
  Writer writer(file, run);
  auto reader = RunStore::open(file);  // like `taskloom status` and `taskloom cancel`
  std::int64_t seen = 0;
  const auto until = std::chrono::steady_clock::now() + 400ms;
  int polls = 0;
  while (std::chrono::steady_clock::now() < until) {
    const auto events = reader.events(run, seen);
    for (const auto& e : events) {
      ASSERT_EQ(e.seq, seen + 1);
      seen = e.seq;
    }
    (void)reader.tasks(run);
    ++polls;
  }
  reader.request_cancel(run);
  EXPECT_TRUE(reader.cancel_requested(run));
  writer.kill_now();
  EXPECT_GT(seen, 1) << "the reader saw none of the writer's events";
  EXPECT_GT(polls, 1);
  const auto events = reader.events(run);
  EXPECT_GE(static_cast<std::int64_t>(events.size()), seen);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, static_cast<std::int64_t>(i + 1));
  }
  EXPECT_EQ(std::count_if(events.begin(), events.end(),
                          [](const EventRecord& e) { return e.detail == "cancel requested"; }),
            1);
}

}  // namespace
}  // namespace taskloom::store
