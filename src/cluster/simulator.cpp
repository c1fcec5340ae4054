// The discrete-event simulator: an event heap driving the Scheduler, then the metrics.
#include "taskloom/cluster/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <queue>
#include <string_view>
#include <unordered_map>

#include "taskloom/core/error.hpp"

#include "cluster/detail/scheduler.hpp"

namespace taskloom::cluster {

std::string_view to_string(JobStatus s) noexcept {
  switch (s) {
    case JobStatus::kCompleted:
      return "completed";
    case JobStatus::kPreemptedThenCompleted:
      return "preempted_then_completed";
    case JobStatus::kKilledAtLimit:
      return "killed_at_limit";
    case JobStatus::kRejectedTooLarge:
      return "rejected_too_large";
    case JobStatus::kDependencyFailed:
      return "dependency_failed";
    case JobStatus::kNeverStarted:
      return "never_started";
    case JobStatus::kRunning:
      return "running";
  }
  return "unknown";
}

namespace {

using detail::JobIdx;
using detail::NodeIdx;

double secs(Duration d) {
  return std::chrono::duration<double>(d).count();
}

// Heap events (finishes, wake-ups) in time order; at one instant ends first (their resources
// are free for what starts now); ties by insertion order.
enum class EventKind : std::uint8_t { kFinish = 0, kWake = 1 };

struct Event {
  Duration time;
  EventKind kind;
  std::uint32_t subject;  // job or node-event index
  std::uint64_t attempt;  // finish: the attempt it ends
  std::uint64_t seq;
  bool operator>(const Event& o) const {
    if (time != o.time) return time > o.time;
    if (kind != o.kind) return kind > o.kind;
    return seq > o.seq;
  }
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  // Nearest rank: the smallest value with at least q of the values at or below it.
  std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

Metrics metrics_of(const detail::Scheduler& s, const std::vector<Node>& nodes,
                   const std::vector<Partition>& partitions,
                   const std::vector<NodeEvent>& node_events,
                   const PowerSavingOptions& power_saving, const std::vector<JobRecord>& recs,
                   std::uint64_t events) {
  Metrics m;
  m.jobs = recs.size();
  m.events = events;
  m.scheduling_passes = s.passes();
  m.placement_decisions = s.placement_decisions();
  std::vector<double> waits;
  double bsld_sum = 0;
  std::size_t ended = 0;
  Duration first_submit = Duration::max(), last_end = Duration::min();
  double abs_err = 0, rel_err = 0;
  struct PeakSums {
    std::size_t n = 0, under = 0;
    double abs = 0, rel = 0;
  };
  std::vector<PeakSums> peak_sums(s.cluster().dims());
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const JobRecord& r = recs[i];
    const detail::JobState& js = s.job(static_cast<JobIdx>(i));
    first_submit = std::min(first_submit, r.submit);
    switch (r.status) {
      case JobStatus::kCompleted:
      case JobStatus::kPreemptedThenCompleted:
        ++m.completed;
        break;
      case JobStatus::kKilledAtLimit:
        ++m.killed_at_limit;
        break;
      case JobStatus::kRejectedTooLarge:
        ++m.rejected;
        break;
      case JobStatus::kDependencyFailed:
        ++m.dependency_failed;
        break;
      case JobStatus::kNeverStarted:
      case JobStatus::kRunning:  // not in a finished simulation
        ++m.never_started;
        break;
    }
    m.preemptions += r.preemptions;
    m.failure_requeues += r.failures;
    m.usage_overruns += r.usage_overruns;
    if (r.start) waits.push_back(secs(*r.start - r.submit));
    if (r.end) {
      ++ended;
      last_end = std::max(last_end, *r.end);
      double run = secs(*r.end - js.start);
      double response = secs(*r.end - r.submit);
      bsld_sum += std::max(1.0, response / std::max(run, 10.0));
    }
    bool done_ok =
        r.status == JobStatus::kCompleted || r.status == JobStatus::kPreemptedThenCompleted;
    if (js.job->deadline && !(done_ok && r.end && *r.end <= *js.job->deadline)) {
      ++m.deadline_misses;
    }
    if (done_ok && s.tracks_peaks()) {
      // Peak usage: every resource with a known peak and a prediction (> 0) of it.
      const auto used = s.used(static_cast<JobIdx>(i));
      const auto predicted = s.predicted_peak(static_cast<JobIdx>(i));
      for (std::size_t d = 0; d < used.size(); ++d) {
        if (used[d] <= 0 || predicted[d] <= 0) continue;
        PeakSums& p = peak_sums[d];
        ++p.n;
        p.abs += std::abs(predicted[d] - used[d]);
        p.rel += std::abs(predicted[d] - used[d]) / used[d];
        if (predicted[d] < used[d]) ++p.under;
      }
    }
    if (done_ok && js.predicted_total > Duration::zero()) {
      double pred = secs(js.predicted_total), actual = secs(js.job->actual_runtime);
      ++m.forecast.predictions;
      abs_err += std::abs(pred - actual);
      rel_err += std::abs(pred - actual) / std::max(actual, 1.0);
      if (pred < actual) ++m.forecast.underestimates;
    }
  }
  if (m.forecast.predictions > 0) {
    m.forecast.mean_absolute_error_s = abs_err / static_cast<double>(m.forecast.predictions);
    m.forecast.mean_relative_error = rel_err / static_cast<double>(m.forecast.predictions);
  }
  for (std::size_t d = 0; d < peak_sums.size(); ++d) {  // dims are sorted by name
    const PeakSums& p = peak_sums[d];
    if (p.n == 0) continue;
    const auto n = static_cast<double>(p.n);
    m.forecast.peak.push_back({s.cluster().dim_names()[d], p.n, p.abs / n, p.rel / n, p.under});
  }
  if (!waits.empty()) {
    double sum = 0;
    for (double w : waits) sum += w;
    m.mean_wait_s = sum / static_cast<double>(waits.size());
    m.median_wait_s = median(waits);
    m.p95_wait_s = percentile(waits, 0.95);
  }
  if (ended > 0) m.mean_bounded_slowdown = bsld_sum / static_cast<double>(ended);
  if (ended > 0 && last_end > first_submit) {
    m.makespan_s = secs(last_end - first_submit);
    m.throughput_per_hour = static_cast<double>(ended) / (m.makespan_s / 3600.0);
    double cpus = 0;
    for (const Node& n : nodes) cpus += n.capacity.get("cpu");
    if (cpus > 0) m.utilisation = s.cpu_seconds() / (cpus * m.makespan_s);
    // Idle power of every node while up within [first submit, last end].
    double idle_j = 0;
    std::vector<NodeEvent> evs = node_events;
    std::stable_sort(evs.begin(), evs.end(),
                     [](const NodeEvent& a, const NodeEvent& b) { return a.time < b.time; });
    for (const Node& n : nodes) {
      bool on = n.state != NodeState::kDown;
      Duration since = first_submit;
      double up = 0;
      for (const NodeEvent& e : evs) {
        if (e.node != n.id) continue;
        Duration t = std::clamp(e.time, first_submit, last_end);
        if (on) up += secs(t - since);
        on = e.state != NodeState::kDown;
        since = t;
      }
      if (on) up += secs(last_end - since);
      idle_j += n.power.idle_watts * up;
    }
    // Power saving: in each idle period longer than suspend_after the node sleeps from then
    // until resume_time before its next job (to the end of the schedule after its last).
    if (power_saving.enabled) {
      const PowerSavingOptions& ps = power_saving;
      double suspended_s = 0;
      for (detail::NodeIdx n = 0; n < s.cluster().size(); ++n) {
        const double saved_w = nodes[n].power.idle_watts - ps.suspended_watts;
        auto sleep = [&](Duration from, Duration to, bool resumes) {
          from = std::max(from, first_submit);
          to = std::min(to, last_end);
          Duration asleep = to - from - ps.suspend_after - (resumes ? ps.resume_time : Duration{});
          if (asleep <= Duration::zero()) return;
          suspended_s += secs(asleep);
          idle_j -= saved_w * secs(asleep);
          ++m.suspensions;
        };
        for (const auto& [from, to] : s.idle_gaps(n)) sleep(from, to, true);
        if (auto since = s.idle_since(n)) sleep(*since, last_end, false);
      }
      m.suspended_node_hours = suspended_s / 3600;
    }
    m.energy_kwh = (idle_j + s.busy_energy_joules()) / 3.6e6;
  }
  // Fair share: each user's share of dominant-resource seconds against an equal share.
  double total = 0;
  std::size_t active = 0;
  for (double u : s.tenant_usage()) {
    total += u;
    if (u > 0) ++active;
  }
  if (total > 0) {
    for (std::uint32_t t = 0; t < s.tenant_count(); ++t) {
      double u = s.tenant_usage()[t];
      if (u <= 0) continue;
      TenantShare ts{s.tenant_name(t), u / total, 1.0 / static_cast<double>(active), 0};
      ts.deviation = std::abs(ts.usage_share - ts.target_share);
      m.max_fair_share_deviation = std::max(m.max_fair_share_deviation, ts.deviation);
      m.fair_share.push_back(ts);
    }
    std::sort(m.fair_share.begin(), m.fair_share.end(),
              [](const TenantShare& a, const TenantShare& b) { return a.tenant < b.tenant; });
  }
  // Waits per user, over the jobs that started.
  {
    std::unordered_map<std::string_view, std::pair<double, std::size_t>> user_waits;
    for (const JobRecord& r : recs) {
      if (!r.start) continue;
      auto& [sum, n] = user_waits[r.user];
      sum += secs(*r.start - r.submit);
      ++n;
    }
    double sum = 0, sum_sq = 0;
    for (const auto& [user, w] : user_waits) {
      const double mean = w.first / static_cast<double>(w.second);
      m.max_user_mean_wait_s = std::max(m.max_user_mean_wait_s, mean);
      sum += mean;
      sum_sq += mean * mean;
    }
    if (sum_sq > 0)
      m.user_wait_fairness = sum * sum / (static_cast<double>(user_waits.size()) * sum_sq);
    for (TenantShare& ts : m.fair_share) {
      if (auto it = user_waits.find(ts.tenant); it != user_waits.end()) {
        ts.started = it->second.second;
        ts.mean_wait_s = it->second.first / static_cast<double>(it->second.second);
      }
    }
  }
  // Partitions: each one's share against its weight over the weights of those that ran.
  const auto& pu = s.partition_usage();
  double ptotal = 0, weights = 0;
  for (std::size_t p = 0; p < pu.size(); ++p) {
    if (pu[p] <= 0) continue;
    ptotal += pu[p];
    weights += p < partitions.size() ? partitions[p].fair_share_weight : 1.0;
  }
  if (!partitions.empty() && ptotal > 0) {
    for (std::size_t p = 0; p < pu.size(); ++p) {
      if (pu[p] <= 0) continue;
      double w = p < partitions.size() ? partitions[p].fair_share_weight : 1.0;
      TenantShare ts{p < partitions.size() ? partitions[p].name : std::string("-"), pu[p] / ptotal,
                     w / weights, 0};
      ts.deviation = std::abs(ts.usage_share - ts.target_share);
      m.max_partition_share_deviation = std::max(m.max_partition_share_deviation, ts.deviation);
      m.partition_share.push_back(ts);
    }
    std::sort(m.partition_share.begin(), m.partition_share.end(),
              [](const TenantShare& a, const TenantShare& b) { return a.tenant < b.tenant; });
  }
  return m;
}

}  // namespace

SimulationResult simulate(const std::vector<Node>& nodes, const std::vector<Partition>& partitions,
                          const std::vector<Job>& jobs, const SimulationOptions& options) {
  detail::Scheduler s(nodes, partitions, jobs, detail::config_of(options));

  std::vector<NodeIdx> event_node(options.node_events.size());
  for (std::size_t i = 0; i < options.node_events.size(); ++i) {
    auto n = s.node_index(options.node_events[i].node);
    if (!n) {
      throw InputError({{"", 0, 0,
                         "node event " + std::to_string(i) + " names unknown node '" +
                             options.node_events[i].node + "'",
                         "use the id of a node of the cluster"}});
    }
    event_node[i] = *n;
  }

  // Submissions and node events are known up front: two sorted arrays. Only finishes and
  // wake-ups go through the heap, which so holds about as many events as jobs running.
  std::vector<JobIdx> submits(jobs.size());
  for (JobIdx j = 0; j < jobs.size(); ++j) submits[j] = j;
  std::stable_sort(submits.begin(), submits.end(),
                   [&](JobIdx a, JobIdx b) { return jobs[a].submit_time < jobs[b].submit_time; });
  std::vector<std::uint32_t> node_order(options.node_events.size());
  for (std::uint32_t i = 0; i < node_order.size(); ++i) node_order[i] = i;
  std::stable_sort(node_order.begin(), node_order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return options.node_events[a].time < options.node_events[b].time;
  });
  std::priority_queue<Event, std::vector<Event>, std::greater<>> heap;
  std::size_t next_submit = 0, next_node = 0;
  std::uint64_t seq = 0, events = 0;
  constexpr Duration kNever = Duration::max();
  while (true) {
    Duration now = heap.empty() ? kNever : heap.top().time;
    if (next_node < node_order.size())
      now = std::min(now, options.node_events[node_order[next_node]].time);
    if (next_submit < submits.size()) now = std::min(now, jobs[submits[next_submit]].submit_time);
    if (now == kNever) break;
    // At one instant: finishes (and wake-ups), then node changes, then submissions.
    while (!heap.empty() && heap.top().time == now) {
      Event e = heap.top();
      heap.pop();
      ++events;
      if (e.kind == EventKind::kFinish) {
        const detail::JobState& js = s.job(e.subject);
        if (js.phase == detail::Phase::kRunning && js.attempt == e.attempt)
          s.finish(e.subject, now);
      }
    }
    for (; next_node < node_order.size() && options.node_events[node_order[next_node]].time == now;
         ++next_node, ++events) {
      std::uint32_t i = node_order[next_node];
      s.node_state(event_node[i], options.node_events[i].state, now);
    }
    for (; next_submit < submits.size() && jobs[submits[next_submit]].submit_time == now;
         ++next_submit, ++events) {
      s.submit(submits[next_submit], now);
    }
    s.schedule(now);
    for (JobIdx j : s.started()) {
      const detail::JobState& js = s.job(j);
      heap.push({js.end, EventKind::kFinish, j, js.attempt, seq++});
    }
    s.clear_started();
    s.clear_preempted();  // the live scheduler reports them; the records count them
    if (auto wake = s.take_wakeup(); wake && *wake > now) {
      heap.push({*wake, EventKind::kWake, 0, 0, seq++});
    }
  }
  s.close(Duration::zero());

  SimulationResult result;
  result.jobs.resize(jobs.size());
  for (JobIdx j = 0; j < jobs.size(); ++j) {
    const detail::JobState& js = s.job(j);
    JobRecord& r = result.jobs[j];
    r.id = jobs[j].id;
    r.user = jobs[j].user;
    r.partition = jobs[j].partition;
    r.submit = jobs[j].submit_time;
    r.start = js.first_start;
    if (js.status == JobStatus::kCompleted || js.status == JobStatus::kPreemptedThenCompleted ||
        js.status == JobStatus::kKilledAtLimit) {
      r.end = js.end;
      r.nodes.reserve(js.nodes.size());
      for (NodeIdx n : js.nodes) r.nodes.push_back(s.cluster().id(n));
    }
    r.status = js.status;
    r.preemptions = js.preemptions;
    r.failures = js.failures;
    r.usage_overruns = js.usage_overruns;
    r.estimated_runtime = js.estimate;
    r.reason = js.reason;
  }
  result.metrics = metrics_of(s, nodes, partitions, options.node_events, options.power_saving,
                              result.jobs, events);
  return result;
}

}  // namespace taskloom::cluster
