// The Journal of a run in the SQLite store: each call one store transaction.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "taskloom/runner/forecast.hpp"
#include "taskloom/runner/journal.hpp"
#include "taskloom/store/lease.hpp"
#include "taskloom/store/run_store.hpp"

namespace taskloom::runner {
namespace {

class StoreJournal final : public Journal {
 public:
  StoreJournal(store::RunStore& db, store::Lease& lease)
      : db_(db), lease_(lease), run_(lease.run()) {}

  std::vector<store::TaskRecord> tasks() override {
    flush();
    return db_.tasks(run_);
  }
  std::vector<store::AttemptRecord> open_attempts() override {
    std::vector<store::AttemptRecord> open = db_.attempts(run_);
    std::erase_if(open, [](const store::AttemptRecord& a) {
      return a.status != store::AttemptStatus::kRunning;
    });
    return open;
  }
  std::unordered_map<std::string, std::vector<std::chrono::microseconds>> recent_durations()
      override {
    const std::optional<store::RunRecord> run = db_.find_run(run_);
    if (!run) return {};
    return db_.recent_durations(run->workflow_path, kHistory);
  }
  std::vector<std::string> tasks_without_success() override {
    const std::optional<store::RunRecord> run = db_.find_run(run_);
    return run ? db_.tasks_without_success(run->workflow_path) : std::vector<std::string>{};
  }
  void attempt_resumed(std::string_view task, int number) override {
    flush();
    db_.resume_attempt(run_, task, number);
  }
  // pending -> ready is buffered and written in batches (set_task_statuses): a million tasks
  // ready at once are a few hundred commits, not a million. Every other call writes what is
  // buffered first, under the same lock, so a task's ready always precedes its next record.
  // Ready transitions carry no durability promise (store/run_store.hpp), so the few buffered at
  // a crash change nothing: resume sets ready tasks back to pending anyway.
  void task_ready(std::string_view task) override {
    std::lock_guard lock(mu_);
    ready_.emplace_back(task);
    if (ready_.size() >= kReadyBatch) write_ready();
  }
  void attempt_began(std::string_view task, int number, const store::AttemptStart& start) override {
    flush();
    db_.begin_attempt(run_, task, number, start);
  }
  void attempt_ended(std::string_view task, int number, const store::AttemptOutcome& outcome,
                     TaskStatus after) override {
    flush();
    db_.finish_attempt(run_, task, number, outcome, after);
  }
  void task_skipped(std::string_view task, std::string_view upstream) override {
    flush();
    db_.skip_task(run_, task, upstream);
  }
  void task_ended(std::string_view task, TaskStatus status, std::string_view detail) override {
    flush();
    db_.set_task_status(run_, task, status, detail);
  }
  void run_ended(store::RunStatus status, std::string_view message) override {
    flush();
    db_.set_run_status(run_, status, message);
  }
  bool cancel_requested() override { return db_.cancel_requested(run_); }
  void heartbeat() override { lease_.renew(); }

 private:
  static constexpr std::size_t kReadyBatch = 4096;

  /// Writes the buffered ready transitions; called with mu_ held.
  void write_ready() {
    std::vector<std::string> batch = std::move(ready_);
    ready_.clear();
    db_.set_task_statuses(run_, batch, TaskStatus::kReady);
  }
  void flush() {
    std::lock_guard lock(mu_);
    if (!ready_.empty()) write_ready();
  }

  store::RunStore& db_;
  store::Lease& lease_;
  const store::RunId run_;
  std::mutex mu_;
  std::vector<std::string> ready_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<Journal> store_journal(store::RunStore& db, store::Lease& lease) {
  return std::make_unique<StoreJournal>(db, lease);
}

}  // namespace taskloom::runner
