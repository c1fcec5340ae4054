// Regression: the schedules of 28 policy mixes on two seeded synthetic workloads, as digests of
// every job record (first start, end, nodes, status, preemptions, node-failure requeues,
// estimate) and of the event count. The expected values were computed by the scheduler as it
// was before the engine was rewritten for speed (flat job table, free-maximum tree, shape
// memo, EASY's kept per-node times, queue compaction; commit b5f1d84), so any change in
// what the scheduler decides shows up here. A change that is meant to alter schedules must
// say why and update the table (TASKLOOM_PRINT_DIGESTS=1 prints the new values); these have:
//   - conservative backfilling and node events (below);
//   - every EASY mix: the head's reservation takes the nodes that become free latest up to the
//     shadow time, no longer the earliest, so nodes free now are left to long backfill jobs
//     when the head does not need them (issue 13; checked job for job against a reference
//     simulator in easy_reference_test.cpp);
//   - conservative with a forecaster (the two mixes): a job whose planned nodes are still held
//     by a job that outlived its estimate waits for them instead of starting on top of it;
//   - the five mixes of a forecaster and backfilling: a job that outlives
//     its forecast has it raised (Forecaster::correct) instead of being projected to end now,
//     so the shadow time no longer collapses to the present (issue 13); conservative then
//     plans again only the reservations on that job's nodes, not all of them.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "taskloom/cluster/synthetic.hpp"

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

struct Mix {
  const char* queue;
  const char* placement;
  const char* backfill;
  const char* forecaster;
  bool disturbed;  // preemption and node events
  const char* expected[2];
};

// FNV-1a over the records' fields and the event count.
struct Digest {
  std::uint64_t h = 1469598103934665603ULL;
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  }
  template <class T>
  void value(const T& v) {
    bytes(&v, sizeof v);
  }
  void text(const std::string& s) {
    bytes(s.data(), s.size());
    value(s.size());
  }
};

std::string digest(const SimulationResult& r) {
  Digest d;
  for (const JobRecord& rec : r.jobs) {
    d.text(rec.id);
    d.value(rec.start ? rec.start->count() : -1);
    d.value(rec.end ? rec.end->count() : -1);
    for (const std::string& n : rec.nodes) d.text(n);
    d.value(static_cast<int>(rec.status));
    d.value(rec.preemptions);
    d.value(rec.failures);
    d.value(rec.estimated_runtime.count());
  }
  d.value(r.metrics.events);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(d.h));
  return buf;
}

std::vector<Node> digest_nodes() {
  auto nodes = synthetic_nodes({.nodes = 12, .cpus = 16, .memory = 64e9, .gpu_fraction = 0.25});
  nodes[4].speed = 1.5;
  nodes[9].speed = 0.75;
  return nodes;
}

std::vector<Job> digest_jobs(std::uint64_t seed) {
  auto jobs = synthetic_jobs({.jobs = 300,
                              .seed = seed,
                              .cpus_per_node = 16,
                              .memory_per_node = 64e9,
                              .max_nodes = 4,
                              .mean_interarrival_s = 25,
                              .mean_runtime_s = 600,
                              .gpu_fraction = 0.15,
                              .users = 5});
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    Job& j = jobs[i];
    j.partition = i % 3 == 0 ? "a" : "b";
    j.preemptible = i % 4 != 0;
    j.checkpointable = i % 8 == 1;
    if (i % 5 == 0) j.deadline = j.submit_time + sec(2000.0 + 7.0 * static_cast<double>(i));
    if (i % 9 == 0) j.preferences = {"gpu"};
    if (i > 10 && i % 17 == 0) j.after = {jobs[i - 3].id};
    if (i % 23 == 0) j.requested_runtime = Duration::zero();
  }
  return jobs;
}

const Mix kMixes[] = {
    {"fcfs", "first_fit", "none", "requested", false, {"6ce28883bf0ef189", "195bde65af91858b"}},
    {"fcfs", "first_fit", "easy", "requested", false, {"e9b4daf4703fd172", "70a06efabbbbc3e4"}},
    {"fcfs",
     "first_fit",
     "conservative",
     "requested",
     false,
     {"38e495fddce030b5", "91532f2350dd5a6d"}},
    {"multifactor",
     "first_fit",
     "none",
     "requested",
     false,
     {"94360396e99631c1", "68c7a3948399653f"}},
    {"multifactor",
     "first_fit",
     "easy",
     "requested",
     false,
     {"cc4f9f6b9409952b", "ddb0c8dad8cdbe2d"}},
    {"multifactor",
     "first_fit",
     "conservative",
     "requested",
     false,
     {"4aa81d3a0d521c77", "984156a3f1ea31e5"}},
    {"drf", "first_fit", "none", "requested", false, {"658f7299ad770909", "53d55c39a2182467"}},
    {"drf", "first_fit", "easy", "requested", false, {"40f33968e4f4832e", "9bdde3d90250b16b"}},
    {"drf",
     "first_fit",
     "conservative",
     "requested",
     false,
     {"9871f2f002ee853e", "8a0e95b598cab3e1"}},
    {"edf", "first_fit", "none", "requested", false, {"a0d21b5dbb8bc7ea", "fc0f76f3912c516c"}},
    {"edf", "first_fit", "easy", "requested", false, {"815cd857226eab5c", "a671035100dfbd83"}},
    {"edf",
     "first_fit",
     "conservative",
     "requested",
     false,
     {"038af66730ab34f5", "1f0441f6ca96e1a0"}},
    {"least_slack",
     "first_fit",
     "none",
     "requested",
     false,
     {"e96867c774e6423a", "db68a791a2cc5c77"}},
    {"least_slack",
     "first_fit",
     "easy",
     "requested",
     false,
     {"7eb15ff063bb5b81", "c3f4f72a976cd8b5"}},
    {"least_slack",
     "first_fit",
     "conservative",
     "requested",
     false,
     {"038af66730ab34f5", "a28be62bea274889"}},
    {"fcfs", "best_fit", "easy", "requested", false, {"7012a96944b82635", "acab95074c94748c"}},
    {"fcfs", "worst_fit", "easy", "requested", false, {"603a3a5ae2f1b843", "54821b168196f22c"}},
    {"fcfs", "affinity", "easy", "requested", false, {"32cb885b71366b92", "8282a09c57227147"}},
    {"fcfs", "energy", "easy", "requested", false, {"23a679c8ff6b0e09", "c4d51cb1c0b0d39f"}},
    {"fcfs", "random", "easy", "requested", false, {"283122d7249e6c24", "aaa0682a6a5b45ec"}},
    {"fcfs", "first_fit", "easy", "ewma:key=user", false, {"a43083757e476e27", "6995264d08ebf09b"}},
    {"fcfs",
     "first_fit",
     "easy",
     "quantile:key=application,q=0.8",
     false,
     {"81bbb818a72f08ce", "ff420cadbe6be226"}},
    {"fcfs",
     "best_fit",
     "conservative",
     "ewma:key=user",
     false,
     {"b0ca7c4f0efcf93d", "ab0149e5ea7b773e"}},
    {"fcfs",
     "first_fit",
     "conservative",
     "quantile:key=application,q=0.8",
     false,
     {"c71e662bd0382039", "2130ec020478d1fa"}},
    {"fcfs", "first_fit", "easy", "requested", true, {"8302c49ee155f21a", "67da21972656769b"}},
    // Changed on purpose: conservative backfilling keeps its reservations when a node comes up
    // and drops only those on a node that goes down or drains, where it used to plan everything
    // again (which could delay a reservation). Before: {"27d10f89acc57ad4", "2676e1a0cee0f4b6"}.
    {"multifactor",
     "best_fit",
     "conservative",
     "requested",
     true,
     {"07075dc693bce8a5", "b4fa9453f2018f31"}},
    {"drf", "first_fit", "none", "requested", true, {"4a85e59b1ed24d17", "859629195f92355b"}},
    {"edf", "random", "easy", "ewma:key=user", true, {"c361f5584180c69c", "5b1a29c4c53d0d63"}},
};

TEST(ScheduleDigest, PolicyMixesKeepTheirSchedules) {
  const auto nodes = digest_nodes();
  const std::vector<Partition> partitions{{"a", {{"cpu", 120}}, 1.0, 10}, {"b", {}, 1.0, 0}};
  const bool print = std::getenv("TASKLOOM_PRINT_DIGESTS") != nullptr;
  for (int w = 0; w < 2; ++w) {
    const auto jobs = digest_jobs(static_cast<std::uint64_t>(11 + w));
    for (const Mix& m : kMixes) {
      SimulationOptions o = options(m.queue, m.placement, m.backfill);
      o.forecaster = parse_policy_choice(m.forecaster);
      o.seed = 5;
      o.check_invariants = false;
      if (m.disturbed) {
        o.preemption = {.enabled = true, .min_runtime = sec(60)};
        o.node_events = {{sec(1500), "n2", NodeState::kDown},
                         {sec(1800), "n7", NodeState::kDraining},
                         {sec(4000), "n2", NodeState::kUp},
                         {sec(5000), "n7", NodeState::kUp}};
      }
      const std::string got = digest(simulate(nodes, partitions, jobs, o));
      if (print) {
        std::printf("%d %s %s %s %s %d %s\n", w, m.queue, m.placement, m.backfill, m.forecaster,
                    m.disturbed ? 1 : 0, got.c_str());
        std::fflush(stdout);
        continue;
      }
      EXPECT_EQ(got, m.expected[w])
          << "workload " << w << ": " << m.queue << " " << m.placement << " " << m.backfill << " "
          << m.forecaster << (m.disturbed ? " with preemption and node events" : "");
    }
  }
}

}  // namespace
}  // namespace taskloom::cluster
