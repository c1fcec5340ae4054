// Private: the cluster scheduler. It owns the queue, the running jobs and the nodes' state,
// and asks its policies what to do. The simulator and a live service drive it the same way:
//   submit(j, now) / finish(j, now) / node_state(n, s, now) as things happen, then
//   schedule(now), then take_started() to learn which jobs to launch (and, in simulation,
//   when each one ends: JobState::end).
// No threads; time is whatever the caller passes.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

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
  bool check_invariants = false;
  std::uint64_t seed = 0;
};

class Scheduler {
 public:
  /// Validates the input (throws InputError, UnknownDependencyError, CycleError,
  /// DuplicateIdError, UnknownNameError). `jobs` must outlive the scheduler.
  Scheduler(const std::vector<Node>& nodes, const std::vector<Partition>& partitions,
            const std::vector<Job>& jobs, const SchedulerConfig& config);
  ~Scheduler();

  // --- events ---
  void submit(JobIdx j, Duration now);
  /// The running job `j` ends now (its end time, completed or killed at the limit).
  void finish(JobIdx j, Duration now);
  void node_state(NodeIdx n, NodeState s, Duration now);
  /// One scheduling pass.
  void schedule(Duration now);
  /// Jobs started since the last call.
  std::vector<JobIdx> take_started();
  /// A time at which a pass may start something although nothing else happens (a job that
  /// becomes preemptible after its minimum runtime); empty when there is none.
  /// Asks for a pass at `t` even if nothing happens then (e.g. a reservation's start).
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
  ClusterState& cluster() noexcept { return cluster_; }
  const ClusterState& cluster() const noexcept { return cluster_; }
  const std::vector<Partition>& partitions() const noexcept { return partitions_; }
  std::size_t tenant_count() const noexcept { return tenant_names_.size(); }
  const std::string& tenant_name(std::uint32_t t) const { return tenant_names_[t]; }
  std::optional<NodeIdx> node_index(std::string_view id) const;
  std::uint32_t shape_count() const noexcept { return shape_count_; }

  // --- primitives for backfill policies ---
  /// Queued jobs in the queue policy's order (skip those whose phase is no longer kQueued).
  const std::vector<JobIdx>& queue() const noexcept { return queue_; }
  /// After a start: the queue order is stale and the policy must end its pass now (the
  /// scheduler re-sorts and runs it again).
  bool restart_pass() const noexcept { return restart_; }
  /// The job's partition quota leaves room for it now.
  bool quota_allows(const JobState& job) const noexcept;
  /// Asks the placement policy (counted as one placement decision).
  bool place(const JobState& job, std::vector<NodeIdx>& out);
  void start(JobIdx j, const std::vector<NodeIdx>& nodes, Duration now);
  /// Estimated run time of the job on these nodes (estimate / slowest node's speed).
  Duration run_time_on(const JobState& job, const std::vector<NodeIdx>& nodes) const;
  /// Estimated run time on the slowest node the job could use.
  Duration run_time_worst(const JobState& job) const;
  /// When a running job is expected to end: start + estimate/speed, never before `now`.
  Duration projected_end(const JobState& job, Duration now) const noexcept {
    return job.expected_end > now ? job.expected_end : now;
  }
  const std::vector<JobIdx>& running_on(NodeIdx n) const noexcept { return running_on_[n]; }
  /// Estimates are upper bounds of run times and nothing has disturbed the plans (no
  /// preemption, node failure): the backfill reservation invariants must then hold.
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

 private:
  void enqueue(JobIdx j, Duration now);
  void stop_running(JobIdx j, Duration now);  // releases nodes, accounts usage
  void requeue(JobIdx j, Duration now, bool keep_progress);
  void fail_dependents(JobIdx j);
  void order_queue(Duration now);
  void try_preemption(Duration now);
  bool preempt_for(JobIdx j, Duration now);
  void check_state(Duration now) const;
  std::uint32_t shape_of(const JobState& js,
                         std::unordered_map<std::uint64_t, std::uint32_t>& by_hash,
                         std::vector<JobIdx>& reps) const;

  SchedulerConfig config_;
  const std::vector<Job>& input_;
  std::vector<Partition> partitions_;
  ClusterState cluster_;
  std::vector<JobState> jobs_;
  std::vector<std::string> tenant_names_;
  std::uint32_t shape_count_ = 0;
  std::unique_ptr<QueueOrder> queue_policy_;
  std::unique_ptr<Placement> placement_;
  std::unique_ptr<Backfill> backfill_;
  std::unique_ptr<Forecaster> forecaster_;
  std::vector<JobIdx> queue_, arrivals_, started_;
  std::vector<double> keys_;  // per job
  std::vector<std::vector<JobIdx>> running_on_;
  std::vector<std::vector<double>> partition_used_, partition_quota_;
  std::vector<double> tenant_usage_;
  bool estimates_are_bounds_ = true, disturbed_ = false, queue_dirty_ = false, restart_ = false;
  std::optional<Duration> wakeup_;
  std::uint64_t passes_ = 0, placement_decisions_ = 0, plan_epoch_ = 0;
  double busy_energy_j_ = 0, cpu_seconds_ = 0;
};

}  // namespace taskloom::cluster::detail
