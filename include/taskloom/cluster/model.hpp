// taskloom/cluster/model.hpp — jobs, nodes and partitions: what the cluster scheduler places.
//
// The cluster layer schedules jobs (each asking for resources on one or more nodes) onto the
// nodes of a cluster. It has no threads and reads time from an injected Clock, so the live
// scheduler and the discrete-event simulator run the same code.
//   Node n{.id = "r01", .capacity = {{"cpu", 32}, {"memory", 128e9}, {"gpu", 2}},
//          .labels = {"gpu"}, .power = {.idle_watts = 90, .busy_watts = 450}};
//   Job j{.id = "render.0042", .user = "ana", .request = {{"cpu", 8}, {"gpu", 1}},
//         .requested_runtime = std::chrono::hours(1), .constraints = {"gpu"}};
// Times are Durations since the start of the schedule (the clock's epoch in simulation).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/priority.hpp"
#include "taskloom/core/resources.hpp"

namespace taskloom::cluster {

enum class NodeState {
  kUp,        ///< accepts new jobs
  kDraining,  ///< runs what it has, accepts nothing new
  kDown,      ///< failed or removed; its jobs were lost
};

/// Watts drawn by a node, linear in the share of its cpus in use.
struct PowerProfile {
  double idle_watts = 0;
  double busy_watts = 0;
};

struct Node {
  std::string id;
  Resources capacity;               ///< e.g. cpu, memory (bytes), gpu, any name
  std::vector<std::string> labels;  ///< e.g. "gpu", "highmem", "cluster=zewura"
  double speed = 1.0;               ///< runtime on this node = runtime / speed
  PowerProfile power;
  NodeState state = NodeState::kUp;
  /// Free data for the domain built on the scheduler (a rack, a licence server...): carried
  /// with the node, never read by the scheduler or its policies.
  std::map<std::string, std::string, std::less<>> metadata;
};

/// A partition (queue) or tenant: a quota on the resources its jobs hold at once, and a
/// weight for fair share.
struct Partition {
  std::string name;
  Resources quota;  ///< empty: no limit
  double fair_share_weight = 1.0;
  int priority = 0;  ///< partition priority factor (multifactor)
};

struct Job {
  std::string id;
  std::string user;
  std::string group;
  std::string partition;
  Priority priority;                     ///< the job's own (QOS-like) priority
  Resources request;                     ///< per node
  std::uint32_t node_count = 1;          ///< nodes, each given `request`
  Duration requested_runtime{};          ///< wall-clock limit; zero means unknown
  Duration actual_runtime{};             ///< simulation only: how long it really runs (speed 1)
  Resources used;                        ///< simulation only: its actual peak usage per node
                                         ///< (e.g. memory); empty when unknown
  Duration submit_time{};                ///< since the schedule's epoch
  std::optional<Duration> deadline;      ///< since the schedule's epoch
  std::vector<std::string> after;        ///< job ids that must end successfully first
  std::vector<std::string> constraints;  ///< labels a node must have
  std::vector<std::string> preferences;  ///< labels a node should have
  bool preemptible = false;
  bool checkpointable = false;
  std::string application;  ///< for forecasting: jobs of one application run alike
  /// Free data for the domain (a render job's frame range, a workflow's step...): carried
  /// with the job (ClusterScheduler::job gives it back), never read by the scheduler.
  std::map<std::string, std::string, std::less<>> metadata;
};

}  // namespace taskloom::cluster
