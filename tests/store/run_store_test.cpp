// Contract tests of RunStore against real SQLite files: schema and migrations, round trips of
// runs, tasks, attempts and events, resume, cancellation, threads, disk full, throughput.
#include "taskloom/store/run_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "taskloom/core/error.hpp"

#include "store/store_test_support.hpp"

namespace taskloom::store {
namespace {

using namespace std::chrono_literals;
using testing::RawDb;
using testing::TempDir;

NewRun sample_run(std::string path = "/w/shot.yaml") {
  return NewRun{"shot",
                std::move(path),
                "sha256:abc",
                {{"render-1", "render"}, {"render-2", "render"}, {"encode", ""}}};
}

std::vector<std::string> ids(const std::vector<TaskRecord>& tasks) {
  std::vector<std::string> out;
  for (const auto& t : tasks) out.push_back(t.id);
  return out;
}

TEST(RunStoreSchema, MigratesAnEmptyFileToTheCurrentVersion) {
  TempDir dir;
  const auto file = dir / "nested/deeper/taskloom.db";
  RunStore::open(file);
  ASSERT_TRUE(std::filesystem::exists(file));
  RawDb raw(file);
  EXPECT_EQ(raw.integer("PRAGMA user_version"), RunStore::kSchemaVersion);
  for (const char* table : {"runs", "tasks", "attempts", "events", "leases"}) {
    EXPECT_EQ(raw.integer(std::string("SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                                      "name='") +
                          table + "'"),
              1)
        << table;
  }
  EXPECT_EQ(raw.integer("SELECT count(*) FROM pragma_table_info('runs') WHERE "
                        "name='cancel_requested'"),
            1);
}

TEST(RunStoreSchema, UsesWalJournalAndForeignKeys) {
  TempDir dir;
  const auto file = dir / "t.db";
  RunStore::open(file);
  RawDb raw(file);
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");  // persistent in the file
}

TEST(RunStoreSchema, ReopeningKeepsDataAndVersion) {
  TempDir dir;
  const auto file = dir / "t.db";
  RunId id = 0;
  {
    auto store = RunStore::open(file);
    id = store.create_run(sample_run());
  }
  for (int i = 0; i < 3; ++i) {
    auto store = RunStore::open(file);
    ASSERT_TRUE(store.find_run(id).has_value());
    EXPECT_EQ(store.tasks(id).size(), 3u);
    EXPECT_EQ(store.list_runs().size(), 1u);
  }
  RawDb raw(file);
  EXPECT_EQ(raw.integer("PRAGMA user_version"), RunStore::kSchemaVersion);
}

TEST(RunStoreSchema, MigratesAVersionOneDatabase) {
  TempDir dir;
  const auto file = dir / "t.db";
  RunStore::open(file);
  {
    // Take the file back to version 1 by hand, as an older taskloom left it.
    RawDb raw(file);
    raw.exec(
        "DROP TABLE leases; ALTER TABLE runs DROP COLUMN cancel_requested; "
        "ALTER TABLE attempts DROP COLUMN backend; ALTER TABLE attempts DROP COLUMN job_id; "
        "ALTER TABLE attempts DROP COLUMN nodes; ALTER TABLE runs DROP COLUMN targets; "
        "PRAGMA user_version = 1;");
  }
  auto store = RunStore::open(file);
  const RunId id = store.create_run(sample_run());
  store.request_cancel(id);
  EXPECT_TRUE(store.cancel_requested(id));
  // The attempts of version 1 read back as local ones; new ones say where they ran.
  store.begin_attempt(id, "encode", 1, {.backend = "slurm", .job_id = "41", .nodes = "n2"});
  const auto attempts = store.attempts(id, "encode");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].start.backend, "slurm");
  EXPECT_EQ(attempts[0].start.job_id, "41");
  EXPECT_EQ(attempts[0].start.nodes, "n2");
  RawDb raw(file);
  EXPECT_EQ(raw.integer("PRAGMA user_version"), RunStore::kSchemaVersion);
}

TEST(RunStoreSchema, RefusesANewerSchemaWithTheExactMessage) {
  TempDir dir;
  const auto file = dir / "t.db";
  RunStore::open(file);
  {
    RawDb raw(file);
    raw.exec("PRAGMA user_version = 9");
  }
  try {
    RunStore::open(file);
    FAIL() << "a newer schema was accepted";
  } catch (const StorageError& e) {
    EXPECT_EQ(std::string(e.what()),
              file.string() + ": schema version 9 is newer than this taskloom (knows up to " +
                  std::to_string(RunStore::kSchemaVersion) +
                  ") — upgrade "
                  "taskloom or use another --db");
    EXPECT_EQ(e.code(), ErrorCode::kStorage);
  }
  RawDb raw(file);
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 9);  // left alone
}

TEST(RunStoreSchema, AFileThatIsNotADatabaseIsAStorageErrorNamingIt) {
  TempDir dir;
  const auto file = dir / "t.db";
  std::ofstream(file) << "this is not a database, it is a shopping list: eggs, milk, bread and "
                         "more words to fill the header page\n";
  try {
    RunStore::open(file);
    FAIL() << "garbage was accepted";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

TEST(RunStoreRuns, RoundTripRunsNewestFirst) {
  TempDir dir;
  std::chrono::milliseconds clock{1'700'000'000'000};
  auto store = RunStore::open(dir / "t.db", {.wall_clock = [&] { return WallTime{clock}; }});
  const RunId a = store.create_run(sample_run("/w/a.yaml"));
  clock += 1s;
  const RunId b = store.create_run(sample_run("/w/b.yaml"));
  const RunId c = store.create_run(sample_run("/w/a.yaml"));
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);

  const auto runs = store.list_runs();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].id, c);
  EXPECT_EQ(runs[2].id, a);
  EXPECT_EQ(store.list_runs(2).size(), 2u);
  EXPECT_EQ(store.latest_run_for("/w/a.yaml")->id, c);
  EXPECT_EQ(store.latest_run_for("/w/b.yaml")->id, b);
  EXPECT_FALSE(store.latest_run_for("/w/none.yaml").has_value());
  EXPECT_FALSE(store.find_run(99).has_value());

  const RunRecord r = *store.find_run(b);
  EXPECT_EQ(r.workflow_name, "shot");
  EXPECT_EQ(r.workflow_path, "/w/b.yaml");
  EXPECT_EQ(r.fingerprint, "sha256:abc");
  EXPECT_EQ(r.created, WallTime{1'700'000'001'000ms});
  EXPECT_FALSE(r.started.has_value());
  EXPECT_FALSE(r.ended.has_value());
  EXPECT_FALSE(r.cancel_requested);
  // Recorded as running, but no live lease: nobody drives it.
  EXPECT_EQ(r.status, RunStatus::kInterrupted);

  auto lease = store.acquire_lease(b);
  store.set_run_status(b, RunStatus::kRunning);
  clock += 5s;
  store.set_run_status(b, RunStatus::kRunning);  // start time is kept
  EXPECT_EQ(store.find_run(b)->status, RunStatus::kRunning);
  EXPECT_EQ(store.find_run(b)->started, WallTime{1'700'000'001'000ms});
  clock += 5s;
  store.set_run_status(b, RunStatus::kFailed, "1 task failed");
  const RunRecord done = *store.find_run(b);
  EXPECT_EQ(done.status, RunStatus::kFailed);
  EXPECT_EQ(done.message, "1 task failed");
  EXPECT_EQ(done.ended, WallTime{1'700'000'011'000ms});
  EXPECT_EQ(format_time(*done.ended), "2023-11-14T22:13:31.000Z");
}

TEST(RunStoreRuns, DuplicateTaskIdsAreRefusedAndNothingIsRecorded) {
  TempDir dir;
  auto store = RunStore::open(dir / "t.db");
  NewRun run = sample_run();
  run.tasks.push_back({"encode", ""});
  EXPECT_THROW(store.create_run(run), DuplicateIdError);
  EXPECT_TRUE(store.list_runs().empty());
}

TEST(RunStoreTasks, TransitionsRoundTripWithEvents) {
  TempDir dir;
  auto store = RunStore::open(dir / "t.db");
  const RunId run = store.create_run(sample_run());
  EXPECT_EQ(ids(store.tasks(run)), (std::vector<std::string>{"render-1", "render-2", "encode"}));
  EXPECT_EQ(store.tasks(run)[0].group, "render");
  for (const auto& t : store.tasks(run)) EXPECT_EQ(t.status, TaskStatus::kPending);

  store.set_task_status(run, "render-1", TaskStatus::kReady, "deps done");
  store.begin_attempt(
      run, "render-1", 1,
      {.pid = 4242, .pgid = 4242, .stdout_path = "l/r1.1.out", .stderr_path = "l/r1.1.err"});
  store.finish_attempt(run, "render-1", 1,
                       {.status = AttemptStatus::kFailed,
                        .exit_code = 3,
                        .wall = 1500ms,
                        .user = 1200ms,
                        .sys = 100ms,
                        .peak_rss_kb = 2048,
                        .message = "exit code 3"},
                       TaskStatus::kReady);
  store.begin_attempt(run, "render-1", 2, {.pid = 4243, .pgid = 4243});
  store.finish_attempt(run, "render-1", 2, {.status = AttemptStatus::kSucceeded, .exit_code = 0},
                       TaskStatus::kSucceeded);
  store.skip_task(run, "encode", "render-2");

  const TaskRecord r1 = *store.find_task(run, "render-1");
  EXPECT_EQ(r1.status, TaskStatus::kSucceeded);
  EXPECT_EQ(r1.attempts, 2);
  const TaskRecord enc = *store.find_task(run, "encode");
  EXPECT_EQ(enc.status, TaskStatus::kSkipped);
  EXPECT_EQ(enc.skipped_because, "render-2");
  EXPECT_FALSE(store.find_task(run, "nope").has_value());

  const auto attempts = store.attempts(run, "render-1");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, AttemptStatus::kFailed);
  EXPECT_EQ(attempts[0].start.pid, 4242);
  EXPECT_EQ(attempts[0].start.stdout_path, "l/r1.1.out");
  EXPECT_EQ(attempts[0].start.stderr_path, "l/r1.1.err");
  EXPECT_EQ(attempts[0].outcome.exit_code, 3);
  EXPECT_FALSE(attempts[0].outcome.signal.has_value());
  EXPECT_EQ(attempts[0].outcome.wall, 1500ms);
  EXPECT_EQ(attempts[0].outcome.user, 1200ms);
  EXPECT_EQ(attempts[0].outcome.sys, 100ms);
  EXPECT_EQ(attempts[0].outcome.peak_rss_kb, 2048);
  EXPECT_EQ(attempts[0].outcome.message, "exit code 3");
  EXPECT_TRUE(attempts[0].ended.has_value());
  EXPECT_EQ(attempts[1].status, AttemptStatus::kSucceeded);
  EXPECT_EQ(store.attempts(run).size(), 2u);

  const auto events = store.events(run);
  std::vector<std::string> seen;
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, static_cast<std::int64_t>(i + 1));
    seen.push_back(events[i].task + ":" + events[i].from + ">" + events[i].to);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{":>running", "render-1:pending>ready",
                                            "render-1:ready>running", "render-1:running>ready",
                                            "render-1:ready>running", "render-1:running>succeeded",
                                            "encode:pending>skipped"}));
  EXPECT_EQ(events[1].detail, "deps done");
  EXPECT_EQ(events[2].detail, "attempt 1, pid 4242");
  EXPECT_EQ(events[3].detail, "attempt 1 failed, exit 3");
  EXPECT_EQ(store.events(run, 5).size(), 2u);
}

TEST(RunStoreTasks, MisuseIsReportedAndChangesNothing) {
  TempDir dir;
  auto store = RunStore::open(dir / "t.db");
  const RunId run = store.create_run(sample_run());
  EXPECT_THROW(store.set_task_status(run, "nope", TaskStatus::kReady), InvalidArgumentError);
  EXPECT_THROW(store.set_task_status(77, "encode", TaskStatus::kReady), InvalidArgumentError);
  EXPECT_THROW(store.finish_attempt(run, "encode", 1, {}, TaskStatus::kSucceeded),
               InvalidStateError);
  store.begin_attempt(run, "encode", 1, {});
  EXPECT_THROW(store.begin_attempt(run, "encode", 1, {}), InvalidStateError);
  EXPECT_THROW(store.begin_attempt(run, "encode", 0, {}), InvalidArgumentError);
  EXPECT_THROW(store.finish_attempt(run, "encode", 1, {.status = AttemptStatus::kRunning},
                                    TaskStatus::kSucceeded),
               InvalidArgumentError);
  store.finish_attempt(run, "encode", 1, {}, TaskStatus::kSucceeded);
  EXPECT_THROW(store.finish_attempt(run, "encode", 1, {}, TaskStatus::kSucceeded),
               InvalidStateError);
  EXPECT_THROW(store.request_cancel(77), InvalidArgumentError);
  EXPECT_EQ(store.events(run).size(), 3u);  // created, encode running, encode succeeded
}

// Resume on the backend that ran an open attempt keeps it open for the runner to follow again;
// attempts of another backend are interrupted as usual.
TEST(RunStoreResume, AttemptsOfTheResumingBackendStayOpenToBeFollowedAgain) {
  TempDir dir;
  auto store = RunStore::open(dir / "t.db");
  const RunId run = store.create_run(NewRun{"w", "/w.yaml", "f", {{"job", ""}, {"proc", ""}}});
  store.begin_attempt(run, "job", 1, {.backend = "slurm", .job_id = "4711", .nodes = "n1"});
  store.begin_attempt(run, "proc", 1, {.pid = 99, .backend = "local"});

  const ResumePlan plan = store.prepare_resume(run, ResumeScope::kAllUnsucceeded, "slurm");
  EXPECT_EQ(plan.reattached, (std::vector<std::string>{"job"}));
  EXPECT_EQ(plan.interrupted, (std::vector<std::string>{"proc"}));
  EXPECT_FALSE(store.attempts(run, "job")[0].ended.has_value());
  EXPECT_EQ(store.attempts(run, "proc")[0].status, AttemptStatus::kInterrupted);

  store.resume_attempt(run, "job", 1);
  EXPECT_EQ(store.find_task(run, "job")->status, TaskStatus::kRunning);
  EXPECT_EQ(store.events(run).back().detail, "attempt 1 followed again (slurm job 4711)");
  EXPECT_THROW(store.resume_attempt(run, "job", 2), InvalidStateError);   // never begun
  EXPECT_THROW(store.resume_attempt(run, "proc", 1), InvalidStateError);  // ended

  // Requeued by Slurm after a node failure, it finished elsewhere: the attempt says where.
  store.finish_attempt(run, "job", 1, {.status = AttemptStatus::kSucceeded, .nodes = "n3"},
                       TaskStatus::kSucceeded);
  EXPECT_EQ(store.attempts(run, "job")[0].start.nodes, "n3");
  EXPECT_THROW(store.resume_attempt(run, "job", 1), InvalidStateError);
}

TEST(RunStoreResume, OpenAttemptsBecomeInterruptedAndSucceededTasksStay) {
  TempDir dir;
  const auto file = dir / "t.db";
  RunId run = 0;
  {
    auto store = RunStore::open(file);
    run = store.create_run(NewRun{
        "w",
        "/w.yaml",
        "f",
        {{"done", ""}, {"busy", ""}, {"queued", ""}, {"broke", ""}, {"later", ""}, {"skip", ""}}});
    store.begin_attempt(run, "done", 1, {.stdout_path = "done.out"});
    store.finish_attempt(run, "done", 1, {}, TaskStatus::kSucceeded);
    store.begin_attempt(run, "busy", 1, {.pid = 99, .stdout_path = "busy.1.out"});
    store.set_task_status(run, "queued", TaskStatus::kReady);
    store.begin_attempt(run, "broke", 1, {});
    store.finish_attempt(run, "broke", 1, {.status = AttemptStatus::kFailed, .exit_code = 1},
                         TaskStatus::kFailed);
    store.skip_task(run, "skip", "broke");
    store.request_cancel(run);
    // The process "dies" here: no finish, no run status.
  }
  auto store = RunStore::open(file);
  {
    RunStore moved = std::move(store);  // a store moves; the connection goes with it
    store = std::move(moved);
  }
  const ResumePlan plan = store.prepare_resume(run, ResumeScope::kInterruptedOnly);
  EXPECT_EQ(plan.succeeded, (std::vector<std::string>{"done"}));
  EXPECT_EQ(plan.interrupted, (std::vector<std::string>{"busy"}));
  EXPECT_EQ(plan.reset, (std::vector<std::string>{"busy", "queued"}));
  EXPECT_EQ(store.find_task(run, "broke")->status, TaskStatus::kFailed);
  EXPECT_EQ(store.find_task(run, "busy")->status, TaskStatus::kPending);
  EXPECT_EQ(store.find_task(run, "done")->status, TaskStatus::kSucceeded);

  const auto busy = store.attempts(run, "busy");
  ASSERT_EQ(busy.size(), 1u);
  EXPECT_EQ(busy[0].status, AttemptStatus::kInterrupted);
  EXPECT_TRUE(busy[0].ended.has_value());
  EXPECT_EQ(busy[0].start.stdout_path, "busy.1.out");  // the log path is kept
  EXPECT_FALSE(store.cancel_requested(run));

  // A second resume (the default scope) also resets final failures and skips.
  const ResumePlan again = store.prepare_resume(run);
  EXPECT_EQ(again.succeeded, (std::vector<std::string>{"done"}));
  EXPECT_TRUE(again.interrupted.empty());
  EXPECT_EQ(again.reset, (std::vector<std::string>{"broke", "skip"}));
  for (const auto& t : store.tasks(run)) {
    EXPECT_EQ(t.status, t.id == "done" ? TaskStatus::kSucceeded : TaskStatus::kPending) << t.id;
  }
  EXPECT_EQ(store.find_task(run, "skip")->skipped_because, "");
  EXPECT_EQ(store.attempts(run).size(), 3u);  // attempts are never deleted
  // The next attempt of the interrupted task can be recorded as number 2.
  store.begin_attempt(run, "busy", 2, {});
  EXPECT_EQ(store.find_task(run, "busy")->attempts, 2);
}

TEST(RunStoreCancel, ARequestFromAnotherConnectionIsSeen) {
  TempDir dir;
  const auto file = dir / "t.db";
  auto runner = RunStore::open(file);
  const RunId run = runner.create_run(sample_run());
  EXPECT_FALSE(runner.cancel_requested(run));
  {
    auto other = RunStore::open(file);  // e.g. `taskloom cancel` in another terminal
    other.request_cancel(run);
  }
  EXPECT_TRUE(runner.cancel_requested(run));
  EXPECT_TRUE(runner.find_run(run)->cancel_requested);
  EXPECT_EQ(runner.events(run).back().detail, "cancel requested");
}

TEST(RunStoreConcurrency, EightThreadsWritingLoseNothing) {
  TempDir dir;
  // The default durability: finish_attempt goes through the group commit.
  auto store = RunStore::open(dir / "t.db");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 60;
  NewRun spec{"w", "/w.yaml", "f", {}};
  for (int t = 0; t < kThreads; ++t) spec.tasks.push_back({"t" + std::to_string(t), ""});
  const RunId run = store.create_run(spec);

  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string task = "t" + std::to_string(t);
      try {
        for (int i = 1; i <= kPerThread; ++i) {
          store.begin_attempt(run, task, i, {.pid = i});
          store.finish_attempt(run, task, i, {.status = AttemptStatus::kFailed},
                               TaskStatus::kReady);
          (void)store.cancel_requested(run);
          (void)store.events(run, static_cast<std::int64_t>(i * kThreads));
        }
      } catch (...) {
        ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);

  const auto events = store.events(run);
  ASSERT_EQ(events.size(), 1u + 2u * kThreads * kPerThread);
  for (std::size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].seq, static_cast<std::int64_t>(i + 1));
  }
  EXPECT_EQ(store.attempts(run).size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (const auto& t : store.tasks(run)) EXPECT_EQ(t.attempts, kPerThread) << t.id;
}

TEST(RunStoreDiskFull, FullDiskIsAClearErrorAndEarlierRecordsSurvive) {
  TempDir dir;
  const auto file = dir / "t.db";
  RunId run = 0;
  {
    auto store = RunStore::open(file);
    run = store.create_run(NewRun{"w", "/w.yaml", "f", {{"a", ""}}});
  }
  long long pages = 0;
  {
    RawDb raw(file);
    pages = raw.integer("PRAGMA page_count");
  }
  int recorded = 0;
  std::string message;
  {
    auto store = RunStore::open(file, {.max_pages = pages + 4});
    const std::string big(3000, 'x');
    try {
      for (int i = 0; i < 1000; ++i) {
        store.set_task_status(run, "a", i % 2 == 0 ? TaskStatus::kReady : TaskStatus::kPending,
                              std::to_string(i) + big);
        ++recorded;
      }
    } catch (const StorageError& e) {
      message = e.what();
    }
    ASSERT_LT(recorded, 1000) << "the page cap never filled the database";
    EXPECT_GT(recorded, 0);
    // The store stays usable for reads after the failure.
    EXPECT_EQ(store.events(run).size(), static_cast<std::size_t>(recorded) + 1);
  }
  EXPECT_EQ(message, "disk full while recording task 'a' of run 1 as " +
                         std::string(recorded % 2 == 0 ? "ready" : "pending") + " in " +
                         file.string() + " — free space; nothing recorded so far was lost");

  auto store = RunStore::open(file);  // space again
  const auto events = store.events(run);
  ASSERT_EQ(events.size(), static_cast<std::size_t>(recorded) + 1);
  for (int i = 0; i < recorded; ++i) {
    EXPECT_EQ(events[static_cast<std::size_t>(i) + 1].detail.substr(0, std::to_string(i).size()),
              std::to_string(i));
  }
  store.set_task_status(run, "a", TaskStatus::kRunning);
  RawDb raw(file);
  EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok");
}

TEST(RunStoreTasks, ManyTransitionsInOneCallAreEachRecordedWithTheirEventInOrder) {
  TempDir dir;
  auto store = RunStore::open(dir / "many.db");
  const RunId run = store.create_run({"w", "/w.yaml", "f", {{"a", ""}, {"b", ""}, {"c", ""}}});
  const std::vector<std::string> ready{"c", "a"};
  store.set_task_statuses(run, ready, TaskStatus::kReady);
  EXPECT_EQ(store.find_task(run, "a")->status, TaskStatus::kReady);
  EXPECT_EQ(store.find_task(run, "b")->status, TaskStatus::kPending);
  EXPECT_EQ(store.find_task(run, "c")->status, TaskStatus::kReady);
  std::vector<std::string> order;
  for (const EventRecord& e : store.events(run)) {
    if (!e.task.empty() && e.to == "ready") order.push_back(e.task + ":" + e.from);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"c:pending", "a:pending"}));
  const std::vector<std::string> unknown{"a", "zz"};
  EXPECT_THROW(store.set_task_statuses(run, unknown, TaskStatus::kRunning), InvalidArgumentError);
  EXPECT_EQ(store.find_task(run, "a")->status, TaskStatus::kReady) << "all or nothing";
}

// kBackground: an outcome is committed (another connection sees it) when the call returns, and
// on disk once flush() returns; outcomes from several threads at once all arrive.
TEST(RunStoreDurability, BackgroundOutcomesAreCommittedAtOnceAndFlushedOnRequest) {
  TempDir dir;
  const auto file = dir / "bg.db";
  auto store = RunStore::open(file, {.durability = Durability::kBackground});
  NewRun spec{"w", "/w.yaml", "f", {}};
  constexpr int kThreads = 4;
  constexpr int kAttempts = 50;
  for (int t = 0; t < kThreads; ++t) spec.tasks.push_back({"t" + std::to_string(t), ""});
  spec.tasks.push_back({"after", ""});
  const RunId run = store.create_run(spec);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      const std::string task = "t" + std::to_string(t);
      for (int n = 1; n <= kAttempts; ++n) {
        store.begin_attempt(run, task, n, {.pid = 1, .stdout_path = "out"});
        store.finish_attempt(run, task, n,
                             {.status = AttemptStatus::kFailed, .message = std::to_string(n)},
                             n == kAttempts ? TaskStatus::kFailed : TaskStatus::kReady);
      }
    });
  }
  for (auto& th : pool) th.join();
  store.skip_task(run, "after", "t1");
  RawDb raw(file);  // another connection, as `taskloom status` has
  EXPECT_EQ(raw.integer("SELECT count(*) FROM attempts WHERE status = 'failed'"),
            kThreads * kAttempts);
  store.flush();
  auto again = RunStore::open(file, {.durability = Durability::kBackground});
  EXPECT_EQ(again.find_task(run, "t1")->status, TaskStatus::kFailed);
  EXPECT_EQ(again.find_task(run, "after")->status, TaskStatus::kSkipped);
}

// Prints transitions per second for each durability level, for plain transitions and for the
// cycle a task goes through (ready, attempt begun, attempt finished). Timings are printed, not
// asserted: the machine is shared. Every write is still checked to be there.
TEST(RunStoreThroughput, PrintsTransitionsPerSecond) {
  TempDir dir;
  struct Level {
    Durability durability;
    const char* name;
  };
  for (Level level :
       {Level{Durability::kFull, "full"}, Level{Durability::kOutcomes, "outcomes"},
        Level{Durability::kBackground, "backgrnd"}, Level{Durability::kNormal, "normal"}}) {
    for (int threads : {1, 8}) {
      for (bool cycle : {false, true}) {
        const auto file =
            dir / (std::string(level.name) + std::to_string(threads) + (cycle ? "c" : "t") + ".db");
        auto store = RunStore::open(file, {.durability = level.durability});
        NewRun spec{"w", "/w.yaml", "f", {}};
        for (int t = 0; t < threads; ++t) spec.tasks.push_back({"t" + std::to_string(t), ""});
        const RunId run = store.create_run(spec);
        const int total = level.durability == Durability::kFull ? 600 : 6000;
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
          pool.emplace_back([&, t] {
            const std::string task = "t" + std::to_string(t);
            const int steps = total / threads;
            for (int i = 0; i < steps; ++i) {
              if (!cycle) {
                store.set_task_status(run, task, i % 2 ? TaskStatus::kRunning : TaskStatus::kReady);
              } else if (i % 3 == 0) {
                store.set_task_status(run, task, TaskStatus::kReady);
              } else if (i % 3 == 1) {
                store.begin_attempt(run, task, i / 3 + 1, {.pid = 1, .stdout_path = "out"});
              } else {
                store.finish_attempt(run, task, i / 3 + 1, {}, TaskStatus::kReady);
              }
            }
          });
        }
        for (auto& th : pool) th.join();
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const int done = total / threads * threads;
        std::printf("[ store    ] durability=%-8s %d thread(s), %-22s %7.0f transitions/s\n",
                    level.name, threads,
                    cycle ? "ready/begin/finish:" : "plain transitions:", done / seconds);
        EXPECT_EQ(store.events(run).size(), static_cast<std::size_t>(done) + 1);
      }
    }
  }
}

}  // namespace
}  // namespace taskloom::store
