// taskloom/cluster/simulator.hpp — the discrete-event cluster simulator and its metrics.
//
// simulate() replays jobs on a cluster with the chosen policies and returns one record per job
// and the metrics of the whole schedule. It is event-driven (submit, finish, node down/up),
// has no threads and no wall clock, and is deterministic: the same inputs and seed give the
// same result.
//   std::vector<Node> nodes = ...;  std::vector<Job> jobs = ...;
//   SimulationOptions o{.queue = {"fcfs"}, .placement = {"best_fit"}, .backfill = {"easy"}};
//   SimulationResult r = simulate(nodes, {}, jobs, o);
//   r.metrics.mean_wait_s;  r.jobs[0].status == JobStatus::kCompleted;
// Bad input (duplicate ids, unknown dependencies, dependency cycles, unknown partitions or
// nodes, empty cluster) throws before anything is simulated; unknown policy names throw
// UnknownNameError listing the valid ones. Jobs that can never fit the whole cluster are not
// an error: they are rejected (status kRejectedTooLarge, counted in Metrics::rejected).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/cluster/model.hpp"
#include "taskloom/cluster/policies.hpp"

namespace taskloom::cluster {

/// A node changes state at `time` (down: its jobs are requeued, losing their progress).
struct NodeEvent {
  Duration time{};
  std::string node;
  NodeState state = NodeState::kDown;
};

struct PreemptionOptions {
  bool enabled = false;
  /// A running job is preempted only after running this long in its current attempt.
  Duration min_runtime{};
};

/// What the scheduler allocates to a job on each of its nodes.
enum class PackBy {
  kRequest,   ///< the job's request
  kForecast,  ///< the forecaster's predicted peak usage x margin, never more than the request
};

/// Packing by predicted peak usage (simulation only). For each resource the job requests, the
/// allocation is min(request, predicted peak x margin); a resource without a prediction keeps
/// its request. A job whose actual peak (Job::used) exceeds its allocation in any requested
/// resource runs for its whole attempt (or to its wall limit), is then killed, and goes back
/// to the queue with its full request, its progress lost (docs/cluster.md).
struct PackingOptions {
  PackBy by = PackBy::kRequest;
  double margin = 1.2;  ///< safety factor on the predicted peak (>= 1 is sensible; > 0)
};

/// Power saving as Slurm's (SuspendTime, ResumeTimeout): a node idle for `suspend_after` is
/// suspended, drawing `suspended_watts` instead of its idle watts, and resumed `resume_time`
/// before its next job (drawing idle watts while it resumes). An accounting model: the
/// resume is assumed to start in time, so jobs are not delayed and schedules do not change;
/// what changes is Metrics::energy_kwh, so that placements that pack jobs onto few nodes
/// (leaving others idle long enough to sleep) show their saving. Node events are not
/// considered (a node that is down draws nothing anyway).
struct PowerSavingOptions {
  bool enabled = false;
  Duration suspend_after = std::chrono::minutes(10);
  Duration resume_time = std::chrono::minutes(1);
  double suspended_watts = 0;
};

struct SimulationOptions {
  PolicyChoice queue{"fcfs", {}};
  PolicyChoice placement{"first_fit", {}};
  PolicyChoice backfill{"none", {}};
  /// Runtime estimates used by backfilling and EDF slack ("requested": the wall limit), and
  /// peak-usage predictions (packing, Metrics::forecast.peak).
  PolicyChoice forecaster{"requested", {}};
  PackingOptions packing;
  /// A queued job may preempt running preemptible jobs of strictly lower Job::priority;
  /// checkpointable victims keep their progress, the others restart from the beginning.
  PreemptionOptions preemption;
  PowerSavingOptions power_saving;
  std::vector<NodeEvent> node_events;
  /// Seeds the policies that draw random numbers (placement "random").
  std::uint64_t seed = 0;
  /// Check the scheduler's invariants at every step (capacity, submit and dependency order,
  /// backfill reservations); a violation throws InvariantViolation. Unset: on when the
  /// cluster library was built without NDEBUG (debug builds), off otherwise.
  std::optional<bool> check_invariants;
};

enum class JobStatus {
  kCompleted,               ///< ran to its end
  kPreemptedThenCompleted,  ///< preempted (or requeued by a node failure) at least once, then ran
                            ///< to its end
  kKilledAtLimit,           ///< ran past requested_runtime and was killed at it
  kRejectedTooLarge,        ///< can never fit the cluster (or its partition's quota)
  kDependencyFailed,        ///< a job it depends on did not complete
  kNeverStarted,            ///< still queued when nothing more could happen (e.g. nodes down)
  kRunning,                 ///< live only (ClusterScheduler::status): launched, not yet finished
};

/// "completed", "preempted_then_completed", "killed_at_limit", "rejected_too_large",
/// "dependency_failed", "never_started", "running".
std::string_view to_string(JobStatus s) noexcept;

struct JobRecord {
  std::string id;
  std::string user;
  std::string partition;
  Duration submit{};
  std::optional<Duration> start;   ///< first start; empty when it never ran
  std::optional<Duration> end;     ///< end of its last run
  std::vector<std::string> nodes;  ///< nodes of its last run
  JobStatus status = JobStatus::kCompleted;
  std::uint32_t preemptions = 0;     ///< times preempted
  std::uint32_t failures = 0;        ///< times requeued because a node went down
  std::uint32_t usage_overruns = 0;  ///< times killed for using more than a packed allocation
  Duration estimated_runtime{};      ///< the forecaster's estimate at its last start
  std::string reason;                ///< why it was rejected or not run; empty otherwise
};

/// One tenant's share of the cluster over the schedule, against its target share.
struct TenantShare {
  std::string tenant;   ///< the user (Metrics::fair_share) or partition (partition_share)
  double usage_share;   ///< share of all dominant-share-seconds used (see docs/cluster.md)
  double target_share;  ///< users: an equal share among the users that ran jobs; partitions:
                        ///< fair_share_weight over the weights of the partitions that ran jobs
  double deviation;     ///< |usage_share - target_share|
  /// Users only: how long the tenant's jobs waited (first start - submit), over those that
  /// started. Unlike the shares, which are the same for every policy once every job has run,
  /// waits show whom a policy favours.
  double mean_wait_s = 0;
  std::size_t started = 0;
};

/// The error of the peak-usage predictions of one resource, over the jobs that completed with
/// a known peak of it (Job::used) and a prediction (a history, or a request of it).
struct PeakForecastError {
  std::string resource;
  std::size_t predictions = 0;
  double mean_absolute_error = 0;  ///< in the resource's unit (bytes for memory)
  double mean_relative_error = 0;  ///< mean |predicted - actual| / actual: the MAPE, as a fraction
  std::size_t underestimates = 0;  ///< predicted < actual
};

/// The error of the forecaster's predictions made when jobs were first started.
struct ForecastError {
  std::size_t predictions = 0;  ///< jobs that ran to their end with an estimate
  double mean_absolute_error_s = 0;
  /// mean |estimate - actual| / max(actual, 1 s): the runtime MAPE, as a fraction
  double mean_relative_error = 0;
  std::size_t underestimates = 0;       ///< estimate < actual
  std::vector<PeakForecastError> peak;  ///< per resource with known peaks, sorted by name
};

struct Metrics {
  std::size_t jobs = 0;
  std::size_t completed = 0;  ///< includes preempted-then-completed
  std::size_t killed_at_limit = 0;
  std::size_t rejected = 0;
  std::size_t dependency_failed = 0;
  std::size_t never_started = 0;
  std::size_t preemptions = 0;
  std::size_t failure_requeues = 0;
  std::size_t usage_overruns = 0;  ///< attempts killed for exceeding a packed allocation
  /// Over jobs that started: first start - submit.
  double mean_wait_s = 0, median_wait_s = 0, p95_wait_s = 0;
  /// max(1, (end - submit) / max(end - last start, 10 s)), over jobs that ran to an end.
  double mean_bounded_slowdown = 0;
  /// cpu-seconds used / (cpus of the cluster x makespan).
  double utilisation = 0;
  /// Last end - first submit.
  double makespan_s = 0;
  /// Jobs that ran to an end (completed or killed) per hour of makespan.
  double throughput_per_hour = 0;
  std::size_t deadline_misses = 0;
  /// Idle watts of every up node over the makespan plus busy watts in proportion to cpus used.
  double energy_kwh = 0;
  /// With power saving: node-hours spent suspended, and how many times a node was suspended.
  double suspended_node_hours = 0;
  std::size_t suspensions = 0;
  std::vector<TenantShare> fair_share;  ///< per user, sorted by user
  double max_fair_share_deviation = 0;
  /// The longest of the users' mean waits, and Jain's fairness index of the users' mean waits,
  /// (sum x)^2 / (n sum x^2): 1 when every user waits as long on average, 1/n when one user
  /// does all the waiting (1 when nobody waits).
  double max_user_mean_wait_s = 0;
  double user_wait_fairness = 1;
  /// Per partition, sorted by name, when partitions were given ("-": jobs without one).
  std::vector<TenantShare> partition_share;
  double max_partition_share_deviation = 0;
  ForecastError forecast;
  std::uint64_t events = 0;
  std::uint64_t scheduling_passes = 0;
  std::uint64_t placement_decisions = 0;  ///< placement-policy calls
};

struct SimulationResult {
  std::vector<JobRecord> jobs;  ///< in input order
  Metrics metrics;
};

/// Replays `jobs` on `nodes`. `partitions` give quotas, fair-share weights and priorities to
/// the jobs whose Job::partition names them (a job naming none is unrestricted; a job naming
/// an unknown partition is an error when `partitions` is not empty).
SimulationResult simulate(const std::vector<Node>& nodes, const std::vector<Partition>& partitions,
                          const std::vector<Job>& jobs, const SimulationOptions& options = {});

/// A scheduler invariant was broken (only with check_invariants); what() gives the details.
class InvariantViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace taskloom::cluster
