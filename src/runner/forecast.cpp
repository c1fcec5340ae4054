// Forecasts from history and the list schedule that predicts a run's wall time
// (runner/forecast.hpp).
#include "taskloom/runner/forecast.hpp"

#include <algorithm>
#include <queue>
#include <tuple>

#include "taskloom/graph/algorithms.hpp"

namespace taskloom::runner {
namespace {

Duration to_duration(double seconds) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

template <class T>
T median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2;
}

}  // namespace

Forecasts::Forecasts(
    const workflow::Workflow& wf,
    const std::unordered_map<std::string, std::vector<std::chrono::microseconds>>& recent) {
  std::unordered_map<std::string, std::vector<Duration>> of_group;
  for (const workflow::Task& t : wf.tasks) {
    auto it = recent.find(t.id);
    if (it == recent.end() || it->second.empty()) continue;
    std::vector<Duration> last(
        it->second.begin(),
        it->second.begin() + static_cast<std::ptrdiff_t>(std::min(kHistory, it->second.size())));
    const Duration d = median(std::move(last));
    by_task_.emplace(t.id, d);
    of_group[t.group].push_back(d);
  }
  for (auto& [group, ds] : of_group) by_group_.emplace(group, median(std::move(ds)));
}

std::optional<Duration> Forecasts::of(const workflow::Task& t) const {
  if (auto it = by_task_.find(t.id); it != by_task_.end()) return it->second;
  if (auto it = by_group_.find(t.group); it != by_group_.end()) return it->second;
  return std::nullopt;
}

Prediction predict(const workflow::Workflow& wf, const Resources& capacity, const Forecasts& f) {
  const std::size_t n = wf.tasks.size();
  Prediction p;
  std::vector<double> seconds(n, 0.0);
  std::vector<Resources> needs(n);
  for (std::size_t i = 0; i < n; ++i) {
    const workflow::Task& t = wf.tasks[i];
    if (const auto d = f.of(t)) {
      seconds[i] = std::chrono::duration<double>(*d).count();
      ++p.forecast;
    } else {
      ++p.unknown;
    }
    for (const auto& [pool, amount] : t.needs) {
      if (capacity.contains(pool)) needs[i].set(pool, amount);  // as the runner bounds them
    }
  }
  const graph::Digraph g = workflow::dependency_graph(wf);
  std::vector<double> rank(n, 0.0);
  graph::upward_ranks(g, seconds, rank);  // the loader refused cycles
  if (n > 0) p.critical_path = to_duration(*std::max_element(rank.begin(), rank.end()));

  // The runtime's order: priority, then longest remaining path, then file order.
  using Key = std::tuple<int, double, std::int64_t>;
  std::priority_queue<std::pair<Key, graph::NodeIndex>> ready;
  auto push = [&](graph::NodeIndex v) {
    ready.push({{wf.tasks[v].priority.value(), rank[v], -static_cast<std::int64_t>(v)}, v});
  };
  std::vector<std::uint32_t> waiting(n);
  for (graph::NodeIndex v = 0; v < n; ++v) {
    waiting[v] = g.in_degree(v);
    if (waiting[v] == 0) push(v);
  }
  using Running = std::pair<double, graph::NodeIndex>;  // ends at, task
  std::priority_queue<Running, std::vector<Running>, std::greater<>> running;
  Resources free = capacity;
  double now = 0;
  std::vector<std::pair<Key, graph::NodeIndex>> blocked;  // ready, not fitting now
  // Tasks looked at past the first that does not fit (the runtime lets later, smaller ready
  // tasks start meanwhile); bounded so a million waiting tasks stay linear.
  constexpr std::size_t kLookAhead = 64;
  while (!ready.empty() || !running.empty()) {
    blocked.clear();
    while (!ready.empty() && blocked.size() < kLookAhead) {
      const auto top = ready.top();
      ready.pop();
      if (needs[top.second].fits_within(free)) {
        free -= needs[top.second];
        running.push({now + seconds[top.second], top.second});
      } else {
        blocked.push_back(top);
      }
    }
    for (const auto& b : blocked) ready.push(b);
    if (running.empty()) break;  // cannot happen: the loader refused tasks that never fit
    now = running.top().first;
    while (!running.empty() && running.top().first <= now) {
      const graph::NodeIndex v = running.top().second;
      running.pop();
      free += needs[v];
      for (graph::NodeIndex s : g.successors(v)) {
        if (--waiting[s] == 0) push(s);
      }
    }
  }
  p.wall = to_duration(now);
  return p;
}

}  // namespace taskloom::runner
