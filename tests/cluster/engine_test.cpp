// White-box tests of the scheduler's engine (src/cluster/detail): the free-maximum tree that
// first fit descends, the "known unfit" memo of shapes, the queue's compaction and the flat
// job table.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "taskloom/cluster/synthetic.hpp"

#include "cluster/detail/scheduler.hpp"
#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;
using detail::JobIdx;
using detail::NodeIdx;
using detail::Phase;
using detail::Scheduler;
using detail::SchedulerConfig;

SchedulerConfig config(std::string placement = "first_fit", std::string backfill = "none") {
  SchedulerConfig c;
  c.queue = {"fcfs", {}};
  c.placement = {std::move(placement), {}};
  c.backfill = {std::move(backfill), {}};
  c.forecaster = {"requested", {}};
  c.check_invariants = true;
  return c;
}

TEST(EngineFreeTree, NextWithFreeMatchesALinearScan) {
  // 37 nodes (not a power of two) with random free amounts after random allocations, some
  // down: next_with_free(d, need, from) is the first up node >= from with free >= need.
  std::vector<Node> nodes;
  for (int i = 0; i < 37; ++i) nodes.push_back(node("n" + std::to_string(i), 16));
  std::vector<Job> jobs;
  for (int i = 0; i < 37; ++i) jobs.push_back(job("j" + std::to_string(i), 0, 1 + i % 16, 10));
  Scheduler s(nodes, {}, jobs, config());
  auto& c = s.cluster();
  std::mt19937 rng(7);
  for (NodeIdx n = 0; n < c.size(); ++n) {
    c.allocate(n, s.job(n).request);
    if (rng() % 5 == 0) c.set_state(n, NodeState::kDown);
  }
  for (double need : {0.0, 0.5, 1.0, 3.0, 7.5, 8.0, 15.0, 16.0, 17.0}) {
    for (NodeIdx from = 0; from <= c.size(); ++from) {
      NodeIdx expected = static_cast<NodeIdx>(c.size());
      for (NodeIdx n = from; n < c.size(); ++n) {
        if (c.state(n) == NodeState::kUp && detail::leq(need, c.free(n)[0])) {
          expected = n;
          break;
        }
      }
      EXPECT_EQ(c.next_with_free(0, need, from), expected) << "need " << need << " from " << from;
    }
  }
  // The tree's root is the largest free amount of an up node.
  double largest = -detail::kInf;
  for (NodeIdx n = 0; n < c.size(); ++n) {
    if (c.state(n) == NodeState::kUp) largest = std::max(largest, c.free(n)[0]);
  }
  EXPECT_EQ(c.max_free(0), largest);
}

TEST(EngineFreeTree, FollowsReleasesAndNodesComingBack) {
  const std::vector<Job> jobs{job("x", 0, 8, 10)};
  Scheduler s({node("a", 4), node("b", 8)}, {}, jobs, config());
  auto& c = s.cluster();
  EXPECT_EQ(c.max_free(0), 8);
  c.allocate(1, s.job(0).request);
  EXPECT_EQ(c.max_free(0), 4);
  EXPECT_EQ(c.next_with_free(0, 5, 0), 2u);  // none
  c.set_state(0, NodeState::kDown);
  EXPECT_EQ(c.max_free(0), 0);
  c.release(1, s.job(0).request);
  EXPECT_EQ(c.max_free(0), 8);
  EXPECT_EQ(c.next_with_free(0, 5, 0), 1u);
  c.set_state(0, NodeState::kUp);
  EXPECT_EQ(c.next_with_free(0, 4, 0), 0u);
}

TEST(EngineShapeMemo, AFailedShapeStaysUnfitUntilRoomAppears) {
  // One 4-cpu node. a (4 cpu) runs; b and c (4 cpu, same shape) cannot be placed, and the
  // memo answers for c without asking the placement policy. When a ends, room appears and b
  // is placed again.
  std::vector<Job> jobs{job("a", 0, 4, 10), job("b", 0, 4, 10), job("c", 0, 4, 20)};
  Scheduler s({node("n", 4), node("m", 2)}, {}, jobs, config());
  std::vector<NodeIdx> out;
  ASSERT_EQ(s.shape(1), s.shape(2));
  ASSERT_TRUE(s.place(s.job(0), out));
  s.submit(0, Duration::zero());
  s.submit(1, Duration::zero());
  s.submit(2, Duration::zero());
  s.schedule(Duration::zero());  // a starts, b and c wait
  EXPECT_EQ(s.job(0).phase, Phase::kRunning);
  EXPECT_TRUE(s.known_unfit(s.shape(1)));
  const auto decisions = s.placement_decisions();
  EXPECT_FALSE(s.place(s.job(2), out));
  EXPECT_EQ(s.placement_decisions(), decisions);  // answered by the memo
  // An allocation elsewhere takes room away: still unfit.
  s.cluster().allocate(1, std::vector<double>{1.0});
  EXPECT_TRUE(s.known_unfit(s.shape(1)));
  s.cluster().release(1, std::vector<double>{1.0});  // room appears on m: ask again
  EXPECT_FALSE(s.known_unfit(s.shape(1)));
  EXPECT_FALSE(s.place(s.job(1), out));  // m has only 2 cpus
  EXPECT_EQ(s.placement_decisions(), decisions + 1);
  s.finish(0, sec(10));
  EXPECT_FALSE(s.known_unfit(s.shape(1)));
  EXPECT_TRUE(s.place(s.job(1), out));
  EXPECT_EQ(out, std::vector<NodeIdx>{0});
}

TEST(EngineShapeMemo, ALimitedFailureIsNotRemembered) {
  // A failure under a limit (EASY's spare) says nothing about the unlimited answer.
  const std::vector<Job> jobs{job("a", 0, 2, 10)};
  Scheduler s({node("n", 4)}, {}, jobs, config());
  std::vector<double> limit{1.0};
  std::vector<NodeIdx> out;
  s.cluster().set_limit(&limit);
  EXPECT_FALSE(s.place(s.job(0), out));
  s.cluster().set_limit(nullptr);
  EXPECT_FALSE(s.known_unfit(s.shape(0)));
  EXPECT_TRUE(s.place(s.job(0), out));
}

TEST(EngineQueue, StartsFromAnywhereKeepTheOrderOfTheRest) {
  // Two 4-cpu nodes, EASY, all submitted at 0 in this order:
  //   a 4 cpu 100 s, h 4 cpu x 2 nodes 10 s (the head), s1 4 cpu 50 s, s2 2 cpu 200 s,
  //   s3 2 cpu 50 s, s4 1 cpu 300 s.
  // a starts on n0; h needs both nodes: shadow 100, no spare. s1 ends by 100 on n1: starts.
  // The others fit nowhere now. The queue left is h, s2, s3, s4, in order.
  std::vector<Job> jobs{job("a", 0, 4, 100),  job("h", 0, 4, 10, -1, 2), job("s1", 0, 4, 50),
                        job("s2", 0, 2, 200), job("s3", 0, 2, 50),       job("s4", 0, 1, 300)};
  Scheduler s({node("n0", 4), node("n1", 4)}, {}, jobs, config("first_fit", "easy"));
  for (JobIdx j = 0; j < jobs.size(); ++j) s.submit(j, Duration::zero());
  s.schedule(Duration::zero());
  EXPECT_EQ(s.job(0).phase, Phase::kRunning);
  EXPECT_EQ(s.job(2).phase, Phase::kRunning);
  auto q = s.queue();
  EXPECT_EQ(std::vector<JobIdx>(q.begin(), q.end()), (std::vector<JobIdx>{1, 3, 4, 5}));
  // s1 ends at 50: s3 (ends at 100 <= shadow) starts on n1; s2 and s4 (past the shadow, no
  // spare) stay, in order.
  s.finish(2, sec(50));
  s.schedule(sec(50));
  q = s.queue();
  EXPECT_EQ(std::vector<JobIdx>(q.begin(), q.end()), (std::vector<JobIdx>{1, 3, 5}));
}

TEST(EngineQueue, ALongQueueDrainsInOrder) {
  // 5,000 one-cpu jobs on one 8-cpu node, no backfilling: every pass starts the first 8 and
  // the queue keeps the rest in submit order (the head of the queue moves, nothing is lost).
  std::vector<Job> jobs;
  for (int i = 0; i < 5000; ++i) jobs.push_back(job("j" + std::to_string(i), 0, 1, 1 + i % 3));
  auto r = simulate({node("n", 8)}, {}, jobs, options("fcfs", "first_fit", "none"));
  Duration last{};
  for (const JobRecord& rec : r.jobs) {
    ASSERT_TRUE(rec.start.has_value()) << rec.id;
    EXPECT_GE(*rec.start, last) << rec.id;  // FCFS without backfilling: starts in order
    last = *rec.start;
  }
  EXPECT_EQ(r.metrics.completed, 5000u);
}

TEST(EngineJobTable, RequestsAndNodesAreViewsIntoFlatArenas) {
  // Each job's request is `dims` doubles of one arena and its nodes a slot of node_count
  // entries in another: consecutive jobs are consecutive in memory.
  std::vector<Job> jobs{job("a", 0, 1, 10, -1, 2), job("b", 0, 2, 10), job("c", 0, 3, 10)};
  jobs[1].request.set("memory", 5);
  std::vector<Node> nodes{node("n0", 4), node("n1", 4)};
  for (Node& n : nodes) n.capacity.set("memory", 10);
  Scheduler s(nodes, {}, jobs, config());
  ASSERT_EQ(s.cluster().dims(), 2u);  // cpu, memory
  EXPECT_EQ(s.job(1).request.data(), s.job(0).request.data() + 2);
  EXPECT_EQ(s.job(2).request.data(), s.job(1).request.data() + 2);
  EXPECT_EQ(s.job(1).request[1], 5);
  for (JobIdx j = 0; j < 3; ++j) s.submit(j, Duration::zero());
  s.schedule(Duration::zero());
  ASSERT_EQ(s.job(0).nodes.size(), 2u);
  ASSERT_EQ(s.job(1).nodes.size(), 1u);
  EXPECT_EQ(s.job(1).nodes.data(), s.job(0).nodes.data() + 2);
}

}  // namespace
}  // namespace taskloom::cluster
