// Internal: what a TaskGraph stores, and the compiled form a run executes.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "taskloom/graph/algorithms.hpp"
#include "taskloom/graph/digraph.hpp"
#include "taskloom/runtime/task_graph.hpp"

#include "runtime/detail/chunked_vector.hpp"
#include "runtime/detail/ready_queue.hpp"

namespace taskloom::runtime::detail {

/// The options of a named task (anonymous tasks have none, which keeps them small).
struct NodeMeta {
  std::string id;
  Priority priority;
  unsigned retries = 0;
  Duration timeout = Duration::zero();
  double weight = 1.0;
  std::vector<std::pair<std::string, std::string>> metadata;
  Resources needs;
  Duration expected_duration = Duration::zero();
  bool interruptible = false;
  std::optional<unsigned> max_interruptions;
  bool async = false;  // TaskGraph::add_async: the attempt ends when its Completion is completed
};

/// The immutable, validated form of a graph that runs execute. Shared by every run started
/// while the graph is unchanged, and kept alive by them.
struct Compiled {
  graph::Digraph dag;
  std::vector<double> weights;              // per node when some task sets one, else empty
  taskloom::detail::BlockVector<Key> keys;  // scheduling key per node
  taskloom::detail::BlockVector<std::uint32_t> sources;  // no dependencies, best key first
  std::vector<std::uint32_t> meta_of;                    // per node (empty when no task is named)
  std::vector<NodeMeta> metas;                           // copies, so reports outlive the graph
  bool returns_values = false;                           // some body returns a value
  bool has_timeouts_or_retries = false;

  const NodeMeta* meta(std::uint32_t node) const noexcept {
    return meta_of.empty() || meta_of[node] == 0 ? nullptr : &metas[meta_of[node] - 1];
  }
  std::string id(std::uint32_t node) const;
  /// Order, waves and upward ranks: made on first use (plans, reports, wave-synchronous runs),
  /// since a run itself needs only the keys.
  const graph::Analysis& analysis() const;

 private:
  mutable std::once_flag analysis_once_;
  mutable graph::Analysis analysis_;
};

struct GraphData {
  ChunkedVector<TaskFunction> bodies;  // one per task, never moved
  std::vector<std::uint32_t> meta_of;  // 1 + index into metas per task; empty while none is named
  std::deque<NodeMeta> metas;          // stable addresses
  std::unordered_map<std::string_view, std::uint32_t> by_id;  // views into metas
  taskloom::detail::BlockVector<graph::Edge> edges;
  std::vector<std::pair<std::uint32_t, std::string>> named_deps;  // (task, dependency id)
  std::optional<Resources> pools;  // given to the constructor: add() checks requests
  bool custom_weights = false;
  bool returns_values = false;  // some body returns a value
  bool trivial_bodies = true;   // no body needs destroying

  /// Runs in flight; shared with them so the last one can signal after the graph is gone.
  std::shared_ptr<std::atomic<int>> runs = std::make_shared<std::atomic<int>>(0);
  std::mutex compile_mutex;
  std::shared_ptr<const Compiled> compiled;  // guarded by compile_mutex; null when stale

  ~GraphData() { clear_bodies(); }
  void add_body(TaskFunction&& body) {
    const bool returns = body.returns_value(), needs_destroy = body.needs_destroy();
    bodies.push_back(std::move(body));
    returns_values = returns_values || returns;
    trivial_bodies = trivial_bodies && !needs_destroy;
  }
  void clear_bodies() noexcept {
    if (trivial_bodies) {
      bodies.release_without_destroying();
    } else {
      bodies.clear();
    }
    returns_values = false;
    trivial_bodies = true;
  }

  /// Validates and compiles (cached until the next change). Throws CycleError or
  /// UnknownDependencyError.
  std::shared_ptr<const Compiled> compile();
  /// Before any change: throws InvalidStateError while a run is in flight, drops the
  /// compiled form. (A graph with a compiled form is the only one a run can be using.)
  void modified() {
    if (compiled) modified_slow();
  }
  void modified_slow();
  std::size_t size() const noexcept { return bodies.size(); }
  std::uint32_t meta_index(std::uint32_t node) const noexcept {
    return meta_of.empty() ? 0 : meta_of[node];
  }
  std::string id_of(std::uint32_t node) const;
  /// InvalidArgumentError naming `id`, the closest existing id, and `where` it was used.
  [[noreturn]] void throw_unknown_task(std::string_view id, std::string_view where) const;
};

}  // namespace taskloom::runtime::detail
