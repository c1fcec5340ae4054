// WorkflowRun: a workflow as a graph of async runtime tasks, each attempt started through a
// Backend, every transition the runtime reports written to the Journal by an observer.
#include "taskloom/runner/workflow_run.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "taskloom/core/error.hpp"
#include "taskloom/runner/forecast.hpp"
#include "taskloom/runner/outputs.hpp"
#include "taskloom/runtime/completion.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/observer.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"
#include "taskloom/store/run_store.hpp"

namespace taskloom::runner {
namespace {

using std::chrono::steady_clock;
using SteadyTime = steady_clock::time_point;
using End = backends::AttemptResult::End;

template <class D>
std::chrono::microseconds micros(D d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d);
}

store::AttemptStatus attempt_status(TaskStatus s) {
  switch (s) {
    case TaskStatus::kSucceeded:
      return store::AttemptStatus::kSucceeded;
    case TaskStatus::kTimedOut:
      return store::AttemptStatus::kTimedOut;
    case TaskStatus::kCancelled:
      return store::AttemptStatus::kCancelled;
    case TaskStatus::kReady:  // it yielded to more important work and is queued again
      return store::AttemptStatus::kInterrupted;
    default:
      return store::AttemptStatus::kFailed;
  }
}

TaskEvent::Kind event_kind(TaskStatus s, bool retry) {
  if (retry) return TaskEvent::Kind::kRetrying;
  switch (s) {
    case TaskStatus::kSucceeded:
      return TaskEvent::Kind::kSucceeded;
    case TaskStatus::kTimedOut:
      return TaskEvent::Kind::kTimedOut;
    case TaskStatus::kCancelled:
      return TaskEvent::Kind::kCancelled;
    default:
      return TaskEvent::Kind::kFailed;
  }
}

/// One task this runner runs. The fields of the current attempt are written by the backend's
/// callbacks and read by the observer's on_attempt_end, which the Completion orders after them.
struct Slot {
  const workflow::Task* task = nullptr;
  int base_attempts = 0;                     // attempts recorded by earlier runners of the run
  int failures_before = 0;                   // of those, failed or timed out: retries used
  std::optional<store::AttemptRecord> open;  // an earlier runner's attempt to follow again
  int number = 0;                            // the current attempt's number in the journal
  bool begun = false;                        // the current attempt is in the journal
  store::AttemptStart start;
  backends::AttemptResult result;
  bool final_by_attempt = false;     // the journal has its final status from attempt_ended
  bool ran = false;                  // this runner started an attempt of it, or followed one
  bool may_be_up_to_date = false;    // has outputs, not forced, outputs trusted (set by build)
  std::string up_to_date;            // why it did not run: its outputs are up to date
  std::optional<Duration> forecast;  // from history (runner/forecast.hpp)
  std::filesystem::file_time_type began_at{};  // of the current attempt, for partial outputs
};

}  // namespace

struct WorkflowRun::State final : runtime::RunObserver {
  const workflow::Workflow& wf;
  Journal& journal;
  backends::Backend& backend;
  RunnerOptions options;
  /// The pools the runtime bounds: the workflow's own and those the backend has (a local host's
  /// CPUs and memory; none on Slurm, which places cpu, memory and gpu itself).
  Resources capacity;

  std::vector<Slot> slots;    // built before the run; then each slot is touched by its own task
  bool any_forecast = false;  // some slot has one: progress() computes an ETA
  /// Per slot: its final status is reported (read by progress() for the ETA).
  std::unique_ptr<std::atomic<bool>[]> task_ended;
  std::unordered_map<std::string_view, std::size_t> slot_of;
  /// Every task of the workflow by id, when some may be up to date (their upstream's outputs).
  std::unordered_map<std::string_view, const workflow::Task*> task_of;
  std::size_t total = 0;
  std::size_t succeeded_before = 0;
  SteadyTime started_at = steady_clock::now();

  std::atomic<bool> stopping{false};  // cancel() or a journal error
  std::atomic<std::size_t> succeeded{0}, failed{0}, skipped{0}, cancelled{0}, up_to_date{0};

  mutable std::mutex mu;
  std::map<std::size_t, SteadyTime> running;  // guarded by mu
  std::string cancel_reason;                  // guarded by mu
  std::exception_ptr fatal;                   // guarded by mu
  SteadyTime next_cancel_poll{}, next_heartbeat{};

  std::unique_ptr<runtime::Executor> executor;
  runtime::TaskGraph graph;
  runtime::Run run;

  State(const workflow::Workflow& w, Journal& j, backends::Backend& b, RunnerOptions o)
      : wf(w), journal(j), backend(b), options(std::move(o)) {}

  void emit(TaskEvent e) {
    if (options.on_event) options.on_event(e);
  }

  /// A journal call that fails stops the run; the error is rethrown by finish().
  template <class F>
  void journaled(F f) noexcept {
    try {
      f();
    } catch (...) {
      fail_run(std::current_exception());
    }
  }

  void fail_run(std::exception_ptr error) noexcept {
    {
      std::lock_guard lock(mu);
      if (fatal) return;
      fatal = error;
      if (cancel_reason.empty()) cancel_reason = "stopped by an error";
    }
    stopping.store(true);
    if (run.valid()) run.cancel();
  }

  void build();
  void start_attempt(std::size_t i, runtime::TaskContext& ctx, runtime::Completion done);
  /// Follows slot i's open attempt again through the backend; false if the backend cannot.
  bool reattach(std::size_t i, runtime::Completion& done);
  backends::AttemptSpec spec_of(const Slot& slot) const;
  backends::AttemptCallbacks callbacks(std::size_t i, runtime::Completion done);

  // --- runtime::RunObserver: every transition, into the journal
  void on_ready(const runtime::TaskRef& t) override {
    journaled([&] { journal.task_ready(slots[t.index].task->id); });
    if (options.observer) options.observer->on_ready(t);
  }
  void on_attempt_begin(const runtime::TaskRef& t, unsigned attempt, unsigned worker) override {
    // Journaled when the backend reports where the attempt runs (start_attempt).
    if (options.observer) options.observer->on_attempt_begin(t, attempt, worker);
  }
  void on_attempt_end(const runtime::TaskRef& t, const runtime::AttemptEnd& e) override {
    journal_attempt_end(t, e);
    if (options.observer) options.observer->on_attempt_end(t, e);
  }
  void on_task_end(const runtime::TaskRef& t, TaskStatus status,
                   std::string_view upstream) override {
    journal_task_end(t, status, upstream);
    if (options.observer) options.observer->on_task_end(t, status, upstream);
  }
  void on_run_end(bool was_cancelled) override {
    if (options.observer) options.observer->on_run_end(was_cancelled);
  }
  void journal_attempt_end(const runtime::TaskRef& t, const runtime::AttemptEnd& e);
  /// An earlier runner's open attempt of a task the workflow no longer has (resume --force):
  /// followed with a stop already requested, so its job ends (scancel), then recorded.
  void stop_orphaned(const store::AttemptRecord& open);
  void journal_task_end(const runtime::TaskRef& t, TaskStatus status, std::string_view upstream);
};

void WorkflowRun::State::stop_orphaned(const store::AttemptRecord& open) {
  store::AttemptOutcome out;
  out.status = store::AttemptStatus::kCancelled;
  out.message = "cancelled: the task is not in the workflow any more";
  if (open.start.backend == backend.name()) {
    std::stop_source stop;
    stop.request_stop();
    std::promise<backends::AttemptResult> ended;
    std::future<backends::AttemptResult> result = ended.get_future();
    const backends::AttemptSpec spec{.task = open.task,
                                     .attempt = open.number,
                                     .stdout_path = open.start.stdout_path,
                                     .stderr_path = open.start.stderr_path};
    const backends::Placement where{.backend = open.start.backend,
                                    .pid = open.start.pid,
                                    .job_id = open.start.job_id,
                                    .nodes = open.start.nodes};
    if (backend.reattach(
            spec, where, stop.get_token(),
            {.ended = [&ended](backends::AttemptResult r) { ended.set_value(std::move(r)); }})) {
      const backends::AttemptResult r = result.get();
      out.nodes = r.nodes;
      if (r.end != End::kCancelled) {  // it had ended before the stop: keep how
        out.status =
            r.succeeded() ? store::AttemptStatus::kSucceeded : store::AttemptStatus::kFailed;
        if (r.exit_code >= 0) out.exit_code = r.exit_code;
        if (r.signal != 0) out.signal = r.signal;
        out.message = r.message + " (the task is not in the workflow any more)";
      } else {
        out.message = r.message + ": the task is not in the workflow any more";
      }
    }
  } else {
    out.status = store::AttemptStatus::kInterrupted;
  }
  journal.attempt_ended(open.task, open.number, out, TaskStatus::kCancelled);
}

void WorkflowRun::State::build() {
  std::vector<store::TaskRecord> records = journal.tasks();
  std::unordered_map<std::string_view, const store::TaskRecord*> record_of;
  for (const auto& r : records) record_of.emplace(r.id, &r);
  total = records.size();
  std::unordered_map<std::string_view, bool> defined;
  for (const workflow::Task& t : wf.tasks) defined.emplace(t.id, true);
  std::unordered_map<std::string, store::AttemptRecord> open_of;
  for (store::AttemptRecord& a : journal.open_attempts()) open_of.emplace(a.task, std::move(a));
  for (const auto& r : records) {
    if (r.status == TaskStatus::kSucceeded) {
      ++succeeded_before;
    } else if (!defined.contains(r.id)) {
      if (auto open = open_of.find(r.id); open != open_of.end()) stop_orphaned(open->second);
      journal.task_ended(r.id, TaskStatus::kCancelled, "not in the workflow any more");
      cancelled.fetch_add(1);
    }
  }
  for (const workflow::Task& t : wf.tasks) {
    auto it = record_of.find(t.id);
    if (it == record_of.end()) continue;  // added to the file after the run began (--force)
    if (it->second->status == TaskStatus::kSucceeded) continue;
    slot_of.emplace(t.id, slots.size());
    slots.push_back({.task = &t,
                     .base_attempts = it->second->attempts,
                     .failures_before = it->second->failures});
    if (auto open = open_of.find(t.id); open != open_of.end()) {
      slots.back().open = std::move(open->second);
    }
  }
  task_ended = std::make_unique<std::atomic<bool>[]>(slots.size());
  const Forecasts forecasts(wf, journal.recent_durations());
  for (Slot& slot : slots) {
    slot.forecast = forecasts.of(*slot.task);
    any_forecast = any_forecast || slot.forecast.has_value();
  }
  // Which tasks may be found up to date: with outputs, not forced, and not left by an attempt
  // that did not succeed (its files may be partial).
  const std::vector<std::string> untrusted = journal.tasks_without_success();
  const std::unordered_set<std::string_view> distrusted(untrusted.begin(), untrusted.end());
  for (Slot& slot : slots) {
    const workflow::Task& t = *slot.task;
    slot.may_be_up_to_date =
        !t.outputs.empty() && !options.forces(t) && !distrusted.contains(t.id) && !slot.open;
    if (slot.may_be_up_to_date && task_of.empty()) {
      for (const workflow::Task& w : wf.tasks) task_of.emplace(w.id, &w);
    }
  }
  // Graph indices are slot indices: tasks are added in slot order.
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const workflow::Task& t = *slots[i].task;
    runtime::TaskOptions o;
    for (const std::string& dep : t.after) {
      if (slot_of.contains(dep)) o.after.push_back(dep);  // else it succeeded already
    }
    o.priority = t.priority;
    // A resumed task has the retries it had left (an interrupted attempt used none); one that
    // used them all still gets the attempt a resume is for.
    const auto used = static_cast<unsigned>(slots[i].failures_before);
    o.retries = t.retries > used ? t.retries - used : 0;
    for (const auto& [pool, amount] : t.needs) {
      if (capacity.contains(pool)) o.needs.set(pool, amount);  // else the backend's to place
    }
    o.metadata = t.metadata;
    // Weighed by how long it took before, else by its timeout (enforced by the backend).
    o.weight = workflow::weight_of(t);
    if (t.timeout > Duration::zero()) o.expected_duration = t.timeout;
    if (slots[i].forecast) {
      o.expected_duration = *slots[i].forecast;
      o.weight = std::max(1e-6, std::chrono::duration<double>(*slots[i].forecast).count());
    }
    graph.add_async(
        t.id,
        [this, i](runtime::TaskContext& ctx, runtime::Completion done) {
          start_attempt(i, ctx, std::move(done));
        },
        std::move(o));
  }
}

backends::AttemptSpec WorkflowRun::State::spec_of(const Slot& slot) const {
  const workflow::Task& t = *slot.task;
  backends::AttemptSpec spec{.task = t.id,
                             .attempt = slot.number,
                             .command = t.run,
                             .env = t.env,
                             .cwd = t.cwd,
                             .stdout_path = slot.start.stdout_path,
                             .stderr_path = slot.start.stderr_path,
                             .needs = t.needs,
                             .features = t.features,
                             .timeout = t.timeout,
                             .kill_grace = options.kill_grace,
                             .priority = t.priority};
  spec.env.insert(spec.env.end(), options.env.begin(), options.env.end());
  spec.env.emplace_back("TASKLOOM_TASK", t.id);
  spec.env.emplace_back("TASKLOOM_ATTEMPT", std::to_string(slot.number));
  return spec;
}

backends::AttemptCallbacks WorkflowRun::State::callbacks(std::size_t i, runtime::Completion done) {
  return {.started =
              [this, i](const backends::Placement& p) {
                Slot& s = slots[i];
                s.start.backend = p.backend;
                s.start.pid = p.pid;
                s.start.pgid = p.pid;
                s.start.job_id = p.job_id;
                s.start.nodes = p.nodes;
                journaled([&] { journal.attempt_began(s.task->id, s.number, s.start); });
                s.begun = true;
                {
                  std::lock_guard lock(mu);
                  running[i] = steady_clock::now();
                }
                emit({.kind = TaskEvent::Kind::kStarted, .task = s.task->id, .attempt = s.number});
              },
          .ended =
              [this, i, done](backends::AttemptResult r) mutable {
                Slot& s = slots[i];
                {
                  std::lock_guard lock(mu);
                  running.erase(i);
                }
                const End end = r.end;
                std::string message = r.message;
                s.result = std::move(r);
                switch (end) {
                  case End::kSucceeded:
                    done.succeed();
                    break;
                  case End::kTimedOut:
                    done.time_out(std::move(message));
                    break;
                  default:  // a cancelled one ends cancelled: the runtime knows the run was
                    done.fail(std::move(message));
                    break;
                }
              }};
}

bool WorkflowRun::State::reattach(std::size_t i, runtime::Completion& done) {
  Slot& slot = slots[i];
  const store::AttemptRecord open = std::move(*slot.open);
  slot.open.reset();
  slot.number = open.number;
  slot.start = open.start;
  const backends::Placement where{.backend = open.start.backend,
                                  .pid = open.start.pid,
                                  .job_id = open.start.job_id,
                                  .nodes = open.start.nodes};
  {
    std::lock_guard lock(mu);
    running[i] = steady_clock::now();
  }
  // Journaled before the backend can report the end, which is journaled after it.
  bool followed = false;
  journaled([&] { journal.attempt_resumed(slot.task->id, slot.number); });
  slot.begun = true;
  if (open.start.backend == backend.name()) {
    followed = backend.reattach(spec_of(slot), where, done.stop_token(), callbacks(i, done));
  }
  if (followed) {
    slot.ran = true;
    emit({.kind = TaskEvent::Kind::kStarted, .task = slot.task->id, .attempt = slot.number});
    return true;
  }
  {
    std::lock_guard lock(mu);
    running.erase(i);
  }
  store::AttemptOutcome out;
  out.status = store::AttemptStatus::kInterrupted;
  out.message = "the runner stopped during this attempt, and this runner's backend (" +
                std::string(backend.name()) + ") cannot follow its " + open.start.backend +
                " job again";
  journaled([&] { journal.attempt_ended(slot.task->id, slot.number, out, TaskStatus::kReady); });
  slot.begun = false;
  slot.base_attempts = slot.number;  // the next attempt is a new one, numbered after it
  return false;
}

void WorkflowRun::State::start_attempt(std::size_t i, runtime::TaskContext& ctx,
                                       runtime::Completion done) {
  Slot& slot = slots[i];
  if (slot.open && ctx.attempt() == 1) {
    if (reattach(i, done)) return;
  }
  const workflow::Task& t = *slot.task;
  if (slot.may_be_up_to_date && ctx.attempt() == 1) {
    std::vector<const workflow::Task*> upstream;
    for (const std::string& dep : t.after) {
      if (auto it = task_of.find(dep); it != task_of.end()) upstream.push_back(it->second);
    }
    Freshness f = freshness(t, upstream);
    if (f.up_to_date) {
      slot.up_to_date = std::move(f.reason);
      done.succeed();
      return;
    }
  }
  // Numbered after every attempt recorded, the reattached one included.
  slot.number = std::max(slot.number, slot.base_attempts) + 1;
  slot.begun = false;
  slot.ran = true;
  slot.result = {};
  const std::string stem = (options.log_dir / (t.id + "." + std::to_string(slot.number))).string();
  slot.start = {.stdout_path = stem + ".out", .stderr_path = stem + ".err"};
  const std::stop_token stop = done.stop_token();  // before `done` moves into the callbacks
  slot.began_at = std::filesystem::file_time_type::clock::now();
  backend.start(spec_of(slot), stop, callbacks(i, std::move(done)));
}

void WorkflowRun::State::journal_attempt_end(const runtime::TaskRef& t,
                                             const runtime::AttemptEnd& e) {
  Slot& slot = slots[t.index];
  if (!slot.up_to_date.empty()) {  // not run: recorded as succeeded, with why
    journaled([&] { journal.task_ended(t.id, TaskStatus::kSucceeded, slot.up_to_date); });
    slot.final_by_attempt = true;
    up_to_date.fetch_add(1);
    emit(
        {.kind = TaskEvent::Kind::kUpToDate, .task = std::string(t.id), .detail = slot.up_to_date});
    return;
  }
  const backends::AttemptResult& r = slot.result;
  if (!slot.begun && r.end == End::kCancelled) return;  // never started: cancelled before
  store::AttemptOutcome out;
  out.status = attempt_status(e.status);
  if (r.exit_code >= 0) out.exit_code = r.exit_code;
  if (r.signal != 0) out.signal = r.signal;
  out.wall = micros(r.wall);
  out.user = micros(r.user_cpu);
  out.sys = micros(r.system_cpu);
  out.peak_rss_kb = r.peak_rss_kb;
  out.nodes = r.nodes;
  out.message = r.message.empty() ? std::string(e.message) : r.message;
  if (e.status != TaskStatus::kSucceeded && slot.begun && !slot.task->outputs.empty()) {
    // What the attempt wrote is not a result (make's .DELETE_ON_ERROR).
    const auto removed = remove_partial_outputs(*slot.task, slot.began_at);
    if (!removed.empty()) {
      out.message += "; removed " + std::to_string(removed.size()) + " partial output" +
                     (removed.size() == 1 ? "" : "s") + " (" + removed.front().filename().string() +
                     (removed.size() > 1 ? ", ...)" : ")");
    }
  }
  const TaskStatus after = e.retry ? TaskStatus::kReady : e.status;
  journaled([&] {
    if (!slot.begun) journal.attempt_began(t.id, slot.number, slot.start);  // failed to start
    journal.attempt_ended(t.id, slot.number, out, after);
  });
  slot.begun = false;
  slot.final_by_attempt = !e.retry;
  emit({.kind = event_kind(e.status, e.retry),
        .task = std::string(t.id),
        .attempt = slot.number,
        .wall = r.wall,
        .detail = out.message});
}

void WorkflowRun::State::journal_task_end(const runtime::TaskRef& t, TaskStatus status,
                                          std::string_view upstream) {
  Slot& slot = slots[t.index];
  task_ended[t.index].store(true, std::memory_order_relaxed);
  switch (status) {
    case TaskStatus::kSucceeded:
      succeeded.fetch_add(1);
      break;
    case TaskStatus::kSkipped:
      skipped.fetch_add(1);
      break;
    case TaskStatus::kCancelled:
      cancelled.fetch_add(1);
      break;
    default:
      failed.fetch_add(1);
      break;
  }
  if (slot.final_by_attempt) return;  // journaled with the attempt's outcome
  if (status == TaskStatus::kSkipped) {
    journaled([&] { journal.task_skipped(t.id, upstream); });
    emit({.kind = TaskEvent::Kind::kSkipped,
          .task = std::string(t.id),
          .detail = std::string(upstream)});
  } else {
    journaled([&] {
      journal.task_ended(t.id, status,
                         stopping.load() ? "not started: the run was cancelled"
                                         : "not started: the run stopped at a failure (fail-fast)");
    });
  }
}

WorkflowRun::WorkflowRun(const workflow::Workflow& wf, Journal& journal, backends::Backend& backend,
                         RunnerOptions options)
    : state_(std::make_unique<State>(wf, journal, backend, std::move(options))) {
  State& s = *state_;
  if (s.options.log_dir.empty()) {
    throw InvalidArgumentError("RunnerOptions::log_dir is empty — give the logs a directory");
  }
  // Before anything is journaled: a task that can never fit where it runs is bad input.
  s.capacity = workflow::capacities(wf, backend.capacity());
  s.build();
  // Bodies only start attempts, which then hold no thread: one worker keeps up with any number
  // of attempts in flight, and takes ready tasks strictly in priority order.
  runtime::ExecutorOptions eo;
  eo.workers = 1;
  eo.caller_helps = false;
  eo.thread_name = "taskloom-run";
  s.executor = std::make_unique<runtime::Executor>(eo);

  runtime::RunOptions ro;
  ro.failure_policy =
      s.options.fail_fast ? runtime::FailurePolicy::kFailFast : runtime::FailurePolicy::kContinue;
  ro.backoff = s.options.backoff;
  ro.trace_path = s.options.trace_path;
  ro.resources = s.capacity;
  ro.max_concurrency = s.options.max_running;
  // The state outlives the run (the destructor waits), so the observer needs no ownership.
  ro.observer = std::shared_ptr<runtime::RunObserver>(state_.get(), [](runtime::RunObserver*) {});
  s.started_at = steady_clock::now();
  s.next_cancel_poll = s.started_at;
  s.next_heartbeat = s.started_at + s.options.heartbeat;
  s.run = s.executor->run(s.graph, std::move(ro));
}

WorkflowRun::~WorkflowRun() {
  if (state_->run.valid() && !state_->run.done()) {
    state_->run.cancel();
    while (!state_->run.done()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool WorkflowRun::done() const {
  return state_->run.done();
}

void WorkflowRun::cancel(const std::string& reason) {
  {
    std::lock_guard lock(state_->mu);
    if (state_->cancel_reason.empty()) state_->cancel_reason = reason;
  }
  state_->stopping.store(true);
  state_->run.cancel();
}

void WorkflowRun::force() {
  state_->backend.kill_all();
}

void WorkflowRun::tend() {
  State& s = *state_;
  const auto now = steady_clock::now();
  s.journaled([&] {
    if (now >= s.next_cancel_poll && !s.stopping.load()) {
      s.next_cancel_poll = now + s.options.cancel_poll;
      if (s.journal.cancel_requested()) cancel("cancel requested (taskloom cancel)");
    }
    if (now >= s.next_heartbeat) {
      s.next_heartbeat = now + s.options.heartbeat;
      s.journal.heartbeat();
    }
  });
}

RunProgress WorkflowRun::progress() const {
  const State& s = *state_;
  RunProgress p;
  const auto now = steady_clock::now();
  p.total = s.total;
  p.succeeded = s.succeeded_before + s.succeeded.load();
  p.up_to_date = s.up_to_date.load();
  p.failed = s.failed.load();
  p.skipped = s.skipped.load();
  p.cancelled = s.cancelled.load();
  p.elapsed = now - s.started_at;
  p.cancelling = s.stopping.load();
  std::lock_guard lock(s.mu);
  p.running = s.running.size();
  for (const auto& [slot, since] : s.running) {
    p.running_tasks.emplace_back(s.slots[slot].task->id, now - since);
  }
  // ETA: the forecast work left over the attempts running now (O(tasks) per call; the display
  // asks a few times a second).
  Duration left{}, longest{};
  bool any = false;
  for (std::size_t i = 0; s.any_forecast && i < s.slots.size(); ++i) {
    const Slot& slot = s.slots[i];
    if (s.task_ended[i].load(std::memory_order_relaxed)) continue;
    if (!slot.forecast) {
      ++p.without_forecast;
      continue;
    }
    any = true;
    Duration d = *slot.forecast;
    if (auto r = s.running.find(i); r != s.running.end()) {
      d = std::max(Duration::zero(), d - (now - r->second));
      longest = std::max(longest, d);
    }
    left += d;
  }
  if (any) {
    p.eta = std::max(longest, left / static_cast<long>(std::max<std::size_t>(1, p.running)));
  }
  std::sort(p.running_tasks.begin(), p.running_tasks.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  return p;
}

RunOutcome WorkflowRun::finish() {
  State& s = *state_;
  while (!s.run.done()) {
    tend();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  RunOutcome out;
  out.report = s.run.report();
  out.ran = static_cast<std::size_t>(
      std::count_if(s.slots.begin(), s.slots.end(), [](const Slot& slot) { return slot.ran; }));
  out.up_to_date = s.up_to_date.load();
  std::exception_ptr fatal;
  std::string reason;
  {
    std::lock_guard lock(s.mu);
    fatal = s.fatal;
    reason = s.cancel_reason;
  }
  if (fatal) {
    try {  // best effort: the journal may be what failed; what it recorded stays
      s.journal.run_ended(store::RunStatus::kFailed, "stopped by an error");
    } catch (const std::exception&) {
    }
    std::rethrow_exception(fatal);
  }
  std::size_t ok = 0, failed = 0, timed_out = 0, skipped = 0, cancelled = 0;
  for (const store::TaskRecord& r : s.journal.tasks()) {
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
  if (s.stopping.load()) {
    out.status = store::RunStatus::kCancelled;
    out.message = reason;
  } else if (ok == s.total) {
    out.status = store::RunStatus::kSucceeded;
  } else {
    out.status = store::RunStatus::kFailed;
    auto add = [&out](std::size_t count, std::string_view what) {
      if (count == 0) return;
      if (!out.message.empty()) out.message += ", ";
      out.message += std::to_string(count) + " " + std::string(what);
    };
    add(failed, "failed");
    add(timed_out, "timed out");
    add(skipped, "skipped");
    add(cancelled, "cancelled");
  }
  s.journal.run_ended(out.status, out.message);
  return out;
}

bool RunnerOptions::forces(const workflow::Task& t) const {
  return force_all || std::find(force.begin(), force.end(), t.id) != force.end() ||
         std::find(force.begin(), force.end(), t.group) != force.end();
}

RunOutcome run_workflow(const workflow::Workflow& wf, Journal& journal, backends::Backend& backend,
                        RunnerOptions options) {
  WorkflowRun run(wf, journal, backend, std::move(options));
  return run.finish();
}

store::NewRun new_run_of(const workflow::Workflow& wf, std::vector<std::string> targets) {
  store::NewRun r;
  r.targets = std::move(targets);
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

}  // namespace taskloom::runner
