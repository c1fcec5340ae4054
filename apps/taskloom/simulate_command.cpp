// `taskloom simulate`: replay a workload trace on a cluster under scheduling policies.
//
//   taskloom simulate --workload trace.swf [--cluster c.yaml|c.machines] --policy fcfs
//                     [--placement best_fit] [--backfill easy] [--forecast requested]
//                     [--pack-by request|forecast] [--pack-margin 1.2]
//                     [--seed N] [--json out.json] [--jobs-out jobs.csv] [--gantt out.svg]
//                     [--on-error skip|stop]
//   taskloom simulate --workload trace.swf --compare [--policy fcfs --policy multifactor]
//                     [--backfill none --backfill easy --backfill conservative]
// With --compare every combination of the given --policy, --placement, --backfill and
// --forecast values runs on the same workload (backfill defaults to none, easy and
// conservative) and the metrics are printed side by side; without it each takes one value.
// docs/cluster-simulation.md describes the options, the readers' rules and the metrics.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/cluster/policies.hpp"
#include "taskloom/cluster/simulator.hpp"
#include "taskloom/cluster/workload.hpp"
#include "taskloom/core/error.hpp"

#include "commands.hpp"
#include "gantt_svg.hpp"

namespace taskloom::cli {
namespace {

using namespace taskloom::cluster;

struct SimulateArgs {
  std::string workload;
  std::string cluster;
  std::vector<std::string> policies;
  std::vector<std::string> placements;
  std::vector<std::string> backfills;
  std::vector<std::string> forecasters;
  std::uint64_t seed = 0;
  std::string json_out;
  std::string jobs_out;
  std::string gantt_out;
  std::string on_error = "skip";
  std::string pack_by = "request";
  double pack_margin = 1.2;
  double deadline_factor = 0;
  double suspend_after = 0;  // seconds; 0: nodes never sleep
  double resume_time = 60;
  bool compare = false;
  bool check_invariants = false;
  bool quiet = false;
};

struct Run {
  std::string label;
  SimulationOptions options;
  SimulationResult result;
  double wall_seconds = 0;
};

std::string format_number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string choice_text(const PolicyChoice& c) {
  std::string out = c.name;
  char sep = ':';
  for (const auto& [key, value] : c.params) {
    out += sep + key + "=";
    if (const double* d = std::get_if<double>(&value)) {
      std::ostringstream s;
      s << *d;
      out += s.str();
    } else {
      out += std::get<std::string>(value);
    }
    sep = ',';
  }
  return out;
}

std::vector<PolicyChoice> choices(const std::vector<std::string>& texts,
                                  std::vector<std::string> defaults, PolicyKind kind, bool compare,
                                  const char* flag) {
  if (texts.size() > 1 && !compare) {
    throw InvalidArgumentError(std::string(flag) + " was given " + std::to_string(texts.size()) +
                               " times; give it once, or add --compare to run every combination");
  }
  std::vector<PolicyChoice> out;
  for (const std::string& t : texts.empty() ? defaults : texts) {
    PolicyChoice c = parse_policy_choice(t);
    validate_policy_choice(kind, c);
    out.push_back(std::move(c));
  }
  return out;
}

/// The cluster: --cluster, else the trace's `.machines` sibling, else the SWF header or the
/// WfCommons machines.
ClusterSpec load_cluster(const SimulateArgs& args, const std::filesystem::path& workload,
                         bool is_json) {
  if (!args.cluster.empty()) return read_cluster(args.cluster);
  if (is_json) return {};  // the workflow's own machines, filled in by the caller
  if (auto sibling = machines_sibling(workload)) return read_machines(*sibling);
  Workload head = read_swf(workload, {.max_jobs = 1});
  return cluster_from_swf_header(head.header, workload.string());
}

std::vector<std::pair<std::string, std::vector<std::string>>> metric_rows(
    const std::vector<Run>& runs, bool partitions) {
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  auto row = [&](const char* name, auto&& value) {
    std::vector<std::string> cells;
    for (const Run& r : runs) cells.push_back(value(r.result.metrics));
    rows.emplace_back(name, std::move(cells));
  };
  auto count = [](std::size_t n) { return std::to_string(n); };
  row("jobs", [&](const Metrics& m) { return count(m.jobs); });
  row("completed", [&](const Metrics& m) { return count(m.completed); });
  row("killed at limit", [&](const Metrics& m) { return count(m.killed_at_limit); });
  row("rejected", [&](const Metrics& m) { return count(m.rejected); });
  row("never started",
      [&](const Metrics& m) { return count(m.never_started + m.dependency_failed); });
  row("mean wait (s)", [](const Metrics& m) { return format_number(m.mean_wait_s, 1); });
  row("median wait (s)", [](const Metrics& m) { return format_number(m.median_wait_s, 1); });
  row("p95 wait (s)", [](const Metrics& m) { return format_number(m.p95_wait_s, 1); });
  row("mean bounded slowdown",
      [](const Metrics& m) { return format_number(m.mean_bounded_slowdown, 2); });
  row("utilisation (%)", [](const Metrics& m) { return format_number(100 * m.utilisation, 1); });
  row("makespan (s)", [](const Metrics& m) { return format_number(m.makespan_s, 0); });
  row("throughput (jobs/h)",
      [](const Metrics& m) { return format_number(m.throughput_per_hour, 2); });
  row("deadline misses", [&](const Metrics& m) { return count(m.deadline_misses); });
  row("energy (kWh)", [](const Metrics& m) { return format_number(m.energy_kwh, 1); });
  row("suspended node-hours",
      [](const Metrics& m) { return format_number(m.suspended_node_hours, 1); });
  row("max fair-share deviation",
      [](const Metrics& m) { return format_number(m.max_fair_share_deviation, 3); });
  row("max user mean wait (s)",
      [](const Metrics& m) { return format_number(m.max_user_mean_wait_s, 1); });
  row("user wait fairness (Jain)",
      [](const Metrics& m) { return format_number(m.user_wait_fairness, 3); });
  if (partitions) {
    row("max partition share deviation",
        [](const Metrics& m) { return format_number(m.max_partition_share_deviation, 3); });
  }
  row("runtime estimate error (%)",
      [](const Metrics& m) { return format_number(100 * m.forecast.mean_relative_error, 1); });
  // Peak-usage estimates: one row per resource that any run predicted.
  std::vector<std::string> peak_resources;
  for (const Run& r : runs) {
    for (const PeakForecastError& p : r.result.metrics.forecast.peak) {
      if (std::find(peak_resources.begin(), peak_resources.end(), p.resource) ==
          peak_resources.end())
        peak_resources.push_back(p.resource);
    }
  }
  std::sort(peak_resources.begin(), peak_resources.end());
  for (const std::string& res : peak_resources) {
    std::vector<std::string> cells;
    for (const Run& r : runs) {
      std::string cell = "-";
      for (const PeakForecastError& p : r.result.metrics.forecast.peak) {
        if (p.resource == res) cell = format_number(100 * p.mean_relative_error, 1);
      }
      cells.push_back(cell);
    }
    rows.emplace_back("peak " + res + " estimate error (%)", std::move(cells));
  }
  if (std::any_of(runs.begin(), runs.end(),
                  [](const Run& r) { return r.options.packing.by == PackBy::kForecast; })) {
    row("usage overruns", [&](const Metrics& m) { return count(m.usage_overruns); });
  }
  row("preemptions", [&](const Metrics& m) { return count(m.preemptions); });
  row("events", [&](const Metrics& m) { return count(m.events); });
  std::vector<std::string> wall;
  for (const Run& r : runs) wall.push_back(format_number(r.wall_seconds * 1000, 0));
  rows.emplace_back("simulation time (ms)", std::move(wall));
  return rows;
}

void print_table(std::ostream& out, const std::vector<Run>& runs, bool partitions) {
  auto rows = metric_rows(runs, partitions);
  std::vector<std::string> header{"metric"};
  for (const Run& r : runs) header.push_back(r.label);
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& [name, cells] : rows) {
    width[0] = std::max(width[0], name.size());
    for (std::size_t i = 0; i < cells.size(); ++i)
      width[i + 1] = std::max(width[i + 1], cells[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    out << "|";
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(width[i] - cells[i].size(), ' ');
      out << ' ' << (i == 0 ? cells[i] + pad : pad + cells[i]) << " |";
    }
    out << '\n';
  };
  line(header);
  out << "|";
  for (std::size_t i = 0; i < width.size(); ++i) {
    out << (i == 0 ? ":" : "") << std::string(width[i] + (i == 0 ? 1 : 1), '-')
        << (i == 0 ? "" : ":") << "|";
  }
  out << '\n';
  for (const auto& [name, cells] : rows) {
    std::vector<std::string> all{name};
    all.insert(all.end(), cells.begin(), cells.end());
    line(all);
  }
}

/// Seconds, exactly: the shortest text that reads back as the same double (a month-long trace's
/// times need all their digits; "1.14265e+06" lost up to a minute).
std::string to_seconds(Duration d) {
  char buf[32];
  const auto [end, ec] = std::to_chars(
      buf, buf + sizeof buf, std::chrono::duration<double>(d).count(), std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : std::string("nan");
}

// One CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, a quote or a
// line break (run labels such as "fcfs:weight=1,max=2" do).
std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

void write_jobs_csv(const std::string& path, const std::vector<Run>& runs) {
  std::ofstream out(path);
  if (!out) throw InvalidArgumentError("cannot write " + path);
  out << "run,id,user,partition,submit,start,end,wait,nodes,status\n";
  for (const Run& r : runs) {
    for (const JobRecord& j : r.result.jobs) {
      out << csv_field(r.label) << ',' << csv_field(j.id) << ',' << csv_field(j.user) << ','
          << csv_field(j.partition) << ',' << to_seconds(j.submit) << ',';
      if (j.start) out << to_seconds(*j.start);
      out << ',';
      if (j.end) out << to_seconds(*j.end);
      out << ',';
      if (j.start) out << to_seconds(*j.start - j.submit);
      out << ',';
      std::string nodes;
      for (std::size_t i = 0; i < j.nodes.size(); ++i) nodes += (i ? ";" : "") + j.nodes[i];
      out << csv_field(nodes) << ',' << to_string(j.status) << '\n';
    }
  }
}

nlohmann::json shares_json(const std::vector<TenantShare>& shares) {
  nlohmann::json out = nlohmann::json::array();
  for (const TenantShare& t : shares) {
    out.push_back({{"tenant", t.tenant},
                   {"usage_share", t.usage_share},
                   {"target_share", t.target_share},
                   {"deviation", t.deviation},
                   {"mean_wait_s", t.mean_wait_s},
                   {"started", t.started}});
  }
  return out;
}

nlohmann::json metrics_json(const Metrics& m) {
  nlohmann::json fair = shares_json(m.fair_share);
  nlohmann::json peak = nlohmann::json::array();
  for (const PeakForecastError& p : m.forecast.peak) {
    peak.push_back({{"resource", p.resource},
                    {"predictions", p.predictions},
                    {"mean_absolute_error", p.mean_absolute_error},
                    {"mean_relative_error", p.mean_relative_error},
                    {"underestimates", p.underestimates}});
  }
  return {{"jobs", m.jobs},
          {"completed", m.completed},
          {"killed_at_limit", m.killed_at_limit},
          {"rejected", m.rejected},
          {"dependency_failed", m.dependency_failed},
          {"never_started", m.never_started},
          {"preemptions", m.preemptions},
          {"failure_requeues", m.failure_requeues},
          {"mean_wait_s", m.mean_wait_s},
          {"median_wait_s", m.median_wait_s},
          {"p95_wait_s", m.p95_wait_s},
          {"mean_bounded_slowdown", m.mean_bounded_slowdown},
          {"utilisation", m.utilisation},
          {"makespan_s", m.makespan_s},
          {"throughput_per_hour", m.throughput_per_hour},
          {"deadline_misses", m.deadline_misses},
          {"energy_kwh", m.energy_kwh},
          {"suspended_node_hours", m.suspended_node_hours},
          {"suspensions", m.suspensions},
          {"max_fair_share_deviation", m.max_fair_share_deviation},
          {"max_user_mean_wait_s", m.max_user_mean_wait_s},
          {"user_wait_fairness", m.user_wait_fairness},
          {"fair_share", fair},
          {"max_partition_share_deviation", m.max_partition_share_deviation},
          {"partition_share", shares_json(m.partition_share)},
          {"forecast",
           {{"predictions", m.forecast.predictions},
            {"mean_absolute_error_s", m.forecast.mean_absolute_error_s},
            {"mean_relative_error", m.forecast.mean_relative_error},
            {"underestimates", m.forecast.underestimates},
            {"peak", peak}}},
          {"usage_overruns", m.usage_overruns},
          {"events", m.events},
          {"scheduling_passes", m.scheduling_passes},
          {"placement_decisions", m.placement_decisions}};
}

void write_json(const std::string& path, const SimulateArgs& args, const Workload& w,
                const ClusterSpec& cluster, const std::vector<Run>& runs) {
  double cpus = 0;
  for (const Node& n : cluster.nodes) cpus += n.capacity.get("cpu");
  nlohmann::json doc = {
      {"workload",
       {{"file", args.workload},
        {"format", w.format},
        {"records", w.records},
        {"jobs", w.jobs.size()},
        {"malformed", w.malformed},
        {"never_ran", w.never_ran},
        {"unknown_runtime", w.unknown_runtime},
        {"too_large", w.too_large},
        {"too_large_ids", w.too_large_ids},
        {"estimated_requested", w.estimated_requested}}},
      {"cluster", {{"source", cluster.source}, {"nodes", cluster.nodes.size()}, {"cpus", cpus}}},
      {"runs", nlohmann::json::array()}};
  for (const Run& r : runs) {
    doc["runs"].push_back(
        {{"label", r.label},
         {"queue", choice_text(r.options.queue)},
         {"placement", choice_text(r.options.placement)},
         {"backfill", choice_text(r.options.backfill)},
         {"forecaster", choice_text(r.options.forecaster)},
         {"packing",
          {{"by", r.options.packing.by == PackBy::kForecast ? "forecast" : "request"},
           {"margin", r.options.packing.margin}}},
         {"seed", r.options.seed},
         {"wall_seconds", r.wall_seconds},
         {"metrics", metrics_json(r.result.metrics)}});
  }
  std::ofstream out(path);
  if (!out) throw InvalidArgumentError("cannot write " + path);
  out << doc.dump(2) << '\n';
}

void run_simulate(const SimulateArgs& args) {
  const bool compare = args.compare;
  auto queues = choices(args.policies, {"fcfs"}, PolicyKind::kQueue, compare, "--policy");
  auto placements =
      choices(args.placements, {"first_fit"}, PolicyKind::kPlacement, compare, "--placement");
  auto backfills = choices(args.backfills,
                           compare ? std::vector<std::string>{"none", "easy", "conservative"}
                                   : std::vector<std::string>{"none"},
                           PolicyKind::kBackfill, compare, "--backfill");
  auto forecasters =
      choices(args.forecasters, {"requested"}, PolicyKind::kForecaster, compare, "--forecast");

  const std::filesystem::path workload_path = args.workload;
  const bool is_json = workload_path.extension() == ".json";
  ClusterSpec cluster = load_cluster(args, workload_path, is_json);

  WorkloadOptions read_options;
  read_options.on_error = args.on_error == "stop" ? OnError::kStop : OnError::kSkip;
  read_options.warn = args.quiet ? nullptr : &std::cerr;
  read_options.cpus_per_node = cpus_per_node(cluster);
  Workload w = read_workload(workload_path, read_options);
  if (is_json && args.cluster.empty()) {
    if (w.machines.empty()) {
      throw InputError({{args.workload, 0, 0, "the workflow names no machines",
                         "pass a cluster file (--cluster)"}});
    }
    cluster.source = args.workload + " (execution.machines)";
    cluster.nodes = w.machines;
  }
  const std::size_t warned = w.warnings.size();
  exclude_unplaceable(w, cluster.nodes);
  if (!args.quiet) {
    for (std::size_t i = warned; i < w.warnings.size(); ++i) {
      std::cerr << "warning: " << to_string(w.warnings[i]) << '\n';
    }
  }
  if (!cluster.partitions.empty() || !w.partitions.empty()) add_missing_partitions(cluster, w);
  if (args.deadline_factor > 0) assign_deadlines(w, args.deadline_factor);
  // Nothing to replay is bad input, not a table of zeros with exit status 0.
  if (w.jobs.empty()) {
    const std::size_t skipped = w.warnings.size();
    throw InputError({{args.workload, 0, 0,
                       skipped == 0 ? "the workload has no jobs"
                                    : "no job of the workload can run on this cluster (" +
                                          std::to_string(skipped) +
                                          " records skipped or excluded, listed above unless "
                                          "--quiet)",
                       skipped == 0 ? "pass a trace with at least one job"
                                    : "pass a cluster whose nodes fit the jobs (--cluster), or "
                                      "check the trace's fields"}});
  }

  std::cout << "workload: " << args.workload << " (" << w.format << "): " << summary(w) << '\n';
  double cpus = 0;
  for (const Node& n : cluster.nodes) cpus += n.capacity.get("cpu");
  std::cout << "cluster:  " << cluster.source << ": " << cluster.nodes.size()
            << (cluster.nodes.size() == 1 ? " node, " : " nodes, ") << format_number(cpus, 0)
            << " cpus";
  if (!cluster.partitions.empty()) std::cout << ", " << cluster.partitions.size() << " partitions";
  std::cout << "\n\n";

  std::vector<Run> runs;
  for (const auto& q : queues) {
    for (const auto& p : placements) {
      for (const auto& b : backfills) {
        for (const auto& f : forecasters) {
          Run r;
          r.options.queue = q;
          r.options.placement = p;
          r.options.backfill = b;
          r.options.forecaster = f;
          r.options.seed = args.seed;
          if (args.suspend_after > 0) {
            r.options.power_saving = {.enabled = true,
                                      .suspend_after = std::chrono::duration_cast<Duration>(
                                          std::chrono::duration<double>(args.suspend_after)),
                                      .resume_time = std::chrono::duration_cast<Duration>(
                                          std::chrono::duration<double>(args.resume_time))};
          }
          r.options.packing = {args.pack_by == "forecast" ? PackBy::kForecast : PackBy::kRequest,
                               args.pack_margin};
          if (args.check_invariants) r.options.check_invariants = true;
          r.label = choice_text(q);
          if (b.name != "none") r.label += "+" + choice_text(b);
          if (placements.size() > 1 || p.name != "first_fit") r.label += " " + choice_text(p);
          if (forecasters.size() > 1 || f.name != "requested") r.label += " ~" + choice_text(f);
          if (r.options.packing.by == PackBy::kForecast) r.label += " pack=forecast";
          const auto t0 = std::chrono::steady_clock::now();
          r.result = simulate(cluster.nodes, cluster.partitions, w.jobs, r.options);
          r.wall_seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          runs.push_back(std::move(r));
        }
      }
    }
  }
  print_table(std::cout, runs, !cluster.partitions.empty());
  if (!args.json_out.empty()) write_json(args.json_out, args, w, cluster, runs);
  if (!args.jobs_out.empty()) write_jobs_csv(args.jobs_out, runs);
  if (!args.gantt_out.empty()) {
    std::ofstream svg(args.gantt_out);
    if (!svg) throw InvalidArgumentError("cannot write " + args.gantt_out);
    write_gantt_svg(svg, args.workload + ": " + runs.front().label, cluster.nodes, w.jobs,
                    runs.front().result.jobs);
  }
}

std::string names_of(PolicyKind kind) {
  std::string out;
  for (const auto& n : policy_names(kind)) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

void register_simulate_command(CLI::App& app) {
  auto args = std::make_shared<SimulateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "simulate", "Replay a workload trace (SWF, extended SWF, WfCommons JSON) on a cluster");
  cmd->add_option("--workload", args->workload, "workload trace: .swf or WfCommons .json")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--cluster", args->cluster,
                  "cluster: YAML or .machines (default: the trace's .machines sibling, else the "
                  "SWF header's MaxProcs, else the workflow's machines)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--policy", args->policies,
                  "queue order: " + names_of(PolicyKind::kQueue) +
                      " (default fcfs; name:key=value,... sets parameters)");
  cmd->add_option("--placement", args->placements,
                  "placement: " + names_of(PolicyKind::kPlacement) + " (default first_fit)");
  cmd->add_option("--backfill", args->backfills,
                  "backfilling: " + names_of(PolicyKind::kBackfill) + " (default none)");
  cmd->add_option("--forecast", args->forecasters,
                  "runtime estimates for backfilling: " + names_of(PolicyKind::kForecaster) +
                      " (default requested)");
  cmd->add_option("--seed", args->seed, "seed for randomised policies (default 0)");
  cmd->add_option("--pack-by", args->pack_by,
                  "allocate each job its request (default) or its forecast peak usage x "
                  "--pack-margin, never more than the request; a job that uses more is killed "
                  "at the end of its run and requeued with its full request")
      ->check(CLI::IsMember({"request", "forecast"}));
  cmd->add_option("--pack-margin", args->pack_margin,
                  "safety factor on the forecast peak with --pack-by forecast (default 1.2)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--deadline-factor", args->deadline_factor,
                  "give every job without a deadline one at submit + K x its requested time, "
                  "so that edf, least_slack and the deadline misses can be compared")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--suspend-after", args->suspend_after,
                  "power saving: a node idle this many seconds sleeps (0 W) until --resume-time "
                  "before its next job, as Slurm's SuspendTime; energy only, schedules unchanged")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--resume-time", args->resume_time,
                  "seconds a sleeping node takes to resume, at idle power (default 60)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--json", args->json_out, "write the metrics of every run here (JSON)");
  cmd->add_option("--jobs-out", args->jobs_out,
                  "write one CSV row per job and run: id, submit, start, end, nodes, status");
  cmd->add_option("--gantt", args->gantt_out,
                  "draw the schedule (of the first run) as an SVG chart: cpu utilisation over "
                  "time and one lane per node");
  cmd->add_option("--on-error", args->on_error, "malformed trace lines: skip (warn) or stop")
      ->check(CLI::IsMember({"skip", "stop"}));
  cmd->add_flag("--compare", args->compare,
                "run every combination of the given policies (backfill defaults to none, easy, "
                "conservative) and print the metrics side by side");
  cmd->add_flag("--check-invariants", args->check_invariants,
                "check the scheduler's invariants at every step (slower)");
  cmd->add_flag("-q,--quiet", args->quiet, "do not print each skipped or excluded record");
  cmd->footer("Policies and their parameters:\n" + describe_policies());
  cmd->callback([args] { run_simulate(*args); });
}

}  // namespace taskloom::cli
