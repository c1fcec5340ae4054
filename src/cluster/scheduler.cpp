// The cluster scheduler: dense node state, the queue, starts, stops, preemption, invariants.
#include "cluster/detail/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "taskloom/core/error.hpp"
#include "taskloom/graph/algorithms.hpp"
#include "taskloom/graph/digraph.hpp"

#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {

// ---------------------------------------------------------------------------------------------
// ClusterState

void ClusterState::init(const std::vector<Node>& nodes, std::vector<std::string> dim_names,
                        const std::vector<std::string>& label_names) {
  dims_ = dim_names.size();
  node_count_ = nodes.size();
  dim_names_ = std::move(dim_names);
  capacity_.assign(node_count_ * dims_, 0.0);
  total_.assign(dims_, 0.0);
  labels_.assign(node_count_, 0);
  speed_.resize(node_count_);
  power_.resize(node_count_);
  state_.resize(node_count_);
  ids_.resize(node_count_);
  running_count_.assign(node_count_, 0);
  by_free_.assign(dims_, {});
  for (std::size_t d = 0; d < dims_; ++d) {
    if (dim_names_[d] == "cpu") cpu_dim_ = d;
    if (dim_names_[d] == "gpu") gpu_dim_ = d;
  }
  for (std::size_t n = 0; n < node_count_; ++n) {
    const Node& node = nodes[n];
    for (std::size_t d = 0; d < dims_; ++d) {
      capacity_[n * dims_ + d] = node.capacity.get(dim_names_[d]);
      total_[d] += capacity_[n * dims_ + d];
    }
    for (std::size_t b = 0; b < label_names.size(); ++b) {
      if (std::find(node.labels.begin(), node.labels.end(), label_names[b]) != node.labels.end())
        labels_[n] |= std::uint64_t{1} << b;
    }
    speed_[n] = node.speed;
    if (n == 0) {
      for (std::size_t b = 0; b < label_names.size(); ++b) {
        if (label_names[b] == "gpu") gpu_label_ = std::uint64_t{1} << b;
      }
    }
    power_[n] = node.power;
    state_[n] = node.state;
    ids_[n] = node.id;
  }
  free_ = capacity_;
  for (NodeIdx n = 0; n < node_count_; ++n) {
    if (state_[n] == NodeState::kUp) index_insert(n);
  }
}

bool ClusterState::could_fit(const JobState& job, NodeIdx n) const noexcept {
  if ((labels_[n] & job.required_labels) != job.required_labels) return false;
  const double* cap = capacity_.data() + n * dims_;
  for (std::size_t d = 0; d < dims_; ++d) {
    if (!leq(job.request[d], cap[d])) return false;
  }
  return true;
}

bool ClusterState::fits(const JobState& job, NodeIdx n) const noexcept {
  if (state_[n] != NodeState::kUp) return false;
  if ((labels_[n] & job.required_labels) != job.required_labels) return false;
  if (allowed_ != nullptr && (*allowed_)[n] == 0) return false;
  const double* fr = free_.data() + n * dims_;
  for (std::size_t d = 0; d < dims_; ++d) {
    if (!leq(job.request[d], fr[d])) return false;
  }
  if (limit_ != nullptr) {
    const double* lim = limit_->data() + n * dims_;
    for (std::size_t d = 0; d < dims_; ++d) {
      if (!leq(job.request[d], lim[d])) return false;
    }
  }
  return true;
}

void ClusterState::index_insert(NodeIdx n) {
  for (std::size_t d = 0; d < dims_; ++d) by_free_[d].emplace(free_[n * dims_ + d], n);
}

void ClusterState::index_erase(NodeIdx n) {
  for (std::size_t d = 0; d < dims_; ++d) by_free_[d].erase({free_[n * dims_ + d], n});
}

void ClusterState::set_free(NodeIdx n, const double* values) {
  const bool indexed = state_[n] == NodeState::kUp;
  for (std::size_t d = 0; d < dims_; ++d) {
    double& f = free_[n * dims_ + d];
    if (f == values[d]) continue;
    if (indexed) {  // move the index entry without reallocating it
      auto handle = by_free_[d].extract({f, n});
      handle.value() = {values[d], n};
      by_free_[d].insert(std::move(handle));
    }
    f = values[d];
  }
}

void ClusterState::allocate(NodeIdx n, std::span<const double> amount) {
  scratch_.resize(dims_);
  for (std::size_t d = 0; d < dims_; ++d) scratch_[d] = free_[n * dims_ + d] - amount[d];
  ++running_count_[n];
  set_free(n, scratch_.data());
}

void ClusterState::release(NodeIdx n, std::span<const double> amount) {
  scratch_.resize(dims_);
  --running_count_[n];
  for (std::size_t d = 0; d < dims_; ++d) {
    double f = free_[n * dims_ + d] + amount[d];
    double cap = capacity_[n * dims_ + d];
    // Snap to the capacity when the node is empty or the sum rounds to it.
    if (running_count_[n] == 0 || f > cap || std::abs(f - cap) <= 1e-9 * std::max(1.0, cap))
      f = cap;
    scratch_[d] = f;
  }
  set_free(n, scratch_.data());
}

void ClusterState::set_state(NodeIdx n, NodeState s) {
  bool was = state_[n] == NodeState::kUp;
  bool will = s == NodeState::kUp;
  if (was && !will) index_erase(n);
  state_[n] = s;
  if (!was && will) index_insert(n);
}

// ---------------------------------------------------------------------------------------------
// Scheduler: construction and validation

namespace {
double secs(Duration d) {
  return std::chrono::duration<double>(d).count();
}
Duration div_speed(Duration d, double speed) {
  if (speed == 1.0) return d;
  return Duration{static_cast<Duration::rep>(std::ceil(static_cast<double>(d.count()) / speed))};
}
}  // namespace

std::uint32_t Scheduler::shape_of(const JobState& js,
                                  std::unordered_map<std::uint64_t, std::uint32_t>& by_hash,
                                  std::vector<JobIdx>& reps) const {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a over the bytes
  auto mix = [&h](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  };
  mix(js.request.data(), js.request.size() * sizeof(double));
  mix(&js.node_count, sizeof js.node_count);
  mix(&js.required_labels, sizeof js.required_labels);
  while (true) {
    auto [it, fresh] = by_hash.emplace(h, static_cast<std::uint32_t>(reps.size()));
    if (fresh) {
      reps.push_back(js.index);
      return it->second;
    }
    const JobState& rep = jobs_[reps[it->second]];
    if (rep.request == js.request && rep.node_count == js.node_count &&
        rep.required_labels == js.required_labels)
      return it->second;
    h = h * 31 + 1;  // a collision: probe on
  }
}

Scheduler::Scheduler(const std::vector<Node>& nodes, const std::vector<Partition>& partitions,
                     const std::vector<Job>& jobs, const SchedulerConfig& config)
    : config_(config), input_(jobs), partitions_(partitions) {
  queue_policy_ = make_policy<QueueOrder>(PolicyKind::kQueue, config.queue);
  placement_ = make_policy<Placement>(PolicyKind::kPlacement, config.placement, config.seed);
  backfill_ = make_policy<Backfill>(PolicyKind::kBackfill, config.backfill);
  forecaster_ = make_policy<Forecaster>(PolicyKind::kForecaster, config.forecaster);

  std::vector<Diagnostic> problems;
  if (nodes.empty()) {
    problems.push_back({"", 0, 0, "the cluster has no nodes", "describe at least one node"});
  }
  // Nodes: unique ids, sane speeds.
  std::unordered_map<std::string, NodeIdx> node_ids;
  for (NodeIdx n = 0; n < nodes.size(); ++n) {
    if (!node_ids.emplace(nodes[n].id, n).second) throw DuplicateIdError(nodes[n].id);
    if (!(nodes[n].speed > 0) || !std::isfinite(nodes[n].speed)) {
      problems.push_back({"", 0, 0,
                          "node '" + nodes[n].id + "' has speed " + std::to_string(nodes[n].speed),
                          "give a positive speed factor (1 = reference)"});
    }
  }
  // Resource names and labels, deduplicated as they come (a trace repeats the same few
  // names in every job).
  std::unordered_set<std::string_view> dim_seen, label_seen{"gpu"};
  std::vector<std::string> dims, labels{"gpu"};
  auto see = [](std::unordered_set<std::string_view>& seen, std::vector<std::string>& out,
                std::string_view name) {
    if (seen.insert(name).second) out.emplace_back(name);
  };
  for (const Node& n : nodes) {
    for (const auto& [name, amount] : n.capacity) see(dim_seen, dims, name);
  }
  for (const Job& j : jobs) {
    for (const auto& [name, amount] : j.request) see(dim_seen, dims, name);
    for (const std::string& l : j.constraints) see(label_seen, labels, l);
    for (const std::string& l : j.preferences) see(label_seen, labels, l);
  }
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  if (labels.size() > 64) {
    problems.push_back({"", 0, 0,
                        "jobs mention " + std::to_string(labels.size()) +
                            " distinct node labels; the scheduler handles at most 64",
                        "merge labels or drop unused constraints"});
  }
  std::map<std::string, std::int32_t> part_index;
  for (std::size_t p = 0; p < partitions_.size(); ++p) {
    if (!part_index.emplace(partitions_[p].name, static_cast<std::int32_t>(p)).second)
      throw DuplicateIdError("partition " + partitions_[p].name);
    for (const auto& [name, amount] : partitions_[p].quota) dims.push_back(name);
  }
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  if (!problems.empty()) throw InputError(problems);

  cluster_.init(nodes, dims, labels);
  const std::size_t D = dims.size();
  auto label_mask = [&](const std::vector<std::string>& ls) {
    std::uint64_t m = 0;
    for (const std::string& l : ls) {
      auto it = std::lower_bound(labels.begin(), labels.end(), l);
      m |= std::uint64_t{1} << (it - labels.begin());
    }
    return m;
  };
  partition_quota_.assign(partitions_.size(), std::vector<double>(D, kInf));
  partition_used_.assign(partitions_.size(), std::vector<double>(D, 0.0));
  for (std::size_t p = 0; p < partitions_.size(); ++p) {
    for (const auto& [name, amount] : partitions_[p].quota) {
      auto it = std::lower_bound(dims.begin(), dims.end(), name);
      partition_quota_[p][it - dims.begin()] = amount;
    }
  }

  // Jobs.
  std::unordered_map<std::string_view, JobIdx> job_ids;
  job_ids.reserve(jobs.size());
  for (JobIdx j = 0; j < jobs.size(); ++j) {
    if (!job_ids.emplace(jobs[j].id, j).second) throw DuplicateIdError(jobs[j].id);
  }
  std::unordered_map<std::string_view, std::uint32_t> tenants;
  // Shapes (request, node count, labels) by a 64-bit hash, checked against a representative.
  std::unordered_map<std::uint64_t, std::uint32_t> shape_by_hash;
  std::vector<JobIdx> shape_rep;
  jobs_.resize(jobs.size());
  keys_.assign(jobs.size(), 0.0);
  std::vector<graph::Edge> edges;
  const auto total = cluster_.total();
  for (JobIdx j = 0; j < jobs.size(); ++j) {
    const Job& in = jobs[j];
    JobState& js = jobs_[j];
    js.job = &in;
    js.index = j;
    if (in.node_count == 0) {
      problems.push_back({"", 0, 0, "job '" + in.id + "' asks for 0 nodes", "use node_count >= 1"});
    }
    if (in.actual_runtime < Duration::zero() || in.requested_runtime < Duration::zero() ||
        in.submit_time < Duration::zero()) {
      problems.push_back({"", 0, 0, "job '" + in.id + "' has a negative time",
                          "times and runtimes are durations >= 0"});
    }
    js.node_count = std::max<std::uint32_t>(in.node_count, 1);
    js.required_labels = label_mask(in.constraints);
    js.preferred_labels = label_mask(in.preferences);
    js.priority = in.priority.value();
    if (!in.partition.empty() && !partitions_.empty()) {
      auto it = part_index.find(in.partition);
      if (it == part_index.end()) {
        problems.push_back({"", 0, 0,
                            "job '" + in.id + "' names unknown partition '" + in.partition + "'",
                            "declare the partition or leave the job's partition empty"});
      } else {
        js.partition = it->second;
      }
    }
    std::string_view user = in.user.empty() ? std::string_view("-") : std::string_view(in.user);
    auto [tit, fresh] = tenants.emplace(user, static_cast<std::uint32_t>(tenant_names_.size()));
    if (fresh) tenant_names_.emplace_back(user);
    js.tenant = tit->second;
    js.request.assign(D, 0.0);
    for (const auto& [name, amount] : in.request) {
      auto it = std::lower_bound(dims.begin(), dims.end(), name);
      js.request[it - dims.begin()] = amount;
    }
    double best = -1;
    for (std::size_t d = 0; d < D; ++d) {
      double share = total[d] > 0 ? js.request[d] * js.node_count / total[d]
                                  : (js.request[d] > 0 ? kInf : 0.0);
      if (share > best) {
        best = share;
        js.dominant_dim = d;
      }
    }
    js.dominant_share = std::max(best, 0.0);
    std::size_t cd = cluster_.cpu_dim();
    js.size_share = (cd != kNoDim && total[cd] > 0) ? js.request[cd] * js.node_count / total[cd]
                                                    : js.dominant_share;
    js.submit = in.submit_time;
    js.eligible = in.submit_time;
    js.requested = in.requested_runtime;
    js.remaining = in.actual_runtime;
    js.deadline = in.deadline;
    js.preemptible = in.preemptible;
    js.checkpointable = in.checkpointable;
    if (in.requested_runtime <= Duration::zero()) estimates_are_bounds_ = false;
    js.shape = shape_of(js, shape_by_hash, shape_rep);
    for (const std::string& dep : in.after) {
      auto it = job_ids.find(dep);
      if (it == job_ids.end()) {
        std::vector<std::string> known;
        known.reserve(jobs.size());
        for (const Job& k : jobs) known.push_back(k.id);
        throw UnknownDependencyError(in.id, dep, std::move(known));
      }
      edges.push_back({it->second, j});
    }
  }
  shape_count_ = static_cast<std::uint32_t>(shape_rep.size());
  if (!problems.empty()) throw InputError(problems);
  if (!edges.empty()) {
    graph::Digraph g(jobs.size(), edges);
    if (auto cycle = graph::find_cycle(g)) {
      std::vector<std::string> path;
      for (graph::NodeIndex v : *cycle) path.push_back(jobs[v].id);
      throw CycleError(std::move(path));
    }
    for (const graph::Edge& e : edges) {
      jobs_[e.from].dependents.push_back(e.to);
      jobs_[e.to].deps.push_back(e.from);
      ++jobs_[e.to].deps_left;
    }
  }
  if (config_.forecaster.name != "requested") estimates_are_bounds_ = false;
  running_on_.assign(cluster_.size(), {});
  tenant_usage_.assign(tenant_names_.size(), 0.0);
  queue_policy_->attach(*this);
}

Scheduler::~Scheduler() = default;

std::optional<NodeIdx> Scheduler::node_index(std::string_view id) const {
  for (NodeIdx n = 0; n < cluster_.size(); ++n) {
    if (cluster_.id(n) == id) return n;
  }
  return std::nullopt;
}

void Scheduler::violation(const std::string& what) const {
  throw InvariantViolation("cluster scheduler invariant broken: " + what);
}

// ---------------------------------------------------------------------------------------------
// Events

void Scheduler::submit(JobIdx j, Duration now) {
  JobState& js = jobs_[j];
  js.submitted = true;
  if (js.phase == Phase::kDone) return;  // its dependency already failed
  // Too large: fewer nodes that could ever hold it than it needs, or over its quota.
  std::uint32_t able = 0;
  for (NodeIdx n = 0; n < cluster_.size() && able < js.node_count; ++n) {
    if (cluster_.could_fit(js, n)) ++able;
  }
  std::string why;
  if (able < js.node_count) {
    why = "needs " + std::to_string(js.node_count) + " node(s) with " + to_string(js.job->request) +
          (js.job->constraints.empty() ? "" : " and its labels") + "; the cluster has " +
          std::to_string(able);
  } else if (js.partition >= 0) {
    const auto& q = partition_quota_[js.partition];
    for (std::size_t d = 0; d < q.size(); ++d) {
      if (!leq(js.request[d] * js.node_count, q[d])) {
        why = "asks for more " + cluster_.dim_names()[d] + " than partition '" +
              partitions_[js.partition].name + "' may hold at once";
        break;
      }
    }
  }
  if (!why.empty()) {
    js.phase = Phase::kDone;
    js.status = JobStatus::kRejectedTooLarge;
    js.reason = why;
    fail_dependents(j);
    return;
  }
  if (js.deps_left > 0) {
    js.phase = Phase::kWaitingDeps;
    return;
  }
  js.eligible = std::max(js.eligible, now);
  enqueue(j, now);
}

void Scheduler::enqueue(JobIdx j, Duration now) {
  JobState& js = jobs_[j];
  js.phase = Phase::kQueued;
  Duration p = forecaster_->predict(*js.job);
  Duration est = p - js.done;
  if (est <= Duration::zero()) est = std::chrono::seconds(1);
  if (js.requested > Duration::zero()) est = std::min(est, js.requested);
  js.estimate = std::max(est, Duration{1});
  if (!js.first_start) js.predicted_total = p;
  if (!queue_policy_->dynamic()) keys_[j] = queue_policy_->key(js, now);
  arrivals_.push_back(j);
  queue_dirty_ = true;
}

void Scheduler::finish(JobIdx j, Duration now) {
  JobState& js = jobs_[j];
  stop_running(j, now);
  js.end = now;
  js.phase = Phase::kDone;
  if (js.killed) {
    js.status = JobStatus::kKilledAtLimit;
    js.reason = "ran past its requested runtime";
    fail_dependents(j);
    return;
  }
  js.status = (js.preemptions + js.failures > 0) ? JobStatus::kPreemptedThenCompleted
                                                 : JobStatus::kCompleted;
  forecaster_->observe(*js.job, js.job->actual_runtime);
  for (JobIdx d : js.dependents) {
    JobState& ds = jobs_[d];
    if (ds.phase == Phase::kDone) continue;
    ds.eligible = std::max(ds.eligible, now);
    if (--ds.deps_left == 0 && ds.submitted && ds.phase == Phase::kWaitingDeps) enqueue(d, now);
  }
}

void Scheduler::fail_dependents(JobIdx j) {
  std::vector<JobIdx> stack{j};
  while (!stack.empty()) {
    JobIdx u = stack.back();
    stack.pop_back();
    for (JobIdx d : jobs_[u].dependents) {
      JobState& ds = jobs_[d];
      if (ds.phase == Phase::kDone) continue;
      ds.phase = Phase::kDone;
      ds.status = JobStatus::kDependencyFailed;
      ds.reason = "dependency '" + jobs_[u].job->id + "' did not complete";
      stack.push_back(d);
    }
  }
}

void Scheduler::node_state(NodeIdx n, NodeState s, Duration now) {
  if (s == NodeState::kDown) {
    std::vector<JobIdx> lost = running_on_[n];
    for (JobIdx j : lost) {
      ++jobs_[j].failures;
      requeue(j, now, false);
    }
  }
  cluster_.set_state(n, s);
  ++plan_epoch_;
  disturbed_ = true;
  backfill_->reset();
}

void Scheduler::stop_running(JobIdx j, Duration now) {
  JobState& js = jobs_[j];
  if (now != js.expected_end) ++plan_epoch_;
  double ran = secs(now - js.start);
  const std::size_t D = cluster_.dims();
  const std::size_t cd = cluster_.cpu_dim();
  for (NodeIdx n : js.nodes) {
    cluster_.release(n, js.request);
    auto& list = running_on_[n];
    auto it = std::find(list.begin(), list.end(), j);
    *it = list.back();
    list.pop_back();
    double share = 1.0;
    if (cd != kNoDim) {
      double cap = cluster_.capacity(n)[cd];
      share = cap > 0 ? js.request[cd] / cap : 0.0;
    }
    const PowerProfile& pw = cluster_.power(n);
    busy_energy_j_ += (pw.busy_watts - pw.idle_watts) * share * ran;
  }
  if (cd != kNoDim) cpu_seconds_ += js.request[cd] * js.node_count * ran;
  tenant_usage_[js.tenant] += js.dominant_share * ran;
  if (js.partition >= 0) {
    auto& used = partition_used_[js.partition];
    for (std::size_t d = 0; d < D; ++d) used[d] -= js.request[d] * js.node_count;
  }
  queue_policy_->on_stop(js, js.start, now);
}

void Scheduler::requeue(JobIdx j, Duration now, bool keep_progress) {
  JobState& js = jobs_[j];
  stop_running(j, now);
  ++js.attempt;  // the pending finish event is now stale
  if (keep_progress) {
    Duration ran = now - js.start;
    Duration work{static_cast<Duration::rep>(static_cast<double>(ran.count()) * js.speed)};
    work = std::min(work, js.remaining - Duration{1});
    js.done += work;
    js.remaining -= work;
    if (js.requested > Duration::zero()) js.requested = std::max(js.requested - ran, Duration{1});
  } else {
    js.done = Duration::zero();
    js.remaining = js.job->actual_runtime;
    js.requested = js.job->requested_runtime;
  }
  js.nodes.clear();
  js.killed = false;
  disturbed_ = true;
  enqueue(j, now);
  backfill_->reset();
}

// ---------------------------------------------------------------------------------------------
// Scheduling

bool Scheduler::quota_allows(const JobState& js) const noexcept {
  if (js.partition < 0) return true;
  const auto& q = partition_quota_[js.partition];
  const auto& used = partition_used_[js.partition];
  for (std::size_t d = 0; d < q.size(); ++d) {
    if (q[d] != kInf && !leq(used[d] + js.request[d] * js.node_count, q[d])) return false;
  }
  return true;
}

bool Scheduler::place(const JobState& js, std::vector<NodeIdx>& out) {
  ++placement_decisions_;
  out.clear();
  // Cheap refusal: some resource asks for more than the freest up node has.
  for (std::size_t d = 0; d < cluster_.dims(); ++d) {
    const auto& index = cluster_.by_free(d);
    if (index.empty() || !leq(js.request[d], index.rbegin()->first)) return false;
  }
  if (!placement_->place(js, cluster_, out)) return false;
  if (config_.check_invariants) {
    if (out.size() != js.node_count)
      violation("placement gave the wrong number of nodes for " + js.job->id);
    std::vector<NodeIdx> sorted = out;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      violation("placement gave a node twice to " + js.job->id);
    for (NodeIdx n : out) {
      if (!cluster_.fits(js, n))
        violation("placement put " + js.job->id + " on " + cluster_.id(n) +
                  " where it does not fit");
    }
  }
  return true;
}

Duration Scheduler::run_time_on(const JobState& js, const std::vector<NodeIdx>& nodes) const {
  double speed = kInf;
  for (NodeIdx n : nodes) speed = std::min(speed, cluster_.speed(n));
  if (nodes.empty()) speed = 1.0;
  return div_speed(js.estimate, speed);
}

Duration Scheduler::run_time_worst(const JobState& js) const {
  double speed = kInf;
  for (NodeIdx n = 0; n < cluster_.size(); ++n) {
    if (cluster_.could_fit(js, n)) speed = std::min(speed, cluster_.speed(n));
  }
  if (speed == kInf) speed = 1.0;
  return div_speed(js.estimate, speed);
}

void Scheduler::start(JobIdx j, const std::vector<NodeIdx>& nodes, Duration now) {
  JobState& js = jobs_[j];
  if (config_.check_invariants) {
    if (js.phase != Phase::kQueued) violation("starting " + js.job->id + " which is not queued");
    if (now < js.submit) violation(js.job->id + " starts before its submit time");
    for (JobIdx u : js.deps) {
      const JobState& us = jobs_[u];
      bool ok = us.phase == Phase::kDone && (us.status == JobStatus::kCompleted ||
                                             us.status == JobStatus::kPreemptedThenCompleted);
      if (!ok || us.end > now)
        violation(js.job->id + " starts before its dependency " + us.job->id + " ended");
    }
    if (nodes.size() != js.node_count)
      violation(js.job->id + " starts on the wrong number of nodes");
    for (NodeIdx n : nodes) {
      if (cluster_.state(n) != NodeState::kUp)
        violation(js.job->id + " starts on a node that is not up");
      auto fr = cluster_.free(n);
      for (std::size_t d = 0; d < cluster_.dims(); ++d) {
        if (!leq(js.request[d], fr[d]))
          violation(js.job->id + " would exceed the capacity of " + cluster_.id(n) + " in " +
                    cluster_.dim_names()[d]);
      }
    }
  }
  double speed = kInf;
  for (NodeIdx n : nodes) {
    cluster_.allocate(n, js.request);
    running_on_[n].push_back(j);
    speed = std::min(speed, cluster_.speed(n));
  }
  js.nodes = nodes;
  js.speed = speed;
  js.start = now;
  if (!js.first_start) js.first_start = now;
  Duration wall = div_speed(js.remaining, speed);
  js.killed = js.requested > Duration::zero() && wall > js.requested;
  js.end = now + (js.killed ? js.requested : wall);
  Duration expected = div_speed(js.estimate, speed);
  if (js.requested > Duration::zero()) expected = std::min(expected, js.requested);
  js.expected_end = now + expected;
  ++js.attempt;
  js.phase = Phase::kRunning;
  if (js.partition >= 0) {
    auto& used = partition_used_[js.partition];
    for (std::size_t d = 0; d < used.size(); ++d) used[d] += js.request[d] * js.node_count;
  }
  queue_policy_->on_start(js, now);
  started_.push_back(j);
  if (queue_policy_->reorder_after_start()) restart_ = true;
}

std::vector<JobIdx> Scheduler::take_started() {
  std::vector<JobIdx> out;
  out.swap(started_);
  return out;
}

void Scheduler::order_queue(Duration now) {
  auto before = [this](JobIdx a, JobIdx b) {
    if (keys_[a] != keys_[b]) return keys_[a] < keys_[b];
    if (jobs_[a].submit != jobs_[b].submit) return jobs_[a].submit < jobs_[b].submit;
    return a < b;
  };
  if (queue_policy_->dynamic()) {
    queue_.insert(queue_.end(), arrivals_.begin(), arrivals_.end());
    arrivals_.clear();
    for (JobIdx j : queue_) keys_[j] = queue_policy_->key(jobs_[j], now);
    std::sort(queue_.begin(), queue_.end(), before);
  } else if (!arrivals_.empty()) {
    std::sort(arrivals_.begin(), arrivals_.end(), before);
    std::size_t mid = queue_.size();
    queue_.insert(queue_.end(), arrivals_.begin(), arrivals_.end());
    arrivals_.clear();
    std::inplace_merge(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(mid),
                       queue_.end(), before);
  }
  queue_dirty_ = false;
}

void Scheduler::schedule(Duration now) {
  ++passes_;
  bool first = true;
  do {
    restart_ = false;
    order_queue(now);
    if (queue_.empty()) break;
    if (first && config_.preemption.enabled) {
      try_preemption(now);
      restart_ = false;
    }
    first = false;
    backfill_->pass(*this, now);
    std::erase_if(queue_, [this](JobIdx j) { return jobs_[j].phase != Phase::kQueued; });
  } while (restart_);
  restart_ = false;
  if (config_.check_invariants) check_state(now);
}

void Scheduler::try_preemption(Duration now) {
  std::vector<NodeIdx> nodes;
  int examined = 0;
  for (std::size_t i = 0; i < queue_.size() && examined < 32; ++i) {
    JobIdx j = queue_[i];
    const JobState& js = jobs_[j];
    if (js.phase != Phase::kQueued || !quota_allows(js)) continue;
    if (place(js, nodes)) continue;  // the pass will start it
    ++examined;
    if (!preempt_for(j, now)) break;
  }
}

bool Scheduler::preempt_for(JobIdx j, Duration now) {
  JobState& js = jobs_[j];
  const std::size_t D = cluster_.dims();
  struct Option {
    std::size_t cost;
    NodeIdx node;
    std::vector<JobIdx> victims;
  };
  std::vector<Option> options;
  std::vector<double> freed(D);
  for (NodeIdx n = 0; n < cluster_.size(); ++n) {
    if (cluster_.state(n) != NodeState::kUp || !cluster_.could_fit(js, n)) continue;
    auto fr = cluster_.free(n);
    std::copy(fr.begin(), fr.end(), freed.begin());
    auto fits = [&] {
      for (std::size_t d = 0; d < D; ++d) {
        if (!leq(js.request[d], freed[d])) return false;
      }
      return true;
    };
    Option o{0, n, {}};
    if (!fits()) {
      std::vector<JobIdx> cands;
      for (JobIdx v : running_on_[n]) {
        const JobState& vs = jobs_[v];
        if (!vs.preemptible || vs.priority >= js.priority) continue;
        Duration ready = vs.start + config_.preemption.min_runtime;
        if (now >= ready) {
          cands.push_back(v);
        } else {
          request_wakeup(ready);  // try again when it may be preempted
        }
      }
      std::sort(cands.begin(), cands.end(), [&](JobIdx a, JobIdx b) {
        if (jobs_[a].priority != jobs_[b].priority) return jobs_[a].priority < jobs_[b].priority;
        if (jobs_[a].start != jobs_[b].start) return jobs_[a].start > jobs_[b].start;
        return a > b;
      });
      bool ok = false;
      for (JobIdx v : cands) {
        for (std::size_t d = 0; d < D; ++d) freed[d] += jobs_[v].request[d];
        o.victims.push_back(v);
        if (fits()) {
          ok = true;
          break;
        }
      }
      if (!ok) continue;
      o.cost = o.victims.size();
    }
    options.push_back(std::move(o));
  }
  if (options.size() < js.node_count) return false;
  std::stable_sort(options.begin(), options.end(),
                   [](const Option& a, const Option& b) { return a.cost < b.cost; });
  options.resize(js.node_count);
  std::vector<JobIdx> victims;
  std::vector<NodeIdx> nodes;
  for (const Option& o : options) {
    victims.insert(victims.end(), o.victims.begin(), o.victims.end());
    nodes.push_back(o.node);
  }
  if (victims.empty()) return false;
  std::sort(victims.begin(), victims.end());
  victims.erase(std::unique(victims.begin(), victims.end()), victims.end());
  for (JobIdx v : victims) {
    ++jobs_[v].preemptions;
    requeue(v, now, jobs_[v].checkpointable);
  }
  std::sort(nodes.begin(), nodes.end());
  start(j, nodes, now);
  return true;
}

void Scheduler::close(Duration) {
  for (JobState& js : jobs_) {
    if (js.phase == Phase::kDone) continue;
    if (js.phase == Phase::kRunning) violation(js.job->id + " still running at the end");
    js.status = JobStatus::kNeverStarted;
    js.reason = js.phase == Phase::kWaitingDeps ? "its dependencies never completed"
                                                : "no usable node was left for it";
    js.phase = Phase::kDone;
  }
}

void Scheduler::check_state(Duration now) const {
  const std::size_t D = cluster_.dims();
  std::vector<double> used(D);
  for (NodeIdx n = 0; n < cluster_.size(); ++n) {
    std::fill(used.begin(), used.end(), 0.0);
    for (JobIdx j : running_on_[n]) {
      const JobState& js = jobs_[j];
      if (js.phase != Phase::kRunning) violation(js.job->id + " is on a node but not running");
      if (js.start < js.submit) violation(js.job->id + " started before its submit time");
      if (js.end < now) violation(js.job->id + " should have ended already");
      for (std::size_t d = 0; d < D; ++d) used[d] += js.request[d];
    }
    auto cap = cluster_.capacity(n);
    auto fr = cluster_.free(n);
    for (std::size_t d = 0; d < D; ++d) {
      if (!leq(used[d], cap[d]))
        violation("capacity of " + cluster_.id(n) + " exceeded in " + cluster_.dim_names()[d]);
      if (std::abs(cap[d] - fr[d] - used[d]) > 1e-6 * std::max(1.0, cap[d]))
        violation("free amount of " + cluster_.id(n) + " is out of step with its jobs");
    }
  }
}

}  // namespace taskloom::cluster::detail
