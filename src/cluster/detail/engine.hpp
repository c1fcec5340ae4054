// Private: the scheduler's dense state and the interfaces its policies implement.
//
// Resource names are mapped to indices once; every amount inside the scheduler is a dense
// array of `dims` doubles (a node's capacity and free amounts, a job's per-node request).
// Labels that jobs mention are mapped to bits of a 64-bit mask.
#pragma once

#include <chrono>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "taskloom/cluster/model.hpp"
#include "taskloom/cluster/policies.hpp"
#include "taskloom/cluster/simulator.hpp"

namespace taskloom::cluster::detail {

using NodeIdx = std::uint32_t;
using JobIdx = std::uint32_t;
inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr std::size_t kNoDim = static_cast<std::size_t>(-1);

/// a <= b within a relative tolerance of 1e-9 of the larger (amounts are sums and
/// differences of doubles: 1e9 bytes minus a request plus it again is not exactly 1e9).
inline bool leq(double a, double b) noexcept {
  double scale = a > b ? a : b;
  return a <= b + 1e-9 * (scale > 1.0 ? scale : 1.0);
}

enum class Phase : std::uint8_t { kFuture, kWaitingDeps, kQueued, kRunning, kDone };

/// One job as the scheduler sees it. `job` points at the caller's Job. Amounts and node lists
/// are views into the scheduler's flat job table (one arena of `dims` doubles per job, one of
/// `node_count` node slots per job), so a job costs no allocation of its own.
struct JobState {
  const Job* job = nullptr;
  JobIdx index = 0;
  std::uint32_t node_count = 1;
  std::uint32_t shape = 0;  ///< jobs with equal request, node count and labels share it
  Phase phase = Phase::kFuture;
  bool preemptible = false;
  bool checkpointable = false;
  bool killed = false;  ///< this attempt ends at the wall limit
  bool submitted = false;
  std::int32_t partition = -1;  ///< index into the partitions, -1 for none
  std::uint32_t tenant = 0;     ///< dense user index
  std::uint64_t required_labels = 0;
  std::uint64_t preferred_labels = 0;
  int priority = 0;
  std::size_t dominant_dim = 0;     ///< the request's largest share of the cluster's total
  double dominant_share = 0;        ///< request x node_count / cluster total in that dim
  double size_share = 0;            ///< cpus x node_count / cluster cpus (or dominant share)
  std::span<const double> request;  ///< per node, `dims` entries: what it is allocated (its
                                    ///< request, or less when packing by forecast)
  std::span<const NodeIdx> nodes;   ///< nodes of the current (or last) run; empty when none
  Duration submit{};
  Duration eligible{};   ///< max(submit, dependencies' ends)
  Duration requested{};  ///< wall limit of the current attempt (0: none)
  Duration remaining{};  ///< actual work left at speed 1
  Duration estimate{};   ///< forecaster's estimate for the current attempt (> 0)
  std::optional<Duration> deadline;
  // Running state.
  Duration start{};
  Duration expected_end{};        ///< start + estimate / speed; raised when the job outlives it
  std::uint32_t corrections = 0;  ///< times this attempt outlived its expected end
  Duration end{};                 ///< when it really ends (finish event)
  double speed = 1.0;
  std::uint64_t attempt = 0;  ///< bumps on every start, so stale finish events are ignored
  Duration done{};            ///< work kept by checkpoints (speed 1)
  // Outcome.
  std::optional<Duration> first_start;
  Duration predicted_total{};  ///< forecaster's estimate at the first start
  std::uint32_t preemptions = 0, failures = 0;
  std::uint32_t usage_overruns = 0;
  bool overrun = false;       ///< this attempt's allocation is below the job's peak usage
  bool full_request = false;  ///< packed once and overran: allocated its request from now on
  JobStatus status = JobStatus::kNeverStarted;
  std::string reason;
  // Dependencies: a count here, the edges in the scheduler's edge lists.
  std::uint32_t deps_left = 0;
};

/// Nodes: capacity, free amounts, the largest free amount per dimension (a segment tree over
/// the up nodes) and, when a placement policy asks for it, an ordered index of the up nodes by
/// free amount per dimension. The placement policies read it; only the Scheduler changes it.
class ClusterState {
 public:
  std::size_t dims() const noexcept { return dims_; }
  std::size_t size() const noexcept { return node_count_; }
  std::span<const double> capacity(NodeIdx n) const noexcept {
    return {capacity_.data() + n * dims_, dims_};
  }
  std::span<const double> free(NodeIdx n) const noexcept {
    return {free_.data() + n * dims_, dims_};
  }
  std::span<const double> total() const noexcept { return total_; }
  std::uint64_t labels(NodeIdx n) const noexcept { return labels_[n]; }
  double speed(NodeIdx n) const noexcept { return speed_[n]; }
  /// The fastest node's speed (a lower bound of any job's run time: estimate / max_speed).
  double max_speed() const noexcept { return max_speed_; }
  const PowerProfile& power(NodeIdx n) const noexcept { return power_[n]; }
  NodeState state(NodeIdx n) const noexcept { return state_[n]; }
  const std::string& id(NodeIdx n) const noexcept { return ids_[n]; }
  std::uint32_t running(NodeIdx n) const noexcept { return running_count_[n]; }
  /// The dimension named "cpu" (kNoDim when no node has cpus), "gpu" likewise.
  std::size_t cpu_dim() const noexcept { return cpu_dim_; }
  std::size_t gpu_dim() const noexcept { return gpu_dim_; }
  /// Has GPUs (capacity "gpu" > 0) or the label "gpu".
  bool is_gpu_node(NodeIdx n) const noexcept {
    return (labels_[n] & gpu_label_) != 0 ||
           (gpu_dim_ != kNoDim && capacity_[n * dims_ + gpu_dim_] > 0);
  }
  /// Asks for GPUs or requires the label "gpu".
  bool is_gpu_job(const JobState& job) const noexcept {
    return (job.required_labels & gpu_label_) != 0 ||
           (gpu_dim_ != kNoDim && job.request[gpu_dim_] > 0);
  }

  /// Up, has the job's required labels, and fits the job's request now (and the active limit).
  bool fits(const JobState& job, NodeIdx n) const noexcept;
  /// Could ever run the job: has the labels and the capacity (state ignored).
  bool could_fit(const JobState& job, NodeIdx n) const noexcept;
  /// The largest free amount of `dim` on an up node (-inf when no node is up). O(1).
  double max_free(std::size_t dim) const noexcept { return max_tree_[dim * 2 * leaves_ + 1]; }
  /// The first up node at or after `from`, in cluster order, with at least `need` free of `dim`
  /// (within leq's tolerance); size() when there is none. O(log nodes).
  NodeIdx next_with_free(std::size_t dim, double need, NodeIdx from) const noexcept;
  /// Up nodes ordered by free amount of `dim`, ascending. Only kept when the placement policy
  /// asked for it (Placement::uses_free_index).
  const std::set<std::pair<double, NodeIdx>>& by_free(std::size_t dim) const noexcept {
    return by_free_[dim];
  }
  /// Bumps whenever a node changes (allocation, release, state): what was computed from the
  /// node's free amounts and running jobs at one version still holds at the same version.
  std::uint64_t version(NodeIdx n) const noexcept { return version_[n]; }
  /// Bumps whenever room may have appeared (a release, a node coming up). A request that fits
  /// nowhere at one value of it fits nowhere while it keeps that value: allocations and nodes
  /// going down or draining only take room away.
  std::uint64_t room_epoch() const noexcept { return room_epoch_; }
  /// A limit or a node filter is active: fits() is stricter than the free amounts alone.
  bool constrained() const noexcept { return limit_ != nullptr || allowed_ != nullptr; }

  // --- the scheduler's side ---
  void init(const std::vector<Node>& nodes, std::vector<std::string> dim_names,
            const std::vector<std::string>& label_names, bool free_index);
  void allocate(NodeIdx n, std::span<const double> amount);
  void release(NodeIdx n, std::span<const double> amount);
  void set_state(NodeIdx n, NodeState s);
  /// Maps a label no job had named before to bit `bit` on the nodes that carry it.
  void add_label(const std::string& name, unsigned bit);
  /// While set, fits() also requires the request to be within limit[n] (dims per node; a node
  /// whose first entry is kInf is unlimited). Used by EASY for jobs running past its shadow.
  void set_limit(const std::vector<double>* limit) noexcept { limit_ = limit; }
  /// While set, fits() also requires allowed[n] != 0 (conservative backfilling's windows).
  void set_allowed(const std::vector<char>* allowed) noexcept { allowed_ = allowed; }
  const std::vector<std::string>& dim_names() const noexcept { return dim_names_; }

 private:
  void index_insert(NodeIdx n);
  void index_erase(NodeIdx n);
  void set_free(NodeIdx n, const double* values);
  void tree_set(std::size_t d, NodeIdx n, double value);

  std::size_t dims_ = 0, node_count_ = 0, leaves_ = 1;
  std::vector<double> capacity_, free_, total_;
  std::vector<double> max_tree_;  // per dim: 2 x leaves_ entries, root at 1
  std::vector<std::uint64_t> labels_;
  std::vector<std::vector<std::string>> label_names_;  // per node, for add_label
  std::vector<double> speed_;
  double max_speed_ = 1.0;
  std::vector<PowerProfile> power_;
  std::vector<NodeState> state_;
  std::vector<std::string> ids_;
  std::vector<std::uint32_t> running_count_;
  std::vector<std::uint64_t> version_;
  std::uint64_t room_epoch_ = 0;
  bool free_index_ = false;
  std::vector<std::set<std::pair<double, NodeIdx>>> by_free_;
  std::vector<std::string> dim_names_;
  std::size_t cpu_dim_ = kNoDim, gpu_dim_ = kNoDim;
  std::uint64_t gpu_label_ = 0;
  const std::vector<double>* limit_ = nullptr;
  const std::vector<char>* allowed_ = nullptr;
  std::vector<double> scratch_;
  friend class Scheduler;
};

class Scheduler;

// ---------------------------------------------------------------------------------------------
// Policy interfaces. Each implementation lives in src/cluster/policies/<name>.cpp and is
// listed once in src/cluster/policies/policies.def.

class Policy {
 public:
  virtual ~Policy() = default;
};

/// Orders the queue: smaller key first; ties go to the earlier submit, then input order.
class QueueOrder : public Policy {
 public:
  virtual double key(const JobState& job, Duration now) = 0;
  /// True when keys change with time or usage, so the queue is re-sorted at every pass.
  virtual bool dynamic() const noexcept { return false; }
  /// True when a start changes other jobs' keys (DRF): the pass restarts after each start.
  virtual bool reorder_after_start() const noexcept { return false; }
  virtual void on_start(const JobState&, Duration /*now*/) {}
  /// The job stopped (finished, killed, preempted or lost) after running since `start`.
  virtual void on_stop(const JobState&, Duration /*start*/, Duration /*now*/) {}
  /// Called once before any job with the scheduler, for cluster totals and partitions.
  virtual void attach(const Scheduler&) {}
};

/// Chooses nodes for a job now.
class Placement : public Policy {
 public:
  /// Appends job.node_count distinct nodes n with cluster.fits(job, n) to `out` and returns
  /// true, or returns false (out's content then does not matter).
  virtual bool place(const JobState& job, const ClusterState& cluster,
                     std::vector<NodeIdx>& out) = 0;
  /// Reads ClusterState::by_free (the scheduler then keeps that index up to date).
  virtual bool uses_free_index() const noexcept { return false; }
  /// place() is a function of the cluster's state and the job alone (it keeps no state that a
  /// call changes, e.g. a random generator), so the scheduler may skip calls whose answer
  /// cannot be used without changing any schedule.
  virtual bool pure() const noexcept { return true; }
};

/// One scheduling pass: decides which queued jobs start now, using the Scheduler's primitives.
class Backfill : public Policy {
 public:
  virtual void pass(Scheduler& s, Duration now) = 0;
  /// Forget any plan kept between passes (a preemption took room plans counted on).
  virtual void reset() {}
  /// Node n changed state (down, draining or up). The default forgets every plan.
  virtual void node_changed(NodeIdx /*n*/, NodeState /*state*/) { reset(); }
  /// How many jobs at the head of the queue the pass reads in order: with a queue order whose
  /// keys change between passes (multifactor, DRF) only that many are sorted (the rest follow
  /// in no particular order). A pass that needs more calls Scheduler::request_restart() after
  /// raising it. The default: the whole queue.
  virtual std::size_t ordered_prefix() const noexcept { return ~std::size_t{0}; }
  /// The running job outlived its expected end, which moved later (Forecaster::correct): its
  /// nodes come back later than plans counted on. The default forgets every plan.
  virtual void end_moved_later(const JobState& /*running*/) { reset(); }
};

/// Predicts runtimes (at speed 1) and peak usage per node from the history of similar jobs.
class Forecaster : public Policy {
 public:
  /// The estimate; never more than the job's wall limit when it has one, always > 0.
  virtual Duration predict(const Job& job) = 0;
  /// The predicted peak usage per node of each resource `names[d]`: `peak` comes filled with
  /// the job's request (what the user asked for) and the forecaster overwrites the entries it
  /// has a history for. The default keeps the request.
  virtual void predict_peak(const Job& /*job*/, std::span<const std::string> /*names*/,
                            std::span<double> /*peak*/) {}
  /// `ran` is how long the job really ran (at speed 1) when it ran to its end; its peak usage,
  /// when known, is Job::used.
  virtual void observe(const Job& job, Duration ran) = 0;
  /// The job has run `ran` (work at speed 1) and not ended: its prediction was too short for
  /// the `times`-th time (1, 2, ...). Returns the new prediction of its whole run (> ran); the
  /// scheduler caps it at the wall limit. The default adds the increments of EASY++ (Tsafrir,
  /// Etsion and Feitelson, TPDS 2007): 1 min, 5 min, 15 min, 30 min, 1, 2, 5, 10, 20, 50 h,
  /// then 100 h at a time, so the shadow time of a job that outlives its forecast is not "now".
  virtual Duration correct(const Job& /*job*/, Duration ran, std::uint32_t times) {
    using std::chrono::minutes;
    static constexpr minutes kSteps[] = {minutes(1),       minutes(5),       minutes(15),
                                         minutes(30),      minutes(60),      minutes(2 * 60),
                                         minutes(5 * 60),  minutes(10 * 60), minutes(20 * 60),
                                         minutes(50 * 60), minutes(100 * 60)};
    const std::size_t k = times == 0 ? 0 : times - 1;
    return ran + kSteps[k < std::size(kSteps) ? k : std::size(kSteps) - 1];
  }
};

}  // namespace taskloom::cluster::detail
