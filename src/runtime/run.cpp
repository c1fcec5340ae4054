#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <stdexcept>

#include "taskloom/core/error.hpp"
#include "taskloom/core/units.hpp"
#include "taskloom/runtime/task_context.hpp"

#include "core/detail/assert.hpp"
#include "runtime/detail/run_state.hpp"
#include "runtime/detail/ticks.hpp"

namespace taskloom::runtime {
namespace detail {
namespace {

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception (not derived from std::exception)";
  }
}

Duration backoff_delay(const RetryBackoff& b, unsigned failed_attempt) {
  double delay = static_cast<double>(b.initial.count()) *
                 std::pow(b.multiplier, static_cast<double>(failed_attempt - 1));
  delay = std::min(delay, static_cast<double>(b.max.count()));
  if (b.jitter > 0) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_real_distribution<double> fraction(0.0, std::min(b.jitter, 1.0));
    delay *= 1.0 - fraction(rng);
  }
  return Duration(static_cast<Duration::rep>(std::max(delay, 0.0)));
}

void check_options(const RunOptions& o) {
  const RetryBackoff& b = o.backoff;
  if (b.initial < Duration::zero() || b.max < Duration::zero() || !(b.multiplier >= 1.0) ||
      !(b.jitter >= 0.0 && b.jitter <= 1.0)) {
    throw InvalidArgumentError(
        "RunOptions::backoff is invalid — initial and max must be >= 0, multiplier >= 1 and "
        "jitter in [0, 1]");
  }
}

bool key_less(const Item& a, const Item& b) noexcept {
  return a.key < b.key;
}

}  // namespace

RunState::RunState(ExecutorCore& core, GraphData& graph, std::shared_ptr<const Compiled> plan,
                   RunOptions options)
    : core_(core),
      graph_(graph),
      plan_(std::move(plan)),
      options_(std::move(options)),
      shared_(options_.shared),
      runs_of_graph_(graph.runs),
      observer_(options_.observer.get()) {
  check_options(options_);
  const std::size_t n = plan_->dag.node_count();
  if (!options_.targets.empty()) {
    included_.assign(n, 0);
    std::vector<std::uint32_t> stack;
    for (const std::string& target : options_.targets) {
      auto it = graph_.by_id.find(target);
      if (it == graph_.by_id.end()) graph_.throw_unknown_task(target, "RunOptions::targets");
      stack.push_back(it->second);
    }
    while (!stack.empty()) {
      const std::uint32_t v = stack.back();
      stack.pop_back();
      if (included_[v]) continue;
      included_[v] = 1;
      for (std::uint32_t p : plan_->dag.predecessors(v)) {
        if (!included_[p]) stack.push_back(p);
      }
    }
    for (std::uint32_t s : plan_->sources) {
      if (included_[s]) own_sources_.push_back(s);
    }
    sources_ = &own_sources_;
  } else {
    sources_ = &plan_->sources;
  }

  nodes_ = BlockArray<NodeState>(n, [&](std::size_t v) {
    return NodeState(included(v) ? plan_->dag.in_degree(static_cast<std::uint32_t>(v)) : 0);
  });
  total_ = included_.empty()
               ? n
               : static_cast<std::size_t>(std::count(included_.begin(), included_.end(), 1));
  if (plan_->returns_values) results_ = std::make_unique<std::any[]>(n);

  // Resources: every request is checked against the pools before anything runs.
  if (!options_.resources.empty()) {
    own_admission_ = std::make_unique<ResourceAdmission>(options_.resources, core_.clock());
    admission_ = own_admission_.get();
  } else {
    admission_ = core_.admission();
  }
  bool needs_resources = false;
  for (const NodeMeta& m : plan_->metas) needs_resources = needs_resources || !m.needs.empty();
  if (needs_resources) {
    requests_.reserve(plan_->metas.size());
    for (const NodeMeta& m : plan_->metas) {
      if (admission_ == nullptr && !m.needs.empty()) {
        const auto& [pool, amount] = *m.needs.begin();
        throw ResourceRequestError(m.id, pool, amount, -1);  // no pools at all
      }
      requests_.push_back(admission_ != nullptr ? admission_->compile(m.id, m.needs) : Request{});
    }
    grants_ = std::make_unique<Grant[]>(n);
  }

  gated_ = options_.max_concurrency > 0 || options_.mode == ExecutionMode::kWaveSynchronous;
  if (options_.mode == ExecutionMode::kWaveSynchronous) {
    wave_left_.assign(plan_->analysis().wave_count, 0);
    wave_parked_.resize(plan_->analysis().wave_count);
    for (std::uint32_t v = 0; v < n; ++v) {
      if (included(v)) ++wave_left_[plan_->analysis().level[v]];
    }
  }

  if (!options_.trace_path.empty()) {
    trace_ = std::make_unique<std::ofstream>(options_.trace_path, std::ios::out | std::ios::trunc);
    if (!*trace_) {
      throw InvalidArgumentError("cannot write the trace file '" + options_.trace_path +
                                 "' — check that its directory exists and is writable");
    }
  }
}

RunState::~RunState() = default;

void RunState::start(Worker* caller) {
  finished_ = std::make_unique<PaddedCounter[]>(core_.counter_slots());
  start_ticks_ = ticks();
  start_ns_ = steady_ns();
  self_ = shared_from_this();
  runs_of_graph_->fetch_add(1, std::memory_order_relaxed);
  core_.retain();
  if (total_ == 0) {
    complete();
    return;
  }
  units_.store(1, std::memory_order_relaxed);
  const auto count = static_cast<std::uint32_t>(sources_->size());
  if (observer_ != nullptr) {
    std::string scratch;
    for (std::uint32_t i = 0; i < count; ++i) observer_->on_ready(ref((*sources_)[i], scratch));
  }
  // Pushed, never offered: the caller may be a task body whose next slot is shared.
  core_.push(caller, Item{key_of((*sources_)[0]), this, 0, count, Item::Kind::kSources});
}

void RunState::execute(Worker& w, const Item& item) {
  if (item.kind == Item::Kind::kNode) {
    run_node(w, item.begin);
    return;
  }
  if (item.kind == Item::Kind::kResume) {
    resume_deferred(w, item.begin);
    return;
  }
  // A range of sources: run the first, which takes over the range's unit, and keep the rest
  // as this thread's next item, borrowed (see finish()); hand half of it to the queues when a
  // worker is idle and finds nothing to steal. While the rest stays in the next slot and
  // nothing better is queued, run the following sources here rather than through the
  // worker's loop (a few at a time, so that a thread waiting for something else returns).
  constexpr unsigned kRunHere = 8;
  Item range = item;
  for (unsigned i = 0;; ++i) {
    const auto& sources = *sources_;
    const std::uint32_t node = sources[range.begin];
    if (range.begin + 1 < range.end) {
      const std::uint32_t begin = range.begin + 1;
      std::uint32_t end = range.end;
      if (end - begin >= 2 && core_.hungry() && !core_.queued_work(w)) {
        const std::uint32_t mid = begin + (end - begin) / 2;
        add_unit();
        core_.push(&w, Item{key_of(sources[mid]), this, mid, end, Item::Kind::kSources});
        end = mid;
      }
      const Key key = key_of(sources[begin]);
      if (!w.next && key >= w.min_key) {
        // The usual case, written field by field into the empty slot: an Item built on the
        // stack and copied stalls the copy's wide loads on its narrow stores (~5 ns a task).
        w.next.key = key;
        w.next.target = this;
        w.next.begin = begin;
        w.next.end = end;
        w.next.kind = Item::Kind::kSources;
        w.next.borrowed = true;
      } else {
        Item rest{key, this, begin, end, Item::Kind::kSources};
        rest.borrowed = true;
        core_.offer(&w, rest);
      }
    }
    if (plan_->meta(node) == nullptr || claim_source(node)) {
      run_node(w, node);  // may end the run and destroy *this, unless the rest holds a unit
    } else {
      release_moved_source(w);  // set_priority() queued it on its own
    }
    // The rest still in the next slot holds the finished node's unit (or its own): the run
    // is alive. (Only the pointer is compared: *this may be gone otherwise.)
    if (i + 1 == kRunHere || w.next.target != this || w.next.kind != Item::Kind::kSources ||
        !core_.take_next(w, range)) {
      return;
    }
  }
}

void RunState::run_node(Worker& w, std::uint32_t node) {
  NodeState& ns = nodes_[node];
  const NodeMeta* meta = plan_->meta(node);
  if (stopped(node)) {
    if (grants_) release_resources(w, std::exchange(grants_[node], Grant{}));
    finish(w, node, TaskStatus::kCancelled);
    return;
  }
  if (gated_) {
    detach_borrowed(w);  // it may be parked, then finish on another thread
    switch (admit(node)) {
      case Admission::kRun:
        break;
      case Admission::kParked:
        return;
      case Admission::kCancelled:
        if (grants_) release_resources(w, std::exchange(grants_[node], Grant{}));
        finish(w, node, TaskStatus::kCancelled);
        return;
    }
  }
  Grant grant;
  if (grants_ && !acquire_resources(w, node, meta, grant)) {
    if (options_.max_concurrency > 0) release_slot(w);
    return;  // waits for its resources, keeping its unit; resources_granted() queues it
  }

  // An interruptible attempt may be asked to yield while its interruptions are under the bound.
  const unsigned max_interruptions =
      meta != nullptr ? meta->max_interruptions.value_or(core_.options().max_interruptions) : 0;
  // On the heap: an empty std::optional of it is zeroed, 88 bytes, for every task.
  std::unique_ptr<AttemptControl> control;
  if (meta != nullptr && meta->interruptible) {
    control = std::make_unique<AttemptControl>();
    std::lock_guard lock(failures_mutex_);
    if (auto it = interruptions_.find(node); it != interruptions_.end()) {
      control->interruptions = it->second.count;
      control->saved = it->second.saved;
    }
  }
  const bool preemptible =
      control && core_.options().preemption && control->interruptions < max_interruptions;

  // The successors' counters are what finish() touches: fetch them while the body runs.
  for (const std::uint32_t succ : plan_->dag.successors(node)) __builtin_prefetch(&nodes_[succ]);
  const unsigned attempt = ++ns.attempts;
  ns.worker = w.index;
  ns.status.store(TaskStatus::kRunning, std::memory_order_release);
  if (observer_ != nullptr) {
    std::string scratch;
    observer_->on_attempt_begin(ref(node, scratch), attempt, w.index);
  }
  if (meta != nullptr && meta->async) {
    start_deferred(w, node, meta, attempt, grant);
    return;
  }
  TaskStatus status = TaskStatus::kSucceeded;
  std::exception_ptr error;
  const bool timed = meta != nullptr && meta->timeout > Duration::zero();
  // A body that follows another on this thread with nothing but taking it in between starts
  // when that one ended: one clock read per task instead of two (~18 ns each on this project's
  // VMs, a fifth of a chain link). The taking, tens of ns, counts in this task's time.
  const bool reuse_end = w.last_end_valid && !timed && !preemptible && !grants_;
  // Runs the body once with `stop` as its stop source; the next slot is stealable meanwhile.
  std::atomic<bool> fired{false};  // the timeout
  const auto attempt_body = [&](const std::stop_source& stop) {
    TaskContext ctx(*this, node, attempt, w.index, core_.owner(), stop, control.get(),
                    timed ? &fired : nullptr);
    core_.share_next(w);
    ns.start = reuse_end ? w.last_end : ticks();
    try {
      graph_.bodies[node](ctx, results_ ? &results_[node] : nullptr);
    } catch (...) {
      error = std::current_exception();
      status = TaskStatus::kFailed;
    }
    ns.end = ticks();
    w.last_end = ns.end;
    w.last_end_valid = true;
    core_.reclaim_next(w);
  };

  if (!timed && !preemptible) {
    attempt_body(stop_);
  } else {
    // The attempt gets its own stop source, requested by the timer, by the run's, or by the
    // executor asking it to yield.
    std::stop_source attempt_stop;
    std::stop_callback<RequestStop> link(stop_.get_token(), RequestStop{&attempt_stop});
    TimerService::Id timer{};
    if (timed) {
      timer = core_.timers().schedule(core_.clock().now() + meta->timeout, [&] {
        fired.store(true, std::memory_order_relaxed);
        attempt_stop.request_stop();
      });
    }
    if (preemptible) core_.enter_preemptible(w, key_of(node), attempt_stop, control->requested);
    {
      std::lock_guard lock(attempt_stops_mutex_);  // Run::cancel(task) may stop it now
      attempt_stops_[node] = &attempt_stop;
    }
    if (task_cancelled(node)) attempt_stop.request_stop();  // cancelled before it registered
    attempt_body(attempt_stop);
    {
      std::lock_guard lock(attempt_stops_mutex_);
      attempt_stops_.erase(node);
    }
    if (preemptible) core_.leave_preemptible(w);
    // cancel() returns after a callback that already started has finished.
    if (timed && !core_.timers().cancel(timer) && fired.load(std::memory_order_relaxed)) {
      status = TaskStatus::kTimedOut;
    }
  }
  release_resources(w, grant);

  if (stopped(node) && status != TaskStatus::kTimedOut) status = TaskStatus::kCancelled;
  if (options_.max_concurrency > 0) release_slot(w);

  // Asked to yield, the body returned or threw: either way it yielded (throwing is how many
  // bodies say "interrupted"), and what it saved is kept for its next start.
  if (control && control->requested.load(std::memory_order_acquire) &&
      (status == TaskStatus::kSucceeded || status == TaskStatus::kFailed)) {
    {
      std::lock_guard lock(failures_mutex_);
      NodeInterruptions& record = interruptions_[node];
      ++record.count;
      if (control->to_save) record.saved = std::move(*control->to_save);
    }
    if (!control->declined) {
      // It yielded: queue it again, to start over or from what it saved. Not an attempt.
      if (observer_ != nullptr) {
        std::string scratch;
        observer_->on_attempt_end(
            ref(node, scratch),
            {.attempt = attempt, .status = TaskStatus::kReady, .worker = w.index});
      }
      --ns.attempts;
      ns.status.store(TaskStatus::kReady, std::memory_order_release);
      error = nullptr;
      detach_borrowed(w);
      core_.push(&w, node_item(node));  // the node keeps its unit
      return;
    }
  }

  conclude(w, node, meta, attempt, status, std::move(error), {}, Grant{}, false);
}

void RunState::conclude(Worker& w, std::uint32_t node, const NodeMeta* meta, unsigned attempt,
                        TaskStatus status, std::exception_ptr error, std::string message,
                        Grant grant, bool release_its_slot) {
  // What the attempt held goes to others only once its end is reported, so that an observer
  // never sees the next holder begin before this attempt ended.
  const auto release_held = [&] {
    release_resources(w, grant);
    if (release_its_slot) release_slot(w);
  };
  if (status == TaskStatus::kFailed || status == TaskStatus::kTimedOut) {
    if (message.empty()) {
      message = status == TaskStatus::kTimedOut
                    ? "timed out after " + units::format_limit(meta->timeout)
                : error ? describe(error)
                        : std::string("failed");
    }
    const bool retry = meta != nullptr && attempt <= meta->retries && !stopped(node);
    const Duration delay = retry ? backoff_delay(options_.backoff, attempt) : Duration::zero();
    const NodeState& ns = nodes_[node];
    if (observer_ != nullptr) {
      std::string scratch;
      observer_->on_attempt_end(ref(node, scratch), {.attempt = attempt,
                                                     .status = status,
                                                     .retry = retry,
                                                     .retry_in = delay,
                                                     .message = message,
                                                     .error = error,
                                                     .worker = ns.worker});
    }
    record_failure(node, {attempt, status, std::move(message), ns.start, ns.end, ns.worker},
                   std::move(error));
    release_held();
    if (retry) {
      detach_borrowed(w);
      retry_later(w, node, delay);  // the node keeps its unit while it waits
      return;
    }
  } else {
    if (observer_ != nullptr) {
      std::string scratch;
      observer_->on_attempt_end(
          ref(node, scratch),
          {.attempt = attempt, .status = status, .worker = nodes_[node].worker});
    }
    release_held();
  }
  finish(w, node, status);
}

void RunState::start_deferred(Worker& w, std::uint32_t node, const NodeMeta* meta, unsigned attempt,
                              Grant grant) {
  NodeState& ns = nodes_[node];
  auto a = std::make_shared<DeferredAttempt>();
  a->run = this;
  a->node = node;
  a->attempt = attempt;
  a->grant = grant;
  a->link.emplace(stop_.get_token(), RequestStop{&a->stop});
  if (meta->timeout > Duration::zero()) {
    a->timed = true;
    a->timer = core_.timers().schedule(core_.clock().now() + meta->timeout, [p = a.get()] {
      p->timed_out.store(true, std::memory_order_release);
      p->stop.request_stop();
    });
  }
  {
    std::lock_guard lock(deferred_mutex_);
    deferred_[node] = a;
  }
  if (task_cancelled(node)) a->stop.request_stop();  // cancelled before it was registered
  TaskContext ctx(*this, node, attempt, w.index, core_.owner(), a->stop, nullptr, &a->timed_out,
                  a.get());
  core_.share_next(w);
  ns.start = ticks();
  graph_.bodies[node](ctx, nullptr);  // add_async's body catches what the user's throws
  core_.reclaim_next(w);
  w.last_end_valid = false;
  // The node may now finish on another thread, while a borrowed range waits here.
  detach_borrowed(w);
  if (a->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) resume_deferred(w, node);
}

void RunState::deferred_completed(DeferredAttempt& a) {
  ExecutorCore& core = core_;
  core.retain();  // the run may end (and its executor go) as soon as the item is queued
  core.push(nullptr, Item{key_of(a.node), this, a.node, 0, Item::Kind::kResume});
  core.release();
}

void RunState::resume_deferred(Worker& w, std::uint32_t node) {
  std::shared_ptr<DeferredAttempt> a;
  {
    std::lock_guard lock(deferred_mutex_);
    auto it = deferred_.find(node);
    TASKLOOM_ASSERT(it != deferred_.end(), "an async attempt resumed twice");
    a = std::move(it->second);
    deferred_.erase(it);
  }
  NodeState& ns = nodes_[node];
  ns.end = ticks();
  if (a->timed) core_.timers().cancel(a->timer);  // waits for a callback that already started
  a->link.reset();
  TaskStatus status = a->status;
  if (a->timed_out.load(std::memory_order_acquire)) status = TaskStatus::kTimedOut;
  // The outside work reported success: its effects exist, so it counts even after a cancel.
  if (stopped(node) && status != TaskStatus::kTimedOut && status != TaskStatus::kSucceeded) {
    status = TaskStatus::kCancelled;
  }
  w.last_end_valid = false;
  conclude(w, node, plan_->meta(node), a->attempt, status, std::move(a->error),
           std::move(a->message), a->grant, options_.max_concurrency > 0);
}

TaskRef RunState::ref(std::uint32_t node, std::string& scratch) const {
  if (const NodeMeta* meta = plan_->meta(node)) return {node, meta->id};
  scratch = plan_->id(node);
  return {node, scratch};
}

CompletionCore::~CompletionCore() {
  if (!done.load(std::memory_order_acquire)) {
    const std::string m =
        "the task's Completion was destroyed without an outcome — call succeed(), fail() or "
        "time_out() on one copy";
    complete(TaskStatus::kFailed, std::make_exception_ptr(std::runtime_error(m)), m);
  }
}

bool CompletionCore::complete(TaskStatus status, std::exception_ptr error,
                              std::string message) noexcept {
  if (done.exchange(true, std::memory_order_acq_rel)) return false;
  DeferredAttempt& a = *attempt;
  a.status = status;
  a.error = std::move(error);
  a.message = std::move(message);
  if (a.pending.fetch_sub(1, std::memory_order_acq_rel) == 1) a.run->deferred_completed(a);
  return true;
}

const Request& RunState::request_of(const NodeMeta* meta) const noexcept {
  static const Request kNothing;
  if (meta == nullptr || requests_.empty()) return kNothing;
  return requests_[static_cast<std::size_t>(meta - plan_->metas.data())];
}

bool RunState::acquire_resources(Worker& w, std::uint32_t node, const NodeMeta* meta,
                                 Grant& grant) {
  grant = std::exchange(grants_[node], Grant{});
  const Request& request = request_of(meta);
  if (!grant.null() || request.empty()) return true;
  // Expected duration for backfilling: as declared, else the timeout bounds it.
  Duration expected = meta->expected_duration;
  if (expected <= Duration::zero() && meta->timeout > Duration::zero()) expected = meta->timeout;
  std::optional<Grant> g = admission_->try_acquire_now(request, key_of(node), expected);
  if (!g) {
    // It will wait, and may then finish on another thread: detach first, then become visible.
    detach_borrowed(w);
    g = admission_->try_acquire(request, key_of(node), expected, AdmissionPayload{this, node});
    if (!g) return false;
  }
  grant = *g;
  return true;
}

void RunState::release_resources(Worker& w, Grant grant) {
  if (grant.null()) return;
  std::vector<Admitted> admitted;
  admission_->release(grant, admitted);
  for (const Admitted& a : admitted) {
    static_cast<RunState*>(a.payload.target)->resources_granted(w, a.payload.a, a.grant);
  }
}

void RunState::resources_granted(Worker& w, std::uint32_t node, Grant grant) {
  grants_[node] = grant;  // published to the thread that runs it by the queue's lock
  core_.push(&w, node_item(node));
}

bool RunState::claim_source(std::uint32_t node) noexcept {
  return nodes_[node].join.exchange(kSourceClaimed, std::memory_order_acq_rel) == 0;
}

void RunState::release_moved_source(Worker& w) {
  // As finish() with nothing made ready: the element's unit goes to a borrowed rest of the
  // range in the next slot, or back. The moved node holds a unit of its own, so the run
  // cannot end here.
  if (w.next.borrowed && w.next.target == this) {
    w.next.borrowed = false;
    return;
  }
  give_unit(w);
}

bool RunState::move_source(std::uint32_t node, Key key) {
  // A unit for the node's own item, taken only while the run is in flight: a run whose count
  // is zero has ended. Taken before the claim, so the range cannot end the run in between.
  std::int64_t units = units_.load(std::memory_order_acquire);
  do {
    if (units == 0) return false;
  } while (!units_.compare_exchange_weak(units, units + 1, std::memory_order_acq_rel));
  if (claim_source(node)) {
    core_.push(nullptr, Item{key, this, node, 0, Item::Kind::kNode});
    return true;
  }
  // It started already (or was moved before): give the unit back, ending the run if it was
  // the last one.
  if (units_.fetch_sub(1, std::memory_order_acq_rel) == 1) complete();
  return false;
}

std::uint32_t RunState::node_named(std::string_view task, std::string_view where) const {
  auto it = graph_.by_id.find(task);
  if (it == graph_.by_id.end()) graph_.throw_unknown_task(task, where);
  if (!included(it->second)) {
    throw InvalidArgumentError("task '" + std::string(task) + "' given to " + std::string(where) +
                               " is not part of this run — it is not among the targets or what "
                               "they need (RunOptions::targets)");
  }
  return it->second;
}

TaskStatus RunState::status(std::string_view task) const {
  const std::uint32_t node = node_named(task, "Run::status");
  const NodeState& ns = nodes_[node];
  const TaskStatus s = ns.status.load(std::memory_order_acquire);
  if (s != TaskStatus::kPending) return s;
  const std::uint32_t join = ns.join.load(std::memory_order_acquire);
  return join == 0 || join == kSourceClaimed ? TaskStatus::kReady : TaskStatus::kPending;
}

void RunState::cancel_task(std::string_view task) {
  const std::uint32_t node = node_named(task, "Run::cancel");
  if (done()) return;
  std::atomic<bool>* flags = cancelled_tasks_.load(std::memory_order_acquire);
  if (flags == nullptr) {
    std::lock_guard lock(overrides_mutex_);
    if (!cancelled_tasks_storage_) {
      cancelled_tasks_storage_ = std::make_unique<std::atomic<bool>[]>(plan_->dag.node_count());
      cancelled_tasks_.store(cancelled_tasks_storage_.get(), std::memory_order_release);
    }
    flags = cancelled_tasks_storage_.get();
  }
  if (flags[node].exchange(true, std::memory_order_acq_rel)) return;  // cancelled already
  // Running with a stop source of its own: stop it. (One that registers later sees the flag.)
  {
    std::lock_guard lock(attempt_stops_mutex_);
    if (auto it = attempt_stops_.find(node); it != attempt_stops_.end()) it->second->request_stop();
  }
  {
    std::lock_guard lock(deferred_mutex_);
    if (auto it = deferred_.find(node); it != deferred_.end()) it->second->stop.request_stop();
  }
  // Waiting for a retry: end it now rather than after the backoff.
  std::optional<TimerService::Id> timer;
  {
    std::lock_guard lock(failures_mutex_);
    if (auto it = retry_timers_.find(node); it != retry_timers_.end()) timer = it->second;
  }
  if (timer && core_.timers().cancel(*timer)) core_.push(nullptr, node_item(node));
  // Waiting for resources: leave the queue, to be finalised as cancelled.
  if (admission_ != nullptr && grants_) {
    std::vector<AdmissionPayload> removed;
    std::vector<Admitted> admitted;
    admission_->remove_waiters_if(
        [this, node](const AdmissionPayload& p) { return p.target == this && p.a == node; },
        removed, admitted);
    for (const AdmissionPayload& p : removed) core_.push(nullptr, node_item(p.a));
    for (const Admitted& a : admitted) {
      auto* run = static_cast<RunState*>(a.payload.target);
      run->resources_granted_from_outside(a.payload.a, a.grant);
    }
  }
  // Parked for a slot or its wave: it need not wait for either to end cancelled.
  if (gated_) {
    bool released = false;
    {
      std::lock_guard lock(gate_mutex_);
      auto it = std::find_if(parked_.begin(), parked_.end(),
                             [node](const Item& i) { return i.begin == node; });
      if (it != parked_.end()) {
        parked_.erase(it);
        std::make_heap(parked_.begin(), parked_.end(), key_less);
        released = true;
      } else {
        for (auto& wave : wave_parked_) {
          if (auto v = std::find(wave.begin(), wave.end(), node); v != wave.end()) {
            wave.erase(v);
            released = true;
            break;
          }
        }
      }
    }
    if (released) core_.push(nullptr, node_item(node));
  }
}

void RunState::resources_granted_from_outside(std::uint32_t node, Grant grant) {
  grants_[node] = grant;
  core_.push(nullptr, node_item(node));
}

void RunState::set_priority(std::string_view task, Priority priority) {
  const std::uint32_t node = node_named(task, "Run::set_priority");
  if (done()) return;
  constexpr Key kRankBits = (Key{1} << 48) - 1;
  const Key key = (make_key(priority, 0) & ~kRankBits) | (plan_->keys[node] & kRankBits);
  std::atomic<Key>* overrides = key_overrides_.load(std::memory_order_acquire);
  if (overrides == nullptr) {
    std::lock_guard lock(overrides_mutex_);
    if (!overrides_storage_) {
      overrides_storage_ = std::make_unique<std::atomic<Key>[]>(plan_->dag.node_count());
      key_overrides_.store(overrides_storage_.get(), std::memory_order_release);
    }
    overrides = overrides_storage_.get();
  }
  overrides[node].store(key, std::memory_order_relaxed);
  // A source still waiting in its range leaves it, to be queued at its new place; one that
  // was moved out before is queued as a node like any other.
  if (plan_->dag.in_degree(node) == 0 && move_source(node, key)) return;
  core_.rekey(Item{key, this, node, 0, Item::Kind::kNode}, key);
  if (gated_) {
    std::lock_guard lock(gate_mutex_);
    for (Item& parked : parked_) {
      if (parked.begin == node) parked.key = key;
    }
    std::make_heap(parked_.begin(), parked_.end(), key_less);
  }
}

RunState::Admission RunState::admit(std::uint32_t node) {
  std::lock_guard lock(gate_mutex_);
  if (cancelled()) return Admission::kCancelled;
  if (options_.mode == ExecutionMode::kWaveSynchronous) {
    const std::uint32_t level = plan_->analysis().level[node];
    if (level > current_wave_) {
      wave_parked_[level].push_back(node);
      return Admission::kParked;
    }
  }
  if (options_.max_concurrency > 0) {
    if (running_ >= options_.max_concurrency) {
      parked_.push_back(node_item(node));
      std::push_heap(parked_.begin(), parked_.end(), key_less);
      return Admission::kParked;
    }
    ++running_;
  }
  return Admission::kRun;
}

void RunState::release_slot(Worker& w) {
  Item next;
  {
    std::lock_guard lock(gate_mutex_);
    --running_;
    if (!parked_.empty()) {
      std::pop_heap(parked_.begin(), parked_.end(), key_less);
      next = parked_.back();
      parked_.pop_back();
    }
  }
  if (next) core_.push(&w, next);
}

void RunState::wave_finished(Worker& w, std::uint32_t node) {
  std::vector<std::uint32_t> released;
  {
    std::lock_guard lock(gate_mutex_);
    --wave_left_[plan_->analysis().level[node]];
    while (current_wave_ < wave_left_.size() && wave_left_[current_wave_] == 0) {
      ++current_wave_;
      if (current_wave_ < wave_parked_.size()) {
        auto& parked = wave_parked_[current_wave_];
        released.insert(released.end(), parked.begin(), parked.end());
        parked.clear();
      }
    }
  }
  for (std::uint32_t v : released) core_.push(&w, node_item(v));
}

void RunState::record_failure(std::uint32_t node, FailedAttempt attempt, std::exception_ptr e) {
  std::lock_guard lock(failures_mutex_);
  NodeFailure& f = failures_[node];
  f.exception = std::move(e);
  f.history.push_back(std::move(attempt));
}

void RunState::retry_later(Worker& w, std::uint32_t node, Duration delay) {
  nodes_[node].status.store(TaskStatus::kReady, std::memory_order_release);
  if (delay <= Duration::zero()) {
    core_.push(&w, node_item(node));
    return;
  }
  std::unique_lock lock(failures_mutex_);
  if (cancelled()) {
    // cancel() set the flag before it took this lock to collect the pending retries, so it
    // has collected them already: run the node now, to be finalised as cancelled.
    lock.unlock();
    core_.push(&w, node_item(node));
    return;
  }
  retry_timers_[node] = core_.timers().schedule(core_.clock().now() + delay, [this, node] {
    {
      std::lock_guard inner(failures_mutex_);
      retry_timers_.erase(node);
    }
    core_.push(nullptr, node_item(node));
  });
}

void RunState::count_finished(const Worker& w, std::size_t n) noexcept {
  std::atomic<std::size_t>& c = finished_[w.counter].value;
  if (w.registered) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // one writer
  } else {
    c.fetch_add(n, std::memory_order_relaxed);  // shared by unregistered helping threads
  }
}

void RunState::finish(Worker& w, std::uint32_t node, TaskStatus status) {
  // Successors made ready are collected first and published after the unit count covers
  // them, so the count cannot touch zero while work is still in flight.
  constexpr std::size_t kInline = 16;
  std::uint32_t ready_inline[kInline];
  std::vector<std::uint32_t> ready_more;
  std::size_t ready = 0;
  std::vector<std::pair<std::uint32_t, TaskStatus>> cascade;  // skipped or cancelled unstarted
  std::size_t finalized = 0;
  std::string scratch, upstream;
  for (;;) {
    nodes_[node].status.store(status, std::memory_order_release);
    ++finalized;
    if (observer_ != nullptr) {
      upstream.clear();
      if (status == TaskStatus::kSkipped) {
        const std::uint32_t culprit = nodes_[node].upstream.load(std::memory_order_relaxed);
        if (culprit != 0) upstream = plan_->id(culprit - 1);
      }
      observer_->on_task_end(ref(node, scratch), status, upstream);
    }
    if (options_.failure_policy == FailurePolicy::kFailFast &&
        (status == TaskStatus::kFailed || status == TaskStatus::kTimedOut)) {
      cancel();
    }
    if (options_.mode == ExecutionMode::kWaveSynchronous) wave_finished(w, node);
    for (std::uint32_t s : plan_->dag.successors(node)) {
      if (!included(s)) continue;
      NodeState& succ = nodes_[s];
      if (status != TaskStatus::kSucceeded) {
        std::uint32_t none = 0;
        // Name the task that failed, not the skipped ones between it and this successor.
        const std::uint32_t culprit = status == TaskStatus::kSkipped
                                          ? nodes_[node].upstream.load(std::memory_order_relaxed)
                                          : node + 1;
        succ.upstream.compare_exchange_strong(none, culprit, std::memory_order_relaxed);
      }
      // Counters only fall, so reading 1 means every other dependency is done: no RMW needed
      // (the common case: a chain link, the last input of a join).
      if (succ.join.load(std::memory_order_acquire) != 1 &&
          succ.join.fetch_sub(1, std::memory_order_acq_rel) != 1) {
        continue;
      }
      if (succ.upstream.load(std::memory_order_relaxed) != 0 || cancelled()) {
        cascade.emplace_back(s, cancelled() ? TaskStatus::kCancelled : TaskStatus::kSkipped);
        continue;
      }
      // It runs soon, often after the rest of its wave, and its body sits wherever it was
      // added: fetch it now rather than stall on it then.
      __builtin_prefetch(&graph_.bodies[s]);
      __builtin_prefetch(plan_->dag.successors(s).data());
      if (observer_ != nullptr) observer_->on_ready(ref(s, scratch));
      if (ready < kInline) {
        ready_inline[ready++] = s;
      } else {
        ready_more.push_back(s);
        ++ready;
      }
    }
    if (cascade.empty()) break;
    std::tie(node, status) = cascade.back();
    cascade.pop_back();
  }
  count_finished(w, finalized);
  if (finalized > 1 || ready > kInline) w.last_end_valid = false;  // more than a chain link's work

  // The finishing node holds one unit. It goes to a borrowed range of this run waiting in the
  // next slot, if any (lent by this node, or by one that finished on top of it), else back.
  std::int64_t delta = static_cast<std::int64_t>(ready) - 1;
  if (w.next.borrowed && w.next.target == this) {
    w.next.borrowed = false;
    ++delta;
  }
  if (delta > 0) take_units(w, delta);
  for (std::size_t i = 0; i < std::min(ready, kInline); ++i) {
    core_.offer(&w, node_item(ready_inline[i]));
  }
  for (std::uint32_t s : ready_more) core_.offer(&w, node_item(s));
  if (delta < 0) give_unit(w);  // may end the run and destroy *this
}

void RunState::take_units(Worker& w, std::int64_t n) noexcept {
  if (w.spare_run == this) {
    const std::int64_t spare = std::min(n, w.spare_units);
    w.spare_units -= spare;
    n -= spare;
    if (w.spare_units == 0) w.spare_run = nullptr;
  }
  if (n > 0) {
    // Take some more as spares (unless it keeps another run's): a wide graph's fan-outs come
    // level after level, long before its leaves give units back.
    constexpr std::int64_t kStock = 64;
    const std::int64_t stock = w.spare_run == nullptr ? kStock : 0;
    units_.fetch_add(n + stock, std::memory_order_relaxed);
    if (stock != 0) {
      w.spare_run = this;
      w.spare_units = stock;
    }
  }
}

void RunState::give_unit(Worker& w) {
  if (w.spare_run == nullptr || w.spare_run == this) {
    w.spare_run = this;
    ++w.spare_units;
    return;
  }
  if (units_.fetch_sub(1, std::memory_order_acq_rel) == 1) complete();
}

void RunState::return_spare_units(Worker& w) {
  const std::int64_t n = std::exchange(w.spare_units, 0);
  w.spare_run = nullptr;
  if (units_.fetch_sub(n, std::memory_order_acq_rel) == n) complete();  // may destroy *this
}

void RunState::cancel() {
  if (done() || cancelled_.exchange(true, std::memory_order_acq_rel)) return;
  stop_.request_stop();
  std::vector<std::pair<std::uint32_t, TimerService::Id>> timers;
  {
    std::lock_guard lock(failures_mutex_);
    timers.assign(retry_timers_.begin(), retry_timers_.end());
  }
  for (const auto& [node, id] : timers) {
    if (core_.timers().cancel(id)) core_.push(nullptr, node_item(node));
  }
  if (admission_ != nullptr && grants_) {
    // Nodes waiting for resources run now, to be finalised as cancelled.
    std::vector<AdmissionPayload> removed;
    std::vector<Admitted> admitted;
    admission_->remove_waiters_if([this](const AdmissionPayload& p) { return p.target == this; },
                                  removed, admitted);
    for (const AdmissionPayload& p : removed) core_.push(nullptr, node_item(p.a));
    for (const Admitted& a : admitted) {
      static_cast<RunState*>(a.payload.target)
          ->resources_granted_from_outside(a.payload.a, a.grant);
    }
  }
  if (!gated_) return;
  std::vector<Item> released;
  {
    std::lock_guard lock(gate_mutex_);
    released.swap(parked_);
    for (auto& wave : wave_parked_) {
      for (std::uint32_t v : wave) released.push_back(node_item(v));
      wave.clear();
    }
  }
  for (const Item& item : released) core_.push(nullptr, item);
}

void RunState::complete() {
  TASKLOOM_ASSERT(done_.load(std::memory_order_relaxed) == 0, "a run completed twice");
  end_ticks_ = ticks();
  end_ns_ = steady_ns();
  if (trace_) {
    *trace_ << report().to_chrome_trace();
    trace_->close();
    if (!*trace_) {
      std::fprintf(stderr, "taskloom: writing the trace file '%s' failed (disk full?)\n",
                   options_.trace_path.c_str());
    }
  }
  if (observer_ != nullptr) observer_->on_run_end(cancelled());
  std::shared_ptr<RunState> keep = std::move(self_);
  std::shared_ptr<std::atomic<int>> runs = runs_of_graph_;
  if (runs->fetch_sub(1, std::memory_order_acq_rel) == 1) runs->notify_all();
  ExecutorCore& core = core_;
  signal_done(core.owner(), done_);
  core.release();  // the executor may be destroyed from here on: touch nothing of it
}

SharedState& RunState::shared() const {
  std::call_once(shared_once_, [&] {
    if (!shared_) shared_ = std::make_shared<SharedState>();
  });
  return *shared_;
}

Progress RunState::progress() const noexcept {
  if (done()) return {total_, total_};
  std::size_t n = 0;
  for (unsigned i = 0; i < core_.counter_slots(); ++i) {
    n += finished_[i].value.load(std::memory_order_relaxed);
  }
  return {std::min(n, total_), total_};
}

std::vector<DependencyResult> RunState::dependency_results(std::uint32_t node) const {
  static const std::any kNone;
  std::vector<DependencyResult> out;
  out.reserve(plan_->dag.in_degree(node));
  for (std::uint32_t p : plan_->dag.predecessors(node)) {
    out.push_back({plan_->id(p), results_ ? &results_[p] : &kNone});
  }
  return out;
}

const std::any& RunState::dependency_result(std::uint32_t node, std::string_view dependency) const {
  static const std::any kNone;
  for (std::uint32_t p : plan_->dag.predecessors(node)) {
    if (plan_->id(p) == dependency) return results_ ? results_[p] : kNone;
  }
  std::string deps;
  for (std::uint32_t p : plan_->dag.predecessors(node)) {
    deps += deps.empty() ? "" : ", ";
    deps += plan_->id(p);
  }
  throw InvalidArgumentError(
      "task '" + plan_->id(node) + "' reads the result of '" + std::string(dependency) +
      "', which is not one of its dependencies — add it to `after`" +
      (deps.empty() ? std::string(" (it has none)") : " (its dependencies: " + deps + ")"));
}

}  // namespace detail

Run::Run(std::shared_ptr<detail::RunState> state) : state_(std::move(state)) {}

namespace {
detail::RunState& checked(const std::shared_ptr<detail::RunState>& s) {
  if (!s) throw InvalidStateError("Run handle is empty — it was default-constructed");
  return *s;
}
}  // namespace

bool Run::done() const {
  return checked(state_).done();
}

void Run::wait() const {
  detail::RunState& s = checked(state_);
  if (!s.done()) s.core().help_until(s.done_flag());
}

void Run::cancel() {
  checked(state_).cancel();
}

bool Run::cancelled() const {
  return checked(state_).cancelled();
}

Progress Run::progress() const {
  return checked(state_).progress();
}

const RunReport& Run::report() const& {
  wait();
  return state_->report();
}

RunReport Run::report() && {
  wait();
  return state_->report();
}

SharedState& Run::shared() const {
  return checked(state_).shared();
}

void Run::set_priority(std::string_view task, Priority priority) {
  checked(state_).set_priority(task, priority);
}

TaskStatus Run::status(std::string_view task) const {
  return checked(state_).status(task);
}

void Run::cancel(std::string_view task) {
  checked(state_).cancel_task(task);
}

}  // namespace taskloom::runtime
