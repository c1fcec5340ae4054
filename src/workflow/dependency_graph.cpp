// The workflow as a graph::Digraph, and the weight of a task on it.
#include <chrono>
#include <vector>

#include "workflow/load_state.hpp"

namespace taskloom::workflow {
namespace detail {

graph::Digraph dependency_graph(const Workflow& wf,
                                const std::unordered_map<std::string_view, std::size_t>& index) {
  std::vector<graph::Edge> edges;
  for (std::size_t i = 0; i < wf.tasks.size(); ++i) {
    for (const std::string& dep : wf.tasks[i].after) {
      edges.push_back(
          {static_cast<graph::NodeIndex>(index.at(dep)), static_cast<graph::NodeIndex>(i)});
    }
  }
  return graph::Digraph(wf.tasks.size(), edges);
}

}  // namespace detail

graph::Digraph dependency_graph(const Workflow& wf) {
  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(wf.tasks.size());
  for (std::size_t i = 0; i < wf.tasks.size(); ++i) index.emplace(wf.tasks[i].id, i);
  return detail::dependency_graph(wf, index);
}

double weight_of(const Task& t) {
  return t.timeout > Duration::zero() ? std::chrono::duration<double>(t.timeout).count() : 1.0;
}

}  // namespace taskloom::workflow
