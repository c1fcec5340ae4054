// Property test: on ~200 seeded random workloads every backfill policy keeps the invariants
// (checked inside the scheduler at every step: capacity, submit and dependency order, EASY's
// head reservation, conservative's reservations), and an independent replay of the records
// finds no node over capacity. Also: determinism, and the synthetic generator.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "taskloom/cluster/synthetic.hpp"
#include "taskloom/core/error.hpp"

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

std::vector<Job> random_workload(std::uint64_t seed) {
  auto jobs = synthetic_jobs({.jobs = 30,
                              .seed = seed,
                              .cpus_per_node = 8,
                              .memory_per_node = 32e9,
                              .max_nodes = 3,
                              .mean_interarrival_s = 20,
                              .mean_runtime_s = 100});
  // A few dependencies on earlier jobs.
  for (std::size_t i = 5; i < jobs.size(); i += 7) jobs[i].after = {jobs[i - 3].id};
  return jobs;
}

// Replays the records: at no instant does any node hold more cpus than it has.
void expect_capacity_respected(const std::vector<Node>& nodes, const std::vector<Job>& jobs,
                               const SimulationResult& r) {
  std::map<std::string, std::vector<std::pair<Duration, double>>> deltas;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const JobRecord& rec = r.jobs[i];
    if (!rec.end || rec.preemptions + rec.failures > 0) continue;
    ASSERT_GE(*rec.start, rec.submit) << rec.id;
    double cpus = jobs[i].request.get("cpu");
    for (const std::string& n : rec.nodes) {
      deltas[n].emplace_back(*rec.start, cpus);
      deltas[n].emplace_back(*rec.end, -cpus);
    }
  }
  for (const Node& n : nodes) {
    auto& d = deltas[n.id];
    std::sort(d.begin(), d.end());  // at one instant, releases (negative) first
    double used = 0;
    for (const auto& [t, amount] : d) {
      used += amount;
      ASSERT_LE(used, n.capacity.get("cpu") + 1e-9) << n.id << " at " << to_sec(t);
    }
  }
}

TEST(PropertyInvariants, RandomWorkloadsUnderEveryBackfillPolicy) {
  auto nodes = synthetic_nodes({.nodes = 4, .cpus = 8, .memory = 32e9});
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    auto jobs = random_workload(seed);
    for (const char* backfill : {"none", "easy", "conservative"}) {
      SCOPED_TRACE(std::string(backfill) + " seed " + std::to_string(seed));
      SimulationOptions o = options("fcfs", "first_fit", backfill);
      SimulationResult r;
      ASSERT_NO_THROW(r = simulate(nodes, {}, jobs, o));
      for (const JobRecord& rec : r.jobs) {
        EXPECT_TRUE(rec.status == JobStatus::kCompleted ||
                    rec.status == JobStatus::kKilledAtLimit ||
                    rec.status == JobStatus::kDependencyFailed)
            << rec.id << " " << to_string(rec.status);
      }
      expect_capacity_respected(nodes, jobs, r);
    }
  }
}

TEST(PropertyInvariants, ManySmallNodesAndWideJobs) {
  // Like the HPC2N trace: 2-cpu nodes, jobs over several nodes, users asking 1-5x too long.
  auto nodes = synthetic_nodes({.nodes = 12, .cpus = 2, .memory = 1e9});
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    auto jobs = synthetic_jobs({.jobs = 120,
                                .seed = seed,
                                .cpus_per_node = 2,
                                .memory_per_node = 1e9,
                                .max_nodes = 8,
                                .mean_interarrival_s = 30,
                                .mean_runtime_s = 300});
    for (const char* backfill : {"easy", "conservative"}) {
      SCOPED_TRACE(std::string(backfill) + " seed " + std::to_string(seed));
      SimulationResult r;
      ASSERT_NO_THROW(r = simulate(nodes, {}, jobs, options("fcfs", "first_fit", backfill)));
      expect_capacity_respected(nodes, jobs, r);
    }
  }
}

TEST(PropertyInvariants, NodeEventsKeepTheReservationInvariants) {
  // Seeded random node failures, drains and returns: EASY's head reservation and every
  // conservative reservation (except those on a node that goes down or drains) still never
  // move later — the checks stay on after node events.
  auto nodes = synthetic_nodes({.nodes = 5, .cpus = 8, .memory = 32e9});
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    auto jobs = random_workload(seed);
    std::vector<NodeEvent> events;
    std::uint64_t x = seed * 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 6; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const auto node = static_cast<std::size_t>((x >> 33) % nodes.size());
      const double at = static_cast<double>((x >> 40) % 900);
      const NodeState states[] = {NodeState::kDown, NodeState::kDraining, NodeState::kUp};
      events.push_back({sec(at), nodes[node].id, states[(x >> 20) % 3]});
      events.push_back({sec(at + 100), nodes[node].id, NodeState::kUp});
    }
    for (const char* backfill : {"easy", "conservative"}) {
      SCOPED_TRACE(std::string(backfill) + " seed " + std::to_string(seed));
      SimulationOptions o = options("fcfs", "first_fit", backfill);
      o.node_events = events;
      SimulationResult r;
      ASSERT_NO_THROW(r = simulate(nodes, {}, jobs, o));
      expect_capacity_respected(nodes, jobs, r);
    }
  }
}

TEST(PropertyInvariants, OtherPolicyMixesKeepCapacityAndOrder) {
  auto nodes = synthetic_nodes({.nodes = 4, .cpus = 8, .memory = 32e9, .gpu_fraction = 0.25});
  const std::vector<std::array<const char*, 3>> mixes{{"multifactor", "best_fit", "easy"},
                                                      {"drf", "worst_fit", "conservative"},
                                                      {"edf", "affinity", "easy"},
                                                      {"least_slack", "energy", "none"},
                                                      {"fcfs", "random", "conservative"}};
  for (std::uint64_t seed = 1; seed <= 25; ++seed) {
    auto jobs = random_workload(seed);
    for (std::size_t i = 0; i < jobs.size(); i += 4)
      jobs[i].deadline = jobs[i].submit_time + sec(300);
    for (std::size_t i = 0; i < jobs.size(); i += 3) jobs[i].preemptible = true;
    for (const auto& [q, p, b] : mixes) {
      SCOPED_TRACE(std::string(q) + "/" + p + "/" + b + " seed " + std::to_string(seed));
      SimulationOptions o = options(q, p, b);
      o.preemption.enabled = true;
      o.forecaster = {"quantile", {}};
      ASSERT_NO_THROW(simulate(nodes, {}, jobs, o));
    }
  }
}

TEST(PropertyInvariants, EveryRegisteredPolicyCombinationWithForecasts) {
  // Every queue order x placement x backfill x forecaster the registry knows, with the
  // invariant checks on (capacity at every start and pass, submit and dependency order, the
  // reservations where estimates are bounds) and preemption on for every other seed; an
  // independent replay of the records finds no node over capacity either. Users ask 1-5x too
  // long, and forecasters that take a key learn per user, so that they have a history for most
  // jobs: their estimates then fall short of some runtimes (jobs outlive their forecasts).
  auto nodes = synthetic_nodes({.nodes = 4, .cpus = 8, .memory = 32e9, .gpu_fraction = 0.25});
  auto forecaster = [](const std::string& name) {
    PolicyChoice c{name, {{"key", std::string("user")}}};
    try {
      validate_policy_choice(PolicyKind::kForecaster, c);
    } catch (const Error&) {
      c.params.clear();  // it takes no key
    }
    return c;
  };
  std::size_t runs = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    auto jobs = synthetic_jobs({.jobs = 40,
                                .seed = seed,
                                .cpus_per_node = 8,
                                .memory_per_node = 32e9,
                                .max_nodes = 3,
                                .mean_interarrival_s = 15,
                                .mean_runtime_s = 100,
                                .users = 3});
    for (std::size_t i = 5; i < jobs.size(); i += 7) jobs[i].after = {jobs[i - 3].id};
    for (std::size_t i = 0; i < jobs.size(); i += 4)
      jobs[i].deadline = jobs[i].submit_time + sec(300);
    for (std::size_t i = 0; i < jobs.size(); i += 3) jobs[i].preemptible = true;
    for (std::size_t i = 0; i < jobs.size(); i += 5) jobs[i].priority = Priority::kHigh;
    for (const std::string& q : policy_names(PolicyKind::kQueue)) {
      for (const std::string& p : policy_names(PolicyKind::kPlacement)) {
        std::vector<std::string> backfills = policy_names(PolicyKind::kBackfill);
        backfills.push_back("easy:order=shortest");  // EASY++ with the "recent" forecaster
        for (const std::string& b : backfills) {
          for (const std::string& f : policy_names(PolicyKind::kForecaster)) {
            SCOPED_TRACE(q + "/" + p + "/" + b + "/" + f + " seed " + std::to_string(seed));
            SimulationOptions o = options(q, p, "none");
            o.backfill = parse_policy_choice(b);
            o.forecaster = forecaster(f);
            o.preemption.enabled = seed % 2 == 0;
            o.seed = seed;
            SimulationResult r;
            ASSERT_NO_THROW(r = simulate(nodes, {}, jobs, o));
            for (const JobRecord& rec : r.jobs) {
              EXPECT_NE(rec.status, JobStatus::kNeverStarted) << rec.id;
            }
            EXPECT_LE(r.metrics.utilisation, 1.0 + 1e-9);
            expect_capacity_respected(nodes, jobs, r);
            ++runs;
          }
        }
      }
    }
  }
  EXPECT_GE(runs, 6u * 5 * 6 * 4 * 5);
}

TEST(Determinism, SameInputsGiveTheSameSchedule) {
  auto nodes = synthetic_nodes({.nodes = 6, .cpus = 8, .memory = 32e9});
  auto jobs = random_workload(42);
  SimulationOptions o = options("multifactor", "best_fit", "easy");
  o.seed = 9;
  auto a = simulate(nodes, {}, jobs, o);
  auto b = simulate(nodes, {}, jobs, o);
  ASSERT_EQ(a.jobs.size(), b.jobs.size());
  for (std::size_t i = 0; i < a.jobs.size(); ++i) {
    EXPECT_EQ(a.jobs[i].start, b.jobs[i].start);
    EXPECT_EQ(a.jobs[i].end, b.jobs[i].end);
    EXPECT_EQ(a.jobs[i].nodes, b.jobs[i].nodes);
    EXPECT_EQ(a.jobs[i].status, b.jobs[i].status);
  }
  EXPECT_EQ(a.metrics.mean_wait_s, b.metrics.mean_wait_s);
  EXPECT_EQ(a.metrics.events, b.metrics.events);
}

TEST(Determinism, TheSeedDrivesRandomPlacement) {
  // Same seed: the same nodes for every job; another seed: some job elsewhere.
  auto nodes = synthetic_nodes({.nodes = 16, .cpus = 8, .memory = 32e9});
  auto jobs = random_workload(5);
  auto run = [&](std::uint64_t seed) {
    SimulationOptions o = options("fcfs", "random", "easy");
    o.seed = seed;
    return simulate(nodes, {}, jobs, o);
  };
  auto a = run(1), b = run(1), c = run(2);
  bool differs = false;
  for (std::size_t i = 0; i < a.jobs.size(); ++i) {
    EXPECT_EQ(a.jobs[i].nodes, b.jobs[i].nodes);
    EXPECT_EQ(a.jobs[i].start, b.jobs[i].start);
    differs |= a.jobs[i].nodes != c.jobs[i].nodes;
  }
  EXPECT_TRUE(differs);
}

TEST(Synthetic, SameSeedSameWorkloadOtherSeedOtherWorkload) {
  auto a = synthetic_jobs({.jobs = 50, .seed = 3});
  auto b = synthetic_jobs({.jobs = 50, .seed = 3});
  auto c = synthetic_jobs({.jobs = 50, .seed = 4});
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].request, b[i].request);
    EXPECT_EQ(a[i].submit_time, b[i].submit_time);
  }
  bool differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) differs |= a[i].submit_time != c[i].submit_time;
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace taskloom::cluster
