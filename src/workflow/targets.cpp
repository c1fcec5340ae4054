// The part of a workflow some targets need: `taskloom run FILE TASK...`.
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/core/text.hpp"

#include "workflow/load_state.hpp"

namespace taskloom::workflow {

Workflow select_targets(const Workflow& wf, std::span<const std::string> targets) {
  std::unordered_map<std::string_view, std::size_t> index_of;
  std::unordered_map<std::string_view, std::vector<std::size_t>> group_of;
  for (std::size_t i = 0; i < wf.tasks.size(); ++i) {
    index_of.emplace(wf.tasks[i].id, i);
    group_of[wf.tasks[i].group].push_back(i);
  }
  std::vector<char> wanted(wf.tasks.size(), 0);
  std::vector<std::size_t> stack;
  for (const std::string& target : targets) {
    if (auto it = index_of.find(target); it != index_of.end()) {
      stack.push_back(it->second);
    } else if (auto g = group_of.find(target); g != group_of.end()) {
      stack.insert(stack.end(), g->second.begin(), g->second.end());
    } else {
      std::vector<std::string> names;
      for (const auto& [group, members] : group_of) names.emplace_back(group);
      for (const Task& t : wf.tasks) names.push_back(t.id);
      const std::string close = closest_match(target, names);
      throw InvalidArgumentError(
          "the workflow " + wf.name + " has no task or group '" + target + "'" +
          (close.empty() ? std::string() : " — did you mean '" + close + "'?") +
          " (taskloom plan --list " + wf.file.string() + " lists its tasks)");
    }
  }
  while (!stack.empty()) {  // each target and, transitively, what it runs after
    const std::size_t i = stack.back();
    stack.pop_back();
    if (wanted[i]) continue;
    wanted[i] = 1;
    for (const std::string& dep : wf.tasks[i].after) stack.push_back(index_of.at(dep));
  }
  Workflow out;
  out.name = wf.name;
  out.file = wf.file;
  out.resources = wf.resources;
  out.backend = wf.backend;
  out.slurm = wf.slurm;
  for (std::size_t i = 0; i < wf.tasks.size(); ++i) {
    if (wanted[i]) out.tasks.push_back(wf.tasks[i]);
  }
  out.fingerprint =
      detail::fingerprint(out, std::filesystem::absolute(wf.file).parent_path().lexically_normal());
  return out;
}

}  // namespace taskloom::workflow
