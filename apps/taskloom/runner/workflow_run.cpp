#include "runner/workflow_run.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "taskloom/backends/subprocess.hpp"
#include "taskloom/core/error.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runner/interrupts.hpp"
#include "runner/leftovers.hpp"
#include "runner/progress.hpp"

namespace taskloom::cli {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::steady_clock;

constexpr auto kWatchInterval = std::chrono::milliseconds(50);
constexpr auto kCancelPollInterval = std::chrono::milliseconds(250);
constexpr auto kTickInterval = std::chrono::milliseconds(200);  // live display: 5 redraws/s
constexpr unsigned kMaxDefaultWorkers = 64;

template <class D>
std::chrono::microseconds micros(D d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d);
}

/// One task this runner has to run.
struct Slot {
  const workflow::Task* task = nullptr;
  int base_attempts = 0;                // attempts recorded before this runner
  std::vector<std::size_t> dependents;  // slots that run after this one
  std::atomic<int> unmet{0};            // dependencies (among slots) not succeeded yet
  std::atomic<bool> ended{false};       // a final status was recorded by this runner
};

struct RunningAttempt {
  pid_t pid = 0;
  SteadyTime since;
};

/// What an attempt's body tells the runtime once the outcome is recorded.
enum class Verdict { kReturn, kFail };

class Driver {
 public:
  Driver(const workflow::Workflow& wf, store::RunStore& db, store::Lease& lease,
         const RunSettings& settings)
      : wf_(wf),
        db_(db),
        lease_(lease),
        settings_(settings),
        view_(*settings.view),
        run_(lease.run()),
        log_dir_(log_directory(db, run_)),
        run_key_(run_key(db.file(), run_)) {}

  RunResult run();

 private:
  void build_slots();
  void attempt(std::size_t i, runtime::TaskContext& ctx);
  Verdict record(std::size_t i, runtime::TaskContext& ctx, int number, store::AttemptStart start,
                 bool begun, const backends::CommandOutcome& o);
  void end_slot_failed(std::size_t i);
  void end_slot_succeeded(std::size_t i);
  void stop(const std::string& why, runtime::Run& handle);
  void force();
  void fail_run(std::exception_ptr error);
  void forget_running(std::size_t i);
  ProgressSnapshot snapshot() const;
  void reconcile(const runtime::RunReport& report);

  const workflow::Workflow& wf_;
  store::RunStore& db_;
  store::Lease& lease_;
  const RunSettings& settings_;
  ProgressView& view_;
  const store::RunId run_;
  const std::filesystem::path log_dir_;
  const std::string run_key_;

  std::vector<Slot> slots_;  // built before the run, then only atomics change
  std::unordered_map<std::string_view, std::size_t> slot_of_;
  std::size_t total_ = 0;
  std::size_t succeeded_before_ = 0;
  std::vector<std::string> orphans_;  // tasks of the run that the workflow no longer defines

  std::atomic<bool> stopping_{false};  // cancelled by a signal, `taskloom cancel` or an error
  std::atomic<bool> forcing_{false};   // second signal: SIGKILL at once
  std::atomic<bool> fail_fast_fired_{false};
  std::atomic<std::size_t> succeeded_{0}, failed_{0}, skipped_{0}, cancelled_{0};
  SteadyTime started_at_;

  mutable std::mutex mutex_;
  std::map<std::size_t, RunningAttempt> running_;  // guarded by mutex_
  std::string cancel_reason_;                      // guarded by mutex_
  std::exception_ptr fatal_;                       // guarded by mutex_
  runtime::Run* handle_ = nullptr;                 // guarded by mutex_; set while running
};

void Driver::build_slots() {
  std::vector<store::TaskRecord> records = db_.tasks(run_);
  std::unordered_map<std::string_view, const store::TaskRecord*> record_of;
  for (const auto& r : records) record_of.emplace(r.id, &r);
  total_ = records.size();

  std::vector<const workflow::Task*> unfinished;
  for (const workflow::Task& t : wf_.tasks) {
    auto it = record_of.find(t.id);
    if (it == record_of.end()) continue;  // added to the file after the run began (--force)
    if (it->second->status == TaskStatus::kSucceeded) continue;
    unfinished.push_back(&t);
  }
  for (const auto& r : records) {
    if (r.status == TaskStatus::kSucceeded) ++succeeded_before_;
  }
  std::unordered_map<std::string_view, bool> defined;
  for (const workflow::Task& t : wf_.tasks) defined.emplace(t.id, true);
  for (const auto& r : records) {
    if (!defined.contains(r.id) && r.status != TaskStatus::kSucceeded) orphans_.push_back(r.id);
  }

  slots_ = std::vector<Slot>(unfinished.size());
  for (std::size_t i = 0; i < unfinished.size(); ++i) {
    slots_[i].task = unfinished[i];
    slots_[i].base_attempts = record_of.at(unfinished[i]->id)->attempts;
    slot_of_.emplace(unfinished[i]->id, i);
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    for (const std::string& dep : slots_[i].task->after) {
      auto it = slot_of_.find(dep);
      if (it == slot_of_.end()) continue;  // succeeded already
      slots_[it->second].dependents.push_back(i);
      slots_[i].unmet.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

RunResult Driver::run() {
  build_slots();
  Interrupts interrupts;
  started_at_ = steady_clock::now();

  for (const std::string& id : orphans_) {
    db_.set_task_status(run_, id, TaskStatus::kCancelled, "not in the workflow any more");
    cancelled_.fetch_add(1);
  }
  for (const Slot& s : slots_) {
    if (s.unmet.load() == 0) db_.set_task_status(run_, s.task->id, TaskStatus::kReady);
  }

  runtime::ExecutorOptions exec_options;
  const std::size_t n = std::max<std::size_t>(1, slots_.size());
  exec_options.workers = settings_.workers > 0
                             ? settings_.workers
                             : static_cast<unsigned>(std::min<std::size_t>(n, kMaxDefaultWorkers));
  exec_options.caller_helps = false;
  exec_options.thread_name = "taskloom-run";
  runtime::Executor executor(exec_options);

  runtime::TaskGraph graph;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const workflow::Task& t = *slots_[i].task;
    runtime::TaskOptions options;
    for (const std::string& dep : t.after) {
      if (slot_of_.contains(dep)) options.after.push_back(dep);
    }
    options.priority = t.priority;
    options.retries = t.retries;
    options.timeout = t.timeout;
    options.needs = t.needs;
    options.metadata = t.metadata;
    if (t.timeout > Duration::zero()) {
      options.weight = std::max(1e-3, std::chrono::duration<double>(t.timeout).count());
    }
    graph.add(
        t.id, [this, i](runtime::TaskContext& ctx) { attempt(i, ctx); }, std::move(options));
  }

  runtime::RunOptions run_options;
  run_options.failure_policy =
      settings_.fail_fast ? runtime::FailurePolicy::kFailFast : runtime::FailurePolicy::kContinue;
  run_options.backoff = {.initial = std::chrono::milliseconds(100),
                         .multiplier = 2.0,
                         .max = std::chrono::seconds(30),
                         .jitter = 0.5};
  run_options.trace_path = settings_.trace_path;
  run_options.resources = wf_.resources;
  if (settings_.workers > 0) run_options.max_concurrency = settings_.workers;

  runtime::Run handle = executor.run(graph, run_options);
  {
    std::lock_guard lock(mutex_);
    handle_ = &handle;
  }
  const auto renew_every = lease_.ttl() / 3;
  auto next_renew = steady_clock::now() + renew_every;
  auto next_cancel_poll = steady_clock::now();
  auto next_tick = steady_clock::now();
  while (!handle.done()) {
    const int fresh =
        interrupts.wait(std::chrono::duration_cast<std::chrono::milliseconds>(kWatchInterval));
    if (fresh > 0) {
      if (!stopping_.load()) {
        stop("interrupted by a signal; running tasks get SIGTERM, then SIGKILL after " +
                 format_duration(settings_.kill_grace) + " (Ctrl-C again to force)",
             handle);
        if (fresh > 1) force();
      } else {
        force();
      }
    }
    const auto now = steady_clock::now();
    try {
      if (now >= next_cancel_poll && !stopping_.load()) {
        next_cancel_poll = now + kCancelPollInterval;
        if (db_.cancel_requested(run_)) {
          stop(
              "cancel requested (taskloom cancel); running tasks get SIGTERM, then SIGKILL "
              "after " +
                  format_duration(settings_.kill_grace),
              handle);
        }
      }
      if (now >= next_renew) {
        next_renew = now + renew_every;
        lease_.renew();
      }
    } catch (const std::exception&) {
      fail_run(std::current_exception());
    }
    if (now >= next_tick) {
      next_tick = now + kTickInterval;
      view_.tick(snapshot());
    }
  }
  RunResult result;
  result.report = handle.report();
  result.ran = slots_.size();
  {
    std::lock_guard lock(mutex_);
    handle_ = nullptr;
  }
  view_.tick(snapshot());
  view_.close();

  std::exception_ptr fatal;
  std::string reason;
  {
    std::lock_guard lock(mutex_);
    fatal = fatal_;
    reason = cancel_reason_;
  }
  if (fatal) {
    // Best effort: the store may be what failed. What it recorded so far stays.
    try {
      reconcile(result.report);
      db_.set_run_status(run_, store::RunStatus::kFailed, "stopped by an error");
    } catch (const std::exception&) {
    }
    std::rethrow_exception(fatal);
  }
  reconcile(result.report);

  std::size_t ok = 0, failed = 0, timed_out = 0, skipped = 0, cancelled = 0;
  for (const store::TaskRecord& r : db_.tasks(run_)) {
    switch (r.status) {
      case TaskStatus::kSucceeded:
        ++ok;
        break;
      case TaskStatus::kFailed:
        ++failed;
        break;
      case TaskStatus::kTimedOut:
        ++timed_out;
        break;
      case TaskStatus::kSkipped:
        ++skipped;
        break;
      default:
        ++cancelled;
        break;
    }
  }
  if (stopping_.load()) {
    result.status = store::RunStatus::kCancelled;
    result.message = reason.substr(0, reason.find(';'));
  } else if (ok == total_) {
    result.status = store::RunStatus::kSucceeded;
  } else {
    result.status = store::RunStatus::kFailed;
    std::string m;
    auto add = [&m](std::size_t count, std::string_view what) {
      if (count == 0) return;
      if (!m.empty()) m += ", ";
      m += std::to_string(count) + " " + std::string(what);
    };
    add(failed, "failed");
    add(timed_out, "timed out");
    add(skipped, "skipped");
    add(cancelled, "cancelled");
    result.message = m;
  }
  db_.set_run_status(run_, result.status, result.message);
  return result;
}

void Driver::attempt(std::size_t i, runtime::TaskContext& ctx) {
  Slot& slot = slots_[i];
  if (slot.ended.load()) return;  // recorded as final already (e.g. skipped in a race)
  const workflow::Task& t = *slot.task;
  const int number = slot.base_attempts + static_cast<int>(ctx.attempt());
  const std::string stem = (log_dir_ / (t.id + "." + std::to_string(number))).string();
  store::AttemptStart start{.stdout_path = stem + ".out", .stderr_path = stem + ".err"};

  backends::CommandSpec spec;
  spec.command = t.run;
  spec.env = t.env;
  spec.env.emplace_back("TASKLOOM_RUN", run_key_);  // finds leftovers (leftovers.hpp)
  spec.env.emplace_back("TASKLOOM_TASK", t.id);
  spec.env.emplace_back("TASKLOOM_ATTEMPT", std::to_string(number));
  spec.cwd = t.cwd;
  spec.stdout_path = start.stdout_path;
  spec.stderr_path = start.stderr_path;
  spec.kill_grace = settings_.kill_grace;

  bool begun = false;
  auto on_started = [&](pid_t pid) {
    start.pid = pid;
    start.pgid = pid;
    db_.begin_attempt(run_, t.id, number, start);
    begun = true;
    {
      std::lock_guard lock(mutex_);
      running_[i] = RunningAttempt{pid, steady_clock::now()};
    }
    if (forcing_.load()) ::kill(-pid, SIGKILL);  // a force that came before we were listed
    view_.event({.kind = TaskEvent::Kind::kStarted, .task = t.id, .attempt = number});
  };

  backends::CommandOutcome outcome;
  Verdict verdict = Verdict::kReturn;
  try {
    outcome = backends::run_command(spec, ctx.stop_token(), on_started);
    forget_running(i);
    verdict = record(i, ctx, number, start, begun, outcome);
  } catch (const std::exception&) {
    forget_running(i);
    fail_run(std::current_exception());
    throw;
  }
  if (verdict == Verdict::kFail) throw std::runtime_error(outcome.message);
}

Verdict Driver::record(std::size_t i, runtime::TaskContext& ctx, int number,
                       store::AttemptStart start, bool begun, const backends::CommandOutcome& o) {
  using End = backends::CommandOutcome::End;
  Slot& slot = slots_[i];
  const workflow::Task& t = *slot.task;
  if (!begun && o.end == End::kCancelled) return Verdict::kReturn;  // never started

  store::AttemptOutcome out;
  if (o.end == End::kExited) out.exit_code = o.exit_code;
  if (o.signal != 0) out.signal = o.signal;
  out.wall = micros(o.wall);
  out.user = micros(o.user_cpu);
  out.sys = micros(o.system_cpu);
  out.peak_rss_kb = o.peak_rss_kb;
  out.message = o.message;

  const bool stopping = stopping_.load();
  if (o.succeeded() && !stopping) {
    out.status = store::AttemptStatus::kSucceeded;
  } else if (o.succeeded()) {
    // Ended well while the run was being cancelled: a success is a success.
    out.status = store::AttemptStatus::kSucceeded;
  } else if (stopping || (o.end == End::kCancelled && fail_fast_fired_.load())) {
    out.status = store::AttemptStatus::kCancelled;
  } else if (o.end == End::kTimedOut ||
             (o.end == End::kCancelled && t.timeout > Duration::zero())) {
    // The runtime's per-attempt timeout is the only other source of a stop request.
    out.status = store::AttemptStatus::kTimedOut;
    const std::string_view prefix = "cancelled";
    if (o.message.starts_with(prefix)) {
      out.message =
          "timed out after " + format_duration(t.timeout) + o.message.substr(prefix.size());
    }
  } else if (o.end == End::kCancelled) {
    out.status = store::AttemptStatus::kCancelled;
  } else {
    out.status = store::AttemptStatus::kFailed;
  }

  const bool failure =
      out.status == store::AttemptStatus::kFailed || out.status == store::AttemptStatus::kTimedOut;
  const bool retry =
      failure && ctx.attempt() <= t.retries && !stopping_.load() && !fail_fast_fired_.load();
  TaskStatus after = TaskStatus::kSucceeded;
  TaskEvent::Kind kind = TaskEvent::Kind::kSucceeded;
  switch (out.status) {
    case store::AttemptStatus::kSucceeded:
      break;
    case store::AttemptStatus::kFailed:
      after = retry ? TaskStatus::kReady : TaskStatus::kFailed;
      kind = retry ? TaskEvent::Kind::kRetrying : TaskEvent::Kind::kFailed;
      break;
    case store::AttemptStatus::kTimedOut:
      after = retry ? TaskStatus::kReady : TaskStatus::kTimedOut;
      kind = retry ? TaskEvent::Kind::kRetrying : TaskEvent::Kind::kTimedOut;
      break;
    default:
      after = TaskStatus::kCancelled;
      kind = TaskEvent::Kind::kCancelled;
      break;
  }

  if (!begun) db_.begin_attempt(run_, t.id, number, start);  // failed to start: still recorded
  const bool first_end = is_final(after) ? !slot.ended.exchange(true) : true;
  db_.finish_attempt(run_, t.id, number, out, after);
  view_.event(
      {.kind = kind, .task = t.id, .attempt = number, .wall = o.wall, .detail = out.message});

  if (after == TaskStatus::kSucceeded) {
    if (first_end) end_slot_succeeded(i);
    return Verdict::kReturn;
  }
  if (is_final(after) && first_end) {
    if (after == TaskStatus::kCancelled) {
      cancelled_.fetch_add(1);
    } else {
      failed_.fetch_add(1);
      if (settings_.fail_fast) fail_fast_fired_.store(true);
    }
    end_slot_failed(i);
  }
  // A failure throws so the runtime retries it; a timeout or cancellation is known to it.
  return out.status == store::AttemptStatus::kFailed ? Verdict::kFail : Verdict::kReturn;
}

void Driver::end_slot_succeeded(std::size_t i) {
  succeeded_.fetch_add(1);
  for (std::size_t d : slots_[i].dependents) {
    if (slots_[d].unmet.fetch_sub(1) == 1 && !slots_[d].ended.load()) {
      db_.set_task_status(run_, slots_[d].task->id, TaskStatus::kReady);
    }
  }
}

void Driver::end_slot_failed(std::size_t i) {
  const std::string& upstream = slots_[i].task->id;
  std::vector<std::size_t> to_skip = slots_[i].dependents;
  while (!to_skip.empty()) {
    const std::size_t d = to_skip.back();
    to_skip.pop_back();
    if (slots_[d].ended.exchange(true)) continue;
    db_.skip_task(run_, slots_[d].task->id, upstream);
    skipped_.fetch_add(1);
    view_.event(
        {.kind = TaskEvent::Kind::kSkipped, .task = slots_[d].task->id, .detail = upstream});
    to_skip.insert(to_skip.end(), slots_[d].dependents.begin(), slots_[d].dependents.end());
  }
}

void Driver::stop(const std::string& why, runtime::Run& handle) {
  {
    std::lock_guard lock(mutex_);
    if (cancel_reason_.empty()) cancel_reason_ = why;
  }
  stopping_.store(true);
  view_.note("cancelling: " + why);
  handle.cancel();
}

void Driver::force() {
  forcing_.store(true);
  std::size_t n = 0;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [slot, r] : running_) {
      ::kill(-r.pid, SIGKILL);
      ++n;
    }
  }
  view_.note("forcing: sent SIGKILL to " + std::to_string(n) + " running process group" +
             (n == 1 ? "" : "s"));
}

void Driver::fail_run(std::exception_ptr error) {
  runtime::Run* handle = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (fatal_) return;
    fatal_ = error;
    handle = handle_;
    if (cancel_reason_.empty()) cancel_reason_ = "stopped by an error";
  }
  stopping_.store(true);
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    view_.note(std::string("stopping the run: ") + e.what());
  }
  if (handle != nullptr) handle->cancel();
}

void Driver::forget_running(std::size_t i) {
  std::lock_guard lock(mutex_);
  running_.erase(i);
}

ProgressSnapshot Driver::snapshot() const {
  ProgressSnapshot s;
  const auto now = steady_clock::now();
  s.total = total_;
  s.succeeded = succeeded_before_ + succeeded_.load();
  s.failed = failed_.load();
  s.skipped = skipped_.load();
  s.cancelled = cancelled_.load();
  s.elapsed = now - started_at_;
  s.cancelling = stopping_.load();
  std::lock_guard lock(mutex_);
  s.running = running_.size();
  for (const auto& [slot, r] : running_) {
    s.running_tasks.emplace_back(slots_[slot].task->id, now - r.since);
  }
  std::sort(s.running_tasks.begin(), s.running_tasks.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  return s;
}

void Driver::reconcile(const runtime::RunReport& report) {
  for (const runtime::TaskReport& tr : report.tasks) {
    auto it = slot_of_.find(tr.id);
    if (it == slot_of_.end()) continue;
    Slot& slot = slots_[it->second];
    if (slot.ended.exchange(true)) continue;
    switch (tr.status) {
      case TaskStatus::kSkipped:
        db_.skip_task(run_, tr.id, tr.skipped_because);
        skipped_.fetch_add(1);
        view_.event(
            {.kind = TaskEvent::Kind::kSkipped, .task = tr.id, .detail = tr.skipped_because});
        break;
      case TaskStatus::kFailed:
      case TaskStatus::kTimedOut:
        db_.set_task_status(run_, tr.id, tr.status, tr.error);
        failed_.fetch_add(1);
        break;
      default:
        db_.set_task_status(run_, tr.id, TaskStatus::kCancelled,
                            stopping_.load() ? "run cancelled" : "run stopped");
        cancelled_.fetch_add(1);
        break;
    }
  }
}

}  // namespace

store::NewRun new_run_of(const workflow::Workflow& wf) {
  store::NewRun r;
  r.workflow_name = wf.name;
  std::error_code ec;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(wf.file, ec);
  r.workflow_path = (ec ? std::filesystem::absolute(wf.file) : canonical).string();
  r.fingerprint = wf.fingerprint;
  r.tasks.reserve(wf.tasks.size());
  for (const workflow::Task& t : wf.tasks) r.tasks.push_back({t.id, t.group});
  return r;
}

std::filesystem::path log_directory(const store::RunStore& db, store::RunId run) {
  std::filesystem::path dir = db.file().parent_path();
  return std::filesystem::absolute(dir / "logs" / std::to_string(run));
}

RunResult run_workflow(const workflow::Workflow& wf, store::RunStore& db, store::Lease& lease,
                       const RunSettings& settings) {
  if (settings.view == nullptr) throw InvalidArgumentError("run_workflow: no progress view");
  Driver driver(wf, db, lease, settings);
  return driver.run();
}

}  // namespace taskloom::cli
