// taskloom/cluster/workload.hpp — reading workload traces and cluster descriptions from files.
//
// Defines the readers that turn files into the cluster model (model.hpp):
//   - Standard Workload Format traces (Parallel Workloads Archive, 18 fields per job) and Alea's
//     21-field extended SWF (node ids, queue name, PBS node spec) -> Jobs (read_swf);
//   - WfCommons workflow instances (JSON, WfFormat 1.5) -> Jobs with dependencies
//     (read_wfcommons);
//   - Alea `.machines` files and a small YAML cluster format -> Nodes and Partitions
//     (read_machines, read_cluster_yaml, read_cluster).
//
//   ClusterSpec cluster = read_cluster("alea-hpc2n-subset.swf.machines");
//   Workload w = read_swf("alea-hpc2n-subset.swf",
//                         {.on_error = OnError::kSkip, .cpus_per_node = cpus_per_node(cluster)});
//   exclude_unplaceable(w, cluster.nodes);   // jobs larger than the whole cluster
//   // w.jobs, w.malformed, w.never_ran, w.too_large, w.warnings ("file:line: ...")
//
// Bad lines in a trace are never dropped silently: each one becomes a Diagnostic
// ("file:line:column: what") in Workload::warnings (and is printed to WorkloadOptions::warn when
// set) and is counted, or, with OnError::kStop, ends the read with an InputError. Cluster files
// are small and written by hand: every problem in one is collected and thrown together as one
// InputError. docs/cluster-simulation.md lists the handling rule of every field.
// Thread-safety: the functions share no state; call them from any thread.
#pragma once

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/cluster/model.hpp"
#include "taskloom/core/clock.hpp"
#include "taskloom/core/error.hpp"

namespace taskloom::cluster {

/// What a reader does with a malformed record.
enum class OnError {
  kSkip,  ///< report it (Workload::warnings, WorkloadOptions::warn), count it, go on
  kStop,  ///< throw InputError naming the file and line
};

/// What an SWF reader does with a job whose runtime is unknown (-1).
enum class UnknownRuntime {
  kExclude,       ///< leave it out, counted in Workload::unknown_runtime
  kUseRequested,  ///< run it for its requested time when that is known, else exclude
};

struct WorkloadOptions {
  OnError on_error = OnError::kSkip;
  /// Where to print each warning as it is found (e.g. &std::cerr); null: only collected.
  std::ostream* warn = nullptr;
  /// SWF: a job of P processors asks for ceil(P / cpus_per_node) nodes with P / nodes cpus
  /// each. 0: one node per job with P cpus. Unused by the extended SWF (its PBS node spec says
  /// how many nodes) and by WfCommons.
  double cpus_per_node = 0;
  UnknownRuntime unknown_runtime = UnknownRuntime::kExclude;
  /// Subtract the earliest submit time, so the schedule starts at 0 (traces with Unix times).
  bool rebase_time = true;
  /// Read at most this many jobs (0: all).
  std::size_t max_jobs = 0;
};

/// `; Key: value` lines at the head of an SWF file.
struct SwfHeader {
  std::map<std::string, std::string, std::less<>> fields;  ///< every key, as written
  long long max_nodes = -1;                                ///< MaxNodes, -1 when absent
  long long max_procs = -1;                                ///< MaxProcs, -1 when absent
  long long unix_start_time = -1;                          ///< UnixStartTime, -1 when absent
};

/// Jobs read from a trace, and an account of everything that was not turned into a job.
struct Workload {
  std::string source;                 ///< the file read
  std::string format;                 ///< "swf", "swf-extended" or "wfcommons"
  std::vector<Job> jobs;              ///< in file order (SWF: submit order)
  std::vector<Partition> partitions;  ///< queues the trace names (extended SWF), default settings
  SwfHeader header;                   ///< SWF only
  std::vector<Node> machines;         ///< WfCommons only: execution.machines as nodes
  std::vector<Diagnostic> warnings;   ///< one per skipped or adjusted record, file:line

  std::size_t records = 0;          ///< job records seen (not comments or blank lines)
  std::size_t malformed = 0;        ///< records skipped as malformed (OnError::kSkip)
  std::size_t never_ran = 0;        ///< excluded: cancelled before starting, or no processors
  std::size_t unknown_runtime = 0;  ///< excluded: runtime -1 (see UnknownRuntime)
  std::size_t too_large = 0;        ///< excluded by exclude_unplaceable
  std::vector<std::string> too_large_ids;  ///< their ids
  std::size_t estimated_requested = 0;     ///< requested time unknown: set to the actual runtime
  std::size_t ignored_properties = 0;      ///< extended SWF: node-spec items not turned into
                                           ///< constraints (exclusions ^x, #excl)
  Duration time_origin{};                  ///< submit time subtracted by rebase_time
};

/// Reads an SWF trace; the extended 21-field form is recognised line by line.
/// Throws InputError (file cannot be opened, or a malformed record with OnError::kStop).
Workload read_swf(const std::filesystem::path& file, const WorkloadOptions& options = {});
Workload read_swf(std::istream& in, std::string_view source_name,
                  const WorkloadOptions& options = {});

/// Reads a WfCommons instance (WfFormat 1.5; `machines` or `machine`): one job per task,
/// submitted at 0, `after` its parents, cpu = coreCount (1 when absent), memory = memoryInBytes
/// (none when some machine does not give its memoryInBytes: its memory is unknown, not zero).
/// A task with a bad or missing field is skipped with its descendants (kSkip) or stops the read.
Workload read_wfcommons(const std::filesystem::path& file, const WorkloadOptions& options = {});
Workload read_wfcommons_string(std::string_view json, std::string_view source_name,
                               const WorkloadOptions& options = {});

/// Picks the reader by content: `.json` -> WfCommons, anything else -> SWF.
Workload read_workload(const std::filesystem::path& file, const WorkloadOptions& options = {});

/// Nodes and partitions of a cluster.
struct ClusterSpec {
  std::string source;
  std::vector<Node> nodes;
  std::vector<Partition> partitions;
};

/// Alea `.machines`: one line per cluster, `id name nodes cpus_per_node speed memory_kb`
/// (tabs or spaces). Nodes are named <name><1..nodes>, labelled `cluster=<name>`,
/// `host=<name><i>`, `nodecpus=<cpus>`; capacity cpu and memory (bytes). Throws InputError.
ClusterSpec read_machines(const std::filesystem::path& file);
ClusterSpec read_machines(std::istream& in, std::string_view source_name);

/// The YAML cluster format (docs/cluster-simulation.md):
///   nodes:
///     - {name: cpu, count: 8, capacity: {cpu: 32, memory: 128GiB}, labels: [rack1]}
///     - {name: gpu, count: 2, capacity: {cpu: 16, gpu: 4}, labels: [gpu], speed: 1.5,
///        power: {idle: 90, busy: 450}}
///   partitions:
///     - {name: batch, quota: {cpu: 200}, weight: 2, priority: 10}
/// A group of `count` nodes is named <name>1..<name>N (just <name> when count is 1).
/// Pools are named as everywhere in taskloom ("cpu", "memory", "gpu"): another format's spelling
/// ("mem", "cpus") is refused with the canonical name as the fix (canonical_resource_name).
/// Throws InputError with file:line:column for every problem (unknown keys, negative or
/// non-numeric amounts, duplicate node or partition names).
ClusterSpec read_cluster_yaml(const std::filesystem::path& file);
ClusterSpec read_cluster_yaml_string(std::string_view yaml, std::string_view source_name);

/// `.machines` (by name) or YAML (anything else).
ClusterSpec read_cluster(const std::filesystem::path& file);

/// `<trace>.machines` beside an SWF trace, when it exists.
std::optional<std::filesystem::path> machines_sibling(const std::filesystem::path& trace);

/// A cluster of MaxProcs (else MaxNodes) one-cpu nodes n1..nN, for SWF traces without a
/// machine file. Throws InputError when the header gives neither.
ClusterSpec cluster_from_swf_header(const SwfHeader& header, std::string_view source_name);

/// The largest cpu capacity of any node (the SWF reader's cpus_per_node), 0 for no nodes.
double cpus_per_node(const ClusterSpec& cluster);

/// Moves out of `w.jobs` every job that no set of up nodes could ever hold (node count,
/// per-node request, constraints), counting it in w.too_large with a warning naming it.
/// Jobs that depend on an excluded job are excluded with it. Returns how many were excluded.
/// (simulate() would reject them too, as kRejectedTooLarge; excluding them first keeps them out of
/// the metrics and names them in the report.)
std::size_t exclude_unplaceable(Workload& w, std::span<const Node> nodes);

/// Adds to `cluster.partitions` a default Partition for every partition a job names that the
/// cluster does not define (e.g. the queues of the extended SWF). Returns how many were added.
std::size_t add_missing_partitions(ClusterSpec& cluster, const Workload& w);

/// A deadline model, since no trace gives jobs deadlines: every job of `w` without one gets
/// submit + factor x its requested time (its actual runtime when it asks for none), so EDF
/// and least slack have something to order by and Metrics::deadline_misses something to
/// count. Throws InvalidArgumentError unless factor > 0. Returns how many jobs got one.
///   assign_deadlines(w, 3.0);  // due within three times their wall limit of arriving
std::size_t assign_deadlines(Workload& w, double factor);

/// "3170 records, 3145 jobs; excluded: 25 unknown runtime, ...": one line for reports.
std::string summary(const Workload& w);

}  // namespace taskloom::cluster
