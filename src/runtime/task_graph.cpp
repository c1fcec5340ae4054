#include "taskloom/runtime/task_graph.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "taskloom/core/error.hpp"
#include "taskloom/core/text.hpp"
#include "taskloom/graph/dot.hpp"

#include "runtime/detail/graph_data.hpp"
#include "runtime/detail/resource_admission.hpp"

namespace taskloom::runtime {
namespace detail {

namespace {

/// "#<index>", the id of an anonymous task. (Built by appending: GCC 12 at -O3 reports a
/// false -Wrestrict on "#" + std::to_string(...), bug 105329.)
std::string anonymous_id(std::uint32_t node) {
  std::string id(1, '#');
  id += std::to_string(node);
  return id;
}

}  // namespace

std::string Compiled::id(std::uint32_t node) const {
  if (const NodeMeta* m = meta(node)) return m->id;
  return anonymous_id(node);
}

const graph::Analysis& Compiled::analysis() const {
  std::call_once(analysis_once_, [&] { analysis_ = graph::analyze(dag, weights); });
  return analysis_;
}

std::string GraphData::id_of(std::uint32_t node) const {
  const std::uint32_t m = meta_index(node);
  return m != 0 ? metas[m - 1].id : anonymous_id(node);
}

void GraphData::throw_unknown_task(std::string_view id, std::string_view where) const {
  std::vector<std::string> known;
  known.reserve(metas.size());
  for (const NodeMeta& m : metas) known.push_back(m.id);
  const std::string suggestion = closest_match(id, known);
  throw InvalidArgumentError(std::string(where) + ": no task has the id '" + std::string(id) + "'" +
                             (suggestion.empty() ? " — name a task of the graph"
                                                 : " — did you mean '" + suggestion + "'?"));
}

void GraphData::modified_slow() {
  if (runs->load(std::memory_order_acquire) != 0) {
    throw InvalidStateError(
        "the graph cannot change while a run of it is in flight — wait for the run (or cancel "
        "it) first");
  }
  // Building is single-threaded and no run is in flight, so nothing compiles concurrently.
  std::lock_guard lock(compile_mutex);
  compiled.reset();
}

std::shared_ptr<const Compiled> GraphData::compile() {
  std::lock_guard lock(compile_mutex);
  if (compiled) return compiled;

  auto c = std::make_shared<Compiled>();
  const std::size_t n = size();

  // Resolve dependencies named by id; report the first unknown one with a suggestion.
  taskloom::detail::BlockVector<graph::Edge> all_edges;
  const taskloom::detail::BlockVector<graph::Edge>* edge_list = &edges;
  if (!named_deps.empty()) {
    all_edges.reserve(edges.size() + named_deps.size());
    all_edges = edges;
    for (const auto& [task, dependency] : named_deps) {
      auto it = by_id.find(dependency);
      if (it == by_id.end()) {
        std::vector<std::string> known;
        known.reserve(metas.size());
        const std::string dependent = id_of(task);
        // A task cannot depend on itself: never suggest it.
        for (const NodeMeta& m : metas) {
          if (m.id != dependent) known.push_back(m.id);
        }
        throw UnknownDependencyError(dependent, dependency, std::move(known));
      }
      all_edges.push_back({it->second, task});
    }
    edge_list = &all_edges;
  }
  c->dag = graph::Digraph(n, *edge_list);

  if (custom_weights) {
    c->weights.assign(n, 1.0);
    for (std::uint32_t v = 0; v < n; ++v) {
      if (const std::uint32_t m = meta_index(v)) c->weights[v] = metas[m - 1].weight;
    }
  }
  taskloom::detail::BlockVector<double> rank(n);
  if (!graph::upward_ranks(c->dag, c->weights, rank)) {
    const std::vector<graph::NodeIndex> cycle = graph::find_cycle(c->dag).value();
    std::vector<std::string> path;
    path.reserve(cycle.size());
    for (graph::NodeIndex v : cycle) path.push_back(id_of(v));
    throw CycleError(std::move(path));
  }

  c->keys.resize(n);
  c->sources.reserve(n);  // cached memory: pages past the sources are never touched
  for (std::uint32_t v = 0; v < n; ++v) {
    const std::uint32_t m = meta_index(v);
    const Priority priority = m != 0 ? metas[m - 1].priority : Priority::kNormal;
    c->keys[v] = make_key(priority, rank[v]);
    if (c->dag.in_degree(v) == 0) c->sources.push_back(v);
  }
  // Best key first, ties by index; usually already in order (all sources alike).
  const auto better = [&](std::uint32_t a, std::uint32_t b) {
    return c->keys[a] != c->keys[b] ? c->keys[a] > c->keys[b] : a < b;
  };
  if (!std::is_sorted(c->sources.begin(), c->sources.end(), better)) {
    std::sort(c->sources.begin(), c->sources.end(), better);
  }
  c->returns_values = returns_values;
  c->meta_of = meta_of;
  c->metas.assign(metas.begin(), metas.end());
  compiled = std::move(c);
  return compiled;
}

}  // namespace detail

namespace {

void check_id(std::string_view id) {
  if (id.empty()) {
    throw InvalidArgumentError("task id is empty — give every named task a non-empty id");
  }
}

void check_options(std::string_view id, const TaskOptions& o) {
  if (o.timeout < Duration::zero()) {
    throw InvalidArgumentError("task '" + std::string(id) +
                               "' has a negative timeout — use a positive duration, or zero for "
                               "no timeout");
  }
  if (!std::isfinite(o.weight) || o.weight < 0) {
    throw InvalidArgumentError("task '" + std::string(id) + "' has weight " +
                               std::to_string(o.weight) +
                               " — a weight is an estimated cost: finite and >= 0");
  }
  if (o.expected_duration < Duration::zero()) {
    throw InvalidArgumentError("task '" + std::string(id) +
                               "' has a negative expected_duration — use a positive duration, or "
                               "zero for unknown");
  }
}

}  // namespace

std::string TaskHandle::id() const {
  return graph_->id_of(index_);
}

void TaskHandle::add_edge(std::uint32_t from, std::uint32_t to) {
  graph_->modified();
  graph_->edges.push_back({from, to});
}

TaskGraph::TaskGraph() : data_(std::make_unique<detail::GraphData>()) {}

TaskGraph::TaskGraph(Resources pools) : TaskGraph() {
  data_->pools = std::move(pools);
}

TaskGraph::~TaskGraph() {
  if (!data_) return;
  // Runs read the graph's bodies: wait for the ones in flight.
  auto& runs = *data_->runs;
  for (int n = runs.load(std::memory_order_acquire); n != 0;
       n = runs.load(std::memory_order_acquire)) {
    runs.wait(n, std::memory_order_acquire);
  }
}

TaskGraph::TaskGraph(TaskGraph&&) noexcept = default;
TaskGraph& TaskGraph::operator=(TaskGraph&&) noexcept = default;

void TaskGraph::throw_async_interruptible(std::string_view id) {
  throw InvalidArgumentError("task '" + std::string(id) +
                             "' is async and interruptible — an async task holds no worker, so "
                             "there is nothing to interrupt; drop `interruptible`");
}

TaskHandle TaskGraph::add_task(std::string_view id, detail::TaskFunction body, TaskOptions options,
                               bool async) {
  detail::GraphData& g = *data_;
  check_id(id);
  check_options(id, options);
  if (g.pools) detail::ResourceAdmission::check(id, options.needs, *g.pools);
  if (g.by_id.count(id) != 0) throw DuplicateIdError(std::string(id));
  g.modified();

  const auto index = static_cast<std::uint32_t>(g.size());
  // Allocate everything first so that nothing below can throw half-way.
  // Geometric growth: reserving exactly what one more task needs would copy the whole vector on
  // every call (a fan-out of n tasks after one was quadratic: 100,000 took 11 s).
  if (const std::size_t need = g.named_deps.size() + options.after.size();
      need > g.named_deps.capacity()) {
    g.named_deps.reserve(std::max(need, 2 * g.named_deps.capacity()));
  }
  if (g.meta_of.empty()) g.meta_of.assign(g.size(), 0);
  g.metas.push_back({std::string(id), options.priority, options.retries, options.timeout,
                     options.weight, std::move(options.metadata), std::move(options.needs),
                     options.expected_duration, options.interruptible, options.max_interruptions,
                     async});
  try {
    g.meta_of.push_back(static_cast<std::uint32_t>(g.metas.size()));
    g.by_id.emplace(g.metas.back().id, index);
    g.add_body(std::move(body));
  } catch (...) {
    g.by_id.erase(g.metas.back().id);
    g.meta_of.resize(index);
    g.metas.pop_back();
    throw;
  }
  for (std::string& dependency : options.after) {
    g.named_deps.emplace_back(index, std::move(dependency));
  }
  g.custom_weights = g.custom_weights || options.weight != 1.0;
  return TaskHandle(&g, index);
}

TaskHandle TaskGraph::add_anonymous(detail::TaskFunction body) {
  detail::GraphData& g = *data_;
  g.modified();
  const auto index = static_cast<std::uint32_t>(g.size());
  if (g.meta_of.empty()) {
    g.add_body(std::move(body));
  } else {
    g.meta_of.push_back(0);
    try {
      g.add_body(std::move(body));
    } catch (...) {
      g.meta_of.pop_back();
      throw;
    }
  }
  return TaskHandle(&g, index);
}

void TaskGraph::add_dependency(std::string_view task, std::string_view dependency) {
  detail::GraphData& g = *data_;
  auto it = g.by_id.find(task);
  if (it == g.by_id.end()) g.throw_unknown_task(task, "add_dependency");
  g.modified();
  g.named_deps.emplace_back(it->second, std::string(dependency));
}

std::optional<TaskHandle> TaskGraph::find(std::string_view id) {
  if (auto it = data_->by_id.find(id); it != data_->by_id.end()) {
    return TaskHandle(data_.get(), it->second);
  }
  // "#<index>", the id an anonymous task reports.
  std::uint32_t index = 0;
  if (id.size() > 1 && id[0] == '#') {
    const char* end = id.data() + id.size();
    auto [ptr, ec] = std::from_chars(id.data() + 1, end, index);
    if (ec == std::errc{} && ptr == end && index < data_->size() && data_->meta_index(index) == 0) {
      return TaskHandle(data_.get(), index);
    }
  }
  return std::nullopt;
}

std::size_t TaskGraph::size() const noexcept {
  return data_->size();
}

void TaskGraph::clear() {
  data_->modified();
  data_->clear_bodies();
  data_->meta_of.clear();
  data_->by_id.clear();
  data_->metas.clear();
  data_->edges.clear();
  data_->named_deps.clear();
  data_->custom_weights = false;
}

Plan TaskGraph::plan() const {
  auto c = data_->compile();
  Plan p;
  p.task_count = c->dag.node_count();
  p.edge_count = c->dag.edge_count();
  p.order.reserve(p.task_count);
  const graph::Analysis& analysis = c->analysis();
  for (graph::NodeIndex v : analysis.order) p.order.push_back(c->id(v));
  for (const auto& wave : graph::waves(analysis)) {
    auto& ids = p.waves.emplace_back();
    ids.reserve(wave.size());
    for (graph::NodeIndex v : wave) ids.push_back(c->id(v));
  }
  const graph::CriticalPath path = graph::critical_path(c->dag, analysis);
  for (graph::NodeIndex v : path.nodes) p.critical_path.push_back(c->id(v));
  p.critical_path_weight = path.length;
  return p;
}

namespace {

template <class Export>
std::string export_graph(detail::GraphData& data, Export to_text) {
  auto c = data.compile();
  std::vector<std::string> labels;
  labels.reserve(c->dag.node_count());
  for (std::uint32_t v = 0; v < c->dag.node_count(); ++v) labels.push_back(c->id(v));
  const graph::CriticalPath path = graph::critical_path(c->dag, c->analysis());
  return to_text(c->dag, graph::ExportOptions{.labels = labels, .highlight = path.nodes});
}

}  // namespace

std::string TaskGraph::to_dot() const {
  return export_graph(*data_, [](const auto& g, const auto& o) { return graph::to_dot(g, o); });
}

std::string TaskGraph::to_mermaid() const {
  return export_graph(*data_, [](const auto& g, const auto& o) { return graph::to_mermaid(g, o); });
}

}  // namespace taskloom::runtime
