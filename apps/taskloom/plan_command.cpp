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
#include "taskloom/runtime/task_graph.hpp"
#include "taskloom/workflow/workflow.hpp"

#include "commands.hpp"
#include "runner/progress.hpp"

namespace taskloom::cli {
namespace {

struct PlanArgs {
  std::string file;
  bool dot = false;
  bool mermaid = false;
  bool json = false;
  bool list = false;
};

/// Ids or groups shown on one line before "... (N more)".
constexpr std::size_t kShown = 12;

std::string plural(std::size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

double weight_of(const workflow::Task& t) {
  return t.timeout > Duration::zero() ? std::chrono::duration<double>(t.timeout).count() : 1.0;
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

std::string list(const std::vector<std::string>& ids, std::size_t shown) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i == shown) {
      s += " ... (" + std::to_string(ids.size() - shown) + " more)";
      break;
    }
    s += (i > 0 ? " " : "") + ids[i];
  }
  return s;
}

void plan(const PlanArgs& a) {
  const workflow::Workflow wf = workflow::load_workflow(a.file);
  // What a local run would have: the declared resources, this machine's for the rest.
  const Resources resources = workflow::capacities(wf, backends::host_capacity());
  runtime::TaskGraph graph;
  bool all_timed = true;
  for (const workflow::Task& t : wf.tasks) {
    all_timed = all_timed && t.timeout > Duration::zero();
    graph.add(t.id, [] {}, {.after = t.after, .priority = t.priority, .weight = weight_of(t)});
  }
  if (a.dot) {
    std::cout << graph.to_dot();
    return;
  }
  if (a.mermaid) {
    std::cout << graph.to_mermaid();
    return;
  }
  if (a.list) {
    for (const workflow::Task& t : wf.tasks) std::cout << t.id << '\n';
    return;
  }
  const runtime::Plan p = graph.plan();
  if (a.json) {
    nlohmann::json j;
    j["workflow"] = wf.name;
    j["fingerprint"] = wf.fingerprint;
    j["tasks"] = p.task_count;
    j["dependencies"] = p.edge_count;
    j["waves"] = p.waves;
    j["critical_path"] = p.critical_path;
    j["critical_path_weight"] = p.critical_path_weight;
    nlohmann::json res = nlohmann::json::object();
    for (const auto& [name, amount] : resources) res[name] = amount;
    j["resources"] = res;
    std::cout << j.dump(2) << '\n';
    return;
  }
  std::cout << wf.name << " (" << wf.file.string() << "): " << plural(p.task_count, "task") << ", "
            << (p.edge_count == 1 ? "1 dependency" : std::to_string(p.edge_count) + " dependencies")
            << ", " << plural(p.waves.size(), "wave") << '\n';
  std::map<std::string, std::size_t> groups;
  for (const workflow::Task& t : wf.tasks) ++groups[t.group];
  std::vector<std::string> group_list;
  for (const auto& [g, n] : groups) group_list.push_back(g + " (" + std::to_string(n) + ")");
  std::cout << "groups: " << list(group_list, kShown) << "\nresources:";
  for (const auto& [name, amount] : resources) {
    std::cout << ' ' << name << '='
              << (name == "memory" ? units::format_size(amount) : number(amount));
  }
  std::cout << "\nwaves:\n";
  for (std::size_t w = 0; w < p.waves.size(); ++w) {
    std::cout << "  " << w << ": " << p.waves[w].size() << " task"
              << (p.waves[w].size() == 1 ? "" : "s") << "  " << list(p.waves[w], 6) << '\n';
    if (w + 1 == kShown && p.waves.size() > kShown + 1) {  // a long chain: its first and last
      std::cout << "  ... (" << plural(p.waves.size() - kShown - 1, "more wave") << ")\n";
      w = p.waves.size() - 2;
    }
  }
  std::cout << "critical path (" << plural(p.critical_path.size(), "task") << ", "
            << (all_timed ? "at most " +
                                units::format_duration(std::chrono::duration_cast<Duration>(
                                    std::chrono::duration<double>(p.critical_path_weight))) +
                                " by timeouts"
                          : "weight " + number(p.critical_path_weight) +
                                ": timeouts in seconds, 1 per task without one")
            << "):\n  ";
  const std::vector<std::string>& path = p.critical_path;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i == kShown / 2 && path.size() > kShown) {  // its first and last tasks
      std::cout << " -> ... (" << plural(path.size() - kShown, "more task") << ")";
      i = path.size() - kShown / 2;
    }
    std::cout << (i > 0 ? " -> " : "") << path[i];
  }
  std::cout << "\nfingerprint " << wf.fingerprint << "; nothing was run\n";
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
  dot->excludes(mermaid)->excludes(json)->excludes(ids);
  mermaid->excludes(json)->excludes(ids);
  json->excludes(ids);
  cmd->callback([args] { plan(*args); });
}

}  // namespace taskloom::cli
