// Leases keep a run to one runner process: refused while a live process holds it, taken over
// when the holder is dead (killed -9) or stale, and lost leases are noticed at renewal.
#include "taskloom/store/lease.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "taskloom/core/error.hpp"
#include "taskloom/store/run_store.hpp"

#include "store/store_test_support.hpp"

namespace taskloom::store {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

/// A real other process that just sleeps until killed.
class SleepingChild {
 public:
  SleepingChild() {
    pid_ = fork();
    if (pid_ == 0) {
      for (;;) pause();
    }
    if (pid_ < 0) throw std::runtime_error("fork failed");
  }
  SleepingChild(const SleepingChild&) = delete;
  SleepingChild& operator=(const SleepingChild&) = delete;
  ~SleepingChild() { kill_and_reap(); }
  pid_t pid() const { return pid_; }
  /// kill -9 without waiting for it: the child stays a zombie until reaped.
  void kill_only() {
    kill(pid_, SIGKILL);
    siginfo_t info{};
    waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT);  // dead, not reaped
  }
  void kill_and_reap() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
};

struct LeaseFixture : ::testing::Test {
  TempDir dir;
  std::chrono::milliseconds clock{1'700'000'000'000};
  RunStore store = RunStore::open(dir / "t.db", {.wall_clock = [this] { return WallTime{clock}; }});
  RunId run = store.create_run(NewRun{"w", "/w.yaml", "f", {{"a", ""}}});
  LeaseHolder me = LeaseHolder::this_process();
};

std::string busy_message(RunStore& store, RunId run, const LeaseHolder& holder) {
  try {
    store.acquire_lease(run, holder);
  } catch (const BusyError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBusy);
    return e.what();
  }
  return "";
}

TEST_F(LeaseFixture, RefusedWhileALiveProcessHoldsItThenTakenOverWhenItIsKilled) {
  SleepingChild child;
  Lease theirs = store.acquire_lease(run, {me.host, child.pid()}, 30s);
  EXPECT_TRUE(store.lease_of(run)->live);
  EXPECT_EQ(store.find_run(run)->status, RunStatus::kRunning);

  clock += 10s;  // heartbeat 10 s old, ttl 30 s: still live
  EXPECT_EQ(busy_message(store, run, me),
            "run 1 is being run by pid " + std::to_string(child.pid()) + " on host " + me.host +
                " since 2023-11-14T22:13:20.000Z — wait for it, or `taskloom cancel 1`");

  child.kill_and_reap();  // kill -9: no release, but the pid is gone
  EXPECT_FALSE(store.lease_of(run)->live);
  EXPECT_EQ(store.find_run(run)->status, RunStatus::kInterrupted);
  Lease mine = store.acquire_lease(run, me, 30s);
  EXPECT_EQ(store.lease_of(run)->holder, me);
  EXPECT_EQ(store.find_run(run)->status, RunStatus::kRunning);
}

TEST_F(LeaseFixture, AKilledButUnreapedHolderIsDead) {
  // kill(pid, 0) succeeds on a zombie; the lease must still count the runner as gone.
  SleepingChild child;
  Lease theirs = store.acquire_lease(run, {me.host, child.pid()}, 30s);
  child.kill_only();
  ASSERT_EQ(kill(child.pid(), 0), 0) << "the child should be a zombie, not reaped";
  EXPECT_FALSE(store.lease_of(run)->live);
  Lease mine = store.acquire_lease(run, me, 30s);
  EXPECT_EQ(store.lease_of(run)->holder, me);
}

TEST_F(LeaseFixture, AStaleLeaseOfALiveProcessIsTakenOver) {
  SleepingChild child;
  Lease theirs = store.acquire_lease(run, {me.host, child.pid()}, 30s);
  clock += 30s;  // no heartbeat for a whole ttl
  EXPECT_FALSE(store.lease_of(run)->live);
  Lease mine = store.acquire_lease(run, me);
  EXPECT_EQ(store.lease_of(run)->holder, me);
  // The old holder notices at its next heartbeat.
  try {
    theirs.renew();
    FAIL() << "a lost lease was renewed";
  } catch (const BusyError& e) {
    EXPECT_NE(std::string(e.what()).find("lost its lease to pid " + std::to_string(me.pid)),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("(no heartbeat for longer than 30s)"), std::string::npos)
        << e.what();  // the ttl as a duration is written, not "30000 ms"
  }
  theirs.release();  // does not delete the new holder's lease
  EXPECT_EQ(store.lease_of(run)->holder, me);
}

TEST_F(LeaseFixture, ALeaseOnAnotherHostIsJudgedByItsHeartbeatOnly) {
  Lease theirs = store.acquire_lease(run, {"elsewhere.example", 1}, 20s);
  clock += 19s;
  EXPECT_NE(busy_message(store, run, me).find("on host elsewhere.example"), std::string::npos);
  theirs.renew();  // heartbeat moves: another 20 s
  clock += 19s;
  EXPECT_FALSE(busy_message(store, run, me).empty());
  clock += 1s;
  EXPECT_NO_THROW(store.acquire_lease(run, me));
}

TEST_F(LeaseFixture, ReleaseFreesTheRunAndRenewMovesTheHeartbeat) {
  {
    Lease lease = store.acquire_lease(run, me, 10s);
    clock += 5s;
    lease.renew();
    EXPECT_EQ(store.lease_of(run)->heartbeat, WallTime{clock});
    EXPECT_EQ(store.lease_of(run)->acquired, WallTime{clock - 5s});
    Lease moved = std::move(lease);
    EXPECT_FALSE(lease.held());  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(moved.held());
    EXPECT_THROW(lease.renew(), InvalidStateError);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(store.lease_of(run).has_value());
  }  // destroyed: released
  EXPECT_FALSE(store.lease_of(run).has_value());
  SleepingChild child;
  EXPECT_NO_THROW(store.acquire_lease(run, {me.host, child.pid()}));
}

TEST_F(LeaseFixture, TheSameHolderMayAcquireAgain) {
  Lease first = store.acquire_lease(run, me);
  EXPECT_NO_THROW({ Lease second = store.acquire_lease(run, me); });
}

TEST_F(LeaseFixture, TwoStoresOnOneFileSeeEachOthersLeases) {
  SleepingChild child;
  auto other = RunStore::open(dir / "t.db");
  Lease theirs = other.acquire_lease(run, {me.host, child.pid()});
  EXPECT_FALSE(busy_message(store, run, me).empty());
}

}  // namespace
}  // namespace taskloom::store
