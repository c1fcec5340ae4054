// Helpers for the cluster tests: small nodes and jobs in seconds, and exact schedule checks.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "taskloom/cluster/model.hpp"
#include "taskloom/cluster/simulator.hpp"

namespace taskloom::cluster::testing {

inline Duration sec(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}
inline double to_sec(Duration d) {
  return std::chrono::duration<double>(d).count();
}

inline Node node(std::string id, double cpus, std::vector<std::string> labels = {}) {
  Node n;
  n.id = std::move(id);
  n.capacity = {{"cpu", cpus}};
  n.labels = std::move(labels);
  return n;
}

/// A job of `cpus` cpus per node running `run` seconds, submitted at `submit`; its wall limit is
/// its runtime unless given.
inline Job job(std::string id, double submit, double cpus, double run, double limit = -1,
               std::uint32_t nodes = 1) {
  Job j;
  j.id = std::move(id);
  j.user = "u";
  j.submit_time = sec(submit);
  j.request = {{"cpu", cpus}};
  j.actual_runtime = sec(run);
  j.requested_runtime = sec(limit < 0 ? run : limit);
  j.node_count = nodes;
  return j;
}

struct Expected {
  std::string id;
  double start;
  std::vector<std::string> nodes;
};

inline const JobRecord& record(const SimulationResult& r, const std::string& id) {
  for (const JobRecord& rec : r.jobs) {
    if (rec.id == id) return rec;
  }
  throw std::out_of_range("no record for " + id);
}

/// Every listed job started (first start) at that second on exactly those nodes.
inline void expect_schedule(const SimulationResult& r, const std::vector<Expected>& expected) {
  for (const Expected& e : expected) {
    const JobRecord& rec = record(r, e.id);
    ASSERT_TRUE(rec.start.has_value()) << e.id << " never started";
    EXPECT_DOUBLE_EQ(to_sec(*rec.start), e.start) << e.id;
    EXPECT_EQ(rec.nodes, e.nodes) << e.id;
  }
}

inline SimulationOptions options(std::string queue, std::string placement, std::string backfill) {
  SimulationOptions o;
  o.queue = {std::move(queue), {}};
  o.placement = {std::move(placement), {}};
  o.backfill = {std::move(backfill), {}};
  o.check_invariants = true;
  return o;
}

}  // namespace taskloom::cluster::testing
