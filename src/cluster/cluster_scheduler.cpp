// ClusterScheduler: the live face of the scheduler (same code as the simulator's).
#include <deque>

#include "taskloom/cluster/scheduler.hpp"
#include "taskloom/core/error.hpp"

#include "cluster/detail/scheduler.hpp"

namespace taskloom::cluster {

JobTooLargeError::JobTooLargeError(std::string job, std::string reason)
    : Error(ErrorCode::kResourceRequest,
            "job '" + job + "' can never run on this cluster: " + reason +
                " — lower its request or node count, or add nodes that can hold it"),
      job_(std::move(job)),
      reason_(std::move(reason)) {}

struct ClusterScheduler::Impl {
  std::vector<Job> jobs;  // the jobs given at construction (never resized: the scheduler
                          // keeps pointers into it)
  std::deque<Job> added;  // jobs submitted later (a deque keeps their addresses)
  std::shared_ptr<Clock> clock;
  std::unique_ptr<detail::Scheduler> scheduler;

  Duration now() const { return clock->now().time_since_epoch(); }
  detail::JobIdx find(std::string_view id) const {
    auto j = scheduler->job_index(id);
    if (!j) throw InvalidArgumentError("unknown job '" + std::string(id) + "'");
    return *j;
  }
};

ClusterScheduler::ClusterScheduler(std::vector<Node> nodes, std::vector<Partition> partitions,
                                   std::vector<Job> jobs, const SimulationOptions& options,
                                   std::shared_ptr<Clock> clock)
    : impl_(std::make_unique<Impl>()) {
  if (!clock) throw InvalidArgumentError("ClusterScheduler needs a clock");
  impl_->jobs = std::move(jobs);
  impl_->clock = std::move(clock);
  detail::SchedulerConfig config = detail::config_of(options);
  // Live, allocations are requests: packing by forecast needs peaks only a simulation knows.
  config.packing = {};
  config.simulated_ends = false;
  impl_->scheduler = std::make_unique<detail::Scheduler>(nodes, partitions, impl_->jobs, config);
}

ClusterScheduler::ClusterScheduler(std::vector<Node> nodes, std::vector<Partition> partitions,
                                   const SimulationOptions& options, std::shared_ptr<Clock> clock)
    : ClusterScheduler(std::move(nodes), std::move(partitions), {}, options, std::move(clock)) {}

ClusterScheduler::~ClusterScheduler() = default;

void ClusterScheduler::submit(std::string_view job) {
  detail::JobIdx j = impl_->find(job);
  if (impl_->scheduler->job(j).submitted) {
    throw InvalidArgumentError("job '" + std::string(job) + "' was already submitted");
  }
  impl_->scheduler->submit(j, impl_->now());
}

void ClusterScheduler::submit(Job job) {
  Impl& impl = *impl_;
  impl.added.push_back(std::move(job));
  detail::JobIdx j = 0;
  try {
    j = impl.scheduler->add_job(impl.added.back());
  } catch (...) {
    impl.added.pop_back();  // refused: the scheduler kept nothing of it
    throw;
  }
  impl.scheduler->submit(j, impl.now());
}

void ClusterScheduler::finished(std::string_view job) {
  detail::JobIdx j = impl_->find(job);
  if (impl_->scheduler->job(j).phase != detail::Phase::kRunning) {
    throw InvalidArgumentError("job '" + std::string(job) + "' is not running");
  }
  impl_->scheduler->job(j).killed = false;  // it ended when the backend said so
  impl_->scheduler->finish(j, impl_->now());
}

void ClusterScheduler::set_node_state(std::string_view node, NodeState state) {
  auto n = impl_->scheduler->node_index(node);
  if (!n) throw InvalidArgumentError("unknown node '" + std::string(node) + "'");
  impl_->scheduler->node_state(*n, state, impl_->now());
}

Decisions ClusterScheduler::schedule() {
  detail::Scheduler& s = *impl_->scheduler;
  s.schedule(impl_->now());
  (void)s.take_wakeup();
  Decisions out;
  for (const auto& [j, nodes] : s.preempted()) {
    Preemption p{s.job(j).job->id, {}};
    for (detail::NodeIdx n : nodes) p.nodes.push_back(s.cluster().id(n));
    out.preempt.push_back(std::move(p));
  }
  s.clear_preempted();
  for (detail::JobIdx j : s.started()) {
    const detail::JobState& js = s.job(j);
    // A job preempted later in the same pass is not running: its launch is void.
    if (js.phase != detail::Phase::kRunning || js.start != impl_->now()) continue;
    Launch l{js.job->id, {}, js.expected_end - js.start};
    for (detail::NodeIdx n : js.nodes) l.nodes.push_back(s.cluster().id(n));
    out.launch.push_back(std::move(l));
  }
  s.clear_started();
  return out;
}

JobStatus ClusterScheduler::status(std::string_view job) const {
  const detail::JobState& js = impl_->scheduler->job(impl_->find(job));
  return js.phase == detail::Phase::kRunning ? JobStatus::kRunning : js.status;
}

const Job& ClusterScheduler::job(std::string_view id) const {
  return *impl_->scheduler->job(impl_->find(id)).job;
}

std::vector<std::string> ClusterScheduler::running() const {
  std::vector<std::string> ids;
  const detail::Scheduler& s = *impl_->scheduler;
  for (detail::JobIdx j = 0; j < s.job_count(); ++j) {
    if (s.job(j).phase == detail::Phase::kRunning) ids.push_back(s.job(j).job->id);
  }
  return ids;
}

}  // namespace taskloom::cluster
