// The SWF and extended-SWF readers: excerpts in tests/data/cluster and the real traces in
// ../shared/data/swf, with fields of specific lines checked by hand against the files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "taskloom/cluster/workload.hpp"

#include "cluster/readers_test_paths.hpp"

namespace taskloom::cluster {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::shared_data;
using testing::test_data;

const Job& job(const Workload& w, const std::string& id) {
  auto it = std::find_if(w.jobs.begin(), w.jobs.end(), [&](const Job& j) { return j.id == id; });
  if (it == w.jobs.end()) throw std::runtime_error("no job " + id);
  return *it;
}

bool has_job(const Workload& w, const std::string& id) {
  return std::any_of(w.jobs.begin(), w.jobs.end(), [&](const Job& j) { return j.id == id; });
}

TEST(ReadersSwf, HeaderFieldsAreRead) {
  Workload w = read_swf(test_data("hpc2n-excerpt.swf"));
  EXPECT_EQ(w.header.max_nodes, 240);
  EXPECT_EQ(w.header.max_procs, 240);
  EXPECT_EQ(w.header.unix_start_time, 1027839845);
  EXPECT_EQ(w.header.fields.at("Computer"), "Linux cluster (Seth)");
  EXPECT_EQ(w.format, "swf");
}

TEST(ReadersSwf, UnknownRuntimeJobsAreExcludedAndCountedWithTheirLine) {
  Workload w = read_swf(test_data("hpc2n-excerpt.swf"));
  EXPECT_EQ(w.records, 17u);
  EXPECT_EQ(w.unknown_runtime, 4u);  // jobs 16, 18, 19, 21
  EXPECT_EQ(w.jobs.size(), 13u);
  EXPECT_FALSE(has_job(w, "16"));
  ASSERT_EQ(w.warnings.size(), 4u);
  EXPECT_EQ(w.warnings[0].line, 34);  // job 16 is line 34 of the excerpt
  EXPECT_THAT(w.warnings[0].message, HasSubstr("job 16"));
}

TEST(ReadersSwf, UnknownRuntimeMayUseTheRequestedTime) {
  Workload w =
      read_swf(test_data("hpc2n-excerpt.swf"), {.unknown_runtime = UnknownRuntime::kUseRequested});
  EXPECT_EQ(w.jobs.size(), 17u);
  EXPECT_EQ(job(w, "16").actual_runtime, seconds(345600));
}

TEST(ReadersSwf, ProcessorsAreSplitOverNodesOfTheGivenSize) {
  // "10 310085 29510 2326 40 2326 -1 40 43200 ..." : 40 processors on 2-cpu nodes.
  Workload w = read_swf(test_data("hpc2n-excerpt.swf"), {.cpus_per_node = 2});
  const Job& j10 = job(w, "10");
  EXPECT_EQ(j10.node_count, 20u);
  EXPECT_DOUBLE_EQ(j10.request.get("cpu"), 2);
  EXPECT_EQ(j10.submit_time, seconds(310085));
  EXPECT_EQ(j10.actual_runtime, seconds(2326));
  EXPECT_EQ(j10.requested_runtime, seconds(43200));
  EXPECT_EQ(j10.user, "u4");
  EXPECT_EQ(j10.group, "g1");
  EXPECT_FALSE(j10.request.contains("memory"));  // -1: unknown
  // Without a node size a job is one node with all its processors.
  Workload flat = read_swf(test_data("hpc2n-excerpt.swf"));
  EXPECT_EQ(job(flat, "10").node_count, 1u);
  EXPECT_DOUBLE_EQ(job(flat, "10").request.get("cpu"), 40);
}

TEST(ReadersSwf, OddProcessorCountsKeepTheirTotal) {
  std::istringstream in("1 0 -1 10 3 -1 -1 3 20 -1 1 1 1 -1 -1 -1 -1 -1\n");
  Workload w = read_swf(in, "odd.swf", {.cpus_per_node = 2});
  ASSERT_EQ(w.jobs.size(), 1u);
  EXPECT_EQ(w.jobs[0].node_count, 2u);
  EXPECT_DOUBLE_EQ(w.jobs[0].request.get("cpu"), 1.5);
}

TEST(ReadersSwf, UsedMemoryBecomesThePeakUsagePerNode) {
  // Field 7: 1000 KB per processor used; 4 processors on 2-cpu nodes: 2 nodes, each using
  // 1000 x 1024 x 4 / 2 bytes. Field 10 (500 KB per processor) is the request, likewise.
  std::istringstream in(
      "1 0 -1 10 4 -1 1000 4 20 500 1 1 1 -1 -1 -1 -1 -1\n"
      "2 0 -1 10 4 -1 -1 4 20 -1 1 1 1 -1 -1 -1 -1 -1\n"
      "3 0 -1 10 4 -1 -2 4 20 -1 1 1 1 -1 -1 -1 -1 -1\n");
  Workload w = read_swf(in, "used.swf", {.cpus_per_node = 2});
  EXPECT_DOUBLE_EQ(job(w, "1").used.get("memory"), 1000.0 * 1024 * 4 / 2);
  EXPECT_DOUBLE_EQ(job(w, "1").request.get("memory"), 500.0 * 1024 * 4 / 2);
  EXPECT_TRUE(job(w, "2").used.empty());  // -1: unknown
  EXPECT_FALSE(has_job(w, "3"));          // below -1: malformed
  EXPECT_EQ(w.malformed, 1u);
}

TEST(ReadersSwf, MalformedLinesAreSkippedWithFileAndLine) {
  std::ostringstream warn;
  Workload w = read_swf(test_data("malformed.swf"), {.warn = &warn});
  // Good: jobs 1 and 7. Malformed: 2 (too few fields), 3 (2x), 4 (run time -20), the second 1.
  // Job 6 was cancelled (status 5) with run time 0: never ran.
  std::vector<std::string> ids;
  for (const Job& j : w.jobs) ids.push_back(j.id);
  EXPECT_THAT(ids, ElementsAre("1", "7"));
  EXPECT_EQ(w.malformed, 4u);
  EXPECT_EQ(w.never_ran, 1u);
  ASSERT_EQ(w.warnings.size(), 5u);
  EXPECT_EQ(w.warnings[0].line, 4);
  EXPECT_EQ(w.warnings[1].line, 5);
  EXPECT_EQ(w.warnings[1].column, 5);  // the "2x" field
  EXPECT_EQ(w.warnings[2].line, 6);
  EXPECT_EQ(w.warnings[3].line, 7);
  EXPECT_THAT(w.warnings[3].message, HasSubstr("repeats"));
  const std::string printed = warn.str();
  EXPECT_THAT(printed, HasSubstr("malformed.swf:4:1: expected 18 fields"));
  EXPECT_THAT(printed, HasSubstr("malformed.swf:5:5: field 2 is not a number"));
  EXPECT_THAT(summary(w), HasSubstr("4 malformed"));
}

TEST(ReadersSwf, StopOnErrorThrowsAtTheFirstMalformedLine) {
  try {
    read_swf(test_data("malformed.swf"), {.on_error = OnError::kStop});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u);
    EXPECT_EQ(e.diagnostics()[0].line, 4);
    EXPECT_THAT(e.what(), HasSubstr("malformed.swf:4:1"));
  }
}

TEST(ReadersSwf, MaxJobsStopsEarly) {
  Workload w = read_swf(test_data("hpc2n-excerpt.swf"), {.max_jobs = 3});
  ASSERT_EQ(w.jobs.size(), 3u);
  EXPECT_EQ(w.jobs[2].id, "3");
  EXPECT_EQ(w.header.max_procs, 240);
}

TEST(ReadersSwf, MissingFileIsAnInputError) {
  EXPECT_THROW(read_swf(test_data("no-such-file.swf")), InputError);
}

TEST(ReadersSwf, RebaseMovesTheFirstSubmitToZero) {
  std::istringstream in(
      "7 1000 -1 10 1 -1 -1 1 20 -1 1 1 1 -1 -1 -1 -1 -1\n"
      "8 1500 -1 10 1 -1 -1 1 -1 -1 1 1 1 -1 -1 -1 -1 -1\n");
  Workload w = read_swf(in, "t.swf");
  EXPECT_EQ(w.time_origin, seconds(1000));
  EXPECT_EQ(w.jobs[1].submit_time, seconds(500));
  EXPECT_EQ(w.jobs[1].requested_runtime, seconds(10));  // unknown: the actual runtime
  EXPECT_EQ(w.estimated_requested, 1u);
}

TEST(ReadersSwf, ExtendedSwfQueueAndNodeSpec) {
  std::ostringstream warn;
  Workload w = read_swf(test_data("metacentrum-excerpt.swf"), {.warn = &warn});
  EXPECT_EQ(w.format, "swf-extended");
  EXPECT_EQ(w.records, 17u);
  EXPECT_EQ(w.malformed, 1u);  // job 4185: run time -1359980917
  EXPECT_THAT(warn.str(), HasSubstr("metacentrum-excerpt.swf:15:19: run time -1359980917"));
  EXPECT_EQ(w.jobs.size(), 16u);
  // Line 1: "0 1356996147 0 56011 64 1 1024 64 86400 68719476736 ... q_1d
  //          1:ppn=64:x86_64:cl_zewura#excl"
  const Job& j0 = job(w, "0");
  EXPECT_EQ(j0.submit_time, seconds(0));
  EXPECT_EQ(w.time_origin, seconds(1356996147));
  EXPECT_EQ(j0.actual_runtime, seconds(56011));
  EXPECT_EQ(j0.requested_runtime, seconds(86400));
  EXPECT_EQ(j0.node_count, 1u);
  EXPECT_DOUBLE_EQ(j0.request.get("cpu"), 64);
  EXPECT_DOUBLE_EQ(j0.request.get("memory"), 68719476736.0);
  EXPECT_EQ(j0.partition, "q_1d");
  EXPECT_THAT(j0.constraints, ElementsAre("cluster=zewura"));
  // Line 7: job 6, "8:ppn=8:x86_64:cl_zegox", 64 cpus, 8 GiB: 8 nodes of 8 cpus and 1 GiB.
  const Job& j6 = job(w, "6");
  EXPECT_EQ(j6.node_count, 8u);
  EXPECT_DOUBLE_EQ(j6.request.get("cpu"), 8);
  EXPECT_DOUBLE_EQ(j6.request.get("memory"), 1073741824.0);
  EXPECT_EQ(j6.submit_time, seconds(1357016559 - 1356996147));
  EXPECT_THAT(j6.constraints, ElementsAre("cluster=zegox"));
  // Line 2: job 1, "1:ppn=12", queue q_2w, user 101.
  EXPECT_TRUE(job(w, "1").constraints.empty());
  EXPECT_EQ(job(w, "1").partition, "q_2w");
  EXPECT_EQ(job(w, "1").user, "u101");
  // Host names become host= constraints; "1:ppn=1+3:ppn=2" is 4 nodes for 7 cpus.
  EXPECT_THAT(job(w, "2155").constraints, ElementsAre("host=zegox20"));
  EXPECT_THAT(job(w, "5627").constraints, ElementsAre("host=zewura19"));
  EXPECT_EQ(job(w, "17616").node_count, 4u);
  EXPECT_DOUBLE_EQ(job(w, "17616").request.get("cpu"), 7.0 / 4);
  // Queues become partitions, in order of appearance.
  ASSERT_GE(w.partitions.size(), 3u);
  EXPECT_EQ(w.partitions[0].name, "q_1d");
  EXPECT_EQ(w.partitions[1].name, "q_2w");
}

TEST(ReadersSwf, JobsLargerThanTheClusterAreExcludedAndNamed) {
  ClusterSpec cluster =
      read_cluster_yaml_string("nodes: [{name: n, count: 4, capacity: {cpu: 1}}]", "four.yaml");
  Workload w = read_swf(test_data("tiny.swf"), {.cpus_per_node = cpus_per_node(cluster)});
  ASSERT_EQ(w.jobs.size(), 6u);
  EXPECT_EQ(exclude_unplaceable(w, cluster.nodes), 1u);
  EXPECT_EQ(w.jobs.size(), 5u);
  EXPECT_EQ(w.too_large, 1u);
  EXPECT_THAT(w.too_large_ids, ElementsAre("6"));
  EXPECT_THAT(w.warnings.back().message, HasSubstr("job 6 asks for 8 node(s)"));
  EXPECT_THAT(summary(w), HasSubstr("1 larger than the cluster"));
}

TEST(ReadersSwf, ConstraintsNoNodeHasMakeAJobUnplaceable) {
  ClusterSpec cluster = read_machines(test_data("metacentrum.machines"));
  Workload w = read_swf(test_data("metacentrum-excerpt.swf"));
  EXPECT_EQ(exclude_unplaceable(w, cluster.nodes), 0u);
  Job odd = w.jobs[0];
  odd.id = "odd";
  odd.constraints = {"cluster=nowhere"};
  w.jobs.push_back(odd);
  EXPECT_EQ(exclude_unplaceable(w, cluster.nodes), 1u);
  EXPECT_THAT(w.too_large_ids, ElementsAre("odd"));
}

TEST(ReadersSwf, EveryRecordIsAJobOrAccountedFor) {
  // Random mutations of good lines: each record ends up a job or counted, never lost silently.
  const std::string good = "5 100 3 50 4 -1 -1 4 60 1024 1 2 3 4 -1 -1 -1 -1";
  const char* replacements[] = {"-1",  "-7",   "x", "", "1e3", "0", "99999999999999999999",
                                "1.5", "1e308"};
  std::uint64_t seed = 42;
  auto next = [&seed] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(seed >> 33);
  };
  std::string text;
  for (int line = 0; line < 500; ++line) {
    std::vector<std::string> fields;
    std::istringstream split(good);
    for (std::string f; split >> f;) fields.push_back(f);
    fields[0] = std::to_string(line);
    for (int m = 0, n = static_cast<int>(next() % 3); m < n; ++m) {
      fields[next() % fields.size()] = replacements[next() % std::size(replacements)];
    }
    for (const auto& f : fields) text += f + ' ';
    text += '\n';
  }
  std::istringstream in(text);
  Workload w = read_swf(in, "random.swf");
  EXPECT_EQ(w.records, 500u);
  EXPECT_EQ(w.jobs.size() + w.malformed + w.never_ran + w.unknown_runtime, w.records);
  EXPECT_EQ(w.warnings.size(), w.malformed + w.never_ran + w.unknown_runtime);
  EXPECT_GT(w.jobs.size(), 0u);
  EXPECT_GT(w.malformed, 0u);
  for (const Job& j : w.jobs) {
    EXPECT_GE(j.actual_runtime, Duration{0});
    EXPECT_GE(j.submit_time, Duration{0});
    EXPECT_GT(j.request.get("cpu"), 0);
  }
}

// ---- the real traces in ../shared/data/swf --------------------------------------------------

TEST(ReadersSwfShared, Hpc2nSubset) {
  TASKLOOM_REQUIRE_SHARED_DATA("swf/alea-hpc2n-subset.swf");
  const auto file = shared_data("swf/alea-hpc2n-subset.swf");
  ClusterSpec cluster = read_cluster(*machines_sibling(file));
  EXPECT_EQ(cluster.nodes.size(), 120u);
  Workload w = read_swf(file, {.cpus_per_node = cpus_per_node(cluster)});
  EXPECT_EQ(w.records, 3170u);
  EXPECT_EQ(w.unknown_runtime, 25u);
  EXPECT_EQ(w.malformed, 0u);
  EXPECT_EQ(w.jobs.size(), 3145u);
  // "4 179350 99808 143967 2 142977 -1 2 144000 -1 1 3 1 ..."
  const Job& j4 = job(w, "4");
  EXPECT_EQ(j4.submit_time, seconds(179350));
  EXPECT_EQ(j4.actual_runtime, seconds(143967));
  EXPECT_EQ(j4.requested_runtime, seconds(144000));
  EXPECT_EQ(j4.node_count, 1u);
  EXPECT_DOUBLE_EQ(j4.request.get("cpu"), 2);
  // Line 2043: "5414 3801279 129908 26614 36 26614 25600 36 29400 -1 ...": 25600 KB used per
  // processor, 36 processors on 18 nodes: 25600 x 1024 x 36 / 18 bytes per node, no request.
  const Job& j5414 = job(w, "5414");
  EXPECT_EQ(j5414.node_count, 18u);
  EXPECT_DOUBLE_EQ(j5414.used.get("memory"), 25600.0 * 1024 * 2);
  EXPECT_FALSE(j5414.request.contains("memory"));
  EXPECT_EQ(
      std::count_if(w.jobs.begin(), w.jobs.end(), [](const Job& j) { return !j.used.empty(); }),
      1038);  // the records with field 7 > 0 among those kept
  // Three jobs ask for more memory per node than Seth's 1 GiB nodes have, e.g.
  // "184 ... 16 ... 819200 ...": 16 processors x 800 MiB = 1.6 GiB on each 2-cpu node.
  EXPECT_EQ(exclude_unplaceable(w, cluster.nodes), 3u);
  EXPECT_THAT(w.too_large_ids, ElementsAre("184", "7019", "7047"));
  EXPECT_EQ(w.jobs.size(), 3142u);
}

TEST(ReadersSwfShared, MetacentrumExtended) {
  TASKLOOM_REQUIRE_SHARED_DATA("swf/alea-metacentrum-wagap-2013.swf");
  const auto file = shared_data("swf/alea-metacentrum-wagap-2013.swf");
  ClusterSpec cluster = read_cluster(*machines_sibling(file));
  EXPECT_EQ(cluster.nodes.size(), 68u);  // 20 zewura + 48 zegox
  Workload w = read_swf(file);
  EXPECT_EQ(w.format, "swf-extended");
  EXPECT_EQ(w.records, 17900u);
  EXPECT_EQ(w.malformed, 2u);  // jobs 4185 and 4199: negative run times
  EXPECT_EQ(w.jobs.size(), 17898u);
  EXPECT_EQ(w.partitions.size(), 11u);  // q_1d, q_2h, ... backfill, ops, priority_long
  // Line 17: "16 1357047665 0 86439 1 1 1024 1 86400 161061273600 ... q_1d 1:ppn=1:brno"
  const Job& j16 = job(w, "16");
  EXPECT_EQ(j16.submit_time, seconds(1357047665 - 1356996147));
  EXPECT_EQ(j16.actual_runtime, seconds(86439));
  EXPECT_DOUBLE_EQ(j16.request.get("memory"), 161061273600.0);
  EXPECT_TRUE(j16.constraints.empty());  // brno: every node is in Brno
  EXPECT_EQ(j16.user, "u803");
  // Field 7 is 1024 on every record of this trace: no measurement, left out.
  EXPECT_TRUE(
      std::all_of(w.jobs.begin(), w.jobs.end(), [](const Job& j) { return j.used.empty(); }));
}

TEST(ReadersSwfShared, LublinWithoutRequestedTimes) {
  TASKLOOM_REQUIRE_SHARED_DATA("swf/rlscheduler-lublin_256.swf");
  const auto file = shared_data("swf/rlscheduler-lublin_256.swf");
  EXPECT_FALSE(machines_sibling(file));
  Workload w = read_swf(file);
  EXPECT_EQ(w.records, 10000u);
  EXPECT_EQ(w.jobs.size(), 10000u);
  EXPECT_EQ(w.estimated_requested, 10000u);
  ClusterSpec cluster = cluster_from_swf_header(w.header, file.string());
  EXPECT_EQ(cluster.nodes.size(), 256u);
  // "4 7287 -1 9053 128 -1 -1 -1 -1 -1 1 ..." : requested processors unknown, 128 allocated.
  Workload split = read_swf(file, {.cpus_per_node = cpus_per_node(cluster)});
  const Job& j4 = job(split, "4");
  EXPECT_EQ(j4.submit_time, seconds(7287 - 5094));
  EXPECT_EQ(j4.actual_runtime, seconds(9053));
  EXPECT_EQ(j4.requested_runtime, seconds(9053));
  EXPECT_EQ(j4.node_count, 128u);
  EXPECT_DOUBLE_EQ(j4.request.get("cpu"), 1);
  EXPECT_EQ(exclude_unplaceable(split, cluster.nodes), 0u);
}

}  // namespace
}  // namespace taskloom::cluster
