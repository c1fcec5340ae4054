// WfCommons workflow instances (WfFormat 1.5) -> jobs with dependencies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "taskloom/cluster/simulator.hpp"
#include "taskloom/cluster/workload.hpp"

#include "cluster/readers_test_paths.hpp"

namespace taskloom::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::shared_data;
using testing::test_data;
using ::testing::UnorderedElementsAre;

const Job& job(const Workload& w, const std::string& id) {
  auto it = std::find_if(w.jobs.begin(), w.jobs.end(), [&](const Job& j) { return j.id == id; });
  if (it == w.jobs.end()) throw std::runtime_error("no job " + id);
  return *it;
}

TEST(ReadersWfCommons, ForkJoinExcerpt) {
  Workload w = read_workload(test_data("forkjoin-10.json"));
  EXPECT_EQ(w.format, "wfcommons");
  ASSERT_EQ(w.jobs.size(), 10u);
  // cpuhog_forkjoin_00000002: parent ..01, runtimeInSeconds 107.353, memoryInBytes 75016.
  const Job& j2 = job(w, "cpuhog_forkjoin_00000002");
  EXPECT_THAT(j2.after, ElementsAre("cpuhog_forkjoin_00000001"));
  EXPECT_EQ(j2.actual_runtime, std::chrono::microseconds(107'353'000));
  EXPECT_DOUBLE_EQ(j2.request.get("cpu"), 1);  // no coreCount
  EXPECT_DOUBLE_EQ(j2.request.get("memory"), 75016);
  EXPECT_EQ(j2.application, "cpuhog");
  EXPECT_EQ(j2.submit_time, Duration{0});
  // The join task waits for the eight branches.
  EXPECT_EQ(job(w, "cpuhog_forkjoin_00000010").after.size(), 8u);
  ASSERT_EQ(w.machines.size(), 1u);
  EXPECT_EQ(w.machines[0].id, "ubuntu");
  EXPECT_DOUBLE_EQ(w.machines[0].capacity.get("cpu"), 64);
}

TEST(ReadersWfCommons, SharedInstances) {
  struct Case {
    const char* file;
    std::size_t tasks;
  };
  for (const Case& c : {Case{"wfcommons/montage-chameleon-2mass-005d-001.json", 58},
                        Case{"wfcommons/epigenomics-chameleon-hep-1seq-100k-001.json", 41},
                        Case{"wfcommons/1000genome-chameleon-2ch-100k-001.json", 52},
                        Case{"wfcommons/blast-chameleon-small-001.json", 43},
                        Case{"wfcommons/helloworld-forkjoin-10-chameleon.json", 10}}) {
    TASKLOOM_REQUIRE_SHARED_DATA(c.file);
    Workload w = read_wfcommons(shared_data(c.file));
    EXPECT_EQ(w.jobs.size(), c.tasks) << c.file;
    EXPECT_EQ(w.malformed, 0u) << c.file;
  }
  // montage: mProject_ID0000002 has no parents and ran 17.916 s.
  Workload m = read_wfcommons(shared_data("wfcommons/montage-chameleon-2mass-005d-001.json"));
  EXPECT_TRUE(job(m, "mProject_ID0000002").after.empty());
  EXPECT_EQ(job(m, "mProject_ID0000002").actual_runtime, std::chrono::milliseconds(17916));
  // blast: coreCount 1 on every task; blastall_ID000002 after split_fasta_ID000001.
  Workload b = read_wfcommons(shared_data("wfcommons/blast-chameleon-small-001.json"));
  EXPECT_THAT(job(b, "blastall_ID000002").after, ElementsAre("split_fasta_ID000001"));
  EXPECT_DOUBLE_EQ(job(b, "blastall_ID000002").request.get("cpu"), 1);
}

TEST(ReadersWfCommons, MachinesWithoutMemoryMakeTasksAskForNone) {
  // m2 does not give its memoryInBytes: its memory is unknown, not zero, so no task asks for
  // memory (else none could run on it) and the reader says so once.
  const char* doc = R"({"workflow": {
    "specification": {"tasks": [{"id": "a", "parents": []}, {"id": "b", "parents": ["a"]}]},
    "execution": {"machines": [{"nodeName": "m1", "cpu": {"coreCount": 4}, "memoryInBytes": 8e9},
                               {"nodeName": "m2", "cpu": {"coreCount": 4}}],
                  "tasks": [{"id": "a", "runtimeInSeconds": 1, "memoryInBytes": 1e9},
                            {"id": "b", "runtimeInSeconds": 2, "memoryInBytes": 2e9}]}}})";
  Workload w = read_wfcommons_string(doc, "nomem.json");
  ASSERT_EQ(w.jobs.size(), 2u);
  for (const Job& j : w.jobs) EXPECT_EQ(j.request.get("memory"), 0) << j.id;
  ASSERT_EQ(w.warnings.size(), 1u);
  EXPECT_THAT(w.warnings[0].message, HasSubstr("machine 'm2' has no memoryInBytes"));
  SimulationResult r = simulate(w.machines, {}, w.jobs, {});
  EXPECT_EQ(r.metrics.rejected, 0u);
  EXPECT_EQ(r.metrics.completed, 2u);
}

TEST(ReadersWfCommons, SharedBlastRunsOnItsOwnMachines) {
  // BLAST's machines give cores only: every task used to be "larger than the cluster".
  TASKLOOM_REQUIRE_SHARED_DATA("wfcommons/blast-chameleon-small-001.json");
  Workload b = read_wfcommons(shared_data("wfcommons/blast-chameleon-small-001.json"));
  ASSERT_EQ(b.machines.size(), 2u);
  SimulationResult r = simulate(b.machines, {}, b.jobs, {});
  EXPECT_EQ(r.metrics.rejected, 0u);
  EXPECT_EQ(r.metrics.completed, b.jobs.size());
}

constexpr const char* kBad = R"({
  "name": "bad", "schemaVersion": "1.5",
  "workflow": {
    "specification": {"tasks": [
      {"id": "a", "parents": []},
      {"id": "b", "parents": ["a"]},
      {"id": "c", "parents": ["zz"]},
      {"id": "d", "parents": ["c"]},
      {"id": "e", "parents": ["a"]}
    ]},
    "execution": {"machine": {"nodeName": "m1", "cpu": {"coreCount": 4}, "memoryInBytes": 8e9},
                  "tasks": [
      {"id": "a", "runtimeInSeconds": 1, "coreCount": 2},
      {"id": "b", "runtimeInSeconds": 2},
      {"id": "c", "runtimeInSeconds": 3},
      {"id": "d", "runtimeInSeconds": 4},
      {"id": "e"}
    ]}
  }
})";

TEST(ReadersWfCommons, BadTasksAreDroppedWithTheirDescendants) {
  std::ostringstream warn;
  Workload w = read_wfcommons_string(kBad, "bad.json", {.warn = &warn});
  std::vector<std::string> ids;
  for (const Job& j : w.jobs) ids.push_back(j.id);
  EXPECT_THAT(ids, ElementsAre("a", "b"));
  EXPECT_EQ(w.malformed, 3u);  // c (unknown parent), d (after c), e (no runtime)
  EXPECT_THAT(warn.str(), HasSubstr("task 'c': parent \"zz\" is not a task"));
  EXPECT_DOUBLE_EQ(job(w, "a").request.get("cpu"), 2);
  ASSERT_EQ(w.machines.size(), 1u);  // the schema's singular `machine`
  EXPECT_EQ(w.machines[0].id, "m1");
  EXPECT_DOUBLE_EQ(w.machines[0].capacity.get("memory"), 8e9);  // bytes, as jobs ask for it
}

TEST(ReadersWfCommons, WrongTypesAreReportedNotCrashes) {
  const char* doc = R"({"workflow": {
    "specification": {"tasks": [{"id": 5}, {"id": "b", "parents": [1]}, {"id": "c",
                                 "parents": "a"}, {"id": "d"}, 7]},
    "execution": {"machines": ["m", {"nodeName": 3}, {"nodeName": "n", "cpu": 4}],
                  "tasks": [{"id": "b", "runtimeInSeconds": 1}, {"id": "c", "runtimeInSeconds": 1},
                            {"id": "d", "runtimeInSeconds": "x", "command": "go"}, 3]}}})";
  Workload w = read_wfcommons_string(doc, "types.json");
  EXPECT_TRUE(w.jobs.empty());
  EXPECT_EQ(w.malformed, 5u);
  ASSERT_EQ(w.machines.size(), 1u);
  EXPECT_DOUBLE_EQ(w.machines[0].capacity.get("cpu"), 1);
}

TEST(ReadersWfCommons, StopOnErrorAndSyntaxErrors) {
  EXPECT_THROW(read_wfcommons_string(kBad, "bad.json", {.on_error = OnError::kStop}), InputError);
  try {
    read_wfcommons_string("{\n  \"workflow\": [,\n}", "syntax.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.diagnostics()[0].line, 2);
    EXPECT_THAT(e.what(), HasSubstr("syntax.json:2:"));
  }
  EXPECT_THROW(read_wfcommons_string("{}", "empty.json"), InputError);
}

}  // namespace
}  // namespace taskloom::cluster
