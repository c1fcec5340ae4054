// The live scheduler on a manual clock: the same decisions as the simulator.
#include <gtest/gtest.h>

#include "taskloom/cluster/scheduler.hpp"
#include "taskloom/core/error.hpp"

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

TEST(LiveScheduler, StartsWhatFitsAndBackfillsOnAManualClock) {
  // The EASY case of backfill_test: two 4-cpu nodes; a (4 cpu) and b (2 cpu) run, c (4 cpu)
  // waits for b (shadow 6 on n1), d (2 cpu, 2 s) is backfilled on n1.
  auto clock = std::make_shared<ManualClock>();
  std::vector<Job> jobs{job("a", 0, 4, 10), job("b", 0, 2, 5), job("c", 0, 4, 3),
                        job("d", 0, 2, 2)};
  ClusterScheduler s({node("n0", 4), node("n1", 4)}, {}, jobs, options("fcfs", "first_fit", "easy"),
                     clock);
  s.submit("a");
  s.submit("b");
  auto first = s.schedule();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].job, "a");
  EXPECT_EQ(first[0].nodes, std::vector<std::string>{"n0"});
  EXPECT_EQ(first[1].nodes, std::vector<std::string>{"n1"});
  clock->advance(sec(1));
  s.submit("c");
  s.submit("d");
  auto second = s.schedule();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].job, "d");
  EXPECT_DOUBLE_EQ(to_sec(second[0].estimated_runtime), 2);
  clock->advance(sec(4));
  s.finished("b");
  s.finished("d");
  auto third = s.schedule();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].job, "c");
  EXPECT_EQ(s.status("b"), JobStatus::kCompleted);
  EXPECT_EQ(s.running(), (std::vector<std::string>{"a", "c"}));
}

TEST(LiveScheduler, RejectsUnknownAndRepeatedCalls) {
  auto clock = std::make_shared<ManualClock>();
  ClusterScheduler s({node("n0", 4)}, {}, {job("a", 0, 1, 1)}, {}, clock);
  EXPECT_THROW(s.submit("zz"), InvalidArgumentError);
  s.submit("a");
  EXPECT_THROW(s.submit("a"), InvalidArgumentError);
  EXPECT_THROW(s.finished("a"), InvalidArgumentError);  // not running yet
  EXPECT_THROW(s.set_node_state("zz", NodeState::kDown), InvalidArgumentError);
}

}  // namespace
}  // namespace taskloom::cluster
