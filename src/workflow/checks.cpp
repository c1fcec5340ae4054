// Pass 4: checks of the expanded workflow — unique ids and group names, resource names and
// amounts against what the workflow declares, no dependency cycle — and the check against a
// host's capacities, which the runner makes (loading itself never looks at the machine).
#include <algorithm>
#include <unordered_map>

#include "taskloom/core/units.hpp"
#include "taskloom/graph/algorithms.hpp"
#include "taskloom/graph/digraph.hpp"

#include "workflow/load_state.hpp"

namespace taskloom::workflow {
namespace detail {

void check_ids(LoadState& state, const Workflow& wf) {
  std::vector<const TaskEntry*> entry_of(wf.tasks.size());  // the entry that made each task
  state.id_index.reserve(wf.tasks.size());
  std::set<std::pair<const TaskEntry*, const TaskEntry*>> reported;
  std::set<const TaskEntry*> bad_chars;
  for (const TaskEntry& e : state.entries) {
    for (std::size_t i : e.tasks) {
      const Task& t = wf.tasks[i];
      if (!std::all_of(t.id.begin(), t.id.end(), is_id_char) && bad_chars.insert(&e).second) {
        state.problems.add(
            e.where,
            "task id " + quote(t.id) + " (from " + quote(e.id) +
                ") has characters other than letters, digits, \"_\", \".\" and \"-\"",
            "change the matrix values that go into the id");
      }
      entry_of[i] = &e;
      auto [it, inserted] = state.id_index.emplace(t.id, i);
      const TaskEntry* first = entry_of[it->second];
      if (!inserted && reported.insert({first, &e}).second) {
        const Where& w = first->where;
        state.problems.add(e.where,
                           "duplicate task id " + quote(t.id) + ", also made by the task at " +
                               w.file + ":" + std::to_string(w.line) + ":" +
                               std::to_string(w.column),
                           "rename one of them");
      }
    }
  }
  // A matrix group's name must not also be another entry's task id or group.
  std::unordered_map<std::string, const TaskEntry*> groups;
  for (const TaskEntry& e : state.entries) {
    if (!e.valid || e.matrix.empty()) continue;
    auto [it, inserted] = groups.emplace(e.group, &e);
    if (!inserted) {
      const Where& w = it->second->where;
      state.problems.add(e.where,
                         "the group name " + quote(e.group) + " of task " + quote(e.id) +
                             " is also the group of the task at " + w.file + ":" +
                             std::to_string(w.line) + ":" + std::to_string(w.column),
                         "give one of them another name with \"group: <name>\"");
    }
    auto id = state.id_index.find(e.group);
    if (id != state.id_index.end() && entry_of[id->second] != &e) {
      state.problems.add(e.where,
                         "the group name " + quote(e.group) + " of task " + quote(e.id) +
                             " is also the id of another task",
                         "rename that task, or name this group with \"group: <name>\"");
    }
  }
}

void check_resources(LoadState& state) {
  for (const TaskEntry& e : state.entries) {
    if (!e.valid) continue;
    for (const auto& [pool, amount] : e.needs) {
      auto at = e.needs_where.find(pool);
      const Where w = at == e.needs_where.end() ? e.where : at->second;
      if (state.declared_names.contains(pool)) {
        const double capacity = state.declared.get(pool);
        if (amount > capacity * (1 + 1e-9)) {
          state.problems.add(w,
                             "task " + quote(e.id) + " needs " + format_number(amount) + " " +
                                 pool + ", but the workflow has only " + format_number(capacity) +
                                 ", so it could never start",
                             "lower needs." + pool + " to at most " + format_number(capacity) +
                                 ", or raise resources." + pool);
        }
        continue;
      }
      if (is_host_resource(pool)) continue;  // its capacity is the host's: see capacities()
      std::vector<std::string> names(state.declared_names.begin(), state.declared_names.end());
      for (std::string_view p : kHostResources) names.emplace_back(p);
      std::string fix = "add \"" + pool + ": <amount>\" under resources, or remove it from needs";
      if (std::string close = closest_match(pool, names); !close.empty()) {
        fix = "did you mean " + quote(close) + "? Otherwise " + fix;
      }
      state.problems.add(w,
                         "task " + quote(e.id) + " needs " + format_number(amount) + " " + pool +
                             ", but the workflow declares no " + quote(pool) + " resource",
                         fix);
    }
  }
}

void check_cycles(LoadState& state, const Workflow& wf) {
  const bool any_edge =
      std::any_of(wf.tasks.begin(), wf.tasks.end(), [](const Task& t) { return !t.after.empty(); });
  if (!any_edge) return;
  const auto cycle = graph::find_cycle(dependency_graph(wf, state.id_index));
  if (!cycle) return;
  std::vector<std::string> path;
  for (graph::NodeIndex v : *cycle) path.push_back(wf.tasks[v].id);
  const Task& at = wf.tasks[cycle->front()];
  state.problems.add(
      {at.file.string(), at.line, at.column},
      "dependency cycle: " + join(path, " -> ") + " (each task runs after the one before it)",
      "remove one of these dependencies");
}

}  // namespace detail

Resources capacities(const Workflow& wf, const Resources& host) {
  Resources out = wf.resources;
  for (const auto& [pool, amount] : host) {
    if (!wf.resources.contains(pool)) out.set(pool, amount);
  }
  detail::Problems problems;
  for (const Task& t : wf.tasks) {
    for (const auto& [pool, amount] : t.needs) {
      if (wf.resources.contains(pool) || !out.contains(pool)) continue;
      const double capacity = out.get(pool);
      if (amount <= capacity * (1 + 1e-9)) continue;
      const std::string have =
          pool == "memory" ? units::format_size(capacity) : detail::format_number(capacity);
      problems.add(
          {t.file.string(), t.line, t.column},
          "task " + detail::quote(t.id) + " needs " +
              (pool == "memory" ? units::format_size(amount) : detail::format_number(amount)) +
              " " + pool + ", but where it runs there is only " + have +
              ", so it could never start",
          "lower needs." + pool + ", or declare resources." + pool +
              " if the machine really has more");
      break;
    }
  }
  problems.throw_if_any();
  return out;
}

}  // namespace taskloom::workflow
