#include "runner/dry_run.hpp"

#include <chrono>
#include <queue>
#include <string>
#include <tuple>
#include <vector>

#include "taskloom/core/units.hpp"
#include "taskloom/graph/algorithms.hpp"
#include "taskloom/graph/digraph.hpp"
#include "taskloom/runner/outputs.hpp"

namespace taskloom::cli {

void print_dry_run(const workflow::Workflow& wf, std::ostream& out,
                   const std::function<bool(const workflow::Task&)>& forced) {
  const std::size_t n = wf.tasks.size();
  std::vector<double> weights(n);
  for (std::size_t i = 0; i < n; ++i) weights[i] = workflow::weight_of(wf.tasks[i]);
  const graph::Digraph g = workflow::dependency_graph(wf);
  std::vector<double> rank(n, 0.0);
  graph::upward_ranks(g, weights, rank);              // the loader refused cycles
  using Key = std::tuple<int, double, std::int64_t>;  // priority, rank, -index: larger first
  std::priority_queue<std::pair<Key, graph::NodeIndex>> ready;
  std::vector<std::uint32_t> waiting(n);
  auto push = [&](graph::NodeIndex v) {
    ready.push({{wf.tasks[v].priority.value(), rank[v], -static_cast<std::int64_t>(v)}, v});
  };
  for (graph::NodeIndex v = 0; v < n; ++v) {
    waiting[v] = g.in_degree(v);
    if (waiting[v] == 0) push(v);
  }
  std::vector<bool> would_run(n, true);
  std::size_t shown = 0, up_to_date = 0;
  while (!ready.empty()) {
    const graph::NodeIndex v = ready.top().second;
    ready.pop();
    const workflow::Task& t = wf.tasks[v];
    out << ++shown << ". " << t.id << "  (priority " << to_string(t.priority) << ", needs "
        << to_string(t.needs);
    if (!t.features.empty()) {
      out << ", features";
      for (const std::string& f : t.features) out << ' ' << f;
    }
    if (t.timeout > Duration::zero()) {
      out << ", timeout " << units::format_limit(t.timeout);
    }
    if (t.retries > 0) out << ", retries " << t.retries;
    if (!t.after.empty()) {
      out << ", after";
      for (const std::string& a : t.after) out << ' ' << a;
    }
    out << ")\n     cwd " << t.cwd.string() << '\n';
    if (!t.outputs.empty()) {
      std::vector<const workflow::Task*> upstream;
      std::string after_running;
      for (graph::NodeIndex u : g.predecessors(v)) {
        upstream.push_back(&wf.tasks[u]);
        if (would_run[u] && after_running.empty()) after_running = wf.tasks[u].id;
      }
      if (forced(t)) {
        out << "     runs: forced (--force)\n";
      } else if (!after_running.empty()) {
        out << "     runs: " << after_running << ", which it runs after, would run\n";
      } else if (const runner::Freshness f = runner::freshness(t, upstream); f.up_to_date) {
        would_run[v] = false;
        ++up_to_date;
        out << "     " << f.reason << ": would not run\n";
      } else {
        out << "     runs: " << f.reason << '\n';
      }
    }
    if (!t.env.empty()) {
      out << "     env";
      for (const auto& [k, val] : t.env) out << ' ' << k << '=' << val;
      out << '\n';
    }
    std::string_view run = t.run;
    while (!run.empty() && (run.back() == '\n' || run.back() == ' ')) run.remove_suffix(1);
    for (std::size_t at = 0, line = 0; at <= run.size(); ++line) {
      const std::size_t nl = run.find('\n', at);
      out << (line == 0 ? "     $ " : "       ") << run.substr(at, nl - at) << '\n';
      if (nl == std::string_view::npos) break;
      at = nl + 1;
    }
    for (graph::NodeIndex s : g.successors(v)) {
      if (--waiting[s] == 0) push(s);
    }
  }
  const std::size_t run = shown - up_to_date;
  out << run << (run == 1 ? " task" : " tasks") << " would run";
  if (up_to_date > 0) out << ", " << up_to_date << " up to date";
  out << "; nothing was run or recorded\n";
}

}  // namespace taskloom::cli
