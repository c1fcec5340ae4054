// taskloom/cluster/scheduler.hpp — the cluster scheduler driven live, on an injected clock.
//
// The simulator (simulator.hpp) and a live service run the same scheduler: this class feeds it
// events as they happen and reads the time from a Clock (a ManualClock in tests).
//   auto clock = std::make_shared<taskloom::ManualClock>();
//   ClusterScheduler s(nodes, {}, jobs, {.backfill = {"easy", {}}}, clock);
//   s.submit("render.0001");
//   Decisions d = s.schedule();
//   for (const Preemption& p : d.preempt) backend.stop(p.job);   // first: frees their nodes
//   for (const Launch& l : d.launch) backend.start(l.job, l.nodes);
//   ...  s.finished("render.0001");  clock->advance(1s);  s.schedule();
// A preempted job is back in the queue (it is no longer running: finished() on it throws) and
// is launched again by a later schedule(). The forecaster learns from the time between a
// job's launch and finished() (at the nodes' speed), never from Job::actual_runtime.
// Jobs may be given up front (a batch, a workflow: they enter the queue when submit(id) is
// called) or arrive one by one with submit(Job), validated like the constructor's and refused
// with a typed error naming the job. Job::actual_runtime and Job::used are not used, and
// allocations are requests (SimulationOptions::packing is simulation only).
//   ClusterScheduler live(nodes, {}, {.backfill = {"conservative", {}}}, clock);
//   live.submit(Job{.id = "frame.7", .request = {{"cpu", 8}}, .after = {"frame.6"}});
// Not thread-safe: call from one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/cluster/model.hpp"
#include "taskloom/cluster/simulator.hpp"
#include "taskloom/core/clock.hpp"
#include "taskloom/core/error.hpp"

namespace taskloom::cluster {

/// A decision: start `job` on `nodes` now.
struct Launch {
  std::string job;
  std::vector<std::string> nodes;
  Duration estimated_runtime{};  ///< the forecaster's estimate, at the nodes' speed
};

/// A decision: stop `job` now (it was preempted by a job of higher priority) and free `nodes`;
/// it is queued again and will be launched again.
struct Preemption {
  std::string job;
  std::vector<std::string> nodes;
};

/// One pass's decisions, to carry out in this order: stop `preempt`, then start `launch`.
struct Decisions {
  std::vector<Preemption> preempt;
  std::vector<Launch> launch;
};

/// A job that could never run on the cluster (more nodes than could ever hold it, a per-node
/// request larger than every node, labels no node has, a resource no node has, or more than
/// its partition's quota). Code kResourceRequest; job() names it and reason() says why.
class JobTooLargeError : public Error {
 public:
  JobTooLargeError(std::string job, std::string reason);
  const std::string& job() const noexcept { return job_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string job_, reason_;
};

class ClusterScheduler {
 public:
  /// Validates like simulate() (and throws the same errors); options.node_events is unused.
  ClusterScheduler(std::vector<Node> nodes, std::vector<Partition> partitions,
                   std::vector<Job> jobs, const SimulationOptions& options,
                   std::shared_ptr<Clock> clock);
  /// No jobs known up front: they all come through submit(Job).
  ClusterScheduler(std::vector<Node> nodes, std::vector<Partition> partitions,
                   const SimulationOptions& options, std::shared_ptr<Clock> clock);
  ~ClusterScheduler();
  ClusterScheduler(const ClusterScheduler&) = delete;
  ClusterScheduler& operator=(const ClusterScheduler&) = delete;

  /// The job arrives now. Throws InvalidArgumentError for an unknown or already submitted id.
  void submit(std::string_view job);
  /// A job that was not known at construction arrives now. Validated as the constructor
  /// validates jobs: DuplicateIdError (its id is taken), UnknownDependencyError (Job::after
  /// names no known job; a job can only depend on jobs known before it, so no cycle can form),
  /// InputError (unknown partition, 0 nodes, negative times, a 65th label), and
  /// JobTooLargeError when no set of nodes could ever hold it (node count, per-node request,
  /// labels, a resource no node has) or it asks for more than its partition's quota. A refused
  /// job leaves no trace: the same id may be submitted again. A job whose dependency already
  /// failed ends at once as kDependencyFailed.
  void submit(Job job);
  /// The running job ended successfully now (its dependents may start).
  void finished(std::string_view job);
  /// A node changed state now; jobs on a node that went down are requeued.
  void set_node_state(std::string_view node, NodeState state);
  /// One scheduling pass at the clock's time: what to stop and what to start now.
  Decisions schedule();
  /// The job's status so far: kNeverStarted while waiting (or preempted and queued again),
  /// kRunning once launched, kCompleted once finished...
  JobStatus status(std::string_view job) const;
  /// Job ids running now.
  std::vector<std::string> running() const;
  /// The job as given (with its Job::metadata). Throws InvalidArgumentError for an unknown id.
  /// The reference stays valid as long as the scheduler.
  const Job& job(std::string_view id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskloom::cluster
