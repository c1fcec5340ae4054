// The runner keeps no state machine of its own: every transition the runtime reports must be
// in the store, in the order the runtime reported it. A second observer (RunnerOptions::
// observer) sees what the runtime says; the store's events are what the journal wrote.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <taskloom/backends/local.hpp>
#include <taskloom/runner/journal.hpp>
#include <taskloom/runner/workflow_run.hpp>
#include <taskloom/store/run_store.hpp>

namespace taskloom::runner {
namespace {

/// Per task, the statuses the runtime moved it to, as the store's events name them.
class Recorder final : public runtime::RunObserver {
 public:
  void on_ready(const runtime::TaskRef& t) override { add(t, "ready"); }
  void on_attempt_begin(const runtime::TaskRef& t, unsigned, unsigned) override {
    add(t, "running");
  }
  void on_attempt_end(const runtime::TaskRef& t, const runtime::AttemptEnd& e) override {
    add(t, e.retry ? "ready" : std::string(to_string(e.status)));
  }
  void on_task_end(const runtime::TaskRef& t, TaskStatus status, std::string_view) override {
    // Reported after the attempt's end; a status without an attempt is a new transition.
    std::lock_guard lock(mu_);
    auto& seq = seen_[std::string(t.id)];
    if (seq.empty() || seq.back() != to_string(status)) seq.emplace_back(to_string(status));
  }
  void on_run_end(bool) override { ended_ = true; }

  std::map<std::string, std::vector<std::string>> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  bool ended() const { return ended_; }

 private:
  void add(const runtime::TaskRef& t, std::string to) {
    std::lock_guard lock(mu_);
    seen_[std::string(t.id)].push_back(std::move(to));
  }
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> seen_;
  std::atomic<bool> ended_{false};
};

/// Every task's transitions in `seen` are its events in the store, in the same order (the store
/// also has each task's creation as pending; the runtime starts from there).
void expect_in_store(const store::RunStore& db, store::RunId id,
                     const std::map<std::string, std::vector<std::string>>& seen) {
  std::map<std::string, std::vector<std::string>> stored;
  for (const store::EventRecord& e : db.events(id)) {
    if (!e.task.empty()) stored[e.task].push_back(e.to);
  }
  for (const auto& [task, transitions] : seen) {
    std::vector<std::string> in_store = stored[task];
    std::erase(in_store, "pending");
    EXPECT_EQ(in_store, transitions) << "task " << task;
  }
}

class RunnerTransitions : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("taskloom-runner-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }

  /// What both runs use: logs here, `recorder` told every transition, a short kill grace.
  RunnerOptions options_with(std::shared_ptr<Recorder> recorder) const {
    RunnerOptions options;
    options.log_dir = dir_ / "logs";
    options.observer = std::move(recorder);
    options.kill_grace = std::chrono::milliseconds(100);
    return options;
  }

  std::filesystem::path dir_;
};

TEST_F(RunnerTransitions, EveryTransitionTheRuntimeReportsIsInTheStoreInOrder) {
  // Succeeds; fails once then succeeds (a retry); fails for good; skipped behind it; times out
  // twice (a retry); runs after two that succeeded, while the failed branch is skipped.
  const auto wf_file = write("wf.yaml", R"(name: transitions
tasks:
  - id: ok
    run: "true"
  - id: flaky
    run: test -e flaky.done || { touch flaky.done; exit 1; }
    retries: 1
  - id: bad
    run: exit 3
  - id: behind-bad
    run: "true"
    after: bad
  - id: slow
    run: sleep 10
    timeout: 200ms
    retries: 1
  - id: last
    run: "true"
    after: [ok, flaky]
)");
  const workflow::Workflow wf = workflow::load_workflow(wf_file);
  store::RunStore db = store::RunStore::open(dir_ / "db" / "taskloom.db");
  const store::RunId id = db.create_run(new_run_of(wf));
  store::Lease lease = db.acquire_lease(id);
  auto journal = store_journal(db, lease);
  backends::LocalBackend local;
  auto recorder = std::make_shared<Recorder>();
  RunnerOptions options = options_with(recorder);
  options.backoff = {.initial = std::chrono::milliseconds(10), .multiplier = 1, .jitter = 0};
  const RunOutcome outcome = run_workflow(wf, *journal, local, options);
  EXPECT_EQ(outcome.status, store::RunStatus::kFailed);
  EXPECT_TRUE(recorder->ended());

  const auto seen = recorder->seen();
  ASSERT_EQ(seen.size(), 6u);
  expect_in_store(db, id, seen);
  // And the runtime's rules, as the store has them.
  using V = std::vector<std::string>;
  EXPECT_EQ(seen.at("ok"), (V{"ready", "running", "succeeded"}));
  EXPECT_EQ(seen.at("flaky"), (V{"ready", "running", "ready", "running", "succeeded"}));
  EXPECT_EQ(seen.at("bad"), (V{"ready", "running", "failed"}));
  EXPECT_EQ(seen.at("behind-bad"), (V{"skipped"}));
  EXPECT_EQ(seen.at("slow"), (V{"ready", "running", "ready", "running", "timed_out"}));
  EXPECT_EQ(seen.at("last"), (V{"ready", "running", "succeeded"}));
}

TEST_F(RunnerTransitions, ACancelledRunHasEveryCancellationInTheStoreInOrder) {
  // `long` runs when `taskloom cancel` asks (through the store, as from another process);
  // `queued` is ready but waits for the one lane; `behind` waits for `long`.
  const auto wf_file = write("wf.yaml", R"(name: cancelled
resources: {lane: 1}
tasks:
  - id: long
    run: sleep 30
    needs: {lane: 1}
  - id: queued
    run: sleep 30
    needs: {lane: 1}
    priority: low
  - id: behind
    run: "true"
    after: long
)");
  const workflow::Workflow wf = workflow::load_workflow(wf_file);
  store::RunStore db = store::RunStore::open(dir_ / "db" / "taskloom.db",
                                             {.durability = store::Durability::kBackground});
  const store::RunId id = db.create_run(new_run_of(wf));
  store::Lease lease = db.acquire_lease(id);
  auto journal = store_journal(db, lease);
  backends::LocalBackend local;
  auto recorder = std::make_shared<Recorder>();
  RunnerOptions options = options_with(recorder);
  options.cancel_poll = std::chrono::milliseconds(10);
  WorkflowRun run(wf, *journal, local, options);
  for (int i = 0; i < 2000 && run.progress().running == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    run.tend();
  }
  ASSERT_EQ(run.progress().running, 1u) << "`long` never started";
  db.request_cancel(id);
  const RunOutcome outcome = run.finish();
  EXPECT_EQ(outcome.status, store::RunStatus::kCancelled);

  const auto seen = recorder->seen();
  ASSERT_EQ(seen.size(), 3u);
  expect_in_store(db, id, seen);
  using V = std::vector<std::string>;
  EXPECT_EQ(seen.at("long"), (V{"ready", "running", "cancelled"}));
  EXPECT_EQ(seen.at("queued"), (V{"ready", "cancelled"}));
  EXPECT_EQ(seen.at("behind"), (V{"cancelled"}));
  const auto attempts = db.attempts(id, "long");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].status, store::AttemptStatus::kCancelled);
  EXPECT_TRUE(db.attempts(id, "queued").empty()) << "a task cancelled while ready never began";
}

}  // namespace
}  // namespace taskloom::runner
