// Contract tests of the workflow format: fields, defaults, matrices, dependencies, anchors and
// merge keys, includes, fingerprints, and the parsers of durations, sizes and priorities.
#include "taskloom/workflow/workflow.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/exceptions.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "taskloom/core/error.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using taskloom::Priority;
using taskloom::Resources;
using taskloom::workflow::capacities;
using taskloom::workflow::KeyValues;
using taskloom::workflow::parse_task_priority;
using taskloom::workflow::parse_workflow;
using taskloom::workflow::Task;
using taskloom::workflow::Workflow;
using testing::ElementsAre;
using testing::IsEmpty;

namespace {

const fs::path kFile = "/flows/shot/shot.yaml";

Workflow parse(const std::string& yaml) {
  return parse_workflow(yaml, kFile);
}

const Task& task(const Workflow& wf, const std::string& id) {
  auto it =
      std::find_if(wf.tasks.begin(), wf.tasks.end(), [&](const Task& t) { return t.id == id; });
  if (it == wf.tasks.end()) throw std::runtime_error("no task " + id);
  return *it;
}

std::vector<std::string> ids(const Workflow& wf) {
  std::vector<std::string> out;
  for (const Task& t : wf.tasks) out.push_back(t.id);
  return out;
}

std::string error_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const taskloom::InputError& e) {
    return e.what();
  }
  return "no error";
}

// --- parsers -------------------------------------------------------------------------------

TEST(ParseTaskPriority, LevelsIntegersAndClasses) {
  EXPECT_EQ(parse_task_priority("lowest"), Priority::kLowest);
  EXPECT_EQ(parse_task_priority("high"), Priority::kHigh);
  EXPECT_EQ(parse_task_priority("17"), Priority(17));
  EXPECT_EQ(parse_task_priority("-40"), Priority(-40));
  EXPECT_EQ(parse_task_priority("interactive"), Priority(900));
  EXPECT_EQ(parse_task_priority("urgent"), Priority(500));
  EXPECT_EQ(parse_task_priority("background"), Priority(-500));
  EXPECT_EQ(parse_task_priority("5000"), std::nullopt);
  EXPECT_EQ(parse_task_priority("urgentest"), std::nullopt);
}

// --- fields and defaults -------------------------------------------------------------------

TEST(Workflow, ParsesEveryTaskField) {
  const Workflow wf = parse(R"(
name: every-field
resources: {cpu: 8, memory: 16G, gpu: 2}
tasks:
  - id: prep
    run: echo prep
  - id: sim
    run: |
      ./simulate --steps 10
    after: prep
    priority: high
    retries: 3
    timeout: 1h30m
    needs: {cpu: 4, memory: 1.5GiB, gpu: 1}
    env: {OMP_NUM_THREADS: 4, MODE: fast}
    cwd: runs/sim
    metadata: {owner: alice, cost: 12}
)");
  EXPECT_EQ(wf.name, "every-field");
  EXPECT_EQ(wf.file, kFile);
  EXPECT_EQ(wf.resources, (Resources{{"cpu", 8}, {"memory", 16e9}, {"gpu", 2}}));
  ASSERT_THAT(ids(wf), ElementsAre("prep", "sim"));
  const Task& t = task(wf, "sim");
  EXPECT_EQ(t.run, "./simulate --steps 10\n");
  EXPECT_THAT(t.after, ElementsAre("prep"));
  EXPECT_EQ(t.priority, Priority::kHigh);
  EXPECT_EQ(t.retries, 3u);
  EXPECT_EQ(t.timeout, std::chrono::nanoseconds(90min));
  EXPECT_EQ(t.needs, (Resources{{"cpu", 4}, {"memory", 1.5 * 1024 * 1024 * 1024}, {"gpu", 1}}));
  EXPECT_EQ(t.env, (KeyValues{{"OMP_NUM_THREADS", "4"}, {"MODE", "fast"}}));
  EXPECT_EQ(t.cwd, fs::path("/flows/shot/runs/sim"));
  EXPECT_EQ(t.metadata, (KeyValues{{"owner", "alice"}, {"cost", "12"}}));
  EXPECT_EQ(t.group, "sim");
  EXPECT_THAT(t.matrix, IsEmpty());
  EXPECT_EQ(t.file, kFile);
  EXPECT_EQ(t.line, 7);
  EXPECT_EQ(t.column, 5);
  EXPECT_EQ(wf.fingerprint.size(), 16u);
}

TEST(Workflow, TaskWithoutSettingsGetsBuiltInDefaults) {
  const Workflow wf = parse("name: w\ntasks:\n  - id: a\n    run: true\n");
  const Task& t = wf.tasks.at(0);
  EXPECT_EQ(t.priority, Priority::kNormal);
  EXPECT_EQ(t.retries, 0u);
  EXPECT_EQ(t.timeout, std::chrono::nanoseconds(0));
  EXPECT_EQ(t.needs, (Resources{{"cpu", 1}}));
  EXPECT_THAT(t.env, IsEmpty());
  EXPECT_EQ(t.cwd, fs::path("/flows/shot"));
  EXPECT_THAT(t.after, IsEmpty());
}

TEST(Workflow, LoadingIsPureAndTheHostFillsInWhatIsNotDeclared) {
  const Workflow wf = parse("name: w\nresources: {gpu: 1, cpu: 3}\ntasks: [{id: a, run: x}]\n");
  EXPECT_EQ(wf.resources, (Resources{{"gpu", 1}, {"cpu", 3}})) << "nothing of the machine";
  const Resources all = capacities(wf, Resources{{"cpu", 64}, {"memory", 8e9}});
  EXPECT_EQ(all, (Resources{{"gpu", 1}, {"cpu", 3}, {"memory", 8e9}})) << "declared wins";
}

TEST(Workflow, ATaskThatNeedsMoreThanTheHostHasIsRefusedAtTheTask) {
  const Workflow wf = parse(
      "name: w\ntasks:\n  - id: a\n    run: x\n  - id: big\n    run: x\n"
      "    needs: {cpu: 16, memory: 64G}\n");
  try {
    capacities(wf, Resources{{"cpu", 2}, {"memory", 8e9}});
    FAIL() << "no error";
  } catch (const taskloom::InputError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u) << e.what();
    EXPECT_EQ(e.diagnostics()[0].line, 5);
    EXPECT_THAT(e.what(), testing::HasSubstr("task \"big\" needs 16 cpu, but where it runs there "
                                             "is only 2, so it could never start"));
  }
  EXPECT_EQ(capacities(wf, {}).get("cpu"), 0) << "a cluster backend bounds nothing here";
}

TEST(Workflow, TasksInheritDefaultsAndOverrideThemKeyByKey) {
  const Workflow wf = parse(R"(
name: defaults
resources: {cpu: 8, gpu: 1}
defaults:
  retries: 2
  timeout: 10m
  priority: background
  needs: {cpu: 2, gpu: 1}
  env: {A: "1", B: "2"}
  cwd: work
tasks:
  - id: inherits
    run: x
  - id: overrides
    run: x
    retries: 0
    timeout: 5s
    priority: 3
    needs: {gpu: 0}
    env: {B: "20", C: "3"}
    cwd: /tmp
)");
  const Task& a = task(wf, "inherits");
  EXPECT_EQ(a.retries, 2u);
  EXPECT_EQ(a.timeout, std::chrono::nanoseconds(10min));
  EXPECT_EQ(a.priority, Priority(-500));
  EXPECT_EQ(a.needs, (Resources{{"cpu", 2}, {"gpu", 1}}));
  EXPECT_EQ(a.env, (KeyValues{{"A", "1"}, {"B", "2"}}));
  EXPECT_EQ(a.cwd, fs::path("/flows/shot/work"));
  const Task& b = task(wf, "overrides");
  EXPECT_EQ(b.retries, 0u);
  EXPECT_EQ(b.timeout, std::chrono::nanoseconds(5s));
  EXPECT_EQ(b.priority, Priority(3));
  EXPECT_EQ(b.needs, (Resources{{"cpu", 2}}));
  EXPECT_EQ(b.env, (KeyValues{{"A", "1"}, {"B", "20"}, {"C", "3"}}));
  EXPECT_EQ(b.cwd, fs::path("/tmp"));
}

TEST(Workflow, InputsAndOutputsTakeMatrixValuesAndCountInTheFingerprint) {
  const Workflow wf = parse(R"(name: io
tasks:
  - id: render-{f}
    matrix: {f: "1-2"}
    run: r {f}
    inputs: ["scene-{f}.usd", "textures/*.png"]
    outputs: out/{f}.exr
)");
  EXPECT_EQ(task(wf, "render-2").inputs,
            (std::vector<std::string>{"scene-2.usd", "textures/*.png"}));
  EXPECT_EQ(task(wf, "render-2").outputs, (std::vector<std::string>{"out/2.exr"}));
  const Workflow without = parse(
      "name: io\ntasks:\n  - id: render-{f}\n    matrix: {f: \"1-2\"}\n"
      "    run: r {f}\n");
  EXPECT_NE(wf.fingerprint, without.fingerprint);
  EXPECT_EQ(error_of("name: io\ntasks:\n  - id: a\n    run: x\n    outputs: [ok, {a: 1}]\n"),
            "/flows/shot/shot.yaml:5:19: each item of outputs must be a file name, not a mapping — "
            "write one path or glob per item");
  EXPECT_EQ(error_of("name: io\ntasks:\n  - id: a\n    run: x\n    inputs: \"in-{n}\"\n"),
            "/flows/shot/shot.yaml:3:5: {n} in the inputs of task \"a\" is not a matrix variable "
            "of this task — declare it under matrix, or write ${n} for a shell variable");
}

TEST(Workflow, AfterAcceptsAStringOrAListAndDropsRepeats) {
  const Workflow wf = parse(R"(
name: after
tasks:
  - {id: a, run: x}
  - {id: b, run: x, after: a}
  - {id: c, run: x, after: [a, b, a]}
)");
  EXPECT_THAT(task(wf, "b").after, ElementsAre("a"));
  EXPECT_THAT(task(wf, "c").after, ElementsAre("a", "b"));
}

// --- matrices ------------------------------------------------------------------------------

TEST(Matrix, RangeExpandsEveryValue) {
  const Workflow wf = parse(R"(
name: m
tasks:
  - id: frame-{f}
    run: render {f}
    env: {FRAME: "{f}"}
    cwd: "out/{f}"
    metadata: {frame: "{f}"}
    matrix: {f: "1-3"}
)");
  ASSERT_THAT(ids(wf), ElementsAre("frame-1", "frame-2", "frame-3"));
  const Task& t = task(wf, "frame-2");
  EXPECT_EQ(t.run, "render 2");
  EXPECT_EQ(t.env, (KeyValues{{"FRAME", "2"}}));
  EXPECT_EQ(t.cwd, fs::path("/flows/shot/out/2"));
  EXPECT_EQ(t.metadata, (KeyValues{{"frame", "2"}}));
  EXPECT_EQ(t.group, "frame");
  EXPECT_EQ(t.matrix, (KeyValues{{"f", "2"}}));
}

TEST(Matrix, SteppedRangeGivesChunkStartsAndEnds) {
  const Workflow wf = parse(R"(
name: m
tasks:
  - id: render-{frame}
    run: render -s {frame} -e {frame.end}
    matrix: {frame: "1-25:10"}
)");
  ASSERT_THAT(ids(wf), ElementsAre("render-1", "render-11", "render-21"));
  EXPECT_EQ(task(wf, "render-1").run, "render -s 1 -e 10");
  EXPECT_EQ(task(wf, "render-11").run, "render -s 11 -e 20");
  EXPECT_EQ(task(wf, "render-21").run, "render -s 21 -e 25");
}

TEST(Matrix, ListAndCartesianProductInDeclarationOrder) {
  const Workflow wf = parse(R"(
name: m
tasks:
  - id: sim-{scenario}-{seed}
    run: sim --scenario {scenario} --seed {seed} --upto {seed.end}
    matrix:
      scenario: [calm, storm]
      seed: "1-3:2"
)");
  EXPECT_THAT(ids(wf), ElementsAre("sim-calm-1", "sim-calm-3", "sim-storm-1", "sim-storm-3"));
  EXPECT_EQ(task(wf, "sim-storm-1").run, "sim --scenario storm --seed 1 --upto 2");
  EXPECT_EQ(task(wf, "sim-storm-3").matrix, (KeyValues{{"scenario", "storm"}, {"seed", "3"}}));
}

TEST(Matrix, ShellBracesAndNonNamesAreLeftAlone) {
  const Workflow wf = parse(R"(
name: m
tasks:
  - id: t-{x}
    run: echo ${HOME} {x} {not a name} {}
    matrix: {x: [a]}
)");
  EXPECT_EQ(task(wf, "t-a").run, "echo ${HOME} a {not a name} {}");
}

TEST(Matrix, ExplicitGroupNamesTheEntry) {
  const Workflow wf = parse(R"(
name: m
tasks:
  - id: "{shot}"
    group: shots
    run: echo {shot}
    matrix: {shot: [sh010, sh020]}
  - id: done
    run: echo done
    after: shots
)");
  EXPECT_EQ(task(wf, "sh010").group, "shots");
  EXPECT_THAT(task(wf, "done").after, ElementsAre("sh010", "sh020"));
}

// --- dependencies --------------------------------------------------------------------------

// The render shot of the issue: render chunks -> per-frame composite -> encode.
TEST(Dependencies, RenderShotChunksCompositeEncode) {
  const Workflow wf = parse(R"(
name: shot
tasks:
  - id: render-{frame}
    run: render -s {frame} -e {frame.end}
    matrix: {frame: "1-240:10"}
  - id: composite-{frame}
    run: composite {frame}
    after: ["render[frame]"]
    matrix: {frame: "1-240"}
  - id: encode
    run: encode
    after: composite
)");
  EXPECT_EQ(wf.tasks.size(), 24u + 240u + 1u);
  EXPECT_THAT(task(wf, "composite-1").after, ElementsAre("render-1"));
  EXPECT_THAT(task(wf, "composite-10").after, ElementsAre("render-1"));
  EXPECT_THAT(task(wf, "composite-11").after, ElementsAre("render-11"));
  EXPECT_THAT(task(wf, "composite-240").after, ElementsAre("render-231"));
  const Task& encode = task(wf, "encode");
  ASSERT_EQ(encode.after.size(), 240u);
  EXPECT_EQ(encode.after.front(), "composite-1");
  EXPECT_EQ(encode.after.back(), "composite-240");
}

TEST(Dependencies, ElementWiseOnListsMatchesEqualValues) {
  const Workflow wf = parse(R"(
name: sweep
tasks:
  - id: mesh-{scenario}
    run: mesh {scenario}
    matrix: {scenario: [a, b]}
  - id: solve-{scenario}-{seed}
    run: solve {scenario} {seed}
    after: "mesh[scenario]"
    matrix: {scenario: [a, b], seed: [1, 2]}
  - id: report-{scenario}
    run: report {scenario}
    after: "solve[scenario]"
    matrix: {scenario: [a, b]}
)");
  EXPECT_THAT(task(wf, "solve-b-2").after, ElementsAre("mesh-b"));
  EXPECT_THAT(task(wf, "report-a").after, ElementsAre("solve-a-1", "solve-a-2"));
}

TEST(Dependencies, ElementWiseOnSeveralVariables) {
  const Workflow wf = parse(R"(
name: two
tasks:
  - id: a-{x}-{y}
    run: a
    matrix: {x: [1, 2], y: [p, q]}
  - id: b-{y}-{x}
    run: b
    after: "a[x, y]"
    matrix: {y: [p, q], x: [1, 2]}
)");
  EXPECT_THAT(task(wf, "b-q-1").after, ElementsAre("a-1-q"));
}

TEST(Dependencies, PlaceholdersInAfterNameOneElement) {
  const Workflow wf = parse(R"(
name: p
tasks:
  - id: a-{n}
    run: a
    matrix: {n: "1-2"}
  - id: b-{n}
    run: b
    after: "a-{n}"
    matrix: {n: "1-2"}
)");
  EXPECT_THAT(task(wf, "b-2").after, ElementsAre("a-2"));
}

TEST(Dependencies, ASingleElementIdCanBeNamed) {
  const Workflow wf = parse(R"(
name: p
tasks:
  - id: preview-{f}
    run: p
    matrix: {f: "1-100:10"}
  - id: check
    run: c
    after: preview-11
)");
  EXPECT_THAT(task(wf, "check").after, ElementsAre("preview-11"));
}

// --- YAML features -------------------------------------------------------------------------

TEST(Yaml, AnchorsAliasesAndMergeKeys) {
  const Workflow wf = parse(R"(
name: anchors
x-common: &common
  retries: 4
  timeout: 2m
  env: {A: "1"}
x-gpu: &gpu
  needs: {gpu: 1}
  retries: 9
resources: {gpu: 1}
tasks:
  - id: a
    <<: *common
    run: echo a
  - id: b
    <<: [*common, *gpu]
    run: echo b
    timeout: 5s
  - id: c
    <<: *gpu
    run: echo c
    after: a
)");
  EXPECT_EQ(task(wf, "a").retries, 4u);
  EXPECT_EQ(task(wf, "a").timeout, std::chrono::nanoseconds(2min));
  EXPECT_EQ(task(wf, "a").env, (KeyValues{{"A", "1"}}));
  const Task& b = task(wf, "b");
  EXPECT_EQ(b.retries, 4u) << "the first merged mapping wins";
  EXPECT_EQ(b.timeout, std::chrono::nanoseconds(5s)) << "explicit keys win over merged ones";
  EXPECT_EQ(b.needs, (Resources{{"cpu", 1}, {"gpu", 1}}));
  EXPECT_EQ(task(wf, "c").retries, 9u);
  EXPECT_THAT(task(wf, "c").after, ElementsAre("a"));
}

TEST(Yaml, PlainAliasOfAMapping) {
  const Workflow wf = parse(R"(
name: alias
x-env: &env {MODE: fast}
tasks:
  - {id: a, run: x, env: *env}
  - {id: b, run: x, env: *env}
)");
  EXPECT_EQ(task(wf, "b").env, (KeyValues{{"MODE", "fast"}}));
}

// Ten anchors, each merging the one before sixteen times: expanding every merge where it is used
// would copy 16^9 mappings; each merged mapping is read once, so this loads at once.
TEST(Yaml, NestedMergeKeysAreReadOnceEach) {
  std::string yaml = "name: merges\nx-a0: &a0 {A0: \"0\"}\n";
  for (int k = 1; k < 10; ++k) {
    const std::string prev = "*a" + std::to_string(k - 1);
    yaml += "x-a" + std::to_string(k) + ": &a" + std::to_string(k) + " {<<: [" + prev;
    for (int i = 1; i < 16; ++i) yaml += ", " + prev;
    yaml += "], A" + std::to_string(k) + ": \"" + std::to_string(k) + "\"}\n";
  }
  yaml += "tasks:\n  - {id: t, run: x, env: {<<: *a9}}\n";
  const Workflow wf = parse(yaml);
  KeyValues expected;
  expected.emplace_back("A9", "9");
  for (int k = 8; k >= 0; --k) expected.emplace_back("A" + std::to_string(k), std::to_string(k));
  EXPECT_EQ(task(wf, "t").env, expected) << "own keys first, then the merged ones in order";
}

// A mapping of 1000 keys merged 1001 times copies 1,001,000 entries, over the limit (4 per byte
// of the file, at least a million): refused at the merge key that passes it.
TEST(Yaml, MergeKeysThatExpandTooFarAreRefused) {
  auto workflow = [](int merges) {
    std::string yaml = "name: wide\nx-big: &big {";
    for (int i = 0; i < 1000; ++i) yaml += (i ? ", K" : "K") + std::to_string(i) + ": v";
    yaml += "}\ntasks:\n  - id: t\n    run: x\n    env:\n      <<: [*big";
    for (int i = 1; i < merges; ++i) yaml += ", *big";
    return yaml + "]\n";
  };
  EXPECT_EQ(error_of(workflow(1001)),
            "/flows/shot/shot.yaml:7:7: merge keys expand to more than 1000000 entries in this "
            "file: the mappings merged are too large or merged too often — merge smaller "
            "mappings, or put what every task shares under defaults:");
  EXPECT_EQ(parse(workflow(1000)).tasks[0].env.size(), 1000u);
}

TEST(Yaml, MergeKeysNestAtMostAHundredLevels) {
  std::string yaml = "name: chain\nx-m0: &m0 {A: \"1\"}\n";
  for (int k = 1; k <= 101; ++k) {
    yaml += "x-m" + std::to_string(k) + ": &m" + std::to_string(k) + " {<<: *m" +
            std::to_string(k - 1) + "}\n";
  }
  EXPECT_EQ(parse(yaml + "tasks:\n  - {id: t, run: x, env: *m99}\n").tasks[0].env,
            (KeyValues{{"A", "1"}}));
  EXPECT_EQ(error_of(yaml + "tasks:\n  - {id: t, run: x, env: *m101}\n"),
            "/flows/shot/shot.yaml:3:12: merge keys nest deeper than 100 levels here (a merged "
            "mapping merges another, which merges another, ...) — merge the mappings this one "
            "needs directly");
}

// A quoted value may run over lines indented further than its key (as YAML allows); only lines
// that look like the keys or items it swallowed are refused (invalid/unclosed_quote.yaml).
TEST(Yaml, AQuotedValueMayRunOverIndentedLines) {
  const Workflow wf = parse(R"(
name: quoted
tasks:
  - id: a
    run: "echo one &&
      echo two: three"
  - id: b
    run: 'printf "%s
      " x'
)");
  EXPECT_EQ(task(wf, "a").run, "echo one && echo two: three");
  EXPECT_EQ(task(wf, "b").run, "printf \"%s \" x");
}

// --- includes ------------------------------------------------------------------------------

TEST(Include, MergesTasksDefaultsAndResourcesOfIncludedFiles) {
  const fs::path main = fs::path(TASKLOOM_WORKFLOW_TEST_DIR) / "data" / "include_main.yaml";
  const Workflow wf = taskloom::workflow::load_workflow(main);
  ASSERT_THAT(ids(wf), ElementsAre("shared", "prepare", "final"));
  EXPECT_EQ(wf.resources.get("gpu"), 1) << "the including file wins";
  EXPECT_EQ(wf.resources.get("licence"), 2);
  const Task& prepare = task(wf, "prepare");
  EXPECT_EQ(prepare.retries, 2u) << "inherited from the including file";
  EXPECT_EQ(prepare.timeout, std::chrono::nanoseconds(30s)) << "from the included defaults";
  EXPECT_EQ(prepare.env, (KeyValues{{"STAGE", "main"}}));
  EXPECT_EQ(prepare.cwd, (main.parent_path() / "parts" / "work").lexically_normal());
  EXPECT_EQ(prepare.file, (main.parent_path() / "parts" / "common.yaml").lexically_normal());
  EXPECT_EQ(task(wf, "shared").timeout, std::chrono::nanoseconds(30s));
  EXPECT_EQ(task(wf, "final").timeout, std::chrono::nanoseconds(0));
  EXPECT_EQ(task(wf, "final").cwd, (main.parent_path() / "out").lexically_normal());
  EXPECT_THAT(task(wf, "final").after, ElementsAre("prepare", "shared"));
  EXPECT_EQ(wf.backend, "slurm") << "from the include, the main file saying nothing";
  EXPECT_EQ(wf.slurm.account, "shots") << "the including file wins";
  EXPECT_EQ(wf.slurm.partition, "render");
}

// Each include costs file system calls and a level of recursion: both are bounded.
TEST(Include, AtMostAThousandEntriesNestedAHundredDeep) {
  std::string yaml = "name: w\ninclude: [";
  for (int i = 0; i < 1001; ++i) yaml += i ? ", same.yaml" : "same.yaml";
  yaml += "]\ntasks: [{id: a, run: x}]\n";
  EXPECT_THAT(error_of(yaml),
              testing::HasSubstr("\n/flows/shot/shot.yaml:2:11011: the workflow includes more "
                                 "than 1000 files — merge some of the included files"));

  const fs::path dir = fs::path(testing::TempDir()) / "taskloom-include-chain";
  fs::create_directories(dir);
  for (int k = 1; k <= 105; ++k) {
    std::ofstream(dir / ("f" + std::to_string(k) + ".yaml")) << "include: f" << k + 1 << ".yaml\n";
  }
  std::ofstream(dir / "main.yaml") << "name: chain\ninclude: f1.yaml\ntasks: [{id: a, run: x}]\n";
  try {
    taskloom::workflow::load_workflow(dir / "main.yaml");
    ADD_FAILURE() << "expected an InputError";
  } catch (const taskloom::InputError& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("f100.yaml:1:10: includes nest deeper than 100 "
                                             "levels here"));
  }
  fs::remove_all(dir);
}

// --- targets ---------------------------------------------------------------------------------

TEST(Targets, ATargetBringsWhatItRunsAfterAndNothingElse) {
  const Workflow wf = parse(
      "name: w\ntasks:\n"
      "  - {id: fetch, run: x}\n"
      "  - {id: other, run: x}\n"
      "  - id: build-{n}\n    run: x\n    after: fetch\n    matrix: {n: [a, b]}\n"
      "  - {id: test, run: x, after: build}\n"
      "  - {id: docs, run: x}\n");
  const std::vector<std::string> test{"test"};
  const Workflow t = taskloom::workflow::select_targets(wf, test);
  EXPECT_THAT(ids(t), ElementsAre("fetch", "build-a", "build-b", "test")) << "file order";
  EXPECT_NE(t.fingerprint, wf.fingerprint) << "a part is other content";
  const std::vector<std::string> group{"build", "docs"};
  EXPECT_THAT(ids(taskloom::workflow::select_targets(wf, group)),
              ElementsAre("fetch", "build-a", "build-b", "docs"));
  const std::vector<std::string> all{"test", "other", "docs"};
  EXPECT_EQ(taskloom::workflow::select_targets(wf, all).fingerprint, wf.fingerprint)
      << "every task selected is the whole workflow";
  try {
    const std::vector<std::string> typo{"tset"};
    taskloom::workflow::select_targets(wf, typo);
    FAIL() << "an unknown target was accepted";
  } catch (const taskloom::InvalidArgumentError& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("has no task or group 'tset' — did you mean 'test'?"));
  }
}

// --- where tasks run -----------------------------------------------------------------------

TEST(Backend, BackendSlurmSettingsAndFeatures) {
  const Workflow wf = parse(
      "name: w\n"
      "backend: slurm\n"
      "slurm: {partition: render, account: shots, qos: high, options: [--exclusive, "
      "--mail-type=END]}\n"
      "defaults: {features: [avx2]}\n"
      "tasks:\n"
      "  - {id: plain, run: x}\n"
      "  - {id: gpu, run: x, features: [gpu, nvlink, gpu]}\n"
      "  - {id: one, run: x, features: bigmem}\n"
      "  - {id: none, run: x, features: []}\n");
  EXPECT_EQ(wf.backend, "slurm");
  EXPECT_EQ(wf.slurm.partition, "render");
  EXPECT_EQ(wf.slurm.account, "shots");
  EXPECT_EQ(wf.slurm.qos, "high");
  EXPECT_THAT(wf.slurm.options, ElementsAre("--exclusive", "--mail-type=END"));
  EXPECT_THAT(task(wf, "plain").features, ElementsAre("avx2")) << "from defaults";
  EXPECT_THAT(task(wf, "gpu").features, ElementsAre("gpu", "nvlink")) << "replaces, no repeats";
  EXPECT_THAT(task(wf, "one").features, ElementsAre("bigmem"));
  EXPECT_THAT(task(wf, "none").features, IsEmpty());
  const Workflow bare = parse("name: w\ntasks:\n  - {id: a, run: x}\n");
  EXPECT_EQ(bare.backend, "") << "not said: the command line decides";
  EXPECT_EQ(bare.slurm.partition, "");
  EXPECT_THAT(bare.slurm.options, IsEmpty());
}

TEST(Backend, BadSettingsAreRefusedAtTheirLine) {
  const std::string e = error_of(
      "name: w\n"
      "backend: slrum\n"
      "slurm:\n"
      "  partition: \"a b\"\n"
      "  queue: long\n"
      "  options: [--output=x.log, exclusive]\n"
      "tasks:\n"
      "  - id: a\n"
      "    run: x\n"
      "    features: [\"gpu&nvlink\", {a: 1}]\n");
  EXPECT_THAT(e, testing::HasSubstr("2:10: backend \"slrum\" is not a backend of taskloom — did "
                                    "you mean \"slurm\"?"));
  EXPECT_THAT(e, testing::HasSubstr("4:14: slurm.partition \"a b\" is not one partition name"));
  EXPECT_THAT(e, testing::HasSubstr("5:3: unknown key \"queue\" in slurm"));
  EXPECT_THAT(e, testing::HasSubstr("6:13: slurm.options: taskloom sets --output for every job"));
  EXPECT_THAT(e, testing::HasSubstr("6:29: slurm.options: \"exclusive\" is not an sbatch option"));
  EXPECT_THAT(e, testing::HasSubstr("10:16: feature \"gpu&nvlink\" is not a node feature name"));
  EXPECT_THAT(e, testing::HasSubstr("10:30: feature a mapping is not a node feature name"));
}

// --- errors --------------------------------------------------------------------------------

TEST(Errors, EveryProblemIsReportedAtOnce) {
  try {
    parse("name: w\ntasks:\n  - id: a\n    retries: x\n  - id: b\n    run: y\n    after: c\n");
    FAIL() << "expected an InputError";
  } catch (const taskloom::InputError& e) {
    ASSERT_EQ(e.diagnostics().size(), 3u);
    EXPECT_EQ(e.diagnostics()[0].line, 3);
    EXPECT_EQ(e.diagnostics()[1].line, 4);
    EXPECT_EQ(e.diagnostics()[2].line, 7);
    EXPECT_EQ(e.diagnostics()[2].file, kFile.string());
  }
}

TEST(Errors, MissingFileHasNoPosition) {
  try {
    taskloom::workflow::load_workflow("/nonexistent/flow.yaml");
    FAIL() << "expected an InputError";
  } catch (const taskloom::InputError& e) {
    EXPECT_STREQ(e.what(),
                 "/nonexistent/flow.yaml: cannot read the workflow file: no such file — check "
                 "the path and its permissions");
  }
}

TEST(Errors, SelfDependencyOfAGroupIsACycle) {
  EXPECT_EQ(error_of("name: w\ntasks:\n  - id: a\n    run: x\n    after: a\n"),
            "/flows/shot/shot.yaml:3:5: dependency cycle: a -> a (each task runs after the one "
            "before it) — remove one of these dependencies");
}

TEST(Errors, OddInputIsReportedNeverCrashes) {
  const char* cases[] = {
      "name: w\ntasks: [{id: a, run: x, after: \"a[\"}]\n",
      "name: w\ntasks: [{id: a, run: x, after: \"[x]\"}]\n",
      "name: w\ntasks: [{id: a, run: x, after: \"a[]\"}]\n",
      "name: w\ntasks: [{id: \"a-{n}\", run: x, matrix: {n: \"0-99999999999\"}}]\n",
      "name: w\ntasks: [{id: \"a-{n}\", run: x, matrix: {n: \"1-99999999999999999999999\"}}]\n",
      "name: w\ntasks: [{id: \"a-{n}\", run: x, matrix: {n: \"-5-3\"}}]\n",
      "name: w\ntasks: [{id: \"a-{n}-{m}\", run: x, matrix: {n: \"1-2000\", m: \"1-2000\"}}]\n",
      "name: w\ntasks: [{id: a, run: x, needs: {memory: 9e300T}}]\n",
      "name: w\ntasks: [{id: a, run: x, timeout: 1e300}]\n",
      "name: w\ntasks: [{id: a, run: x, needs: {cpu: .nan}}]\n",
      "name: w\ntasks: [{id: a, run: x, <<: 3}]\n",
      "name: [w]\ntasks: 3\n",
      "name: w\ntasks: [3, [a], {id: [a], run: {b: c}}]\n",
      "name: w\n? [a]\n: b\ntasks: [{id: a, run: x}]\n",
      "name: w\ninclude: {a: b}\ntasks: [{id: a, run: x}]\n",
      "name: w\ninclude: [\"\", [x]]\ntasks: [{id: a, run: x}]\n",
      "--- \n...\n",
      "\t\"unterminated\n",
  };
  for (const char* yaml : cases) {
    try {
      parse(yaml);
      ADD_FAILURE() << "no error for: " << yaml;
    } catch (const taskloom::InputError& e) {
      EXPECT_FALSE(e.diagnostics().empty()) << yaml;
      for (const taskloom::Diagnostic& d : e.diagnostics()) EXPECT_FALSE(d.message.empty());
    }
  }
}

// Every syntax error yaml-cpp's parser throws is said in taskloom's words (yaml_errors.cpp).
TEST(Errors, YamlSyntaxErrorsAreNeverInYamlCppsWords) {
  const char* cases[] = {
      "%YAML 1.2 3\n---\nname: w\n",
      "%YAML 2.0\n---\nname: w\n",
      "%YAML 1.x\n---\nname: w\n",
      "%YAML 1.2\n%YAML 1.2\n---\nname: w\n",
      "%TAG !x\n---\nname: w\n",
      "%TAG !x! a\n%TAG !x! b\n---\nname: w\n",
      "name: !<x\n",
      "name: !e! x\n",
      "name: !a&b x\n",
      "name: !x !y w\n",
      "name: &x &y w\n",
      "name: *\n",
      "name: &\n",
      "name: *nope\n",
      "name: \"\\xZZ\"\n",
      "name: \"\\uD800\"\n",
      "name: \"\\q\"\n",
      "name: \"x\n---\ny\"\n",
      "name: |0\n x\n",
      "name: |x\n x\n",
      "name: @x\n",
      "name: `x\n",
      "name: [a]]\n",
      "name: - x\n",
      "name: w\n? a\n? [b\n",
      "name: a: b\n",
      "name: \"w\" x\n",
      "name: w\n  x: 1\n",
      "tasks:\n  - id: a\n   - id: b\n",
      "tasks:\n  - id: a\n    run: x\n   retries: 1\n",
      "name: [w\n",
      "name: {w: 1\n",
      "name: [w, a: b: c]\n",
      "name: {a: 1, b: [1}\n",
      "\tname: w\n",
      "name: w\ntasks:\n\t- id: a\n",
      "name: *a,b\n",
      "name: &a,b w\n",
      "name: {a: 1}}\n",
      "name: '\n",
  };
  const char* const yaml_cpp_words[] = {
      YAML::ErrorMsg::YAML_DIRECTIVE_ARGS,
      YAML::ErrorMsg::YAML_VERSION,
      YAML::ErrorMsg::YAML_MAJOR_VERSION,
      YAML::ErrorMsg::REPEATED_YAML_DIRECTIVE,
      YAML::ErrorMsg::TAG_DIRECTIVE_ARGS,
      YAML::ErrorMsg::REPEATED_TAG_DIRECTIVE,
      YAML::ErrorMsg::CHAR_IN_TAG_HANDLE,
      YAML::ErrorMsg::TAG_WITH_NO_SUFFIX,
      YAML::ErrorMsg::END_OF_VERBATIM_TAG,
      YAML::ErrorMsg::END_OF_MAP,
      YAML::ErrorMsg::END_OF_MAP_FLOW,
      YAML::ErrorMsg::END_OF_SEQ,
      YAML::ErrorMsg::END_OF_SEQ_FLOW,
      YAML::ErrorMsg::MULTIPLE_TAGS,
      YAML::ErrorMsg::MULTIPLE_ANCHORS,
      YAML::ErrorMsg::MULTIPLE_ALIASES,
      YAML::ErrorMsg::ALIAS_CONTENT,
      YAML::ErrorMsg::INVALID_HEX,
      YAML::ErrorMsg::INVALID_UNICODE,
      YAML::ErrorMsg::INVALID_ESCAPE,
      YAML::ErrorMsg::UNKNOWN_TOKEN,
      YAML::ErrorMsg::DOC_IN_SCALAR,
      YAML::ErrorMsg::EOF_IN_SCALAR,
      YAML::ErrorMsg::CHAR_IN_SCALAR,
      YAML::ErrorMsg::TAB_IN_INDENTATION,
      YAML::ErrorMsg::FLOW_END,
      YAML::ErrorMsg::BLOCK_ENTRY,
      YAML::ErrorMsg::MAP_KEY,
      YAML::ErrorMsg::MAP_VALUE,
      YAML::ErrorMsg::ALIAS_NOT_FOUND,
      YAML::ErrorMsg::ANCHOR_NOT_FOUND,
      YAML::ErrorMsg::CHAR_IN_ALIAS,
      YAML::ErrorMsg::CHAR_IN_ANCHOR,
      YAML::ErrorMsg::ZERO_INDENT_IN_BLOCK,
      YAML::ErrorMsg::CHAR_IN_BLOCK,
      YAML::ErrorMsg::AMBIGUOUS_ANCHOR,
      YAML::ErrorMsg::UNKNOWN_ANCHOR,
      YAML::ErrorMsg::BAD_FILE,
      "malformed YAML",
  };
  for (const char* yaml : cases) {
    const std::string error = error_of(yaml);
    EXPECT_NE(error, "no error") << yaml;
    for (const char* words : yaml_cpp_words) {
      EXPECT_EQ(error.find(words), std::string::npos) << yaml << "\n" << error;
    }
  }
}

// Issue 12, defect 4: "task 'a' depends on unknown task 'zz' — did you mean 'a'?" A task
// cannot run after itself, so it is never the suggestion; another close id still is.
TEST(Errors, AnUnknownDependencyNeverSuggestsTheTaskItself) {
  try {
    parse("name: w\ntasks:\n  - id: a\n    run: x\n    after: zz\n");
    FAIL() << "expected an InputError";
  } catch (const taskloom::InputError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u);
    EXPECT_EQ(e.diagnostics()[0].fix.find("did you mean"), std::string::npos) << e.what();
  }
  try {
    parse(
        "name: w\ntasks:\n  - id: fetch\n    run: x\n  - id: fetcher\n    run: x\n"
        "    after: fetchez\n");
    FAIL() << "expected an InputError";
  } catch (const taskloom::InputError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u);
    EXPECT_THAT(e.diagnostics()[0].fix, testing::HasSubstr("did you mean \"fetch\"?"))
        << "fetchez is closer to fetcher itself";
  }
}

// 300 tasks with two problems each: the 100 first by position are reported (those of the
// dependency pass among them, although found after every problem of the parse), then a count.
TEST(Errors, AtMostTheFirstHundredProblemsThenHowManyMore) {
  std::string yaml = "name: w\ntasks:\n";
  for (int i = 0; i < 300; ++i) {
    yaml += "  - id: t" + std::to_string(i) + "\n    run: x\n    retries: x\n    after: nope\n";
  }
  try {
    parse(yaml);
    FAIL() << "expected an InputError";
  } catch (const taskloom::InputError& e) {
    const auto& d = e.diagnostics();
    ASSERT_EQ(d.size(), 101u);
    for (std::size_t i = 0; i < 100; ++i) {
      EXPECT_EQ(d[i].line, 5 + 4 * static_cast<int>(i / 2) + static_cast<int>(i % 2)) << i;
    }
    EXPECT_EQ(d[0].message, "retries must be a whole number of 0 or more, not \"x\"");
    EXPECT_EQ(d[1].message, "task \"t0\" runs after \"nope\", which is not a task or group");
    EXPECT_EQ(d[100].message, "and 500 more problems not shown");
  }
}

// --- fingerprint ---------------------------------------------------------------------------

TEST(Fingerprint, StableForSameContentAndChangesWithIt) {
  const std::string yaml =
      "name: w\ntasks:\n  - id: a-{n}\n    run: x {n}\n    matrix: {n: \"1-4\"}\n";
  const std::string fp = parse(yaml).fingerprint;
  EXPECT_EQ(parse(yaml).fingerprint, fp);
  EXPECT_EQ(parse("# a comment\n" + yaml).fingerprint, fp) << "formatting is not content";
  EXPECT_NE(parse(yaml + "    retries: 1\n").fingerprint, fp);
  std::string wider = yaml;
  wider.replace(wider.find("1-4"), 3, "1-5");
  EXPECT_NE(parse(wider).fingerprint, fp);
  std::string renamed = yaml;
  renamed.replace(renamed.find("name: w"), 7, "name: v");
  EXPECT_NE(parse(renamed).fingerprint, fp);
  EXPECT_NE(parse(yaml + "    features: [gpu]\n").fingerprint, fp) << "features are content";
  EXPECT_EQ(parse("backend: slurm\nslurm: {partition: p}\n" + yaml).fingerprint, fp)
      << "where it runs is not: a run may resume on another cluster partition";
  EXPECT_EQ(fp.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
