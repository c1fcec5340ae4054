// taskloom/cluster/scheduler.hpp — the cluster scheduler driven live, on an injected clock.
//
// The simulator (simulator.hpp) and a live service run the same scheduler: this class feeds it
// events as they happen and reads the time from a Clock (a ManualClock in tests).
//   auto clock = std::make_shared<taskloom::ManualClock>();
//   ClusterScheduler s(nodes, {}, jobs, {.backfill = {"easy", {}}}, clock);
//   s.submit("render.0001");
//   for (const Launch& l : s.schedule()) backend.start(l.job, l.nodes);
//   ...  s.finished("render.0001");  clock->advance(1s);  s.schedule();
// The set of jobs is given up front (a batch, a workflow); they enter the queue when
// submit() is called. Job::actual_runtime is not used. Not thread-safe: call from one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/cluster/model.hpp"
#include "taskloom/cluster/simulator.hpp"
#include "taskloom/core/clock.hpp"

namespace taskloom::cluster {

/// A decision: start `job` on `nodes` now.
struct Launch {
  std::string job;
  std::vector<std::string> nodes;
  Duration estimated_runtime{};  ///< the forecaster's estimate, at the nodes' speed
};

class ClusterScheduler {
 public:
  /// Validates like simulate() (and throws the same errors); options.node_events is unused.
  ClusterScheduler(std::vector<Node> nodes, std::vector<Partition> partitions,
                   std::vector<Job> jobs, const SimulationOptions& options,
                   std::shared_ptr<Clock> clock);
  ~ClusterScheduler();
  ClusterScheduler(const ClusterScheduler&) = delete;
  ClusterScheduler& operator=(const ClusterScheduler&) = delete;

  /// The job arrives now. Throws InvalidArgumentError for an unknown or already submitted id.
  void submit(std::string_view job);
  /// The running job ended successfully now (its dependents may start).
  void finished(std::string_view job);
  /// A node changed state now; jobs on a node that went down are requeued.
  void set_node_state(std::string_view node, NodeState state);
  /// One scheduling pass at the clock's time: what to start now.
  std::vector<Launch> schedule();
  /// The job's status so far (kNeverStarted while waiting, kCompleted once finished...).
  JobStatus status(std::string_view job) const;
  /// Job ids running now.
  std::vector<std::string> running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskloom::cluster
