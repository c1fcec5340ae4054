// `taskloom plan FILE [--dot|--mermaid|--json|--list]`: check a workflow and show its shape —
// task and dependency counts, waves, the critical path (weighted by each task's timeout, or 1
// for a task without one) and the resources — or its graph as DOT or Mermaid, or its task ids
// one per line. Runs nothing. Every line is bounded, whatever the size of the workflow.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/backends/local.hpp"
#include "taskloom/core/units.hpp"
#include "taskloom/graph/algorithms.hpp"
#include "taskloom/graph/dot.hpp"
#include "taskloom/runner/forecast.hpp"
#include "taskloom/runner/workflow_run.hpp"
#include "taskloom/store/run_store.hpp"
#include "taskloom/workflow/workflow.hpp"

#include "commands.hpp"
#include "runner/progress.hpp"
#include "runner/run_records.hpp"

namespace taskloom::cli {
namespace {

struct PlanArgs {
  std::string file;
  bool dot = false;
  bool mermaid = false;
  bool json = false;
  bool list = false;
  std::string db;  ///< where the history that predictions come from is (default: beside the file)
};

/// Ids or groups shown on one line before "... (N more)".
constexpr std::size_t kShown = 12;

std::string plural(std::size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

/// The first `shown` of `items` (strings, or task indices named by `name`), then how many more.
template <class Items, class Name>
std::string list(const Items& items, std::size_t shown, Name name) {
  std::string s;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i == shown) {
      s += " ... (" + std::to_string(items.size() - shown) + " more)";
      break;
    }
    s += (i > 0 ? " " : "") + name(items[i]);
  }
  return s;
}

/// The forecasts from the runs recorded in the database beside the workflow (or --db); empty
/// when there is none or it has no successful attempt of this workflow.
runner::Forecasts history(const workflow::Workflow& wf, const std::string& db_option) {
  const std::filesystem::path file =
      db_option.empty() ? database_beside(wf.file) : std::filesystem::path(db_option);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return {};
  store::RunStore db = store::RunStore::open(file, {.create = false});
  return runner::Forecasts(
      wf, db.recent_durations(runner::new_run_of(wf).workflow_path, runner::kHistory));
}

void plan(const PlanArgs& a) {
  const workflow::Workflow wf = workflow::load_workflow(a.file);
  // What a local run would have: the declared resources, this machine's for the rest.
  const Resources resources = workflow::capacities(wf, backends::host_capacity());
  if (a.list) {
    for (const workflow::Task& t : wf.tasks) std::cout << t.id << '\n';
    return;
  }
  // On the graph layer directly, by task index: a million-task plan holds no second copy of
  // the ids (the loader refused cycles).
  const graph::Digraph g = workflow::dependency_graph(wf);
  // Weighed as the runner weighs them: the forecast from history, else the timeout, else 1.
  const runner::Forecasts forecasts = history(wf, a.db);
  std::vector<double> weights(wf.tasks.size());
  std::size_t timed = 0, forecast = 0;
  for (std::size_t i = 0; i < wf.tasks.size(); ++i) {
    if (const auto d = forecasts.of(wf.tasks[i])) {
      weights[i] = std::chrono::duration<double>(*d).count();
      ++forecast;
    } else {
      weights[i] = workflow::weight_of(wf.tasks[i]);
      timed += wf.tasks[i].timeout > Duration::zero() ? 1 : 0;
    }
  }
  // A plain value and a flag: GCC 12 warns (wrongly) about an optional of it below.
  const bool have_prediction = !forecasts.empty();
  const runner::Prediction predicted =
      have_prediction ? runner::predict(wf, resources, forecasts) : runner::Prediction{};
  const graph::Analysis analysis = graph::analyze(g, weights);
  const graph::CriticalPath critical = graph::critical_path(g, analysis);
  auto id = [&](graph::NodeIndex v) -> const std::string& { return wf.tasks[v].id; };
  if (a.dot || a.mermaid) {
    std::vector<std::string> labels;
    labels.reserve(wf.tasks.size());
    for (const workflow::Task& t : wf.tasks) labels.push_back(t.id);
    const graph::ExportOptions options{.labels = labels, .highlight = critical.nodes};
    std::cout << (a.dot ? graph::to_dot(g, options) : graph::to_mermaid(g, options));
    return;
  }
  const std::vector<std::vector<graph::NodeIndex>> waves = graph::waves(analysis);
  if (a.json) {
    auto ids = [&](const std::vector<graph::NodeIndex>& nodes) {
      nlohmann::json out = nlohmann::json::array();
      for (graph::NodeIndex v : nodes) out.push_back(id(v));
      return out;
    };
    nlohmann::json j;
    j["workflow"] = wf.name;
    j["fingerprint"] = wf.fingerprint;
    j["tasks"] = g.node_count();
    j["dependencies"] = g.edge_count();
    j["waves"] = nlohmann::json::array();
    for (const auto& wave : waves) j["waves"].push_back(ids(wave));
    j["critical_path"] = ids(critical.nodes);
    j["critical_path_weight"] = critical.length;
    nlohmann::json res = nlohmann::json::object();
    for (const auto& [name, amount] : resources) res[name] = amount;
    j["resources"] = res;
    if (have_prediction) {
      const runner::Prediction* p = &predicted;
      j["predicted"] = {
          {"wall_seconds", std::chrono::duration<double>(p->wall).count()},
          {"critical_path_seconds", std::chrono::duration<double>(p->critical_path).count()},
          {"tasks_with_history", p->forecast},
          {"tasks_without_history", p->unknown}};
    }
    std::cout << j.dump(2) << '\n';
    return;
  }
  std::cout << wf.name << " (" << wf.file.string() << "): " << plural(g.node_count(), "task")
            << ", "
            << (g.edge_count() == 1 ? "1 dependency"
                                    : std::to_string(g.edge_count()) + " dependencies")
            << ", " << plural(waves.size(), "wave") << '\n';
  std::map<std::string, std::size_t> groups;
  for (const workflow::Task& t : wf.tasks) ++groups[t.group];
  std::vector<std::string> group_list;
  for (const auto& [group, n] : groups)
    group_list.push_back(group + " (" + std::to_string(n) + ")");
  std::cout << "groups: " << list(group_list, kShown, [](const std::string& s) { return s; })
            << "\nresources:";
  for (const auto& [name, amount] : resources) {
    std::cout << ' ' << name << '='
              << (name == "memory" ? units::format_size(amount) : number(amount));
  }
  std::cout << "\nwaves:\n";
  for (std::size_t w = 0; w < waves.size(); ++w) {
    std::cout << "  " << w << ": " << waves[w].size() << " task"
              << (waves[w].size() == 1 ? "" : "s") << "  " << list(waves[w], 6, id) << '\n';
    if (w + 1 == kShown && waves.size() > kShown + 1) {  // a long chain: its first and last
      std::cout << "  ... (" << plural(waves.size() - kShown - 1, "more wave") << ")\n";
      w = waves.size() - 2;
    }
  }
  const std::string length = units::format_duration(
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(critical.length)));
  std::string by;
  if (forecast == wf.tasks.size()) {
    by = length + " by recorded durations";
  } else if (forecast > 0) {
    by = "weight " + number(critical.length) +
         ": recorded seconds where known, else the timeout, else 1";
  } else if (timed == wf.tasks.size()) {
    by = "at most " + length + " by timeouts";
  } else {
    by = "weight " + number(critical.length) + ": timeouts in seconds, 1 per task without one";
  }
  std::cout << "critical path (" << plural(critical.nodes.size(), "task") << ", " << by << "):\n  ";
  const std::vector<graph::NodeIndex>& path = critical.nodes;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i == kShown / 2 && path.size() > kShown) {  // its first and last tasks
      std::cout << " -> ... (" << plural(path.size() - kShown, "more task") << ")";
      i = path.size() - kShown / 2;
    }
    std::cout << (i > 0 ? " -> " : "") << id(path[i]);
  }
  std::cout << '\n';
  if (have_prediction) {
    const runner::Prediction* p = &predicted;
    std::cout << "predicted wall time " << units::format_duration(p->wall) << " (critical path "
              << units::format_duration(p->critical_path) << "), from the last runs of "
              << p->forecast << " of " << wf.tasks.size() << " tasks (median of up to "
              << runner::kHistory << " successful attempts each"
              << (p->unknown > 0 ? "; the rest counted as taking no time" : "") << ")\n";
  } else {
    std::cout << "predicted wall time: no recorded run of this workflow yet\n";
  }
  std::cout << "fingerprint " << wf.fingerprint << "; nothing was run\n";
}

}  // namespace

void register_plan_command(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd =
      app.add_subcommand("plan", "Check a workflow; show its waves, critical path and graph");
  cmd->add_option("file", args->file, "the workflow file")->required();
  auto* dot = cmd->add_flag("--dot", args->dot, "print the graph as Graphviz DOT");
  auto* mermaid =
      cmd->add_flag("--mermaid", args->mermaid, "print the graph as a Mermaid flowchart");
  auto* json = cmd->add_flag("--json", args->json, "print the plan as JSON");
  auto* ids =
      cmd->add_flag("--list", args->list, "print the task ids, one per line, in file order");
  cmd->add_option("--db", args->db,
                  "the database whose runs predict the wall time (default: beside the workflow)");
  dot->excludes(mermaid)->excludes(json)->excludes(ids);
  mermaid->excludes(json)->excludes(ids);
  json->excludes(ids);
  cmd->callback([args] { plan(*args); });
}

}  // namespace taskloom::cli
