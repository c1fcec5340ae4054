// The cluster scheduler: dense node state, the job table, the queue, starts, stops, preemption,
// invariants.
#include "cluster/detail/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <unordered_set>

#include "taskloom/core/error.hpp"
#include "taskloom/graph/algorithms.hpp"
#include "taskloom/graph/digraph.hpp"

#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {

// ---------------------------------------------------------------------------------------------
// ClusterState

void ClusterState::init(const std::vector<Node>& nodes, std::vector<std::string> dim_names,
                        const std::vector<std::string>& label_names, bool free_index) {
  dims_ = dim_names.size();
  node_count_ = nodes.size();
  dim_names_ = std::move(dim_names);
  free_index_ = free_index;
  capacity_.assign(node_count_ * dims_, 0.0);
  total_.assign(dims_, 0.0);
  labels_.assign(node_count_, 0);
  label_names_.resize(node_count_);
  speed_.resize(node_count_);
  power_.resize(node_count_);
  state_.resize(node_count_);
  ids_.resize(node_count_);
  running_count_.assign(node_count_, 0);
  version_.assign(node_count_, 0);
  by_free_.assign(free_index_ ? dims_ : 0, {});
  leaves_ = 1;
  while (leaves_ < node_count_) leaves_ *= 2;
  max_tree_.assign(dims_ * 2 * leaves_, -kInf);
  for (std::size_t d = 0; d < dims_; ++d) {
    if (dim_names_[d] == "cpu") cpu_dim_ = d;
    if (dim_names_[d] == "gpu") gpu_dim_ = d;
  }
  for (std::size_t b = 0; b < label_names.size(); ++b) {
    if (label_names[b] == "gpu") gpu_label_ = std::uint64_t{1} << b;
  }
  max_speed_ = 0;
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
    label_names_[n] = node.labels;
    speed_[n] = node.speed;
    max_speed_ = std::max(max_speed_, node.speed);
    power_[n] = node.power;
    state_[n] = node.state;
    ids_[n] = node.id;
  }
  if (!(max_speed_ > 0)) max_speed_ = 1.0;
  free_ = capacity_;
  for (NodeIdx n = 0; n < node_count_; ++n) {
    if (state_[n] != NodeState::kUp) continue;
    if (free_index_) index_insert(n);
    for (std::size_t d = 0; d < dims_; ++d)
      max_tree_[d * 2 * leaves_ + leaves_ + n] = free_[n * dims_ + d];
  }
  for (std::size_t d = 0; d < dims_; ++d) {
    double* t = max_tree_.data() + d * 2 * leaves_;
    for (std::size_t i = leaves_ - 1; i >= 1; --i) t[i] = std::max(t[2 * i], t[2 * i + 1]);
  }
}

void ClusterState::add_label(const std::string& name, unsigned bit) {
  for (NodeIdx n = 0; n < node_count_; ++n) {
    const auto& ls = label_names_[n];
    if (std::find(ls.begin(), ls.end(), name) != ls.end()) labels_[n] |= std::uint64_t{1} << bit;
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

void ClusterState::tree_set(std::size_t d, NodeIdx n, double value) {
  double* t = max_tree_.data() + d * 2 * leaves_;
  std::size_t i = leaves_ + n;
  t[i] = value;
  for (i /= 2; i >= 1; i /= 2) {
    double m = std::max(t[2 * i], t[2 * i + 1]);
    if (t[i] == m) break;  // the maximum above does not change either
    t[i] = m;
  }
}

NodeIdx ClusterState::next_with_free(std::size_t dim, double need, NodeIdx from) const noexcept {
  const auto none = static_cast<NodeIdx>(node_count_);
  if (from >= node_count_) return none;
  const double* t = max_tree_.data() + dim * 2 * leaves_;
  std::size_t i = leaves_ + from;
  if (leq(need, t[i])) return from;
  // Up to the first subtree to the right whose maximum is enough, then down its leftmost path.
  while (true) {
    while ((i & 1) != 0) {  // a right child: continue from its parent
      if (i == 1) return none;
      i >>= 1;
    }
    ++i;  // the right sibling
    if (leq(need, t[i])) break;
  }
  while (i < leaves_) {
    i *= 2;
    if (!leq(need, t[i])) ++i;
  }
  return i - leaves_ < node_count_ ? static_cast<NodeIdx>(i - leaves_) : none;
}

void ClusterState::set_free(NodeIdx n, const double* values) {
  const bool up = state_[n] == NodeState::kUp;
  for (std::size_t d = 0; d < dims_; ++d) {
    double& f = free_[n * dims_ + d];
    if (f == values[d]) continue;
    if (up && free_index_) {  // move the index entry without reallocating it
      auto handle = by_free_[d].extract({f, n});
      handle.value() = {values[d], n};
      by_free_[d].insert(std::move(handle));
    }
    f = values[d];
    if (up) tree_set(d, n, f);
  }
}

void ClusterState::allocate(NodeIdx n, std::span<const double> amount) {
  scratch_.resize(dims_);
  for (std::size_t d = 0; d < dims_; ++d) scratch_[d] = free_[n * dims_ + d] - amount[d];
  ++running_count_[n];
  ++version_[n];
  set_free(n, scratch_.data());
}

void ClusterState::release(NodeIdx n, std::span<const double> amount) {
  scratch_.resize(dims_);
  --running_count_[n];
  ++version_[n];
  ++room_epoch_;
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
  ++version_[n];
  if (was && !will) {
    if (free_index_) index_erase(n);
    for (std::size_t d = 0; d < dims_; ++d) tree_set(d, n, -kInf);
  }
  state_[n] = s;
  if (!was && will) {
    ++room_epoch_;
    if (free_index_) index_insert(n);
    for (std::size_t d = 0; d < dims_; ++d) tree_set(d, n, free_[n * dims_ + d]);
  }
}

// ---------------------------------------------------------------------------------------------
// Scheduler: construction, validation and the job table

namespace {
double secs(Duration d) {
  return std::chrono::duration<double>(d).count();
}
Duration div_speed(Duration d, double speed) {
  if (speed == 1.0) return d;
  return Duration{static_cast<Duration::rep>(std::ceil(static_cast<double>(d.count()) / speed))};
}
}  // namespace

std::uint32_t Scheduler::shape_of(JobIdx j) {
  const JobState& js = jobs_[j];
  const std::size_t D = cluster_.dims();
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a over the bytes
  auto mix = [&h](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  };
  mix(js.request.data(), D * sizeof(double));
  mix(&js.node_count, sizeof js.node_count);
  mix(&js.required_labels, sizeof js.required_labels);
  while (true) {
    auto it = shape_by_hash_.find(h);
    if (it == shape_by_hash_.end()) {
      auto id = static_cast<std::uint32_t>(shape_nodes_.size());
      shape_by_hash_.emplace(h, id);
      shape_request_.insert(shape_request_.end(), js.request.begin(), js.request.end());
      shape_nodes_.push_back(js.node_count);
      shape_labels_.push_back(js.required_labels);
      unfit_at_.push_back(0);
      return id;
    }
    const std::uint32_t s = it->second;
    if (shape_nodes_[s] == js.node_count && shape_labels_[s] == js.required_labels &&
        (D == 0 ||
         std::memcmp(shape_request_.data() + s * D, js.request.data(), D * sizeof(double)) == 0))
      return s;
    h = h * 31 + 1;  // a collision: probe on
  }
}

void Scheduler::derive_from_request(JobState& js) {
  const std::size_t D = cluster_.dims();
  const auto total = cluster_.total();
  double best = -1;
  for (std::size_t d = 0; d < D; ++d) {
    double share =
        total[d] > 0 ? js.request[d] * js.node_count / total[d] : (js.request[d] > 0 ? kInf : 0.0);
    if (share > best) {
      best = share;
      js.dominant_dim = d;
    }
  }
  js.dominant_share = std::max(best, 0.0);
  std::size_t cd = cluster_.cpu_dim();
  js.size_share = (cd != kNoDim && total[cd] > 0) ? js.request[cd] * js.node_count / total[cd]
                                                  : js.dominant_share;
  js.shape = shape_of(js.index);
}

void Scheduler::set_request(JobIdx j, std::span<const double> amounts) {
  JobState& js = jobs_[j];
  std::copy(amounts.begin(), amounts.end(),
            request_arena_.begin() + static_cast<std::ptrdiff_t>(j * cluster_.dims()));
  derive_from_request(js);
  job_shape_[j] = js.shape;
}

void Scheduler::predict_peaks(JobIdx j) {
  JobState& js = jobs_[j];
  const std::size_t D = cluster_.dims();
  const auto a = asked(j);
  scratch_.assign(a.begin(), a.end());
  forecaster_->predict_peak(*js.job, cluster_.dim_names(), scratch_);
  if (!js.first_start) {
    std::copy(scratch_.begin(), scratch_.end(),
              peak_arena_.begin() + static_cast<std::ptrdiff_t>(j * D));
  }
  if (!packing_) return;
  // The allocation: min(request, predicted peak x margin) for what the job requests; after an
  // overrun, the request.
  bool same = true;
  for (std::size_t d = 0; d < D; ++d) {
    double alloc = a[d];
    if (!js.full_request && a[d] > 0 && scratch_[d] > 0) {
      alloc = std::min(a[d], scratch_[d] * config_.packing.margin);
    }
    scratch_[d] = alloc;
    same = same && alloc == js.request[d];
  }
  if (!same) set_request(j, scratch_);
}

std::uint64_t Scheduler::label_mask(const std::vector<std::string>& labels, bool add_missing) {
  std::uint64_t m = 0;
  for (const std::string& l : labels) {
    auto it = label_bits_.find(l);
    if (it == label_bits_.end()) {
      if (!add_missing || label_bits_.size() >= 64) return ~std::uint64_t{0};  // caller checks
      auto bit = static_cast<unsigned>(label_bits_.size());
      it = label_bits_.emplace(l, bit).first;
      cluster_.add_label(l, bit);
    }
    m |= std::uint64_t{1} << it->second;
  }
  return m;
}

void Scheduler::repoint_views() {
  const std::size_t D = cluster_.dims();
  for (JobState& js : jobs_) {
    js.request = {request_arena_.data() + static_cast<std::size_t>(js.index) * D, D};
    if (!js.nodes.empty()) js.nodes = {node_arena_.data() + node_offset_[js.index], js.node_count};
  }
}

void Scheduler::add_edge(JobIdx from, JobIdx to) {
  auto e = static_cast<std::uint32_t>(edges_.size());
  edges_.push_back({from, to});
  if (out_tail_[from] == kNoEdge) {
    out_head_[from] = e;
  } else {
    edges_[out_tail_[from]].next_out = e;
  }
  out_tail_[from] = e;
  if (dep_tail_[to] == kNoEdge) {
    dep_head_[to] = e;
  } else {
    edges_[dep_tail_[to]].next_dep = e;
  }
  dep_tail_[to] = e;
}

void Scheduler::append_job(const Job& in, std::vector<Diagnostic>& problems) {
  const auto j = static_cast<JobIdx>(jobs_.size());
  const std::size_t D = cluster_.dims();
  const double* request_base = request_arena_.data();
  const NodeIdx* node_base = node_arena_.data();
  JobState& js = jobs_.emplace_back();
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
  js.required_labels = label_mask(in.constraints, true);
  js.preferred_labels = label_mask(in.preferences, true);
  if (js.required_labels == ~std::uint64_t{0} || js.preferred_labels == ~std::uint64_t{0}) {
    problems.push_back(
        {"", 0, 0, "job '" + in.id + "' names a node label beyond the 64 the scheduler handles",
         "merge labels or drop unused constraints"});
    js.required_labels = js.preferred_labels = 0;
  }
  js.priority = in.priority.value();
  if (!in.partition.empty() && !partitions_.empty()) {
    auto it = partition_index_.find(in.partition);
    if (it == partition_index_.end()) {
      problems.push_back({"", 0, 0,
                          "job '" + in.id + "' names unknown partition '" + in.partition + "'",
                          "declare the partition or leave the job's partition empty"});
    } else {
      js.partition = it->second;
    }
  }
  std::string_view user = in.user.empty() ? std::string_view("-") : std::string_view(in.user);
  auto tit = tenant_ids_.find(user);
  if (tit == tenant_ids_.end()) {
    tit = tenant_ids_.emplace(std::string(user), static_cast<std::uint32_t>(tenant_names_.size()))
              .first;
    tenant_names_.emplace_back(user);
  }
  js.tenant = tit->second;
  // The request, dense, in the arena.
  const std::size_t offset = request_arena_.size();
  request_arena_.resize(offset + D, 0.0);
  const auto& dims = cluster_.dim_names();
  for (const auto& [name, amount] : in.request) {
    auto it = std::lower_bound(dims.begin(), dims.end(), name);
    request_arena_[offset + static_cast<std::size_t>(it - dims.begin())] = amount;
  }
  node_offset_.push_back(node_arena_.size());
  node_arena_.resize(node_arena_.size() + js.node_count);
  if (request_arena_.data() != request_base || node_arena_.data() != node_base) {
    repoint_views();
  } else {
    js.request = {request_arena_.data() + offset, D};
  }
  // Peak usage: what the job really used, and room for the forecaster's predictions.
  if (tracks_peaks_) {
    used_arena_.resize(offset + D, 0.0);
    peak_arena_.resize(offset + D, 0.0);
    for (const auto& [name, amount] : in.used) {
      auto it = std::lower_bound(dims.begin(), dims.end(), name);
      // A resource no node has and no job asks for cannot be allocated: nothing to check.
      if (it != dims.end() && *it == name) {
        used_arena_[offset + static_cast<std::size_t>(it - dims.begin())] = amount;
      }
    }
  }
  if (packing_) {
    asked_arena_.insert(asked_arena_.end(),
                        request_arena_.begin() + static_cast<std::ptrdiff_t>(offset),
                        request_arena_.end());
  }
  derive_from_request(js);
  js.submit = in.submit_time;
  js.eligible = in.submit_time;
  js.requested = in.requested_runtime;
  js.remaining = in.actual_runtime;
  js.deadline = in.deadline;
  js.preemptible = in.preemptible;
  js.checkpointable = in.checkpointable;
  if (in.requested_runtime <= Duration::zero()) estimates_are_bounds_ = false;
  job_shape_.push_back(js.shape);
  out_head_.push_back(kNoEdge);
  out_tail_.push_back(kNoEdge);
  dep_head_.push_back(kNoEdge);
  dep_tail_.push_back(kNoEdge);
  keys_.push_back(0.0);
  in_queue_.push_back(0);
}

Scheduler::Scheduler(const std::vector<Node>& nodes, const std::vector<Partition>& partitions,
                     std::span<const Job> jobs, const SchedulerConfig& config)
    : config_(config), partitions_(partitions) {
  queue_policy_ = make_policy<QueueOrder>(PolicyKind::kQueue, config.queue);
  placement_ = make_policy<Placement>(PolicyKind::kPlacement, config.placement, config.seed);
  backfill_ = make_policy<Backfill>(PolicyKind::kBackfill, config.backfill);
  forecaster_ = make_policy<Forecaster>(PolicyKind::kForecaster, config.forecaster);
  placement_pure_ = placement_->pure();

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
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  if (labels.size() > 64) {
    problems.push_back({"", 0, 0,
                        "jobs mention " + std::to_string(labels.size()) +
                            " distinct node labels; the scheduler handles at most 64",
                        "merge labels or drop unused constraints"});
  }
  for (std::size_t p = 0; p < partitions_.size(); ++p) {
    if (!partition_index_.emplace(partitions_[p].name, static_cast<std::int32_t>(p)).second)
      throw DuplicateIdError("partition " + partitions_[p].name);
    const double w = partitions_[p].fair_share_weight;
    if (!(w > 0) || !std::isfinite(w)) {
      problems.push_back(
          {"", 0, 0,
           "partition '" + partitions_[p].name + "' has fair-share weight " + std::to_string(w),
           "give a positive weight (1 = an equal share)"});
    }
    for (const auto& [name, amount] : partitions_[p].quota) dims.push_back(name);
  }
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  if (!problems.empty()) throw InputError(problems);

  cluster_.init(nodes, dims, labels, placement_->uses_free_index());
  for (std::size_t b = 0; b < labels.size(); ++b) {
    label_bits_.emplace(labels[b], static_cast<unsigned>(b));
  }
  const std::size_t D = dims.size();
  partition_quota_.assign(partitions_.size(), std::vector<double>(D, kInf));
  partition_used_.assign(partitions_.size(), std::vector<double>(D, 0.0));
  partition_limited_.assign(partitions_.size(), 0);
  for (std::size_t p = 0; p < partitions_.size(); ++p) {
    for (const auto& [name, amount] : partitions_[p].quota) {
      auto it = std::lower_bound(dims.begin(), dims.end(), name);
      partition_quota_[p][static_cast<std::size_t>(it - dims.begin())] = amount;
      partition_limited_[p] = 1;
    }
  }

  // Jobs.
  auto id_of = [this](JobIdx j) -> std::string_view { return job_ptrs_[j]->id; };
  job_ptrs_.reserve(jobs.size());
  for (const Job& j : jobs) job_ptrs_.push_back(&j);
  job_ids_.reserve(jobs.size(), id_of);
  for (JobIdx j = 0; j < jobs.size(); ++j) {
    if (!job_ids_.insert(jobs[j].id, j, id_of)) throw DuplicateIdError(jobs[j].id);
  }
  packing_ = config_.packing.by == PackBy::kForecast;
  tracks_peaks_ = packing_ || std::any_of(jobs.begin(), jobs.end(),
                                          [](const Job& j) { return !j.used.empty(); });
  if (packing_ && !(config_.packing.margin > 0 && std::isfinite(config_.packing.margin))) {
    throw InvalidArgumentError("packing margin must be a positive number, not " +
                               std::to_string(config_.packing.margin));
  }
  std::size_t slots = 0;
  for (const Job& j : jobs) slots += std::max<std::uint32_t>(j.node_count, 1);
  jobs_.reserve(jobs.size());
  request_arena_.reserve(jobs.size() * D);
  node_arena_.reserve(slots);
  std::vector<graph::Edge> edges;
  for (JobIdx j = 0; j < jobs.size(); ++j) {
    const Job& in = jobs[j];
    append_job(in, problems);
    for (const std::string& dep : in.after) {
      auto u = job_ids_.find(dep, id_of);
      if (!u) {
        std::vector<std::string> known;
        known.reserve(jobs.size());
        for (const Job& k : jobs) known.push_back(k.id);
        throw UnknownDependencyError(in.id, dep, std::move(known));
      }
      edges.push_back({*u, j});
    }
  }
  if (!problems.empty()) throw InputError(problems);
  if (!edges.empty()) {
    graph::Digraph g(jobs.size(), edges);
    if (auto cycle = graph::find_cycle(g)) {
      std::vector<std::string> path;
      for (graph::NodeIndex v : *cycle) path.push_back(jobs[v].id);
      throw CycleError(std::move(path));
    }
    edges_.reserve(edges.size());
    for (const graph::Edge& e : edges) {
      add_edge(static_cast<JobIdx>(e.from), static_cast<JobIdx>(e.to));
      ++jobs_[e.to].deps_left;
    }
  }
  if (config_.forecaster.name != "requested") estimates_are_bounds_ = false;
  running_on_.assign(cluster_.size(), {});
  idle_gaps_.assign(cluster_.size(), {});
  idle_since_.assign(cluster_.size(), Duration::min());
  tenant_usage_.assign(tenant_names_.size(), 0.0);
  partition_usage_.assign(partitions_.size() + 1, 0.0);
  queue_policy_->attach(*this);
}

Scheduler::~Scheduler() = default;

JobIdx Scheduler::add_job(const Job& in) {
  auto id_of = [this](JobIdx j) -> std::string_view { return job_ptrs_[j]->id; };
  if (job_ids_.find(in.id, id_of)) throw DuplicateIdError(in.id);
  std::vector<JobIdx> deps;
  for (const std::string& dep : in.after) {
    auto u = job_ids_.find(dep, id_of);
    if (!u) {
      std::vector<std::string> known;
      known.reserve(jobs_.size());
      for (const JobState& k : jobs_) known.push_back(k.job->id);
      throw UnknownDependencyError(in.id, dep, std::move(known));
    }
    deps.push_back(*u);
  }
  // A resource no node has (nor any job had at construction): it could never run.
  const auto& dims = cluster_.dim_names();
  for (const auto& [name, amount] : in.request) {
    if (!std::binary_search(dims.begin(), dims.end(), name)) {
      throw JobTooLargeError(in.id, "it asks for " + to_string(in.request) +
                                        " per node and no node has any '" + name + "'");
    }
  }
  std::vector<Diagnostic> problems;
  const std::size_t request_size = request_arena_.size(), node_size = node_arena_.size();
  const std::size_t used_size = used_arena_.size(), asked_size = asked_arena_.size();
  append_job(in, problems);
  const JobIdx j = jobs_.back().index;
  std::string why = problems.empty() ? too_large_reason(jobs_.back()) : std::string();
  if (!problems.empty() || !why.empty()) {
    // Take the job out of the table again (tenants, labels and shapes it added stay: unused).
    jobs_.pop_back();
    request_arena_.resize(request_size);
    node_arena_.resize(node_size);
    used_arena_.resize(used_size);
    peak_arena_.resize(used_size);
    asked_arena_.resize(asked_size);
    node_offset_.pop_back();
    job_shape_.pop_back();
    out_head_.pop_back();
    out_tail_.pop_back();
    dep_head_.pop_back();
    dep_tail_.pop_back();
    keys_.pop_back();
    in_queue_.pop_back();
    if (!problems.empty()) throw InputError(problems);
    throw JobTooLargeError(in.id, why);
  }
  job_ptrs_.push_back(&in);
  job_ids_.insert(in.id, j, id_of);
  if (tenant_usage_.size() < tenant_names_.size()) tenant_usage_.resize(tenant_names_.size(), 0.0);
  JobState& js = jobs_[j];
  for (JobIdx u : deps) {
    add_edge(u, j);
    const JobState& us = jobs_[u];
    if (us.phase != Phase::kDone) {
      ++js.deps_left;
    } else if (us.status == JobStatus::kCompleted ||
               us.status == JobStatus::kPreemptedThenCompleted) {
      js.eligible = std::max(js.eligible, us.end);
    } else if (js.phase != Phase::kDone) {
      js.phase = Phase::kDone;
      js.status = JobStatus::kDependencyFailed;
      js.reason = "dependency '" + us.job->id + "' did not complete";
    }
  }
  if (in.requested_runtime <= Duration::zero()) estimates_are_bounds_ = false;
  return j;
}

std::optional<NodeIdx> Scheduler::node_index(std::string_view id) const {
  for (NodeIdx n = 0; n < cluster_.size(); ++n) {
    if (cluster_.id(n) == id) return n;
  }
  return std::nullopt;
}

std::optional<JobIdx> Scheduler::job_index(std::string_view id) const {
  return job_ids_.find(id, [this](JobIdx j) -> std::string_view { return job_ptrs_[j]->id; });
}

void Scheduler::violation(const std::string& what) const {
  throw InvariantViolation("cluster scheduler invariant broken: " + what);
}

// ---------------------------------------------------------------------------------------------
// Events

std::string Scheduler::too_large_reason(const JobState& js) const {
  // Too large: fewer nodes that could ever hold it than it needs, or over its quota.
  std::uint32_t able = 0;
  for (NodeIdx n = 0; n < cluster_.size() && able < js.node_count; ++n) {
    if (cluster_.could_fit(js, n)) ++able;
  }
  if (able < js.node_count) {
    return "needs " + std::to_string(js.node_count) + " node(s) with " +
           to_string(js.job->request) + (js.job->constraints.empty() ? "" : " and its labels") +
           "; the cluster has " + std::to_string(able);
  }
  if (js.partition >= 0) {
    const auto& q = partition_quota_[static_cast<std::size_t>(js.partition)];
    for (std::size_t d = 0; d < q.size(); ++d) {
      if (!leq(js.request[d] * js.node_count, q[d])) {
        return "asks for more " + cluster_.dim_names()[d] + " than partition '" +
               partitions_[static_cast<std::size_t>(js.partition)].name + "' may hold at once";
      }
    }
  }
  return {};
}

void Scheduler::submit(JobIdx j, Duration now) {
  JobState& js = jobs_[j];
  js.submitted = true;
  if (js.phase == Phase::kDone) return;  // its dependency already failed
  std::string why = too_large_reason(js);
  if (!why.empty()) {
    js.phase = Phase::kDone;
    js.status = JobStatus::kRejectedTooLarge;
    js.reason = std::move(why);
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
  // Entries the job still has in the queue (it was started and requeued within one pass) are
  // alive again.
  dead_entries_ -= std::min<std::size_t>(dead_entries_, in_queue_[j]);
  js.phase = Phase::kQueued;
  Duration p = forecaster_->predict(*js.job);
  Duration est = p - js.done;
  if (est <= Duration::zero()) est = std::chrono::seconds(1);
  if (js.requested > Duration::zero()) est = std::min(est, js.requested);
  js.estimate = std::max(est, Duration{1});
  if (!js.first_start) js.predicted_total = p;
  if (tracks_peaks_) predict_peaks(j);
  if (!queue_policy_->dynamic()) keys_[j] = queue_policy_->key(js, now);
  arrivals_.push_back(j);
}

void Scheduler::finish(JobIdx j, Duration now) {
  JobState& js = jobs_[j];
  if (js.overrun) {
    // Its peak did not fit its packed allocation: killed at the end of the attempt, and back
    // to the queue with its full request, its work lost.
    ++js.usage_overruns;
    js.overrun = false;
    js.full_request = true;
    requeue(j, now, false, false);
    return;
  }
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
  // Simulated, the job ran its actual runtime; live, what it ran is what the clock says (at
  // speed 1, plus work kept by checkpoints before a preemption).
  Duration ran = js.job->actual_runtime;
  if (!config_.simulated_ends) {
    ran = js.done + Duration{static_cast<Duration::rep>(
                        static_cast<double>((now - js.start).count()) * js.speed)};
  }
  forecaster_->observe(*js.job, ran);
  for_each_dependent(j, [&](JobIdx d) {
    JobState& ds = jobs_[d];
    if (ds.phase == Phase::kDone) return;
    ds.eligible = std::max(ds.eligible, now);
    if (--ds.deps_left == 0 && ds.submitted && ds.phase == Phase::kWaitingDeps) enqueue(d, now);
  });
}

void Scheduler::fail_dependents(JobIdx j) {
  std::vector<JobIdx> stack{j};
  while (!stack.empty()) {
    JobIdx u = stack.back();
    stack.pop_back();
    for_each_dependent(u, [&](JobIdx d) {
      JobState& ds = jobs_[d];
      if (ds.phase == Phase::kDone) return;
      ds.phase = Phase::kDone;
      ds.status = JobStatus::kDependencyFailed;
      ds.reason = "dependency '" + jobs_[u].job->id + "' did not complete";
      stack.push_back(d);
    });
  }
}

void Scheduler::node_state(NodeIdx n, NodeState s, Duration now) {
  if (s == NodeState::kDown) {
    std::vector<JobIdx> lost = running_on_[n];
    for (JobIdx j : lost) {
      ++jobs_[j].failures;
      requeue(j, now, false, false);
    }
  }
  cluster_.set_state(n, s);
  ++plan_epoch_;
  // Plans on this node are void when it goes down or drains; the others still hold (a lost
  // job only gives its other nodes back early), and a node coming up only adds room.
  backfill_->node_changed(n, s);
}

void Scheduler::stop_running(JobIdx j, Duration now) {
  JobState& js = jobs_[j];
  if (now != js.expected_end) ++plan_epoch_;
  double ran = secs(now - js.start);
  const std::size_t D = cluster_.dims();
  const std::size_t cd = cluster_.cpu_dim();
  for (NodeIdx n : js.nodes) {
    cluster_.release(n, js.request);
    if (cluster_.running(n) == 0) idle_since_[n] = now;
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
  partition_usage_[js.partition >= 0 ? static_cast<std::size_t>(js.partition)
                                     : partitions_.size()] += js.dominant_share * ran;
  if (js.partition >= 0) {
    auto& used = partition_used_[static_cast<std::size_t>(js.partition)];
    for (std::size_t d = 0; d < D; ++d) used[d] -= js.request[d] * js.node_count;
  }
  queue_policy_->on_stop(js, js.start, now);
}

void Scheduler::requeue(JobIdx j, Duration now, bool keep_progress, bool disturbs_plans) {
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
  js.nodes = {};
  js.killed = false;
  enqueue(j, now);
  if (disturbs_plans) {
    disturbed_ = true;
    backfill_->reset();
  }
}

// ---------------------------------------------------------------------------------------------
// Scheduling

bool Scheduler::quota_room(const JobState& js) const noexcept {
  const auto p = static_cast<std::size_t>(js.partition);
  const auto& q = partition_quota_[p];
  const auto& used = partition_used_[p];
  for (std::size_t d = 0; d < q.size(); ++d) {
    if (q[d] != kInf && !leq(used[d] + js.request[d] * js.node_count, q[d])) return false;
  }
  return true;
}

bool Scheduler::place(const JobState& js, std::vector<NodeIdx>& out) {
  out.clear();
  if (known_unfit(js.shape)) return false;
  ++placement_decisions_;
  const bool record = !cluster_.constrained();
  // Cheap refusal: some resource asks for more than the freest up node has.
  for (std::size_t d = 0; d < cluster_.dims(); ++d) {
    if (!leq(js.request[d], cluster_.max_free(d))) {
      if (record) unfit_at_[js.shape] = cluster_.room_epoch() + 1;
      return false;
    }
  }
  if (!placement_->place(js, cluster_, out)) {
    if (record) unfit_at_[js.shape] = cluster_.room_epoch() + 1;
    return false;
  }
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

Duration Scheduler::run_time_on(const JobState& js, std::span<const NodeIdx> nodes) const {
  double speed = kInf;
  for (NodeIdx n : nodes) speed = std::min(speed, cluster_.speed(n));
  if (nodes.empty()) speed = 1.0;
  return div_speed(js.estimate, speed);
}

Duration Scheduler::run_time_worst(const JobState& js) const {
  // The slowest node that could hold the shape, found once per shape (speeds, capacities and
  // labels do not change).
  if (js.shape >= worst_speed_.size()) worst_speed_.resize(js.shape + 1, 0.0);
  double& speed = worst_speed_[js.shape];
  if (speed == 0.0) {
    speed = kInf;
    for (NodeIdx n = 0; n < cluster_.size(); ++n) {
      if (cluster_.could_fit(js, n)) speed = std::min(speed, cluster_.speed(n));
    }
    if (speed == kInf) speed = 1.0;
  }
  return div_speed(js.estimate, speed);
}

Duration Scheduler::run_time_best(const JobState& js) const {
  return div_speed(js.estimate, cluster_.max_speed());
}

void Scheduler::start(JobIdx j, const std::vector<NodeIdx>& nodes, Duration now) {
  JobState& js = jobs_[j];
  if (config_.check_invariants) {
    if (js.phase != Phase::kQueued) violation("starting " + js.job->id + " which is not queued");
    if (now < js.submit) violation(js.job->id + " starts before its submit time");
    for_each_dependency(j, [&](JobIdx u) {
      const JobState& us = jobs_[u];
      bool ok = us.phase == Phase::kDone && (us.status == JobStatus::kCompleted ||
                                             us.status == JobStatus::kPreemptedThenCompleted);
      if (!ok || us.end > now)
        violation(js.job->id + " starts before its dependency " + us.job->id + " ended");
    });
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
  NodeIdx* slots = node_arena_.data() + node_offset_[j];
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const NodeIdx n = nodes[i];
    if (cluster_.running(n) == 0) idle_gaps_[n].emplace_back(idle_since_[n], now);
    cluster_.allocate(n, js.request);
    running_on_[n].push_back(j);
    speed = std::min(speed, cluster_.speed(n));
    slots[i] = n;
  }
  js.nodes = {slots, nodes.size()};
  js.speed = speed;
  js.start = now;
  if (!js.first_start) js.first_start = now;
  Duration wall = div_speed(js.remaining, speed);
  js.killed = js.requested > Duration::zero() && wall > js.requested;
  js.end = now + (js.killed ? js.requested : wall);
  Duration expected = div_speed(js.estimate, speed);
  if (js.requested > Duration::zero()) expected = std::min(expected, js.requested);
  js.expected_end = now + expected;
  js.overrun = false;
  if (packing_ && !js.full_request) {
    const auto a = asked(j), u = used(j);
    for (std::size_t d = 0; d < cluster_.dims() && !js.overrun; ++d) {
      js.overrun = js.request[d] < a[d] && !leq(u[d], js.request[d]);
    }
  }
  ++js.attempt;
  js.corrections = 0;
  js.phase = Phase::kRunning;
  // Live, any job may outlive its estimate; simulated, only those whose end is past it.
  if (!config_.simulated_ends || js.end > js.expected_end) {
    overdue_.push_back({js.expected_end, j, js.attempt});
    std::push_heap(overdue_.begin(), overdue_.end(), std::greater<>());
  }
  dead_entries_ += in_queue_[j];
  if (js.partition >= 0) {
    auto& used = partition_used_[static_cast<std::size_t>(js.partition)];
    for (std::size_t d = 0; d < used.size(); ++d) used[d] += js.request[d] * js.node_count;
  }
  queue_policy_->on_start(js, now);
  started_.push_back(j);
  if (queue_policy_->reorder_after_start()) restart_ = true;
}

void Scheduler::order_queue(Duration now) {
  auto before = [this](JobIdx a, JobIdx b) {
    if (keys_[a] != keys_[b]) return keys_[a] < keys_[b];
    if (jobs_[a].submit != jobs_[b].submit) return jobs_[a].submit < jobs_[b].submit;
    return a < b;
  };
  for (JobIdx j : arrivals_) {
    ++in_queue_[j];
    if (jobs_[j].phase != Phase::kQueued) ++dead_entries_;  // started since it arrived
  }
  if (queue_policy_->dynamic()) {
    queue_.insert(queue_.end(), arrivals_.begin(), arrivals_.end());
    arrivals_.clear();
    for (auto it = queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_); it != queue_.end();
         ++it) {
      keys_[*it] = queue_policy_->key(jobs_[*it], now);
    }
    // Only the prefix the backfill policy reads in order (all of it when preemption may look
    // further): partial_sort with this strict order gives the same first entries as a sort.
    const auto first = queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_);
    const std::size_t prefix =
        config_.preemption.enabled ? ~std::size_t{0} : backfill_->ordered_prefix();
    if (prefix < queue_.size() - queue_head_) {
      std::partial_sort(first, first + static_cast<std::ptrdiff_t>(prefix), queue_.end(), before);
    } else {
      std::sort(first, queue_.end(), before);
    }
  } else if (!arrivals_.empty()) {
    std::sort(arrivals_.begin(), arrivals_.end(), before);
    std::size_t mid = queue_.size();
    queue_.insert(queue_.end(), arrivals_.begin(), arrivals_.end());
    arrivals_.clear();
    std::inplace_merge(queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_),
                       queue_.begin() + static_cast<std::ptrdiff_t>(mid), queue_.end(), before);
  }
}

void Scheduler::compact_queue() {
  // Entries of jobs that left the queue (started) are removed, keeping the order. Only the
  // stretch up to the last such entry is moved (its live entries slide towards its end and the
  // queue's head advances), so a pass that started the first few jobs of a long queue costs
  // what it started, not the queue's length.
  if (dead_entries_ == 0) return;
  auto dead = [this](JobIdx j) { return jobs_[j].phase != Phase::kQueued; };
  std::size_t seen = 0, last = queue_head_;
  for (std::size_t i = queue_head_; i < queue_.size() && seen < dead_entries_; ++i) {
    if (dead(queue_[i])) {
      ++seen;
      last = i;
    }
  }
  std::size_t write = last + 1;
  for (std::size_t i = last + 1; i-- > queue_head_;) {
    JobIdx j = queue_[i];
    if (dead(j)) {
      --in_queue_[j];
    } else {
      queue_[--write] = j;
    }
  }
  queue_head_ = write;
  dead_entries_ = 0;
  if (queue_head_ > 4096 && queue_head_ * 2 > queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
    queue_head_ = 0;
  }
}

void Scheduler::correct_overdue(Duration now) {
  while (!overdue_.empty() && overdue_.front().at <= now) {
    std::pop_heap(overdue_.begin(), overdue_.end(), std::greater<>());
    const Overdue o = overdue_.back();
    overdue_.pop_back();
    if (overdue_stale(o)) continue;
    JobState& js = jobs_[o.job];
    // Work done so far at speed 1 (with what checkpoints kept), and the forecaster's new
    // prediction of the whole run, at the nodes' speed from now.
    const Duration ran = js.done + Duration{static_cast<Duration::rep>(
                                       static_cast<double>((now - js.start).count()) * js.speed)};
    Duration total = forecaster_->correct(*js.job, ran, ++js.corrections);
    if (total <= ran) total = ran + Duration{1};
    Duration end = now + div_speed(total - ran, js.speed);
    if (js.requested > Duration::zero()) end = std::min(end, js.start + js.requested);
    js.expected_end = std::max(end, now + Duration{1});
    // Plans counted on its nodes coming back sooner. Nothing came back earlier than planned,
    // so the plan epoch stays (it would make conservative re-plan every reservation).
    backfill_->end_moved_later(js);
    if (!config_.simulated_ends || js.end > js.expected_end) {
      overdue_.push_back({js.expected_end, o.job, o.attempt});
      std::push_heap(overdue_.begin(), overdue_.end(), std::greater<>());
    }
  }
}

std::optional<Duration> Scheduler::next_overdue() {
  while (!overdue_.empty() && overdue_stale(overdue_.front())) {
    std::pop_heap(overdue_.begin(), overdue_.end(), std::greater<>());
    overdue_.pop_back();
  }
  if (overdue_.empty()) return std::nullopt;
  return overdue_.front().at;
}

void Scheduler::schedule(Duration now) {
  ++passes_;
  correct_overdue(now);
  bool first = true;
  do {
    restart_ = false;
    order_queue(now);
    if (queue_.size() == queue_head_) break;
    if (first && config_.preemption.enabled) {
      try_preemption(now);
      restart_ = false;
    }
    first = false;
    backfill_->pass(*this, now);
    compact_queue();
  } while (restart_);
  restart_ = false;
  // Jobs still waiting: a pass is due when a running job outlives its forecast (its nodes
  // then come back later than planned, which may let other jobs backfill now).
  if (queue_.size() != queue_head_) {
    if (auto t = next_overdue()) request_wakeup(*t);
  }
  if (config_.check_invariants) check_state(now);
}

void Scheduler::try_preemption(Duration now) {
  std::vector<NodeIdx> nodes;
  int examined = 0;
  for (std::size_t i = queue_head_; i < queue_.size() && examined < 32; ++i) {
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
    preempted_.emplace_back(v, std::vector<NodeIdx>(jobs_[v].nodes.begin(), jobs_[v].nodes.end()));
    requeue(v, now, jobs_[v].checkpointable, true);  // its preemptor may use reserved room
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
      if (config_.simulated_ends && js.end < now)
        violation(js.job->id + " should have ended already");
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
