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
  auto first = s.schedule().launch;
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].job, "a");
  EXPECT_EQ(first[0].nodes, std::vector<std::string>{"n0"});
  EXPECT_EQ(first[1].nodes, std::vector<std::string>{"n1"});
  clock->advance(sec(1));
  s.submit("c");
  s.submit("d");
  auto second = s.schedule().launch;
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].job, "d");
  EXPECT_DOUBLE_EQ(to_sec(second[0].estimated_runtime), 2);
  clock->advance(sec(4));
  s.finished("b");
  s.finished("d");
  auto third = s.schedule().launch;
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

TEST(LiveScheduler, SubmitsJobsNotKnownAtConstruction) {
  // No jobs up front. a (4 cpu) arrives at 0 and starts; b (2 cpu, after a) arrives at 5 and
  // waits for a although the node has room; a ends at 10: b starts.
  auto clock = std::make_shared<ManualClock>();
  ClusterScheduler s({node("n0", 4), node("n1", 2)}, {}, options("fcfs", "first_fit", "easy"),
                     clock);
  s.submit(job("a", 0, 4, 10));
  auto first = s.schedule().launch;
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].job, "a");
  EXPECT_EQ(first[0].nodes, std::vector<std::string>{"n0"});
  clock->advance(sec(5));
  Job b = job("b", 5, 2, 3);
  b.after = {"a"};
  s.submit(b);
  EXPECT_TRUE(s.schedule().launch.empty());
  EXPECT_EQ(s.status("b"), JobStatus::kNeverStarted);
  clock->advance(sec(5));
  s.finished("a");
  auto third = s.schedule().launch;
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].job, "b");
  EXPECT_EQ(third[0].nodes, std::vector<std::string>{"n0"});
  EXPECT_EQ(s.running(), std::vector<std::string>{"b"});
}

TEST(LiveScheduler, MixesJobsGivenUpFrontAndJobsSubmittedLater) {
  // x is known at construction; y arrives later and may depend on it.
  auto clock = std::make_shared<ManualClock>();
  ClusterScheduler s({node("n0", 4)}, {}, {job("x", 0, 4, 10)},
                     options("fcfs", "first_fit", "none"), clock);
  s.submit("x");
  Job y = job("y", 0, 4, 10);
  y.after = {"x"};
  s.submit(y);
  auto first = s.schedule().launch;
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].job, "x");
  EXPECT_THROW(s.submit("y"), InvalidArgumentError);  // already submitted
  clock->advance(sec(10));
  s.finished("x");
  auto second = s.schedule().launch;
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].job, "y");
}

TEST(LiveScheduler, RefusesBadJobsWithTypedErrorsNamingThem) {
  auto clock = std::make_shared<ManualClock>();
  std::vector<Node> nodes{node("n0", 4), node("n1", 4, {"fast"})};
  std::vector<Partition> parts{{.name = "p", .quota = {{"cpu", 2}}}};
  ClusterScheduler s(nodes, parts, {job("known", 0, 1, 10)}, options("fcfs", "first_fit", "easy"),
                     clock);
  s.submit(job("late", 0, 1, 10));
  // Duplicate ids: of a job given up front, and of one submitted before.
  try {
    s.submit(job("known", 0, 1, 10));
    FAIL() << "no DuplicateIdError";
  } catch (const DuplicateIdError& e) {
    EXPECT_EQ(e.id(), "known");
  }
  EXPECT_THROW(s.submit(job("late", 0, 1, 10)), DuplicateIdError);
  // An unknown dependency names the job, the missing id and the closest known one.
  Job orphan = job("orphan", 0, 1, 10);
  orphan.after = {"lates"};
  try {
    s.submit(orphan);
    FAIL() << "no UnknownDependencyError";
  } catch (const UnknownDependencyError& e) {
    EXPECT_EQ(e.task(), "orphan");
    EXPECT_EQ(e.missing(), "lates");
    EXPECT_EQ(e.suggestion(), "late");
  }
  // Too large, for every reason a job can be: per-node request, node count, a label no node
  // has, a resource no node has, its partition's quota.
  auto too_large = [&](Job j, const std::string& why) {
    try {
      s.submit(j);
      ADD_FAILURE() << j.id << ": no JobTooLargeError";
    } catch (const JobTooLargeError& e) {
      EXPECT_EQ(e.job(), j.id);
      EXPECT_EQ(e.code(), ErrorCode::kResourceRequest);
      EXPECT_NE(e.reason().find(why), std::string::npos) << e.reason();
      EXPECT_NE(std::string(e.what()).find("job '" + j.id + "'"), std::string::npos);
    }
  };
  too_large(job("wide", 0, 8, 10), "the cluster has 0");
  too_large(job("many", 0, 1, 10, -1, 3), "needs 3 node(s)");
  Job gpu_label = job("labelled", 0, 1, 10);
  gpu_label.constraints = {"gpu"};
  too_large(gpu_label, "and its labels");
  Job licence = job("licensed", 0, 1, 10);
  licence.request.set("licence", 1);
  too_large(licence, "no node has any 'licence'");
  Job greedy = job("greedy", 0, 3, 10);
  greedy.partition = "p";
  too_large(greedy, "partition 'p'");
  // Other bad input: an unknown partition, zero nodes.
  Job lost = job("lost", 0, 1, 10);
  lost.partition = "nowhere";
  EXPECT_THROW(s.submit(lost), InputError);
  EXPECT_THROW(s.submit(job("none", 0, 1, 10, -1, 0)), InputError);
  // A refused job left nothing behind: fixed, the same id is accepted, and a label a node has
  // (though no job named it before) is fine.
  Job fixed = job("wide", 0, 4, 10);
  fixed.constraints = {"fast"};
  s.submit(fixed);
  auto started = s.schedule().launch;
  EXPECT_EQ(started.size(), 2u);  // late, and wide (on n1); known was never submitted
  bool on_fast = false;
  for (const Launch& l : started)
    on_fast |= l.job == "wide" && l.nodes == std::vector<std::string>{"n1"};
  EXPECT_TRUE(on_fast);
}

TEST(LiveScheduler, AJobAfterOneThatCouldNotRunFailsAtOnce) {
  // "big" was given up front and is rejected when submitted (too large); a job submitted later
  // that depends on it ends as dependency_failed at once.
  auto clock = std::make_shared<ManualClock>();
  ClusterScheduler s({node("n0", 2)}, {}, {job("big", 0, 4, 10)},
                     options("fcfs", "first_fit", "none"), clock);
  s.submit("big");
  EXPECT_EQ(s.status("big"), JobStatus::kRejectedTooLarge);
  Job after = job("after", 0, 1, 10);
  after.after = {"big"};
  s.submit(after);
  EXPECT_EQ(s.status("after"), JobStatus::kDependencyFailed);
  EXPECT_TRUE(s.schedule().launch.empty());
}

TEST(LiveScheduler, ConservativeKeepsReservationsWhenAnUrgentJobArrives) {
  // One 1-cpu node, EDF, conservative, invariants checked. x runs [0, 100); A (50 s) is
  // reserved [100, 150). E arrives at 2 with deadline 120: first in the queue, but it may
  // not take A's reservation: at 100 A starts, at 150 E.
  auto clock = std::make_shared<ManualClock>();
  ClusterScheduler s({node("n", 1)}, {}, options("edf", "first_fit", "conservative"), clock);
  s.submit(job("x", 0, 1, 100));
  ASSERT_EQ(s.schedule().launch.size(), 1u);
  clock->advance(sec(1));
  s.submit(job("A", 1, 1, 50));
  EXPECT_TRUE(s.schedule().launch.empty());
  clock->advance(sec(1));
  Job e = job("E", 2, 1, 10);
  e.deadline = sec(120);
  s.submit(e);
  EXPECT_TRUE(s.schedule().launch.empty());
  clock->advance(sec(98));
  s.finished("x");
  auto at100 = s.schedule().launch;
  ASSERT_EQ(at100.size(), 1u);
  EXPECT_EQ(at100[0].job, "A");
  clock->advance(sec(50));
  s.finished("A");
  auto at150 = s.schedule().launch;
  ASSERT_EQ(at150.size(), 1u);
  EXPECT_EQ(at150[0].job, "E");
}

TEST(LiveScheduler, ConservativeNeverStartsOnNodesAJobPastItsEstimateStillHolds) {
  // One 4-cpu node. a (limit 10 s) starts at 0 and is still running at 30: the farm has not
  // reported it finished. Conservative's plan counts a gone at its projected end (now), so b's
  // window looks free; b must still wait for the node (it used to be started on top of a:
  // overbooked, and with invariants on the capacity check threw). a ends at 40: b starts.
  for (const char* forecaster : {"requested", "ewma", "quantile"}) {
    SCOPED_TRACE(forecaster);
    auto clock = std::make_shared<ManualClock>();
    SimulationOptions o = options("fcfs", "first_fit", "conservative");
    o.forecaster = {forecaster, {}};
    ClusterScheduler s({node("n0", 4)}, {}, o, clock);
    s.submit(job("a", 0, 4, 10));
    ASSERT_EQ(s.schedule().launch.size(), 1u);
    clock->advance(sec(30));
    s.submit(job("b", 30, 4, 10));
    std::vector<Launch> at30;
    ASSERT_NO_THROW(at30 = s.schedule().launch);
    EXPECT_TRUE(at30.empty());
    EXPECT_EQ(s.running(), std::vector<std::string>{"a"});
    clock->advance(sec(10));
    s.finished("a");
    auto at40 = s.schedule().launch;
    ASSERT_EQ(at40.size(), 1u);
    EXPECT_EQ(at40[0].job, "b");
    EXPECT_EQ(at40[0].nodes, std::vector<std::string>{"n0"});
  }
}

// Live, a job's runtime is what the clock says between its launch and finished(): the farm
// does not know Job::actual_runtime (0 here, as a farm would leave it).
Job live_job(std::string id, double cpus, double limit) {
  Job j = job(std::move(id), 0, cpus, 0, limit);
  j.actual_runtime = Duration::zero();
  return j;
}

TEST(LiveScheduler, TheForecasterLearnsFromLaunchToFinished) {
  // ewma by user: a runs 600 s (limit 1 h) on a node of speed 2, so 1,200 s of work at speed
  // 1; b, the same user's next job, is estimated at 1,200 s of work: 600 s on that node (it
  // used to be estimated from actual_runtime, 0 live, so at 1 microsecond).
  auto clock = std::make_shared<ManualClock>();
  SimulationOptions o = options("fcfs", "first_fit", "easy");
  o.forecaster = {"ewma", {{"key", std::string("user")}}};
  Node fast = node("n0", 4);
  fast.speed = 2;
  ClusterScheduler s({fast}, {}, o, clock);
  s.submit(live_job("a", 4, 3600));
  auto first = s.schedule().launch;
  ASSERT_EQ(first.size(), 1u);
  EXPECT_DOUBLE_EQ(to_sec(first[0].estimated_runtime), 1800);  // no history: the limit / 2
  EXPECT_EQ(s.status("a"), JobStatus::kRunning);
  clock->advance(sec(600));
  s.finished("a");
  EXPECT_EQ(s.status("a"), JobStatus::kCompleted);
  s.submit(live_job("b", 4, 3600));
  auto second = s.schedule().launch;
  ASSERT_EQ(second.size(), 1u);
  EXPECT_DOUBLE_EQ(to_sec(second[0].estimated_runtime), 600);
}

TEST(LiveScheduler, APreemptionIsReturnedToTheCallerAndTheVictimRunsAgainLater) {
  // One 4-cpu node. low (preemptible) runs from 0; high (higher priority) arrives at 10: the
  // pass tells the farm to stop low on n0 and to start high there. low is queued again (not
  // running: finished("low") is refused), and starts again when high ends.
  auto clock = std::make_shared<ManualClock>();
  SimulationOptions o = options("fcfs", "first_fit", "easy");
  o.preemption.enabled = true;
  ClusterScheduler s({node("n0", 4)}, {}, o, clock);
  Job low = live_job("low", 4, 100);
  low.preemptible = true;
  s.submit(low);
  Decisions at0 = s.schedule();
  EXPECT_TRUE(at0.preempt.empty());
  ASSERT_EQ(at0.launch.size(), 1u);
  EXPECT_EQ(s.status("low"), JobStatus::kRunning);
  clock->advance(sec(10));
  Job high = live_job("high", 4, 50);
  high.priority = Priority::kHigh;
  s.submit(high);
  Decisions at10 = s.schedule();
  ASSERT_EQ(at10.preempt.size(), 1u);
  EXPECT_EQ(at10.preempt[0].job, "low");
  EXPECT_EQ(at10.preempt[0].nodes, std::vector<std::string>{"n0"});
  ASSERT_EQ(at10.launch.size(), 1u);
  EXPECT_EQ(at10.launch[0].job, "high");
  EXPECT_EQ(s.running(), std::vector<std::string>{"high"});
  EXPECT_EQ(s.status("low"), JobStatus::kNeverStarted);  // queued again
  EXPECT_THROW(s.finished("low"), InvalidArgumentError);
  clock->advance(sec(20));
  s.finished("high");
  Decisions at30 = s.schedule();
  EXPECT_TRUE(at30.preempt.empty());
  ASSERT_EQ(at30.launch.size(), 1u);
  EXPECT_EQ(at30.launch[0].job, "low");
  clock->advance(sec(100));
  s.finished("low");
  EXPECT_EQ(s.status("low"), JobStatus::kPreemptedThenCompleted);
  EXPECT_TRUE(s.schedule().preempt.empty());
}

TEST(LiveScheduler, JobsCarryTheirDomainsMetadataBackToTheFarm) {
  // A render farm tags jobs with what the scheduler does not know; a launch names the job, and
  // job() gives back the job as submitted, metadata included (given up front or later).
  auto clock = std::make_shared<ManualClock>();
  Job up_front = live_job("frames-1", 4, 100);
  up_front.metadata = {{"frames", "1-50"}, {"scene", "forest"}};
  Node n = node("n0", 8);
  n.metadata = {{"rack", "r7"}};
  ClusterScheduler s({n}, {}, {up_front}, options("fcfs", "first_fit", "none"), clock);
  Job later = live_job("frames-2", 4, 100);
  later.metadata = {{"frames", "51-100"}};
  s.submit("frames-1");
  s.submit(later);
  auto launched = s.schedule().launch;
  ASSERT_EQ(launched.size(), 2u);
  EXPECT_EQ(s.job(launched[0].job).metadata.at("frames"), "1-50");
  EXPECT_EQ(s.job(launched[0].job).metadata.at("scene"), "forest");
  EXPECT_EQ(s.job(launched[1].job).metadata.at("frames"), "51-100");
  EXPECT_THROW(s.job("frames-3"), InvalidArgumentError);
}

}  // namespace
}  // namespace taskloom::cluster
