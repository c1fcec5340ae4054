// Private: the cluster scheduler. It owns the queue, the running jobs and the nodes' state,
// and asks its policies what to do. The simulator and a live service drive it the same way:
//   submit(j, now) / finish(j, now) / node_state(n, s, now) as things happen, then
//   schedule(now), then started() / clear_started() to learn which jobs to launch (and, in
//   simulation, when each one ends: JobState::end).
// No threads; time is whatever the caller passes.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "taskloom/cluster/scheduler.hpp"
#include "taskloom/cluster/simulator.hpp"

#include "cluster/detail/engine.hpp"

namespace taskloom::cluster::detail {

/// Whether this library was built with assertions: SimulationOptions::check_invariants' default.
#ifdef NDEBUG
inline constexpr bool kDebugBuild = false;
#else
inline constexpr bool kDebugBuild = true;
#endif

struct SchedulerConfig {
  PolicyChoice queue, placement, backfill, forecaster;
  PreemptionOptions preemption;
  PackingOptions packing;  ///< kForecast only in simulation (the live scheduler allocates requests)
  bool check_invariants = false;
  std::uint64_t seed = 0;
  /// Jobs end when the scheduler computed (JobState::end, from Job::actual_runtime): the
  /// simulator. Live, a job ends when finished() says so.
  bool simulated_ends = true;
};

/// The scheduler's part of the simulation options (the live scheduler then clears packing).
inline SchedulerConfig config_of(const SimulationOptions& o) {
  return {.queue = o.queue,
          .placement = o.placement,
          .backfill = o.backfill,
          .forecaster = o.forecaster,
          .preemption = o.preemption,
          .packing = o.packing,
          .check_invariants = o.check_invariants.value_or(kDebugBuild),
          .seed = o.seed};
}

/// Job ids -> job indices, by open addressing over one flat array (no allocation per id).
/// The ids themselves are not stored: `id_of(j)` gives job j's id when a hash matches.
class IdIndex {
 public:
  template <class IdOf>
  std::optional<JobIdx> find(std::string_view id, IdOf&& id_of) const {
    if (slots_.empty()) return std::nullopt;
    const std::uint64_t h = std::hash<std::string_view>{}(id);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.job == 0) return std::nullopt;
      if (s.tag == static_cast<std::uint32_t>(h >> 32) && id_of(s.job - 1) == id) return s.job - 1;
    }
  }
  /// Adds id -> j; false (and nothing added) when the id is there already.
  template <class IdOf>
  bool insert(std::string_view id, JobIdx j, IdOf&& id_of) {
    if ((count_ + 1) * 2 > slots_.size()) grow(id_of);
    const std::uint64_t h = std::hash<std::string_view>{}(id);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.job == 0) {
        s = {static_cast<std::uint32_t>(h >> 32), j + 1};
        ++count_;
        return true;
      }
      if (s.tag == static_cast<std::uint32_t>(h >> 32) && id_of(s.job - 1) == id) return false;
    }
  }
  template <class IdOf>
  void reserve(std::size_t n, IdOf&& id_of) {
    while (slots_.size() < 2 * n + 2) grow(id_of);
  }

 private:
  struct Slot {
    std::uint32_t tag = 0;  // the hash's upper half
    JobIdx job = 0;         // index + 1; 0: empty
  };
  template <class IdOf>
  void grow(IdOf&& id_of) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, {});
    mask_ = slots_.size() - 1;
    count_ = 0;
    for (const Slot& s : old) {
      if (s.job != 0) insert(id_of(s.job - 1), s.job - 1, id_of);
    }
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0, count_ = 0;
};

class Scheduler {
 public:
  /// Validates the input (throws InputError, UnknownDependencyError, CycleError,
  /// DuplicateIdError, UnknownNameError). `jobs` must outlive the scheduler.
  Scheduler(const std::vector<Node>& nodes, const std::vector<Partition>& partitions,
            std::span<const Job> jobs, const SchedulerConfig& config);
  ~Scheduler();

  /// Adds a job that was not known at construction (the live scheduler's submit(Job)); `job`
  /// must outlive the scheduler and stay where it is. Validated as the constructor validates
  /// jobs, and also refused when it could never run: throws DuplicateIdError,
  /// UnknownDependencyError, InputError (unknown partition, bad times, too many labels) or
  /// ResourceRequestError (larger than every node or the partition's quota). Returns its index.
  JobIdx add_job(const Job& job);

  // --- events ---
  void submit(JobIdx j, Duration now);
  /// The running job `j` ends now (its end time, completed or killed at the limit).
  void finish(JobIdx j, Duration now);
  void node_state(NodeIdx n, NodeState s, Duration now);
  /// One scheduling pass.
  void schedule(Duration now);
  /// Jobs started since the last clear_started().
  const std::vector<JobIdx>& started() const noexcept { return started_; }
  void clear_started() noexcept { started_.clear(); }
  /// Jobs preempted since the last clear_preempted(), each with the nodes it was stopped on.
  const std::vector<std::pair<JobIdx, std::vector<NodeIdx>>>& preempted() const noexcept {
    return preempted_;
  }
  void clear_preempted() noexcept { preempted_.clear(); }
  /// Asks for a pass at `t` even if nothing happens then (e.g. a reservation's start, or a job
  /// that becomes preemptible after its minimum runtime).
  void request_wakeup(Duration t) {
    if (!wakeup_ || t < *wakeup_) wakeup_ = t;
  }
  std::optional<Duration> take_wakeup() {
    auto w = wakeup_;
    wakeup_.reset();
    return w;
  }
  /// Marks every job that can no longer start as never started (end of a simulation).
  void close(Duration now);

  // --- state ---
  std::size_t job_count() const noexcept { return jobs_.size(); }
  JobState& job(JobIdx j) noexcept { return jobs_[j]; }
  const JobState& job(JobIdx j) const noexcept { return jobs_[j]; }
  /// The job's shape, from a dense array (cheaper to read than the JobState).
  std::uint32_t shape(JobIdx j) const noexcept { return job_shape_[j]; }
  ClusterState& cluster() noexcept { return cluster_; }
  const ClusterState& cluster() const noexcept { return cluster_; }
  const std::vector<Partition>& partitions() const noexcept { return partitions_; }
  std::size_t tenant_count() const noexcept { return tenant_names_.size(); }
  const std::string& tenant_name(std::uint32_t t) const { return tenant_names_[t]; }
  std::optional<NodeIdx> node_index(std::string_view id) const;
  std::optional<JobIdx> job_index(std::string_view id) const;
  std::uint32_t shape_count() const noexcept {
    return static_cast<std::uint32_t>(shape_nodes_.size());
  }
  /// Jobs `j` depends on, and jobs that depend on `j`, in input order.
  template <class F>
  void for_each_dependency(JobIdx j, F&& f) const {
    for (std::uint32_t e = dep_head_[j]; e != kNoEdge; e = edges_[e].next_dep) f(edges_[e].from);
  }
  template <class F>
  void for_each_dependent(JobIdx j, F&& f) const {
    for (std::uint32_t e = out_head_[j]; e != kNoEdge; e = edges_[e].next_out) f(edges_[e].to);
  }

  // --- primitives for backfill policies ---
  /// Queued jobs in the queue policy's order (skip those whose phase is no longer kQueued).
  std::span<const JobIdx> queue() const noexcept {
    return {queue_.data() + queue_head_, queue_.size() - queue_head_};
  }
  /// After a start: the queue order is stale and the policy must end its pass now (the
  /// scheduler re-sorts and runs it again).
  bool restart_pass() const noexcept { return restart_; }
  /// The policy read every job of its Backfill::ordered_prefix() and needs more: the pass ends
  /// and runs again with the queue sorted to the new prefix.
  void request_restart() noexcept { restart_ = true; }
  /// The job's partition quota leaves room for it now.
  bool quota_allows(const JobState& job) const noexcept {
    return job.partition < 0 || !partition_limited_[static_cast<std::size_t>(job.partition)] ||
           quota_room(job);
  }
  /// No node had room for this shape the last time it was placed without a limit, and no room
  /// has appeared since (ClusterState::room_epoch): place() would fail.
  bool known_unfit(std::uint32_t shape) const noexcept {
    return unfit_at_[shape] == cluster_.room_epoch() + 1;
  }
  /// Asks the placement policy (counted as one placement decision), unless the job's shape is
  /// known not to fit (then false without a call).
  bool place(const JobState& job, std::vector<NodeIdx>& out);
  /// Whether place()'s answer depends on the cluster and the job alone (Placement::pure).
  bool placement_is_pure() const noexcept { return placement_pure_; }
  void start(JobIdx j, const std::vector<NodeIdx>& nodes, Duration now);
  /// Estimated run time of the job on these nodes (estimate / slowest node's speed).
  Duration run_time_on(const JobState& job, std::span<const NodeIdx> nodes) const;
  /// Estimated run time on the slowest node the job could use.
  Duration run_time_worst(const JobState& job) const;
  /// The least run time the job could have on any nodes (estimate / fastest node's speed).
  Duration run_time_best(const JobState& job) const;
  /// When a running job is expected to end: start + estimate/speed, never before `now`.
  Duration projected_end(const JobState& job, Duration now) const noexcept {
    return job.expected_end > now ? job.expected_end : now;
  }
  const std::vector<JobIdx>& running_on(NodeIdx n) const noexcept { return running_on_[n]; }
  /// Estimates are upper bounds of run times and no preemption has disturbed the plans: the
  /// backfill reservation invariants must then hold (node events void only the plans on the
  /// node that went down or drained; Backfill::node_changed).
  bool plans_are_firm() const noexcept { return estimates_are_bounds_ && !disturbed_; }
  bool check_invariants() const noexcept { return config_.check_invariants; }
  /// Bumps whenever resources come back other than at a running job's projected end (a job
  /// ended early, was preempted or lost, a node changed state): plans made before are stale.
  std::uint64_t plan_epoch() const noexcept { return plan_epoch_; }
  /// The queue order does not change between passes except by arrivals (fcfs, edf...).
  bool queue_is_static() const noexcept { return !queue_policy_->dynamic(); }
  [[noreturn]] void violation(const std::string& what) const;

  // --- results ---
  std::uint64_t passes() const noexcept { return passes_; }
  std::uint64_t placement_decisions() const noexcept { return placement_decisions_; }
  double busy_energy_joules() const noexcept { return busy_energy_j_; }
  double cpu_seconds() const noexcept { return cpu_seconds_; }
  const std::vector<double>& tenant_usage() const noexcept { return tenant_usage_; }
  /// Whether jobs' peak usage is tracked (some job has Job::used): then used() and
  /// predicted_peak() are valid.
  bool tracks_peaks() const noexcept { return tracks_peaks_; }
  /// The job's actual peak usage per node (Job::used, dense; zeros when unknown).
  std::span<const double> used(JobIdx j) const noexcept {
    return {used_arena_.data() + static_cast<std::size_t>(j) * cluster_.dims(), cluster_.dims()};
  }
  /// The forecaster's peak-usage prediction made when the job was first started (0: none).
  std::span<const double> predicted_peak(JobIdx j) const noexcept {
    return {peak_arena_.data() + static_cast<std::size_t>(j) * cluster_.dims(), cluster_.dims()};
  }
  /// Node n's closed idle periods (start, end; start Duration::min(): since the beginning),
  /// and when its open one began (nullopt: busy now).
  const std::vector<std::pair<Duration, Duration>>& idle_gaps(NodeIdx n) const {
    return idle_gaps_[n];
  }
  std::optional<Duration> idle_since(NodeIdx n) const {
    if (cluster_.running(n) > 0) return std::nullopt;
    return idle_since_[n];
  }
  /// Dominant-share-seconds used per partition; the last entry: jobs without a partition.
  const std::vector<double>& partition_usage() const noexcept { return partition_usage_; }

 private:
  static constexpr std::uint32_t kNoEdge = ~std::uint32_t{0};
  struct Edge {
    JobIdx from, to;
    std::uint32_t next_out = kNoEdge, next_dep = kNoEdge;
  };
  // Validates `in` and appends it to the job table; problems go to `problems` (the
  // constructor reports them together), other errors throw.
  void append_job(const Job& in, std::vector<Diagnostic>& problems);
  void add_edge(JobIdx from, JobIdx to);
  void repoint_views();
  std::uint64_t label_mask(const std::vector<std::string>& labels, bool add_missing);
  bool quota_room(const JobState& job) const noexcept;
  std::string too_large_reason(const JobState& js) const;
  void enqueue(JobIdx j, Duration now);
  void stop_running(JobIdx j, Duration now);  // releases nodes, accounts usage
  // Back to the queue. `disturbs_plans`: what it leaves free may be used before plans expect
  // (a preemption), so backfill plans are reset and their invariants no longer checked.
  void requeue(JobIdx j, Duration now, bool keep_progress, bool disturbs_plans);
  void fail_dependents(JobIdx j);
  void order_queue(Duration now);
  void compact_queue();
  void try_preemption(Duration now);
  // Raises the expected end of every running job that outlived it (Forecaster::correct).
  void correct_overdue(Duration now);
  // The earliest time a running job may outlive its expected end (a pass is due then).
  std::optional<Duration> next_overdue();
  bool preempt_for(JobIdx j, Duration now);
  void check_state(Duration now) const;
  std::uint32_t shape_of(JobIdx j);
  // Sets the job's per-node allocation and what derives from it (dominant share, shape).
  void set_request(JobIdx j, std::span<const double> amounts);
  void derive_from_request(JobState& js);
  // The request as asked (packing may have lowered the job's allocation below it).
  std::span<const double> asked(JobIdx j) const noexcept {
    const auto& arena = packing_ ? asked_arena_ : request_arena_;
    return {arena.data() + static_cast<std::size_t>(j) * cluster_.dims(), cluster_.dims()};
  }
  void predict_peaks(JobIdx j);

  SchedulerConfig config_;
  std::vector<Partition> partitions_;
  std::unordered_map<std::string, std::int32_t> partition_index_;
  ClusterState cluster_;
  std::unordered_map<std::string, unsigned> label_bits_;  // label -> bit of a label mask
  // The job table: states, and flat arenas of per-node requests and node slots.
  std::vector<JobState> jobs_;
  std::vector<double> request_arena_;  // dims per job: the allocation per node
  // Peak usage (only when some job has Job::used, or packing by forecast): dims per job.
  bool tracks_peaks_ = false, packing_ = false;
  std::vector<double> asked_arena_;       // the request as asked (packing only)
  std::vector<double> used_arena_;        // Job::used
  std::vector<double> peak_arena_;        // the prediction at the first start
  std::vector<NodeIdx> node_arena_;       // node_count slots per job
  std::vector<std::size_t> node_offset_;  // per job, into node_arena_
  std::vector<std::uint32_t> job_shape_;
  std::vector<Edge> edges_;
  std::vector<std::uint32_t> out_head_, out_tail_, dep_head_, dep_tail_;
  IdIndex job_ids_;
  std::vector<const Job*> job_ptrs_;  // every job, by index (also before its state exists)
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> tenant_ids_;
  std::vector<std::string> tenant_names_;
  // Shapes (request, node count, labels) by a 64-bit hash, checked against a representative.
  std::unordered_map<std::uint64_t, std::uint32_t> shape_by_hash_;
  std::vector<double> shape_request_;        // dims per shape
  std::vector<std::uint32_t> shape_nodes_;   // node count per shape
  std::vector<std::uint64_t> shape_labels_;  // required labels per shape
  std::vector<std::uint64_t> unfit_at_;      // per shape: room_epoch + 1 when place() failed
  std::unique_ptr<QueueOrder> queue_policy_;
  std::unique_ptr<Placement> placement_;
  std::unique_ptr<Backfill> backfill_;
  std::unique_ptr<Forecaster> forecaster_;
  bool placement_pure_ = true;
  // The queue: queue_[queue_head_..] in order. Entries of jobs that left kQueued ("dead") are
  // removed after each pass; in_queue_ counts a job's entries, dead_entries_ the dead ones.
  std::vector<JobIdx> queue_, arrivals_, started_;
  std::vector<std::pair<JobIdx, std::vector<NodeIdx>>> preempted_;
  // Running jobs that may outlive their expected end, by it: a min-heap of (expected end,
  // job, attempt); entries whose job stopped or moved its expected end are stale.
  struct Overdue {
    Duration at;
    JobIdx job;
    std::uint64_t attempt;
    bool operator>(const Overdue& o) const noexcept { return at != o.at ? at > o.at : job > o.job; }
  };
  std::vector<Overdue> overdue_;
  bool overdue_stale(const Overdue& o) const noexcept {
    const JobState& js = jobs_[o.job];
    return js.phase != Phase::kRunning || js.attempt != o.attempt || js.expected_end != o.at;
  }
  std::size_t queue_head_ = 0, dead_entries_ = 0;
  std::vector<std::uint8_t> in_queue_;
  std::vector<double> keys_;  // per job
  std::vector<std::vector<JobIdx>> running_on_;
  std::vector<std::vector<double>> partition_used_, partition_quota_;
  std::vector<char> partition_limited_;  // the partition has a finite quota
  std::vector<double> tenant_usage_, partition_usage_;
  bool estimates_are_bounds_ = true, disturbed_ = false, restart_ = false;
  std::optional<Duration> wakeup_;
  std::uint64_t passes_ = 0, placement_decisions_ = 0, plan_epoch_ = 0;
  double busy_energy_j_ = 0, cpu_seconds_ = 0;
  std::vector<double> scratch_;
  // Idle periods per node: from when its last job stopped (Duration::min(): from the start)
  // to when its next job started; idle_since_ is the open one.
  std::vector<std::vector<std::pair<Duration, Duration>>> idle_gaps_;
  std::vector<Duration> idle_since_;
  mutable std::vector<double> worst_speed_;  // per shape; 0 until computed
};

}  // namespace taskloom::cluster::detail
