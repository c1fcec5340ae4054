// Fair share with partition weights, by hand: weighted DRF and multifactor's fair-share factor
// give two partitions weighted 3:1 three quarters and one quarter of a saturated cluster, and
// the partition-share metric measures the deviation from the weighted targets.
#include <gtest/gtest.h>

#include "taskloom/core/error.hpp"

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

// `count` one-cpu jobs of 10 s per partition, all submitted at 0: A's first (user "a"), then
// B's (user "b"). Far more than the cluster runs before it goes down.
std::vector<Job> two_partitions(int count) {
  std::vector<Job> jobs;
  for (const char* p : {"A", "B"}) {
    for (int i = 0; i < count; ++i) {
      Job j = job(std::string(1, static_cast<char>(p[0] + 32)) + std::to_string(i), 0, 1, 10);
      j.partition = p;
      j.user = std::string(1, static_cast<char>(p[0] + 32));
      jobs.push_back(j);
    }
  }
  return jobs;
}

std::vector<Partition> weighted(double a, double b) {
  return {{.name = "A", .fair_share_weight = a}, {.name = "B", .fair_share_weight = b}};
}

const TenantShare& share(const std::vector<TenantShare>& shares, const std::string& tenant) {
  for (const TenantShare& t : shares) {
    if (t.tenant == tenant) return t;
  }
  throw std::out_of_range("no share for " + tenant);
}

int started_before(const SimulationResult& r, char user, double t) {
  int n = 0;
  for (const JobRecord& rec : r.jobs) {
    if (rec.user[0] == user && rec.start && to_sec(*rec.start) < t) ++n;
  }
  return n;
}

TEST(FairShareWeights, WeightedDrfGivesPartitionsThreeToOneOfASaturatedCluster) {
  // One 4-cpu node until it goes down at 30 s; DRF by partition, current allocations only.
  // Each 10 s round starts from nothing running (all jobs end together) and fills the node by
  // the smallest dominant share / weight, ties to input order (A's jobs first):
  //   A 0/3 = B 0/1 -> a; A .25/3 < B 0? no, B 0 -> b; A .083 < B .25 -> a; A .167 -> a;
  //   full: A 3 jobs, B 1 job. Three rounds: A 9 jobs, B 3 -> usage 22.5 : 7.5 = 0.75 : 0.25.
  // Equal weights instead: A .083 > B 0 -> b, then a, b: 2 and 2 per round -> 0.5 : 0.5.
  SimulationOptions o = options("drf", "first_fit", "none");
  o.queue.params = {{"tenant", std::string("partition")}};
  o.node_events = {{sec(30), "n", NodeState::kDown}};
  auto r = simulate({node("n", 4)}, weighted(3, 1), two_partitions(40), o);
  EXPECT_EQ(started_before(r, 'a', 10), 3);
  EXPECT_EQ(started_before(r, 'b', 10), 1);
  EXPECT_EQ(started_before(r, 'a', 30), 9);
  EXPECT_EQ(started_before(r, 'b', 30), 3);
  ASSERT_EQ(r.metrics.partition_share.size(), 2u);
  EXPECT_DOUBLE_EQ(share(r.metrics.partition_share, "A").usage_share, 0.75);
  EXPECT_DOUBLE_EQ(share(r.metrics.partition_share, "A").target_share, 0.75);
  EXPECT_DOUBLE_EQ(share(r.metrics.partition_share, "B").usage_share, 0.25);
  EXPECT_DOUBLE_EQ(share(r.metrics.partition_share, "B").target_share, 0.25);
  EXPECT_DOUBLE_EQ(r.metrics.max_partition_share_deviation, 0);
  // The users (one per partition) share equally: each is 0.25 off its half.
  EXPECT_DOUBLE_EQ(r.metrics.max_fair_share_deviation, 0.25);

  auto equal = simulate({node("n", 4)}, weighted(1, 1), two_partitions(40), o);
  EXPECT_EQ(started_before(equal, 'a', 30), 6);
  EXPECT_EQ(started_before(equal, 'b', 30), 6);
  EXPECT_DOUBLE_EQ(share(equal.metrics.partition_share, "A").usage_share, 0.5);
  EXPECT_DOUBLE_EQ(equal.metrics.max_partition_share_deviation, 0);
}

TEST(FairShareWeights, MultifactorFairShareFactorUsesTheWeightedTarget) {
  // One 1-cpu node until 80 s; multifactor on fair share alone, by partition, no decay:
  // priority 2^(-U/S), U the partition's share of past usage, S = 3/4 for A, 1/4 for B.
  //   t=0  U 0, 0: tie -> a            t=40 A .75/.75 = B .25/.25: tie -> a
  //   t=10 A 2^(-1/.75)=.40, B 1 -> b   t=50 A 2^(-.8/.75)=.48, B 2^(-.2/.25)=.57 -> b
  //   t=20 A 2^(-.5/.75)=.63, B .25 -> a t=60 A .54, B .40 -> a
  //   t=30 A 2^(-.67/.75)=.54, B .40 -> a t=70 A 2^(-.71/.75)=.52, B 2^(-.29/.25)=.45 -> a
  // A ran 6 of the 8 slots: 60 : 20 = 0.75 : 0.25. With equal weights they alternate.
  SimulationOptions o = options("multifactor", "first_fit", "none");
  o.queue.params = {{"tenant", std::string("partition")},
                    {"weight_age", 0.0},
                    {"weight_partition", 0.0},
                    {"weight_qos", 0.0},
                    {"half_life", 0.0}};
  o.node_events = {{sec(80), "n", NodeState::kDown}};
  auto r = simulate({node("n", 1)}, weighted(3, 1), two_partitions(20), o);
  std::vector<double> b_starts;
  for (const JobRecord& rec : r.jobs) {
    if (rec.user == "b" && rec.start) b_starts.push_back(to_sec(*rec.start));
  }
  EXPECT_EQ(b_starts, (std::vector<double>{10, 50}));
  EXPECT_EQ(started_before(r, 'a', 80), 6);
  EXPECT_DOUBLE_EQ(share(r.metrics.partition_share, "A").usage_share, 0.75);
  EXPECT_DOUBLE_EQ(r.metrics.max_partition_share_deviation, 0);

  auto equal = simulate({node("n", 1)}, weighted(1, 1), two_partitions(20), o);
  b_starts.clear();
  for (const JobRecord& rec : equal.jobs) {
    if (rec.user == "b" && rec.start) b_starts.push_back(to_sec(*rec.start));
  }
  EXPECT_EQ(b_starts, (std::vector<double>{10, 30, 50, 70}));
}

TEST(FairShareWeights, UsersShareEquallyWhateverTheirPartitionsWeight) {
  // By user (the default), weights do not apply: the same workload as the DRF case gives the
  // users 2 and 2 cpus per round.
  SimulationOptions o = options("drf", "first_fit", "none");
  o.node_events = {{sec(30), "n", NodeState::kDown}};
  auto r = simulate({node("n", 4)}, weighted(3, 1), two_partitions(40), o);
  EXPECT_EQ(started_before(r, 'a', 30), 6);
  EXPECT_EQ(started_before(r, 'b', 30), 6);
  EXPECT_DOUBLE_EQ(r.metrics.max_fair_share_deviation, 0);
  // Against its 3:1 target, partition A is 0.25 short.
  EXPECT_DOUBLE_EQ(r.metrics.max_partition_share_deviation, 0.25);
}

TEST(FairShareWeights, PartitionShareMetricByHand) {
  // One 1-cpu node: A (weight 3) runs 30 s, B (weight 1) 30 s, a job without a partition
  // ("-", weight 1) 40 s. Usage 0.3, 0.3, 0.4 against 3/5, 1/5, 1/5: deviations 0.3, 0.1, 0.2.
  Job a = job("a", 0, 1, 30), b = job("b", 0, 1, 30), none = job("c", 0, 1, 40);
  a.partition = "A";
  b.partition = "B";
  auto r = simulate({node("n", 1)}, weighted(3, 1), {a, b, none});
  ASSERT_EQ(r.metrics.partition_share.size(), 3u);
  EXPECT_EQ(r.metrics.partition_share[0].tenant, "-");
  EXPECT_DOUBLE_EQ(share(r.metrics.partition_share, "-").usage_share, 0.4);
  EXPECT_DOUBLE_EQ(share(r.metrics.partition_share, "A").target_share, 0.6);
  EXPECT_DOUBLE_EQ(share(r.metrics.partition_share, "B").deviation, 0.1);
  EXPECT_DOUBLE_EQ(r.metrics.max_partition_share_deviation, 0.3);
  // Without partitions there is no partition metric.
  auto flat = simulate({node("n", 1)}, {}, {job("x", 0, 1, 5)});
  EXPECT_TRUE(flat.metrics.partition_share.empty());
}

TEST(FairShareWeights, ANonPositiveWeightIsAnInputError) {
  Job j = job("j", 0, 1, 10);
  j.partition = "A";
  EXPECT_THROW(simulate({node("n", 1)}, weighted(0, 1), {j}), InputError);
  EXPECT_THROW(simulate({node("n", 1)}, weighted(-2, 1), {j}), InputError);
}

}  // namespace
}  // namespace taskloom::cluster
