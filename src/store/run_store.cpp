#include "taskloom/store/run_store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "taskloom/core/error.hpp"
#include "taskloom/core/text.hpp"
#include "taskloom/core/units.hpp"

#include "store/detail/store_state.hpp"

namespace taskloom::store {

using detail::Database;
using detail::Statement;
using detail::StoreState;
using detail::WriteTransaction;

namespace {

using std::chrono::milliseconds;

std::int64_t to_ms(WallTime t) {
  return t.time_since_epoch().count();
}
WallTime from_ms(std::int64_t ms) {
  return WallTime{milliseconds{ms}};
}
std::optional<WallTime> from_ms(std::optional<std::int64_t> ms) {
  if (!ms) return std::nullopt;
  return from_ms(*ms);
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

std::string run_name(RunId run) {
  return "run " + std::to_string(run);
}

/// The backend and job id of attempt `number`; throws when it was never begun or has ended.
std::pair<std::string, std::string> open_attempt(Database& db, RunId run, std::string_view task,
                                                 int number, std::string_view op) {
  Statement s = db.prepare(
      "SELECT status, ended_ms, backend, job_id FROM attempts "
      "WHERE run_id = ? AND task_id = ? AND number = ?",
      op);
  s.bind(1, run).bind(2, task).bind(3, std::int64_t{number});
  const std::string which =
      "attempt " + std::to_string(number) + " of task " + in_quotes(task) + " in " + run_name(run);
  if (!s.step()) throw InvalidStateError(db.file() + ": " + which + " was never begun");
  if (s.optional_int64(1)) {
    throw InvalidStateError(db.file() + ": " + which + " has already ended (" + s.text(0) + ")");
  }
  return {s.text(2), s.text(3)};
}

std::string task_op(std::string_view what, RunId run, std::string_view task) {
  return std::string(what) + " task " + in_quotes(task) + " of " + run_name(run);
}

void require_run(Database& db, RunId run, std::string_view op) {
  Statement s = db.prepare("SELECT 1 FROM runs WHERE id = ?", op);
  s.bind(1, run);
  if (!s.step()) throw InvalidArgumentError(db.file() + ": there is no " + run_name(run));
}

TaskStatus task_status(Database& db, RunId run, std::string_view task, std::string_view op) {
  Statement s = db.prepare("SELECT status FROM tasks WHERE run_id = ? AND task_id = ?", op);
  s.bind(1, run).bind(2, task);
  if (!s.step()) {
    require_run(db, run, op);
    throw InvalidArgumentError(db.file() + ": " + run_name(run) + " has no task " +
                               in_quotes(task));
  }
  const std::string text = s.text(0);
  if (auto status = parse_task_status(text)) return *status;
  throw StorageError(db.file() + ": " + std::string(op) + ": unknown task status " +
                     in_quotes(text) + " recorded (database written by another program?)");
}

void append_event(Database& db, RunId run, std::string_view task, std::string_view from,
                  std::string_view to, std::string_view detail, WallTime now, std::string_view op) {
  std::int64_t seq = 1;
  {
    Statement s = db.prepare("SELECT coalesce(max(seq), 0) + 1 FROM events WHERE run_id = ?", op);
    s.bind(1, run);
    s.step();
    seq = s.int64(0);
  }
  Statement s = db.prepare(
      "INSERT INTO events (run_id, seq, time_ms, task_id, from_status, to_status, detail) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      op);
  s.bind(1, run).bind(2, seq).bind(3, to_ms(now)).bind(4, task).bind(5, from).bind(6, to);
  s.bind(7, detail).run();
}

struct LeaseRow {
  LeaseHolder holder;
  std::int64_t acquired_ms = 0;
  std::int64_t heartbeat_ms = 0;
  std::int64_t ttl_ms = 0;
};

/// A zombie (killed, not yet reaped by its parent) is dead for a lease: kill(pid, 0) succeeds
/// on it, so its state is read from /proc/<pid>/stat ("pid (comm) S ...").
bool process_alive(std::int64_t pid) {
  if (pid <= 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // no /proc: trust kill()
  const auto paren = line.rfind(')');          // comm may itself contain ')' or spaces
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

bool is_live(const LeaseRow& lease, WallTime now) {
  if (to_ms(now) - lease.heartbeat_ms >= lease.ttl_ms) return false;
  if (lease.holder.host == detail::this_host()) return process_alive(lease.holder.pid);
  return true;  // another host: only its heartbeat can tell
}

LeaseInfo to_info(const LeaseRow& row, WallTime now) {
  return LeaseInfo{row.holder, from_ms(row.acquired_ms), from_ms(row.heartbeat_ms),
                   milliseconds{row.ttl_ms}, is_live(row, now)};
}

std::optional<LeaseRow> read_lease(Database& db, RunId run, std::string_view op) {
  Statement s = db.prepare(
      "SELECT host, pid, acquired_ms, heartbeat_ms, ttl_ms FROM leases WHERE run_id = ?", op);
  s.bind(1, run);
  if (!s.step()) return std::nullopt;
  return LeaseRow{{s.text(0), s.int64(1)}, s.int64(2), s.int64(3), s.int64(4)};
}

/// Whether an outcome call may return before its commit is on disk (Durability::kBackground).
enum class Lag : bool { kNone, kAllowed };

/// After an outcome's commit: releases the store's lock, then waits until the commit is on disk
/// (Durability::kOutcomes, and kBackground unless `lag` allows it; a no-op otherwise).
void durable_outcome(StoreState& state, std::unique_lock<std::mutex>& lock, std::string_view op,
                     Lag lag = Lag::kNone) {
  const std::uint64_t ticket = state.outcome_committed();
  lock.unlock();
  if (lag == Lag::kAllowed && state.options.durability == Durability::kBackground) {
    state.flush_soon();
    return;
  }
  state.make_durable(ticket, op);
}

#define TASKLOOM_RUN_SELECT                                                                    \
  "SELECT r.id, r.workflow_name, r.workflow_path, r.fingerprint, r.status, r.message, "        \
  "r.created_ms, r.started_ms, r.ended_ms, r.cancel_requested, l.host, l.pid, l.acquired_ms, " \
  "l.heartbeat_ms, l.ttl_ms, r.targets FROM runs r LEFT JOIN leases l ON l.run_id = r.id "

RunRecord read_run(const Statement& s, WallTime now) {
  RunRecord r;
  r.id = s.int64(0);
  r.workflow_name = s.text(1);
  r.workflow_path = s.text(2);
  r.fingerprint = s.text(3);
  r.status = parse_run_status(s.text(4)).value_or(RunStatus::kInterrupted);
  r.message = s.text(5);
  r.created = from_ms(s.int64(6));
  r.started = from_ms(s.optional_int64(7));
  r.ended = from_ms(s.optional_int64(8));
  r.cancel_requested = s.int64(9) != 0;
  const std::string targets = s.text(15);
  for (std::string_view rest = targets; !rest.empty();) {
    const auto nl = rest.find('\n');
    r.targets.emplace_back(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  if (s.optional_int64(11)) {
    r.lease =
        to_info(LeaseRow{{s.text(10), s.int64(11)}, s.int64(12), s.int64(13), s.int64(14)}, now);
  }
  if (r.status == RunStatus::kRunning && !(r.lease && r.lease->live)) {
    r.status = RunStatus::kInterrupted;
  }
  return r;
}

TaskRecord read_task(const Statement& s) {
  TaskRecord t;
  t.id = s.text(0);
  t.group = s.text(1);
  t.status = parse_task_status(s.text(2)).value_or(TaskStatus::kPending);
  t.attempts = static_cast<int>(s.int64(3));
  t.message = s.text(4);
  t.skipped_because = s.text(5);
  t.updated = from_ms(s.int64(6));
  t.failures = static_cast<int>(s.int64(7));
  return t;
}

#define TASKLOOM_TASK_SELECT                                                                      \
  "SELECT task_id, task_group, status, attempts, message, skipped_because, updated_ms, "          \
  "(SELECT COUNT(*) FROM attempts a WHERE a.run_id = tasks.run_id AND a.task_id = tasks.task_id " \
  "AND a.status IN ('failed', 'timed_out')) "                                                     \
  "FROM tasks WHERE run_id = ? "

#define TASKLOOM_ATTEMPT_SELECT                                                             \
  "SELECT a.task_id, a.number, a.status, a.pid, a.pgid, a.stdout_path, a.stderr_path, "     \
  "a.started_ms, a.ended_ms, a.exit_code, a.signal, a.wall_us, a.user_us, a.sys_us, "       \
  "a.peak_rss_kb, a.message, a.backend, a.job_id, a.nodes FROM attempts a JOIN tasks t ON " \
  "t.run_id = a.run_id AND "                                                                \
  "t.task_id = a.task_id WHERE a.run_id = ? "

AttemptRecord read_attempt(const Statement& s) {
  AttemptRecord a;
  a.task = s.text(0);
  a.number = static_cast<int>(s.int64(1));
  a.status = parse_attempt_status(s.text(2)).value_or(AttemptStatus::kInterrupted);
  a.start = AttemptStart{s.int64(3), s.int64(4), s.text(5), s.text(6),
                         s.text(16), s.text(17), s.text(18)};
  a.started = from_ms(s.int64(7));
  a.ended = from_ms(s.optional_int64(8));
  a.outcome.status = a.status;
  if (auto code = s.optional_int64(9)) a.outcome.exit_code = static_cast<int>(*code);
  if (auto sig = s.optional_int64(10)) a.outcome.signal = static_cast<int>(*sig);
  a.outcome.wall = std::chrono::microseconds{s.int64(11)};
  a.outcome.user = std::chrono::microseconds{s.int64(12)};
  a.outcome.sys = std::chrono::microseconds{s.int64(13)};
  a.outcome.peak_rss_kb = s.int64(14);
  a.outcome.message = s.text(15);
  return a;
}

}  // namespace

namespace detail {

StoreState::~StoreState() {
  if (flusher.joinable()) {
    {
      std::lock_guard lock(sync_mu);
      stopping = true;
    }
    sync_cv.notify_all();
    flusher.join();  // after a last fsync of what is left
  }
  if (wal_fd >= 0) ::close(wal_fd);
}

void StoreState::start_flusher() {
  flusher = std::thread([this] { flush_loop(); });
}

void StoreState::flush_loop() {
  std::unique_lock lock(sync_mu);
  for (;;) {
    sync_cv.wait(lock, [&] {
      return stopping || (!syncing && commits.load(std::memory_order_acquire) > durable);
    });
    const std::uint64_t target = commits.load(std::memory_order_acquire);
    if (target <= durable) return;  // stopping, and nothing is left
    lock.unlock();
    try {
      make_durable(target, "recording an outcome");
    } catch (...) {
      lock.lock();
      flush_error = std::current_exception();
      return;  // after a failed fsync the file's state is unknown: every later outcome fails
    }
    lock.lock();
  }
}

void StoreState::flush_soon() {
  {
    // Taken so that the flusher cannot miss this wake-up between its check and its wait.
    std::lock_guard lock(sync_mu);
    if (flush_error) std::rethrow_exception(flush_error);
  }
  sync_cv.notify_all();
}

void StoreState::make_durable(std::uint64_t ticket, std::string_view op) {
  if (ticket == 0) return;
  std::unique_lock lock(sync_mu);
  while (durable < ticket) {
    if (syncing) {
      sync_cv.wait(lock, [&] { return !syncing || durable >= ticket; });
      continue;
    }
    syncing = true;
    const std::uint64_t target = commits.load(std::memory_order_acquire);
    lock.unlock();
    int error = 0;
    if (wal_fd < 0) {
      wal_fd = ::open((file.string() + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
      if (wal_fd < 0) error = errno;
    }
    if (error == 0 && ::fdatasync(wal_fd) != 0) error = errno;
    lock.lock();
    syncing = false;
    if (error == 0) durable = std::max(durable, target);
    sync_cv.notify_all();
    if (error != 0) {
      throw StorageError(file.string() + ": could not flush the journal (" + file.string() +
                         "-wal) to disk after " + std::string(op) + ": " + std::strerror(error) +
                         " — the record is written but may not survive a power loss");
    }
  }
}

const std::string& this_host() {
  static const std::string host = LeaseHolder::this_process().host;
  return host;
}

}  // namespace detail

// --- open

RunStore RunStore::open(const std::filesystem::path& file, StoreOptions options) {
  if (!options.create) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      throw InvalidArgumentError("no taskloom database at " + file.string() +
                                 " — `taskloom run FILE --db " + file.string() + "` creates it");
    }
    if (std::filesystem::file_size(file, ec) == 0) {
      throw InvalidArgumentError(file.string() +
                                 " is an empty file, not a taskloom database — left as it is");
    }
  } else if (file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) {
      throw StorageError(file.string() + ": cannot create the directory " +
                         file.parent_path().string() + ": " + ec.message());
    }
  }
  auto state = std::make_shared<StoreState>(file, std::move(options));
  Database& db = state->db;
  const StoreOptions& opts = state->options;
  sqlite3_busy_timeout(db.handle(), static_cast<int>(opts.busy_timeout.count()));
  {
    Statement s = db.prepare("PRAGMA journal_mode = WAL", "switching to WAL journal mode");
    s.step();
    if (s.text(0) != "wal") {
      throw StorageError(db.file() + ": cannot use WAL journal mode (got " + s.text(0) +
                         ") — put the database on a local file system");
    }
  }
  // kOutcomes runs NORMAL and raises to FULL for the commits of outcomes (WriteTransaction).
  db.exec(opts.durability == Durability::kFull ? "PRAGMA synchronous = FULL"
                                               : "PRAGMA synchronous = NORMAL",
          "setting the durability level");
  db.exec("PRAGMA foreign_keys = ON", "enabling foreign keys");
  if (opts.max_pages > 0) {
    db.exec(("PRAGMA max_page_count = " + std::to_string(opts.max_pages)).c_str(),
            "capping the database size");
  }
  detail::migrate(db, opts.create);
  if (opts.durability == Durability::kBackground) state->start_flusher();
  return RunStore(std::move(state));
}

RunStore::RunStore(std::shared_ptr<StoreState> state) : state_(std::move(state)) {}
RunStore::RunStore(RunStore&&) noexcept = default;
RunStore& RunStore::operator=(RunStore&&) noexcept = default;
RunStore::~RunStore() = default;

const std::filesystem::path& RunStore::file() const noexcept {
  return state_->file;
}

void RunStore::flush() {
  state_->make_durable(state_->commits.load(std::memory_order_acquire), "flushing outcomes");
  std::lock_guard lock(state_->sync_mu);
  if (state_->flush_error) std::rethrow_exception(state_->flush_error);
}

// --- runs

RunId RunStore::create_run(const NewRun& run) {
  std::unordered_set<std::string_view> seen;
  for (const TaskSpec& t : run.tasks) {
    if (t.id.empty()) throw InvalidArgumentError("create_run: a task has an empty id");
    if (!seen.insert(t.id).second) throw DuplicateIdError(t.id);
  }
  const std::string op = "recording a new run of " + in_quotes(run.workflow_name);
  std::unique_lock lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  db.prepare(
        "INSERT INTO runs (workflow_name, workflow_path, fingerprint, status, created_ms, "
        "targets) VALUES (?, ?, ?, 'running', ?, ?)",
        op)
      .bind(1, run.workflow_name)
      .bind(2, run.workflow_path)
      .bind(3, run.fingerprint)
      .bind(4, to_ms(now))
      .bind(5, join(run.targets, "\n"))
      .run();
  const RunId id = sqlite3_last_insert_rowid(db.handle());
  std::int64_t position = 0;
  for (const TaskSpec& t : run.tasks) {
    db.prepare(
          "INSERT INTO tasks (run_id, task_id, task_group, position, status, updated_ms) "
          "VALUES (?, ?, ?, ?, 'pending', ?)",
          op)
        .bind(1, id)
        .bind(2, t.id)
        .bind(3, t.group)
        .bind(4, position++)
        .bind(5, to_ms(now))
        .run();
  }
  append_event(db, id, "", "", to_string(RunStatus::kRunning),
               "created with " + std::to_string(run.tasks.size()) + " tasks", now, op);
  tx.commit();
  durable_outcome(*state_, lock, op);
  return id;
}

std::optional<RunRecord> RunStore::find_run(RunId run) const {
  const std::string op = "reading " + run_name(run);
  std::lock_guard lock(state_->mu);
  Statement s = state_->db.prepare(TASKLOOM_RUN_SELECT "WHERE r.id = ?", op);
  s.bind(1, run);
  if (!s.step()) return std::nullopt;
  return read_run(s, state_->now());
}

std::vector<RunRecord> RunStore::list_runs(std::size_t limit) const {
  std::lock_guard lock(state_->mu);
  Statement s =
      state_->db.prepare(TASKLOOM_RUN_SELECT "ORDER BY r.id DESC LIMIT ?", "listing runs");
  s.bind(1, limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(limit));
  std::vector<RunRecord> runs;
  const WallTime now = state_->now();
  while (s.step()) runs.push_back(read_run(s, now));
  return runs;
}

std::optional<RunRecord> RunStore::latest_run_for(std::string_view workflow_path) const {
  const std::string op = "finding the latest run of " + std::string(workflow_path);
  std::lock_guard lock(state_->mu);
  Statement s = state_->db.prepare(
      TASKLOOM_RUN_SELECT "WHERE r.workflow_path = ? ORDER BY r.id DESC LIMIT 1", op);
  s.bind(1, workflow_path);
  if (!s.step()) return std::nullopt;
  return read_run(s, state_->now());
}

void RunStore::set_run_status(RunId run, RunStatus status, std::string_view message) {
  const std::string op = "recording " + run_name(run) + " as " + std::string(to_string(status));
  std::unique_lock lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  std::string from;
  {
    Statement s = db.prepare("SELECT status FROM runs WHERE id = ?", op);
    s.bind(1, run);
    if (!s.step()) throw InvalidArgumentError(db.file() + ": there is no " + run_name(run));
    from = s.text(0);
  }
  const bool running = status == RunStatus::kRunning;
  db.prepare(
        "UPDATE runs SET status = ?, message = ?, "
        "started_ms = CASE WHEN ? THEN coalesce(started_ms, ?) ELSE started_ms END, "
        "ended_ms = CASE WHEN ? THEN NULL ELSE ? END WHERE id = ?",
        op)
      .bind(1, to_string(status))
      .bind(2, message)
      .bind(3, std::int64_t{running})
      .bind(4, to_ms(now))
      .bind(5, std::int64_t{running})
      .bind(6, to_ms(now))
      .bind(7, run)
      .run();
  append_event(db, run, "", from, to_string(status), message, now, op);
  tx.commit();
  durable_outcome(*state_, lock, op);
}

// --- tasks

std::vector<TaskRecord> RunStore::tasks(RunId run) const {
  const std::string op = "reading the tasks of " + run_name(run);
  std::lock_guard lock(state_->mu);
  Statement s = state_->db.prepare(TASKLOOM_TASK_SELECT "ORDER BY position", op);
  s.bind(1, run);
  std::vector<TaskRecord> tasks;
  while (s.step()) tasks.push_back(read_task(s));
  return tasks;
}

std::optional<TaskRecord> RunStore::find_task(RunId run, std::string_view task) const {
  const std::string op = task_op("reading", run, task);
  std::lock_guard lock(state_->mu);
  Statement s = state_->db.prepare(TASKLOOM_TASK_SELECT "AND task_id = ?", op);
  s.bind(1, run).bind(2, task);
  if (!s.step()) return std::nullopt;
  return read_task(s);
}

namespace {

/// One task's transition and its event, inside the caller's transaction.
void record_status(Database& db, RunId run, std::string_view task, TaskStatus to,
                   std::string_view detail, WallTime now, std::string_view op) {
  const TaskStatus from = task_status(db, run, task, op);
  // A task that never ran has no attempt's message: the reason it ended is its message.
  db.prepare(
        "UPDATE tasks SET status = ?, updated_ms = ?, message = CASE WHEN attempts = 0 AND "
        "? <> '' THEN ? ELSE message END WHERE run_id = ? AND task_id = ?",
        op)
      .bind(1, to_string(to))
      .bind(2, to_ms(now))
      .bind(3, detail)
      .bind(4, detail)
      .bind(5, run)
      .bind(6, task)
      .run();
  append_event(db, run, task, to_string(from), to_string(to), detail, now, op);
}

}  // namespace

void RunStore::set_task_status(RunId run, std::string_view task, TaskStatus to,
                               std::string_view detail) {
  const std::string op = task_op("recording", run, task) + " as " + std::string(to_string(to));
  std::lock_guard lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  record_status(db, run, task, to, detail, now, op);
  tx.commit();
}

void RunStore::set_task_statuses(RunId run, std::span<const std::string> tasks, TaskStatus to) {
  if (tasks.empty()) return;
  const std::string op = "recording " + std::to_string(tasks.size()) + " tasks of " +
                         run_name(run) + " as " + std::string(to_string(to));
  std::lock_guard lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  for (const std::string& task : tasks) record_status(db, run, task, to, {}, now, op);
  tx.commit();
}

void RunStore::skip_task(RunId run, std::string_view task, std::string_view upstream) {
  const std::string op = task_op("recording", run, task) + " as skipped";
  std::unique_lock lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  const TaskStatus from = task_status(db, run, task, op);
  db.prepare(
        "UPDATE tasks SET status = 'skipped', skipped_because = ?, updated_ms = ? "
        "WHERE run_id = ? AND task_id = ?",
        op)
      .bind(1, upstream)
      .bind(2, to_ms(now))
      .bind(3, run)
      .bind(4, task)
      .run();
  append_event(db, run, task, to_string(from), to_string(TaskStatus::kSkipped),
               "upstream " + in_quotes(upstream) + " did not succeed", now, op);
  tx.commit();
  durable_outcome(*state_, lock, op, Lag::kAllowed);
}

// --- attempts

void RunStore::begin_attempt(RunId run, std::string_view task, int number,
                             const AttemptStart& start) {
  if (number < 1) {
    throw InvalidArgumentError("begin_attempt: attempt numbers start at 1, got " +
                               std::to_string(number) + " for task " + in_quotes(task));
  }
  const std::string op = task_op("recording attempt " + std::to_string(number) + " of", run, task);
  std::lock_guard lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  const TaskStatus from = task_status(db, run, task, op);
  {
    Statement s =
        db.prepare("SELECT 1 FROM attempts WHERE run_id = ? AND task_id = ? AND number = ?", op);
    s.bind(1, run).bind(2, task).bind(3, std::int64_t{number});
    if (s.step()) {
      throw InvalidStateError(db.file() + ": attempt " + std::to_string(number) + " of task " +
                              in_quotes(task) + " in " + run_name(run) + " was already begun");
    }
  }
  db.prepare(
        "INSERT INTO attempts (run_id, task_id, number, status, pid, pgid, stdout_path, "
        "stderr_path, started_ms, backend, job_id, nodes) "
        "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
        op)
      .bind(1, run)
      .bind(2, task)
      .bind(3, std::int64_t{number})
      .bind(4, start.pid)
      .bind(5, start.pgid)
      .bind(6, start.stdout_path)
      .bind(7, start.stderr_path)
      .bind(8, to_ms(now))
      .bind(9, start.backend)
      .bind(10, start.job_id)
      .bind(11, start.nodes)
      .run();
  db.prepare(
        "UPDATE tasks SET status = 'running', attempts = max(attempts, ?), updated_ms = ? "
        "WHERE run_id = ? AND task_id = ?",
        op)
      .bind(1, std::int64_t{number})
      .bind(2, to_ms(now))
      .bind(3, run)
      .bind(4, task)
      .run();
  std::string detail = "attempt " + std::to_string(number);
  if (start.pid > 0) detail += ", pid " + std::to_string(start.pid);
  if (!start.job_id.empty()) detail += ", " + start.backend + " job " + start.job_id;
  if (!start.nodes.empty()) detail += " on " + start.nodes;
  append_event(db, run, task, to_string(from), to_string(TaskStatus::kRunning), detail, now, op);
  tx.commit();
}

void RunStore::finish_attempt(RunId run, std::string_view task, int number,
                              const AttemptOutcome& outcome, TaskStatus task_after) {
  if (outcome.status == AttemptStatus::kRunning) {
    throw InvalidArgumentError("finish_attempt: the outcome of attempt " + std::to_string(number) +
                               " of task " + in_quotes(task) + " must be a final status");
  }
  const std::string op =
      task_op("recording the outcome of attempt " + std::to_string(number) + " of", run, task);
  std::unique_lock lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  const TaskStatus from = task_status(db, run, task, op);
  open_attempt(db, run, task, number, op);
  auto optional_int = [](std::optional<int> v) -> std::optional<std::int64_t> {
    if (!v) return std::nullopt;
    return std::int64_t{*v};
  };
  db.prepare(
        "UPDATE attempts SET status = ?, ended_ms = ?, exit_code = ?, signal = ?, wall_us = ?, "
        "user_us = ?, sys_us = ?, peak_rss_kb = ?, message = ?, "
        "nodes = CASE WHEN ? = '' THEN nodes ELSE ? END "
        "WHERE run_id = ? AND task_id = ? AND number = ?",
        op)
      .bind(1, to_string(outcome.status))
      .bind(2, to_ms(now))
      .bind(3, optional_int(outcome.exit_code))
      .bind(4, optional_int(outcome.signal))
      .bind(5, static_cast<std::int64_t>(outcome.wall.count()))
      .bind(6, static_cast<std::int64_t>(outcome.user.count()))
      .bind(7, static_cast<std::int64_t>(outcome.sys.count()))
      .bind(8, outcome.peak_rss_kb)
      .bind(9, outcome.message)
      .bind(10, outcome.nodes)
      .bind(11, outcome.nodes)
      .bind(12, run)
      .bind(13, task)
      .bind(14, std::int64_t{number})
      .run();
  db.prepare(
        "UPDATE tasks SET status = ?, message = ?, updated_ms = ? "
        "WHERE run_id = ? AND task_id = ?",
        op)
      .bind(1, to_string(task_after))
      .bind(2, outcome.message)
      .bind(3, to_ms(now))
      .bind(4, run)
      .bind(5, task)
      .run();
  std::string detail =
      "attempt " + std::to_string(number) + " " + std::string(to_string(outcome.status));
  if (outcome.exit_code) detail += ", exit " + std::to_string(*outcome.exit_code);
  if (outcome.signal) detail += ", signal " + std::to_string(*outcome.signal);
  append_event(db, run, task, to_string(from), to_string(task_after), detail, now, op);
  tx.commit();
  durable_outcome(*state_, lock, op, Lag::kAllowed);
}

void RunStore::resume_attempt(RunId run, std::string_view task, int number) {
  const std::string op =
      task_op("following again attempt " + std::to_string(number) + " of", run, task);
  std::unique_lock lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  const TaskStatus from = task_status(db, run, task, op);
  const auto [backend, job_id] = open_attempt(db, run, task, number, op);
  db.prepare("UPDATE tasks SET status = 'running', updated_ms = ? WHERE run_id = ? AND task_id = ?",
             op)
      .bind(1, to_ms(now))
      .bind(2, run)
      .bind(3, task)
      .run();
  append_event(
      db, run, task, to_string(from), to_string(TaskStatus::kRunning),
      "attempt " + std::to_string(number) + " followed again (" + backend + " job " + job_id + ")",
      now, op);
  tx.commit();
  durable_outcome(*state_, lock, op);
}

std::unordered_map<std::string, std::vector<std::chrono::microseconds>> RunStore::recent_durations(
    std::string_view workflow_path, std::size_t per_task) const {
  const std::string op = "reading the durations of the runs of " + std::string(workflow_path);
  std::lock_guard lock(state_->mu);
  Statement s = state_->db.prepare(
      "SELECT a.task_id, a.wall_us FROM attempts a JOIN runs r ON r.id = a.run_id "
      "WHERE r.workflow_path = ? AND a.status = 'succeeded' ORDER BY a.run_id DESC, a.number DESC",
      op);
  s.bind(1, workflow_path);
  std::unordered_map<std::string, std::vector<std::chrono::microseconds>> out;
  while (s.step()) {
    auto& list = out[s.text(0)];
    if (list.size() < per_task) list.emplace_back(s.int64(1));
  }
  return out;
}

std::vector<std::string> RunStore::tasks_without_success(std::string_view workflow_path) const {
  const std::string op = "reading the attempts of the runs of " + std::string(workflow_path);
  std::lock_guard lock(state_->mu);
  Statement s = state_->db.prepare(
      "SELECT a.task_id, a.status FROM attempts a JOIN runs r ON r.id = a.run_id "
      "WHERE r.workflow_path = ? ORDER BY a.run_id, a.number",
      op);
  s.bind(1, workflow_path);
  std::unordered_map<std::string, bool> succeeded;  // task -> its latest attempt succeeded
  while (s.step()) succeeded[s.text(0)] = s.text(1) == to_string(AttemptStatus::kSucceeded);
  std::vector<std::string> out;
  for (auto& [task, ok] : succeeded) {
    if (!ok) out.push_back(task);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<AttemptRecord> RunStore::attempts(RunId run, std::string_view task) const {
  const std::string op = "reading the attempts of " + run_name(run);
  std::lock_guard lock(state_->mu);
  Database& db = state_->db;
  std::vector<AttemptRecord> attempts;
  if (task.empty()) {
    Statement s = db.prepare(TASKLOOM_ATTEMPT_SELECT "ORDER BY t.position, a.number", op);
    s.bind(1, run);
    while (s.step()) attempts.push_back(read_attempt(s));
  } else {
    Statement s = db.prepare(TASKLOOM_ATTEMPT_SELECT "AND a.task_id = ? ORDER BY a.number", op);
    s.bind(1, run).bind(2, task);
    while (s.step()) attempts.push_back(read_attempt(s));
  }
  return attempts;
}

// --- events

std::vector<EventRecord> RunStore::events(RunId run, std::int64_t after_seq) const {
  const std::string op = "reading the events of " + run_name(run);
  std::lock_guard lock(state_->mu);
  Statement s = state_->db.prepare(
      "SELECT seq, time_ms, task_id, from_status, to_status, detail FROM events "
      "WHERE run_id = ? AND seq > ? ORDER BY seq",
      op);
  s.bind(1, run).bind(2, after_seq);
  std::vector<EventRecord> events;
  while (s.step()) {
    events.push_back(
        EventRecord{s.int64(0), from_ms(s.int64(1)), s.text(2), s.text(3), s.text(4), s.text(5)});
  }
  return events;
}

// --- resume and cancellation

ResumePlan RunStore::prepare_resume(RunId run, ResumeScope scope,
                                    std::string_view reattach_backend) {
  const std::string op = "preparing " + run_name(run) + " for resume";
  std::unique_lock lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  std::string run_from;
  {
    Statement s = db.prepare("SELECT status FROM runs WHERE id = ?", op);
    s.bind(1, run);
    if (!s.step()) throw InvalidArgumentError(db.file() + ": there is no " + run_name(run));
    run_from = s.text(0);
  }
  // Open attempts of `reattach_backend` with a job id stay open; the others were interrupted.
#define TASKLOOM_KEPT "(backend = ? AND job_id != '')"
  std::unordered_set<std::string> interrupted, reattached;
  {
    Statement s = db.prepare("SELECT task_id, " TASKLOOM_KEPT
                             " FROM attempts WHERE run_id = ? AND ended_ms IS NULL",
                             op);
    s.bind(1, reattach_backend).bind(2, run);
    while (s.step()) (s.int64(1) != 0 ? reattached : interrupted).insert(s.text(0));
  }
  db.prepare(
        "UPDATE attempts SET status = 'interrupted', ended_ms = ?, message = "
        "'the runner stopped during this attempt (killed or crashed)' "
        "WHERE run_id = ? AND ended_ms IS NULL AND NOT " TASKLOOM_KEPT,
        op)
      .bind(1, to_ms(now))
      .bind(2, run)
      .bind(3, reattach_backend)
      .run();
#undef TASKLOOM_KEPT

  std::vector<std::pair<std::string, TaskStatus>> tasks;
  {
    Statement s =
        db.prepare("SELECT task_id, status FROM tasks WHERE run_id = ? ORDER BY position", op);
    s.bind(1, run);
    while (s.step()) {
      tasks.emplace_back(s.text(0), parse_task_status(s.text(1)).value_or(TaskStatus::kPending));
    }
  }
  ResumePlan plan;
  for (const auto& [id, status] : tasks) {
    if (interrupted.contains(id)) plan.interrupted.push_back(id);
    if (reattached.contains(id)) plan.reattached.push_back(id);
    if (status == TaskStatus::kSucceeded) {
      plan.succeeded.push_back(id);
      continue;
    }
    const bool was_active = status == TaskStatus::kReady || status == TaskStatus::kRunning;
    const bool reset =
        was_active || (scope == ResumeScope::kAllUnsucceeded && status != TaskStatus::kPending);
    if (!reset) continue;
    db.prepare(
          "UPDATE tasks SET status = 'pending', skipped_because = '', updated_ms = ? "
          "WHERE run_id = ? AND task_id = ?",
          op)
        .bind(1, to_ms(now))
        .bind(2, run)
        .bind(3, id)
        .run();
    append_event(db, run, id, to_string(status), to_string(TaskStatus::kPending),
                 interrupted.contains(id)  ? "resume: its attempt was interrupted"
                 : reattached.contains(id) ? "resume: its attempt lives on; to be followed again"
                                           : "resume",
                 now, op);
    plan.reset.push_back(id);
  }
  db.prepare(
        "UPDATE runs SET status = 'running', message = '', ended_ms = NULL, cancel_requested = 0 "
        "WHERE id = ?",
        op)
      .bind(1, run)
      .run();
  append_event(db, run, "", run_from, to_string(RunStatus::kRunning), "resumed", now, op);
  tx.commit();
  durable_outcome(*state_, lock, op);
  return plan;
}

void RunStore::request_cancel(RunId run) {
  const std::string op = "requesting cancellation of " + run_name(run);
  std::unique_lock lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  std::string status;
  {
    Statement s = db.prepare("SELECT status FROM runs WHERE id = ?", op);
    s.bind(1, run);
    if (!s.step()) throw InvalidArgumentError(db.file() + ": there is no " + run_name(run));
    status = s.text(0);
  }
  db.prepare("UPDATE runs SET cancel_requested = 1 WHERE id = ?", op).bind(1, run).run();
  append_event(db, run, "", status, status, "cancel requested", now, op);
  tx.commit();
  durable_outcome(*state_, lock, op);
}

bool RunStore::cancel_requested(RunId run) const {
  const std::string op = "reading the cancel flag of " + run_name(run);
  std::lock_guard lock(state_->mu);
  Statement s = state_->db.prepare("SELECT cancel_requested FROM runs WHERE id = ?", op);
  s.bind(1, run);
  if (!s.step()) {
    throw InvalidArgumentError(state_->db.file() + ": there is no " + run_name(run));
  }
  return s.int64(0) != 0;
}

// --- leases

Lease RunStore::acquire_lease(RunId run, const LeaseHolder& holder, milliseconds ttl) {
  if (ttl <= milliseconds{0}) {
    throw InvalidArgumentError("acquire_lease: the ttl must be positive");
  }
  const std::string op = "taking the lease of " + run_name(run);
  std::unique_lock lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  require_run(db, run, op);
  const std::optional<LeaseRow> current = read_lease(db, run, op);
  if (current && current->holder == holder) {
    db.prepare("UPDATE leases SET heartbeat_ms = ?, ttl_ms = ? WHERE run_id = ?", op)
        .bind(1, to_ms(now))
        .bind(2, static_cast<std::int64_t>(ttl.count()))
        .bind(3, run)
        .run();
  } else {
    if (current && is_live(*current, now)) {
      throw BusyError(run_name(run) + " is being run by pid " +
                      std::to_string(current->holder.pid) + " on host " + current->holder.host +
                      " since " + format_time(from_ms(current->acquired_ms)) +
                      " — wait for it, or `taskloom cancel " + std::to_string(run) + "`");
    }
    db.prepare(
          "INSERT OR REPLACE INTO leases (run_id, host, pid, acquired_ms, heartbeat_ms, ttl_ms) "
          "VALUES (?, ?, ?, ?, ?, ?)",
          op)
        .bind(1, run)
        .bind(2, holder.host)
        .bind(3, holder.pid)
        .bind(4, to_ms(now))
        .bind(5, to_ms(now))
        .bind(6, static_cast<std::int64_t>(ttl.count()))
        .run();
  }
  tx.commit();
  durable_outcome(*state_, lock, op);
  return Lease(state_, run, holder, ttl);
}

std::optional<LeaseInfo> RunStore::lease_of(RunId run) const {
  const std::string op = "reading the lease of " + run_name(run);
  std::lock_guard lock(state_->mu);
  const std::optional<LeaseRow> row = read_lease(state_->db, run, op);
  if (!row) return std::nullopt;
  return to_info(*row, state_->now());
}

Lease::Lease(std::shared_ptr<StoreState> state, RunId run, LeaseHolder holder, milliseconds ttl)
    : state_(std::move(state)), run_(run), holder_(std::move(holder)), ttl_(ttl) {}

Lease::Lease(Lease&& other) noexcept
    : state_(std::move(other.state_)),
      run_(other.run_),
      holder_(std::move(other.holder_)),
      ttl_(other.ttl_) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    try {
      release();
    } catch (...) {  // NOLINT(bugprone-empty-catch): the lease then dies with its ttl
    }
    state_ = std::move(other.state_);
    run_ = other.run_;
    holder_ = std::move(other.holder_);
    ttl_ = other.ttl_;
  }
  return *this;
}

Lease::~Lease() {
  try {
    release();
  } catch (...) {  // NOLINT(bugprone-empty-catch): the lease then dies with its ttl
  }
}

void Lease::renew() {
  if (!state_) throw InvalidStateError("Lease::renew: this lease was released or moved from");
  const std::string op = "renewing the lease of " + run_name(run_);
  std::lock_guard lock(state_->mu);
  Database& db = state_->db;
  const WallTime now = state_->now();
  WriteTransaction tx(db, op);
  const std::optional<LeaseRow> current = read_lease(db, run_, op);
  if (current && !(current->holder == holder_)) {
    throw BusyError(run_name(run_) + ": pid " + std::to_string(holder_.pid) + " on host " +
                    holder_.host + " lost its lease to pid " + std::to_string(current->holder.pid) +
                    " on host " + current->holder.host + " (no heartbeat for longer than " +
                    units::format_limit(ttl_) + ") — stop driving this run");
  }
  db.prepare(
        "INSERT INTO leases (run_id, host, pid, acquired_ms, heartbeat_ms, ttl_ms) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET heartbeat_ms = "
        "excluded.heartbeat_ms, ttl_ms = excluded.ttl_ms",
        op)
      .bind(1, run_)
      .bind(2, holder_.host)
      .bind(3, holder_.pid)
      .bind(4, to_ms(now))
      .bind(5, to_ms(now))
      .bind(6, static_cast<std::int64_t>(ttl_.count()))
      .run();
  tx.commit();
}

void Lease::release() {
  if (!state_) return;
  std::shared_ptr<StoreState> state = std::move(state_);
  const std::string op = "releasing the lease of " + run_name(run_);
  std::lock_guard lock(state->mu);
  state->db.prepare("DELETE FROM leases WHERE run_id = ? AND host = ? AND pid = ?", op)
      .bind(1, run_)
      .bind(2, holder_.host)
      .bind(3, holder_.pid)
      .run();
}

}  // namespace taskloom::store
