#include "taskloom/runtime/report.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "taskloom/core/text.hpp"

#include "runtime/detail/run_state.hpp"
#include "runtime/detail/ticks.hpp"

namespace taskloom::runtime {
namespace {

double to_us(Duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}
double to_ms(Duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string ms_text(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", to_ms(d));
  return buf;
}

}  // namespace

double RunReport::speedup() const noexcept {
  return wall_time.count() > 0
             ? static_cast<double>(sequential_time.count()) / static_cast<double>(wall_time.count())
             : 0.0;
}

const TaskReport& RunReport::task(std::string_view id) const {
  for (const TaskReport& t : tasks) {
    if (t.id == id) return t;
  }
  std::vector<std::string> ids;
  ids.reserve(tasks.size());
  for (const TaskReport& t : tasks) ids.push_back(t.id);
  const std::string suggestion = closest_match(id, ids);
  throw InvalidArgumentError("the report has no task '" + std::string(id) + "'" +
                             (suggestion.empty() ? " — it was not part of this run"
                                                 : " — did you mean '" + suggestion + "'?"));
}

std::string RunReport::summary() const {
  std::ostringstream out;
  out << tasks.size() << " tasks: " << succeeded << " succeeded, " << failed << " failed, "
      << timed_out << " timed out, " << cancelled << " cancelled, " << skipped << " skipped\n";
  char line[160];
  std::snprintf(line, sizeof line, "wall %.3f ms, sequential %.3f ms, speedup %.2fx\n",
                to_ms(wall_time), to_ms(sequential_time), speedup());
  out << line;
  out << "waves:\n";
  for (const WaveSummary& w : waves) {
    std::snprintf(line, sizeof line, "  %3u  %6zu tasks  %10.3f ms\n", w.index, w.tasks,
                  to_ms(w.duration()));
    out << line;
  }
  out << "critical path (" << ms_text(critical_path_time) << "): ";
  for (std::size_t i = 0; i < critical_path.size(); ++i) {
    out << (i ? " -> " : "") << critical_path[i];
  }
  out << "\n";
  for (const PoolUsage& u : resources) {
    std::snprintf(line, sizeof line, "resource %-16s capacity %g, peak %g, average %.3g\n",
                  u.name.c_str(), u.capacity, u.peak, u.average);
    out << line;
  }

  std::vector<const TaskReport*> by_time;
  for (const TaskReport& t : tasks) by_time.push_back(&t);
  const std::size_t shown = std::min<std::size_t>(by_time.size(), 10);
  std::partial_sort(
      by_time.begin(), by_time.begin() + static_cast<std::ptrdiff_t>(shown), by_time.end(),
      [](const TaskReport* a, const TaskReport* b) { return a->duration() > b->duration(); });
  out << "tasks (slowest " << shown << "):\n";
  for (std::size_t i = 0; i < shown; ++i) {
    const TaskReport& t = *by_time[i];
    std::snprintf(line, sizeof line, "  %-24s %-10s %10.3f ms  attempts %u  worker %u",
                  t.id.c_str(), std::string(to_string(t.status)).c_str(), to_ms(t.duration()),
                  t.attempts, t.worker);
    out << line;
    if (t.interruptions != 0) out << "  interrupted " << t.interruptions << "x";
    if (!t.error.empty()) out << "  error: " << t.error;
    if (!t.skipped_because.empty()) out << "  (after " << t.skipped_because << ")";
    out << "\n";
  }
  return out.str();
}

std::string RunReport::to_json() const {
  nlohmann::json j;
  j["tasks_total"] = tasks.size();
  j["succeeded"] = succeeded;
  j["failed"] = failed;
  j["timed_out"] = timed_out;
  j["cancelled"] = cancelled;
  j["skipped"] = skipped;
  j["wall_time_us"] = to_us(wall_time);
  j["sequential_time_us"] = to_us(sequential_time);
  j["speedup"] = speedup();
  j["critical_path"] = critical_path;
  j["critical_path_time_us"] = to_us(critical_path_time);
  auto& resources_json = j["resources"] = nlohmann::json::array();
  for (const PoolUsage& u : resources) {
    resources_json.push_back(
        {{"name", u.name}, {"capacity", u.capacity}, {"peak", u.peak}, {"average", u.average}});
  }
  auto& waves_json = j["waves"] = nlohmann::json::array();
  for (const WaveSummary& w : waves) {
    waves_json.push_back({{"index", w.index},
                          {"tasks", w.tasks},
                          {"start_us", to_us(w.start)},
                          {"duration_us", to_us(w.duration())}});
  }
  auto& tasks_json = j["tasks"] = nlohmann::json::array();
  for (const TaskReport& t : tasks) {
    nlohmann::json task{{"id", t.id},
                        {"status", to_string(t.status)},
                        {"attempts", t.attempts},
                        {"start_us", to_us(t.start)},
                        {"end_us", to_us(t.end)},
                        {"worker", t.worker},
                        {"wave", t.wave}};
    if (t.interruptions != 0) task["interruptions"] = t.interruptions;
    if (!t.error.empty()) task["error"] = t.error;
    if (!t.skipped_because.empty()) task["skipped_because"] = t.skipped_because;
    auto& history = task["history"] = nlohmann::json::array();
    for (const AttemptRecord& a : t.history) {
      nlohmann::json attempt{{"attempt", a.number},
                             {"status", to_string(a.status)},
                             {"start_us", to_us(a.start)},
                             {"end_us", to_us(a.end)},
                             {"worker", a.worker}};
      if (!a.error.empty()) attempt["error"] = a.error;
      history.push_back(std::move(attempt));
    }
    tasks_json.push_back(std::move(task));
  }
  return j.dump(2);
}

std::string RunReport::to_chrome_trace() const {
  nlohmann::json events = nlohmann::json::array();
  unsigned max_worker = 0;
  for (const TaskReport& t : tasks) {
    for (const AttemptRecord& a : t.history) {
      max_worker = std::max(max_worker, a.worker);
      nlohmann::json args{{"attempt", a.number}, {"status", to_string(a.status)}};
      if (!a.error.empty()) args["error"] = a.error;
      events.push_back({{"name", t.id},
                        {"cat", to_string(a.status)},
                        {"ph", "X"},
                        {"ts", to_us(a.start)},
                        {"dur", to_us(a.end - a.start)},
                        {"pid", 1},
                        {"tid", a.worker},
                        {"args", std::move(args)}});
    }
  }
  for (unsigned w = 0; w <= max_worker; ++w) {
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", 1},
                      {"tid", w},
                      {"args", {{"name", "worker " + std::to_string(w)}}}});
  }
  return nlohmann::json{{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}}.dump();
}

void RunReport::write_chrome_trace(const std::string& path) const {
  std::ofstream out(path, std::ios::out | std::ios::trunc);
  if (out) out << to_chrome_trace();
  if (!out) {
    throw InvalidArgumentError("cannot write the trace file '" + path +
                               "' — check that its directory exists and is writable");
  }
}

namespace detail {

const RunReport& RunState::report() {
  std::call_once(report_once_, [&] { report_ = build_report(); });
  return report_;
}

RunReport RunState::build_report() {
  RunReport r;
  const std::size_t n = plan_->dag.node_count();
  const TickScale scale(start_ticks_, end_ticks_, start_ns_, end_ns_);
  const auto since_start = [&](std::int64_t t) { return scale.since_start(t); };
  std::vector<double> measured(n, 0.0);
  r.waves.resize(plan_->analysis().wave_count);
  for (std::uint32_t i = 0; i < r.waves.size(); ++i) r.waves[i].index = i;
  std::vector<bool> wave_started(r.waves.size(), false);

  r.tasks.reserve(total_);
  for (std::uint32_t v = 0; v < n; ++v) {
    if (!included(v)) continue;
    const NodeState& ns = nodes_[v];
    TaskReport& t = r.tasks.emplace_back();
    t.id = plan_->id(v);
    t.status = ns.status.load(std::memory_order_relaxed);
    t.attempts = ns.attempts;
    t.worker = ns.worker;
    t.wave = plan_->analysis().level[v];
    if (results_) t.result = std::move(results_[v]);
    const bool last_attempt_failed =
        t.status == TaskStatus::kFailed || t.status == TaskStatus::kTimedOut;
    if (auto f = failures_.find(v); f != failures_.end()) {
      for (FailedAttempt& a : f->second.history) {
        t.history.push_back({a.number, a.status, std::move(a.error), since_start(a.start),
                             since_start(a.end), a.worker});
      }
      if (last_attempt_failed) {
        t.error = t.history.back().error;
        t.exception = std::move(f->second.exception);
      }
    }
    if (ns.attempts > t.history.size() && !last_attempt_failed) {
      t.history.push_back(
          {ns.attempts, t.status, "", since_start(ns.start), since_start(ns.end), ns.worker});
    }
    if (auto i = interruptions_.find(v); i != interruptions_.end()) {
      t.interruptions = i->second.count;
    }
    if (t.status == TaskStatus::kSkipped && ns.upstream.load(std::memory_order_relaxed) != 0) {
      t.skipped_because = plan_->id(ns.upstream.load(std::memory_order_relaxed) - 1);
    }
    if (!t.history.empty()) {
      t.start = t.history.front().start;
      t.end = t.history.back().end;
      measured[v] = static_cast<double>(t.duration().count());
      WaveSummary& w = r.waves[t.wave];
      w.start = wave_started[t.wave] ? std::min(w.start, t.start) : t.start;
      w.end = std::max(w.end, t.end);
      wave_started[t.wave] = true;
    }
    for (const AttemptRecord& a : t.history) r.sequential_time += a.end - a.start;
    ++r.waves[t.wave].tasks;
    r.waves[t.wave].ids.push_back(t.id);
    switch (t.status) {
      case TaskStatus::kSucceeded:
        ++r.succeeded;
        break;
      case TaskStatus::kFailed:
        ++r.failed;
        break;
      case TaskStatus::kTimedOut:
        ++r.timed_out;
        break;
      case TaskStatus::kCancelled:
        ++r.cancelled;
        break;
      case TaskStatus::kSkipped:
        ++r.skipped;
        break;
      default:
        break;
    }
  }
  r.wall_time = Duration(end_ns_ - start_ns_);

  // The critical path by measured time: the chain of dependencies that set the wall time.
  if (n != 0) {
    const graph::Analysis timed = graph::analyze(plan_->dag, measured);
    const graph::CriticalPath path = graph::critical_path(plan_->dag, timed);
    for (graph::NodeIndex v : path.nodes) {
      // Tasks that never ran weigh nothing but may tie onto the path's end; a task that ran
      // stays even when it measured 0 ns (two tick reads can be one tick apart).
      if (!included(v) || nodes_[v].attempts == 0) continue;
      r.critical_path.push_back(plan_->id(v));
      r.critical_path_time += Duration(static_cast<Duration::rep>(measured[v]));
    }
  }
  r.resources = pool_usage(r);
  return r;
}

std::vector<PoolUsage> RunState::pool_usage(const RunReport& r) const {
  // Each attempt of a task held its needs from its start to its end: sweep those intervals.
  if (requests_.empty() || admission_ == nullptr) return {};
  struct Change {
    Duration at;
    double amount;
  };
  std::map<std::string, std::vector<Change>> changes;
  std::size_t i = 0;
  for (std::uint32_t v = 0; v < plan_->dag.node_count(); ++v) {
    if (!included(v)) continue;
    const TaskReport& t = r.tasks[i++];
    const NodeMeta* meta = plan_->meta(v);
    if (meta == nullptr || meta->needs.empty()) continue;
    for (const AttemptRecord& a : t.history) {
      for (const auto& [pool, amount] : meta->needs) {
        changes[pool].push_back({a.start, amount});
        changes[pool].push_back({a.end, -amount});
      }
    }
  }
  std::vector<PoolUsage> usage;
  const double wall = static_cast<double>(r.wall_time.count());
  for (const PoolUsage& pool : admission_->usage()) {
    PoolUsage u{pool.name, pool.capacity, 0, 0};
    auto& list = changes[pool.name];
    // Ends before starts at the same instant: a task that ends as another starts never
    // counts twice.
    std::sort(list.begin(), list.end(), [](const Change& a, const Change& b) {
      return a.at != b.at ? a.at < b.at : a.amount < b.amount;
    });
    double in_use = 0, area = 0;
    Duration last{};
    for (const Change& c : list) {
      area += in_use * static_cast<double>((c.at - last).count());
      in_use += c.amount;
      last = c.at;
      u.peak = std::max(u.peak, in_use);
    }
    u.average = wall > 0 ? area / wall : 0;
    usage.push_back(std::move(u));
  }
  return usage;
}

}  // namespace detail
}  // namespace taskloom::runtime
