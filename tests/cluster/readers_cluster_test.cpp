// Cluster descriptions: `.machines` files and the YAML cluster format.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "taskloom/cluster/workload.hpp"

#include "cluster/readers_test_paths.hpp"

namespace taskloom::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::shared_data;
using testing::test_data;

std::vector<Diagnostic> problems_of(const std::function<void()>& read) {
  try {
    read();
  } catch (const InputError& e) {
    return e.diagnostics();
  }
  ADD_FAILURE() << "expected InputError";
  return {};
}

TEST(ReadersMachines, TwoClustersBecomeLabelledNodes) {
  ClusterSpec c = read_machines(test_data("metacentrum.machines"));
  ASSERT_EQ(c.nodes.size(), 68u);
  const Node& first = c.nodes.front();
  EXPECT_EQ(first.id, "zewura1");
  EXPECT_DOUBLE_EQ(first.capacity.get("cpu"), 80);
  EXPECT_DOUBLE_EQ(first.capacity.get("memory"), 529426432.0 * 1024);  // KiB -> bytes
  EXPECT_FALSE(first.capacity.contains("mem"));
  EXPECT_THAT(first.labels, ElementsAre("cluster=zewura", "host=zewura1", "nodecpus=80"));
  EXPECT_DOUBLE_EQ(first.speed, 1);
  EXPECT_EQ(c.nodes[20].id, "zegox1");
  EXPECT_EQ(c.nodes.back().id, "zegox48");
  EXPECT_DOUBLE_EQ(c.nodes.back().capacity.get("cpu"), 12);
  EXPECT_DOUBLE_EQ(cpus_per_node(c), 80);
}

TEST(ReadersMachines, InconsistentLinesAreReportedTogether) {
  auto problems = problems_of([] { read_machines(test_data("bad.machines")); });
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].line, 2);  // id 0 repeats
  EXPECT_EQ(problems[0].column, 1);
  EXPECT_THAT(problems[0].message, HasSubstr("repeats"));
  EXPECT_EQ(problems[1].line, 2);  // -3 nodes
  EXPECT_THAT(problems[1].message, HasSubstr("node count"));
  EXPECT_EQ(problems[2].line, 3);  // 4 fields
  EXPECT_THAT(problems[2].message, HasSubstr("expected 6 fields"));
}

TEST(ReadersMachines, Hpc2nMachines) {
  ClusterSpec c = read_cluster(test_data("hpc2n.machines"));
  ASSERT_EQ(c.nodes.size(), 120u);
  EXPECT_EQ(c.nodes[0].id, "seth1");
  EXPECT_DOUBLE_EQ(c.nodes[0].capacity.get("cpu"), 2);
  EXPECT_DOUBLE_EQ(c.nodes[0].capacity.get("memory"), 1048576.0 * 1024);
}

TEST(ReadersClusterYaml, NodeGroupsAndPartitions) {
  ClusterSpec c = read_cluster(test_data("small-cluster.yaml"));
  ASSERT_EQ(c.nodes.size(), 7u);
  EXPECT_EQ(c.nodes[0].id, "cpu1");
  EXPECT_EQ(c.nodes[3].id, "cpu4");
  EXPECT_DOUBLE_EQ(c.nodes[0].capacity.get("memory"), 128.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(c.nodes[0].power.busy_watts, 300);
  EXPECT_THAT(c.nodes[0].labels, ElementsAre("rack1"));
  const Node& gpu = c.nodes[4];
  EXPECT_EQ(gpu.id, "gpu1");
  EXPECT_DOUBLE_EQ(gpu.capacity.get("gpu"), 4);
  EXPECT_DOUBLE_EQ(gpu.speed, 1.5);
  EXPECT_THAT(gpu.labels, ElementsAre("gpu", "cluster=render"));
  EXPECT_EQ(c.nodes[6].id, "spare");  // count 1: the bare name
  EXPECT_EQ(c.nodes[6].state, NodeState::kDown);
  ASSERT_EQ(c.partitions.size(), 2u);
  EXPECT_EQ(c.partitions[0].name, "batch");
  EXPECT_DOUBLE_EQ(c.partitions[0].quota.get("cpu"), 100);
  EXPECT_DOUBLE_EQ(c.partitions[0].fair_share_weight, 2);
  EXPECT_EQ(c.partitions[0].priority, 10);
  EXPECT_TRUE(c.partitions[1].quota.empty());
}

TEST(ReadersClusterYaml, EveryProblemHasLineAndColumn) {
  auto problems = problems_of([] { read_cluster(test_data("bad-cluster.yaml")); });
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_EQ(problems[0].line, 4);  // count: -2
  EXPECT_EQ(problems[0].column, 12);
  EXPECT_THAT(problems[0].message, HasSubstr("count must be >= 0"));
  EXPECT_EQ(problems[1].line, 9);  // colour: blue
  EXPECT_EQ(problems[1].column, 5);
  EXPECT_THAT(problems[1].message, HasSubstr("unknown key 'colour'"));
  EXPECT_THAT(problems[1].fix, HasSubstr("capacity"));
  EXPECT_EQ(problems[2].line, 11);  // cpu: many
  EXPECT_THAT(problems[2].message, HasSubstr("not a number: 'many'"));
  EXPECT_EQ(problems[3].line, 10);  // b1: group b already made b1 and b2
  EXPECT_THAT(problems[3].message, HasSubstr("node id 'b1' is defined twice"));
  EXPECT_EQ(problems[4].line, 14);  // partition p twice
  EXPECT_THAT(problems[4].message, HasSubstr("partition 'p' is defined twice"));
  EXPECT_THAT(to_string(problems[0]), HasSubstr("bad-cluster.yaml:4:12"));
}

TEST(ReadersClusterYaml, OtherFormatsPoolNamesAreRefusedWithTheCanonicalOne) {
  // As in a workflow file: a node offering "mem" would never hold a job asking for "memory".
  auto problems = problems_of([] {
    read_cluster_yaml_string(
        "nodes:\n  - {name: a, capacity: {cpus: 8, mem: 4GiB}}\npartitions:\n"
        "  - {name: p, quota: {gpus: 2}}\n",
        "alias.yaml");
  });
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_THAT(problems[0].message, HasSubstr("capacity.cpus: this pool is called 'cpu'"));
  EXPECT_EQ(problems[0].fix, "write cpu: 8");
  EXPECT_THAT(problems[1].message, HasSubstr("capacity.mem: this pool is called 'memory'"));
  EXPECT_EQ(problems[1].fix, "write memory: 4GiB");
  EXPECT_EQ(problems[2].line, 4);
  EXPECT_THAT(problems[2].message, HasSubstr("quota.gpus: this pool is called 'gpu'"));
}

TEST(ReadersClusterYaml, MemoryTakesTheSizesOfAWorkflowFile) {
  // units::parse_size, as for a workflow's memory: "4G" (which the cluster reader once refused
  // as "not a number"), "4 GB", "1.5GiB", "512KiB", plain bytes.
  ClusterSpec c = read_cluster_yaml_string(
      "nodes:\n"
      "  - {name: a, capacity: {cpu: 8, memory: 4G}}\n"
      "  - {name: b, capacity: {cpu: 8, memory: 4 GB}}\n"
      "  - {name: c, capacity: {cpu: 8, memory: 1.5GiB}}\n"
      "  - {name: d, capacity: {cpu: 8, memory: 512KiB}}\n"
      "  - {name: e, capacity: {cpu: 8, memory: 2.5e9}}\n",
      "sizes.yaml");
  ASSERT_EQ(c.nodes.size(), 5u);
  EXPECT_DOUBLE_EQ(c.nodes[0].capacity.get("memory"), 4e9);
  EXPECT_DOUBLE_EQ(c.nodes[1].capacity.get("memory"), 4e9);
  EXPECT_DOUBLE_EQ(c.nodes[2].capacity.get("memory"), 1.5 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(c.nodes[3].capacity.get("memory"), 512.0 * 1024);
  EXPECT_DOUBLE_EQ(c.nodes[4].capacity.get("memory"), 2.5e9);
}

TEST(ReadersClusterYaml, SizesAreForMemoryOnlyAndBadOnesSayWhatToWrite) {
  auto problems = problems_of([] {
    read_cluster_yaml_string(
        "nodes:\n"
        "  - {name: a, capacity: {cpu: 4G, memory: 4X}}\n"
        "  - {name: b, capacity: {cpu: 1, memory: -5}}\n"
        "  - {name: c, count: 2K, capacity: {cpu: 1, memory: 4Gb}}\n",
        "bad-sizes.yaml");
  });
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_EQ(problems[0].message, "capacity.cpu is not a number: '4G'");
  EXPECT_THAT(problems[0].fix, HasSubstr("accepted only for memory"));
  EXPECT_EQ(problems[1].message, "capacity.memory is not a size: '4X'");
  EXPECT_THAT(problems[1].fix, HasSubstr("\"4G\""));
  EXPECT_EQ(problems[2].message, "capacity.memory must be >= 0, found -5");
  EXPECT_EQ(problems[3].message, "count is not a number: '2K'");
  EXPECT_EQ(problems[4].message, "capacity.memory is not a size: '4Gb'");  // bits
}

TEST(ReadersClusterYaml, DuplicateNodeIdsAcrossGroups) {
  auto problems = problems_of([] {
    read_cluster_yaml_string(
        "nodes:\n  - {name: b, count: 2, capacity: {cpu: 1}}\n  - {name: b2, capacity: {cpu: 1}}\n",
        "dup.yaml");
  });
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 3);
  EXPECT_THAT(problems[0].message, HasSubstr("node id 'b2' is defined twice"));
}

TEST(ReadersClusterYaml, SyntaxErrorsAndEmptyClusters) {
  auto syntax = problems_of([] { read_cluster_yaml_string("nodes: [\n", "s.yaml"); });
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_GT(syntax[0].line, 0);
  EXPECT_THAT(syntax[0].message, HasSubstr("YAML syntax"));
  auto empty = problems_of([] { read_cluster_yaml_string("nodes: []\n", "e.yaml"); });
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_THAT(empty[0].message, HasSubstr("no nodes"));
  auto top = problems_of([] { read_cluster_yaml_string("nodez: []\n", "t.yaml"); });
  EXPECT_THAT(top[0].message, HasSubstr("unknown key 'nodez'"));
}

TEST(ReadersClusterYaml, WrongTypesAreInputErrorsNotCrashes) {
  for (const char* yaml : {"nodes: [{name: [x], capacity: [1]}, 5]",
                           "nodes: [{name: a, capacity: {cpu: {x: 1}}, labels: {a: b}}]",
                           "nodes: [{name: a, count: [2], capacity: {cpu: 1}, power: 3}]",
                           "nodes: [{name: a, capacity: {cpu: 1e308 TiB}}]",
                           "nodes: [{name: a, capacity: {'': 1}}]", "[1, 2]", "nodes: 7",
                           "nodes: [{name: a, capacity: {cpu: 1}}]\npartitions: [{name: p, "
                           "weight: 0, quota: 5}]"}) {
    EXPECT_THROW(read_cluster_yaml_string(yaml, "t.yaml"), InputError) << yaml;
  }
}

TEST(ReadersClusterYaml, MissingPartitionsAreAddedFromTheWorkload) {
  ClusterSpec c = read_cluster(test_data("small-cluster.yaml"));
  Workload w;
  w.jobs.push_back({.id = "a", .partition = "batch"});
  w.jobs.push_back({.id = "b", .partition = "q_1d"});
  EXPECT_EQ(add_missing_partitions(c, w), 1u);
  EXPECT_EQ(c.partitions.back().name, "q_1d");
}

TEST(ReadersSwfHeaderCluster, ProcessorsFromTheHeader) {
  SwfHeader h;
  h.max_nodes = 4;
  ClusterSpec c = cluster_from_swf_header(h, "x.swf");
  ASSERT_EQ(c.nodes.size(), 4u);
  EXPECT_EQ(c.nodes[3].id, "n4");
  EXPECT_THROW(cluster_from_swf_header(SwfHeader{}, "x.swf"), InputError);
}

}  // namespace
}  // namespace taskloom::cluster
