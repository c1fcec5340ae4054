#include "runner/run_records.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/core/units.hpp"
#include "taskloom/graph/algorithms.hpp"
#include "taskloom/runner/forecast.hpp"
#include "taskloom/workflow/workflow.hpp"

#include "runner/progress.hpp"

namespace taskloom::cli {
namespace {

namespace fs = std::filesystem;

std::string seconds_text(std::chrono::microseconds us) {
  return units::format_duration(std::chrono::duration_cast<Duration>(us));
}

std::string local_time(store::WallTime t) {
  const std::time_t secs =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  std::tm local{};
  localtime_r(&secs, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string run_status_text(const store::RunRecord& r) {
  std::string s(store::to_string(r.status));
  if (r.cancel_requested && r.status == store::RunStatus::kRunning) s += " (cancel requested)";
  return s;
}

nlohmann::json attempt_json(const store::AttemptRecord& a) {
  nlohmann::json j;
  j["number"] = a.number;
  j["status"] = std::string(store::to_string(a.status));
  j["pid"] = a.start.pid;
  j["started"] = store::format_time(a.started);
  j["started_ms"] = a.started.time_since_epoch().count();
  if (a.ended) {
    j["ended"] = store::format_time(*a.ended);
    j["ended_ms"] = a.ended->time_since_epoch().count();
  } else {
    j["ended"] = nullptr;
    j["ended_ms"] = nullptr;
  }
  j["exit_code"] = a.outcome.exit_code ? nlohmann::json(*a.outcome.exit_code) : nullptr;
  j["signal"] = a.outcome.signal ? nlohmann::json(*a.outcome.signal) : nullptr;
  j["wall_s"] = std::chrono::duration<double>(a.outcome.wall).count();
  j["user_s"] = std::chrono::duration<double>(a.outcome.user).count();
  j["sys_s"] = std::chrono::duration<double>(a.outcome.sys).count();
  j["peak_rss_kb"] = a.outcome.peak_rss_kb;
  j["backend"] = a.start.backend;
  j["job_id"] = a.start.job_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.start.job_id);
  j["nodes"] = a.start.nodes;
  j["stdout"] = a.start.stdout_path;
  j["stderr"] = a.start.stderr_path;
  j["message"] = a.outcome.message;
  return j;
}

}  // namespace

fs::path database_beside(const fs::path& workflow_file) {
  fs::path dir = fs::absolute(workflow_file).parent_path();
  return dir / ".taskloom" / "taskloom.db";
}

namespace {

/// $XDG_STATE_HOME/taskloom/databases, else ~/.local/state/...; empty without either.
fs::path memory_file() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state == '/') {
    return fs::path(state) / "taskloom" / "databases";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return fs::path(home) / ".local" / "state" / "taskloom" / "databases";
  }
  return {};
}

/// Lines "<directory>\t<database>", oldest first.
std::vector<std::pair<std::string, std::string>> remembered() {
  std::vector<std::pair<std::string, std::string>> out;
  const fs::path file = memory_file();
  if (file.empty()) return out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const auto tab = line.find('\t');
    if (tab != std::string::npos) out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

constexpr std::size_t kRemembered = 200;

}  // namespace

void remember_database(const fs::path& db) {
  const fs::path file = memory_file();
  std::error_code ec;
  const fs::path here = fs::current_path(ec);
  const fs::path path = fs::absolute(db, ec);
  if (file.empty() || here.empty() || path.empty()) return;
  std::vector<std::pair<std::string, std::string>> lines = remembered();
  std::erase_if(lines, [&](const auto& l) { return l.first == here.string(); });
  lines.emplace_back(here.string(), path.string());
  if (lines.size() > kRemembered) lines.erase(lines.begin(), lines.end() - kRemembered);
  fs::create_directories(file.parent_path(), ec);
  const fs::path tmp = file.string() + "." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [dir, database] : lines) out << dir << '\t' << database << '\n';
    if (!out) return;
  }
  fs::rename(tmp, file, ec);  // whole or not at all, as another taskloom may read it
  if (ec) fs::remove(tmp, ec);
}

store::RunStore open_database(const std::string& option, store::Durability durability) {
  return store::RunStore::open(find_database(option), {.durability = durability, .create = false});
}

fs::path find_database(const std::string& option, bool quiet) {
  if (!option.empty()) {
    if (!fs::exists(option)) {
      throw InvalidArgumentError("no taskloom database at " + option +
                                 " — `taskloom run FILE --db " + option + "` creates it");
    }
    return option;
  }
  if (const char* env = std::getenv("TASKLOOM_DB"); env != nullptr && *env != '\0') {
    return find_database(env, quiet);
  }
  std::error_code ec;
  fs::path dir = fs::current_path(ec);
  for (fs::path d = dir; !d.empty(); d = d.parent_path()) {
    fs::path candidate = d / ".taskloom" / "taskloom.db";
    if (fs::exists(candidate, ec)) return candidate;
    if (d == d.parent_path()) break;
  }
  const auto lines = remembered();
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->first == dir.string() && fs::exists(it->second, ec)) {
      if (!quiet) {
        std::cerr << "taskloom: using " << it->second
                  << " (the database of the last `taskloom run` from this directory)\n";
      }
      return it->second;
    }
  }
  throw InvalidArgumentError("no .taskloom/taskloom.db in " + dir.string() +
                             " or its parents, and no `taskloom run` from here to remember — "
                             "pass --db PATH (or run this where you ran `taskloom run`)");
}

store::RunRecord require_run(const store::RunStore& db, store::RunId id) {
  std::optional<store::RunRecord> r = db.find_run(id);
  if (!r) {
    throw InvalidArgumentError("there is no run " + std::to_string(id) + " in " +
                               db.file().string() + " — `taskloom runs` lists them");
  }
  return *r;
}

nlohmann::json run_json(const store::RunStore& db, store::RunId id) {
  const store::RunRecord r = require_run(db, id);
  nlohmann::json j;
  j["id"] = r.id;
  j["workflow"] = r.workflow_name;
  j["workflow_path"] = r.workflow_path;
  j["fingerprint"] = r.fingerprint;
  j["status"] = std::string(store::to_string(r.status));
  j["message"] = r.message;
  j["cancel_requested"] = r.cancel_requested;
  j["created"] = store::format_time(r.created);
  j["started"] = r.started ? nlohmann::json(store::format_time(*r.started)) : nullptr;
  j["ended"] = r.ended ? nlohmann::json(store::format_time(*r.ended)) : nullptr;
  if (r.lease) {
    j["runner"] = {{"host", r.lease->holder.host},
                   {"pid", r.lease->holder.pid},
                   {"live", r.lease->live},
                   {"heartbeat", store::format_time(r.lease->heartbeat)}};
  }
  std::map<std::string, nlohmann::json> attempts;
  for (const store::AttemptRecord& a : db.attempts(id)) {
    attempts[a.task].push_back(attempt_json(a));
  }
  nlohmann::json counts = nlohmann::json::object();
  nlohmann::json tasks = nlohmann::json::array();
  for (const store::TaskRecord& t : db.tasks(id)) {
    const std::string status(to_string(t.status));
    counts[status] = counts.value(status, 0) + 1;
    nlohmann::json tj;
    tj["id"] = t.id;
    tj["group"] = t.group;
    tj["status"] = status;
    tj["attempts"] = t.attempts;
    tj["message"] = t.message;
    tj["skipped_because"] = t.skipped_because;
    auto it = attempts.find(t.id);
    tj["history"] = it == attempts.end() ? nlohmann::json::array() : it->second;
    tasks.push_back(std::move(tj));
  }
  j["counts"] = counts;
  j["tasks"] = tasks;
  return j;
}

namespace {

struct Sessions {
  Duration active{};
  int count = 0;
};

/// The time runners spent on the run: from each time it became running to its end, or, for a
/// runner that died, to the last thing it recorded — not the idle time before a resume.
Sessions sessions_of(const store::RunStore& db, const store::RunRecord& r) {
  Sessions s;
  bool open = false;
  store::WallTime began{}, last{};
  for (const store::EventRecord& e : db.events(r.id)) {
    // A runner's session begins when the run is created or resumed (the runner's own
    // running -> running on start is the same session).
    if (e.task.empty() && e.to == "running" && (e.from != "running" || e.detail == "resumed")) {
      if (open) s.active += last - began;  // its runner died: it ends at its last record
      open = true;
      began = e.time;
      ++s.count;
    } else if (e.task.empty() && open && e.to != "running" && e.to != "interrupted") {
      s.active += e.time - began;
      open = false;
    }
    last = e.time;
  }
  if (open) {
    const bool live = r.lease && r.lease->live;
    s.active += (live ? std::chrono::time_point_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now())
                      : last) -
                began;
  }
  return s;
}

/// The run's critical path, each task weighed by its recorded time in this run, else its
/// forecast from earlier runs, else its timeout, else 1 — when the workflow file is still the
/// one the run was made from (its fingerprint); empty otherwise.
std::string critical_path_line(const store::RunStore& db, const store::RunRecord& r,
                               const std::vector<store::AttemptRecord>& attempts) {
  workflow::Workflow wf;
  try {
    wf = workflow::load_workflow(r.workflow_path);
  } catch (const std::exception&) {
    return {};  // moved, or no longer valid: the table below still says everything recorded
  }
  if (wf.fingerprint != r.fingerprint) return {};
  std::map<std::string_view, std::chrono::microseconds> took;
  for (const auto& a : attempts) {
    if (a.status == store::AttemptStatus::kSucceeded) took[a.task] = a.outcome.wall;
  }
  const runner::Forecasts forecasts(wf, db.recent_durations(r.workflow_path, runner::kHistory));
  std::vector<double> weights(wf.tasks.size());
  std::size_t recorded = 0;
  for (std::size_t i = 0; i < wf.tasks.size(); ++i) {
    const workflow::Task& t = wf.tasks[i];
    if (auto it = took.find(t.id); it != took.end()) {
      weights[i] = std::chrono::duration<double>(it->second).count();
      ++recorded;
    } else if (const auto d = forecasts.of(t)) {
      weights[i] = std::chrono::duration<double>(*d).count();
    } else {
      weights[i] = workflow::weight_of(t);
    }
  }
  const graph::Digraph g = workflow::dependency_graph(wf);
  const graph::CriticalPath path = graph::critical_path(g, graph::analyze(g, weights));
  std::string line =
      "  critical path " + units::format_duration(std::chrono::duration_cast<Duration>(
                               std::chrono::duration<double>(path.length)));
  line += recorded == wf.tasks.size() ? " (recorded times): "
                                      : " (recorded times, forecasts for the rest): ";
  constexpr std::size_t kShown = 8;
  for (std::size_t i = 0; i < path.nodes.size(); ++i) {
    if (i == kShown / 2 && path.nodes.size() > kShown) {
      line += " -> ... (" + std::to_string(path.nodes.size() - kShown) + " more)";
      i = path.nodes.size() - kShown / 2;
    }
    line += (i > 0 ? " -> " : "") + wf.tasks[path.nodes[i]].id;
  }
  return line + "\n";
}

}  // namespace

std::string status_text(const store::RunStore& db, store::RunId id) {
  const store::RunRecord r = require_run(db, id);
  std::ostringstream o;
  o << "run " << r.id << "  " << r.workflow_name << "  " << run_status_text(r);
  if (!r.message.empty()) o << ": " << r.message;
  o << "\n  workflow " << r.workflow_path << "\n  created  " << local_time(r.created);
  if (r.started) {
    const Sessions s = sessions_of(db, r);
    o << (r.ended ? "   took " : "   running for ") << units::format_duration(s.active);
    if (s.count > 1)
      o << " over " << s.count << " runner sessions (the idle time between not counted)";
  }
  if (r.lease && r.lease->live) {
    o << "\n  runner   pid " << r.lease->holder.pid << " on " << r.lease->holder.host;
  }
  o << '\n';

  const std::vector<store::TaskRecord> tasks = db.tasks(id);
  std::map<std::string, const store::AttemptRecord*> last;
  const std::vector<store::AttemptRecord> attempts = db.attempts(id);
  for (const auto& a : attempts) last[a.task] = &a;
  std::map<std::string, int> counts;
  for (const auto& t : tasks) ++counts[std::string(to_string(t.status))];
  o << "  tasks    " << tasks.size();
  for (const auto& [status, n] : counts) o << ", " << n << " " << status;
  o << '\n' << critical_path_line(db, r, attempts) << '\n';

  std::size_t width = 4;
  for (const auto& t : tasks) width = std::max(width, t.id.size());
  o << pad("TASK", width) << "  " << pad("STATUS", 10) << "  ATTEMPTS  " << pad("TIME", 8)
    << "  EXIT  MESSAGE\n";
  for (const auto& t : tasks) {
    std::string time = "-", exit = "-";
    std::string message = t.message;
    auto it = last.find(t.id);
    if (it != last.end()) {
      const store::AttemptRecord& a = *it->second;
      if (a.ended) {
        time = seconds_text(a.outcome.wall);
      } else {
        time = units::format_duration(std::chrono::system_clock::now() - a.started);
      }
      if (a.outcome.exit_code) exit = std::to_string(*a.outcome.exit_code);
      if (a.outcome.signal) exit = "sig" + std::to_string(*a.outcome.signal);
    }
    if (t.status == TaskStatus::kSkipped) message = t.skipped_because + " did not succeed";
    if (t.status == TaskStatus::kSucceeded && t.attempts > 0) message.clear();  // kept: up to date
    o << pad(t.id, width) << "  " << pad(std::string(to_string(t.status)), 10) << "  "
      << pad(std::to_string(t.attempts), 8) << "  " << pad(time, 8) << "  " << pad(exit, 4) << "  "
      << message << '\n';
  }
  return o.str();
}

std::string runs_text(const store::RunStore& db, std::size_t limit) {
  const std::vector<store::RunRecord> runs = db.list_runs(limit);
  if (runs.empty()) return "no runs in " + db.file().string() + "\n";
  std::size_t width = 8;
  for (const auto& r : runs) width = std::max(width, r.workflow_name.size());
  std::ostringstream o;
  o << pad("RUN", 5) << "  " << pad("WORKFLOW", width) << "  " << pad("STATUS", 12) << "  "
    << pad("TASKS", 9) << "  " << pad("CREATED", 19) << "  TOOK\n";
  for (const auto& r : runs) {
    std::size_t ok = 0, total = 0;
    for (const auto& t : db.tasks(r.id)) {
      ++total;
      if (t.status == TaskStatus::kSucceeded) ++ok;
    }
    std::string took = "-";
    if (r.started && r.ended) took = units::format_duration(*r.ended - *r.started);
    o << pad(std::to_string(r.id), 5) << "  " << pad(r.workflow_name, width) << "  "
      << pad(std::string(store::to_string(r.status)), 12) << "  "
      << pad(std::to_string(ok) + "/" + std::to_string(total), 9) << "  " << local_time(r.created)
      << "  " << took << '\n';
  }
  return o.str();
}

}  // namespace taskloom::cli
