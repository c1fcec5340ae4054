// taskloom/workflow/workflow.hpp — load, validate and expand a YAML workflow into concrete tasks.
//
//   workflow::Workflow wf = workflow::load_workflow("shot.yaml");   // throws taskloom::InputError
//   for (const workflow::Task& t : wf.tasks) {
//     t.id;      // "render-11" (matrix template "render-{frame}", frame: "1-240:10")
//     t.run;     // "blender -b shot.blend -s 11 -e 20 -a"
//     t.after;   // concrete ids this task runs after
//   }
//   wf.fingerprint;   // "9f0c1e7a2b4d5e60": changes whenever the expanded content changes
//
// The format is documented in docs/workflow-format.md (JSON Schema: docs/workflow.schema.json).
// Loading never runs anything and is pure: it reads the files and nothing of the machine
// (capacities() adds a host's, when a runner knows where the tasks will run). Every problem in the
// file (and in the files it includes) is collected and thrown at once as one taskloom::InputError
// whose diagnostics read "file:line:column: what is wrong — how to fix it", sorted by file and
// position (the first 100, then a line saying how many more). Thread-safety: the functions are pure
// apart from reading files; call them from any thread.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/priority.hpp"
#include "taskloom/core/resources.hpp"
#include "taskloom/graph/digraph.hpp"

namespace taskloom::workflow {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

/// An immutable path that copies share: the tasks of one entry hold one `file` and, unless a
/// matrix value goes into it, one `cwd` (a million-task matrix holds two paths, not two million).
/// Reads as the `const std::filesystem::path&` it converts to.
class SharedPath {
 public:
  SharedPath() = default;
  SharedPath(std::filesystem::path p)  // implicit, as a path is built from a string
      : p_(std::make_shared<const std::filesystem::path>(std::move(p))) {}
  const std::filesystem::path& get() const noexcept { return p_ ? *p_ : empty(); }
  operator const std::filesystem::path&() const noexcept { return get(); }
  std::string string() const { return get().string(); }
  friend bool operator==(const SharedPath& a, const SharedPath& b) { return a.get() == b.get(); }
  friend bool operator==(const SharedPath& a, const std::filesystem::path& b) {
    return a.get() == b;
  }

 private:
  static const std::filesystem::path& empty() noexcept;
  std::shared_ptr<const std::filesystem::path> p_;
};

/// One concrete task, after defaults are applied and matrices expanded.
struct Task {
  std::string id;                  ///< unique in the workflow
  std::string run;                 ///< shell command, meant for `/bin/sh -c`
  std::vector<std::string> after;  ///< concrete ids of the tasks this one runs after, no repeats
  Priority priority;               ///< task, else defaults, else normal
  unsigned retries = 0;            ///< extra attempts after a failure
  Duration timeout{0};             ///< per attempt; zero means none
  Resources needs;                 ///< defaults.needs overridden key by key; cpu 1 if unset
  /// Node features a cluster node must have (Slurm --constraint, all of them); the task's own
  /// list replaces defaults.features. Ignored by the local backend.
  std::vector<std::string> features;
  /// Files the task reads and writes (paths or globs, relative to cwd, matrix values put in).
  /// A task with outputs is up to date, and not run again, when every output exists and none is
  /// older than an input or an output of a task it runs after (runner/outputs.hpp).
  std::vector<std::string> inputs, outputs;
  KeyValues env;             ///< defaults.env, then the task's own (which win)
  SharedPath cwd;            ///< absolute; the main workflow file's directory by default
  KeyValues metadata;        ///< free scalars, in file order
  std::string group;         ///< name of the task entry it came from ("render")
  KeyValues matrix;          ///< variable -> value of this element, declaration order
  SharedPath file;           ///< the file that declares the task entry
  int line = 0, column = 0;  ///< where the entry is in `file` (1-based)
};

/// `slurm:` settings for every job of a run on the Slurm backend; empty: Slurm's own default
/// (and $SBATCH_PARTITION, ... as sbatch reads them). Command-line flags override them.
struct SlurmSettings {
  std::string partition, account, qos;
  std::vector<std::string> options;  ///< more sbatch options, e.g. "--exclusive"
};

struct Workflow {
  std::string name;
  std::filesystem::path file;  ///< as given to load_workflow / parse_workflow
  Resources resources;         ///< as declared under `resources:` (see capacities())
  /// `backend:` — "local" or "slurm"; empty when the file does not say. --backend and
  /// $TASKLOOM_BACKEND override it. For this, `slurm:` and `resources:` the including file wins.
  std::string backend;
  SlurmSettings slurm;
  std::vector<Task> tasks;  ///< includes' tasks first, then in declaration order
  std::string fingerprint;  ///< 16 hex digits (FNV-1a 64) of the expanded tasks and name
};

/// Reads `file` and everything it includes. Throws InputError listing every problem.
Workflow load_workflow(const std::filesystem::path& file);

/// Same from text already read (stdin, tests); `file` names it in messages and anchors
/// relative `include` and `cwd` paths.
Workflow parse_workflow(std::string_view yaml, const std::filesystem::path& file);

/// What a run of `wf` may use where it runs: the declared resources, and `host`'s amount of
/// every pool the workflow does not declare (the runner passes Backend::capacity(): cores and
/// memory of this machine for local runs, nothing for a cluster, which bounds jobs itself).
/// Throws InputError, located at each task, for tasks that need more than that.
Resources capacities(const Workflow& wf, const Resources& host);

/// The tasks as a graph: node i is wf.tasks[i], with an edge d -> i for each task d that task i
/// runs after (graph/algorithms.hpp gives its waves, ranks and critical path).
graph::Digraph dependency_graph(const Workflow& wf);

/// What a task weighs on a critical path: its timeout in seconds, or 1 without one. The runner
/// gives the runtime this weight; `plan` and `--dry-run` order and measure by it.
double weight_of(const Task& t);

/// The tasks `targets` name (a task id, or a group: every task of it) and, transitively, every
/// task they run after, in `wf`'s order; the rest of `wf` as it is, and the fingerprint of the
/// part. InvalidArgumentError naming a target that is neither, with the closest name.
Workflow select_targets(const Workflow& wf, std::span<const std::string> targets);

/// Priority by level name, integer, or class name: interactive (900), urgent (500),
/// background (-500); nullopt if bad.
std::optional<Priority> parse_task_priority(std::string_view text);

}  // namespace taskloom::workflow
