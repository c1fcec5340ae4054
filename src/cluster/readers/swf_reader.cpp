// The Standard Workload Format reader (Parallel Workloads Archive) and Alea's 21-field
// extended SWF. Handling rules are documented in docs/cluster-simulation.md.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <istream>
#include <limits>
#include <string>
#include <unordered_set>

#include "taskloom/cluster/workload.hpp"
#include "taskloom/core/text.hpp"

#include "reader_support.hpp"

namespace taskloom::cluster {
namespace {

using detail::readers::Field;
using detail::readers::parse_number;
using detail::readers::report;
using detail::readers::seconds;

// SWF fields, 0-based.
enum SwfField : std::size_t {
  kJobNumber = 0,
  kSubmitTime = 1,
  kWaitTime = 2,
  kRunTime = 3,
  kAllocatedProcs = 4,
  kAvgCpuTime = 5,
  kUsedMemory = 6,
  kRequestedProcs = 7,
  kRequestedTime = 8,
  kRequestedMemory = 9,
  kStatus = 10,
  kUserId = 11,
  kGroupId = 12,
  kExecutable = 13,
  kQueue = 14,
  kPartition = 15,
  kPrecedingJob = 16,
  kThinkTime = 17,
  kStandardFields = 18,
  kNodeIds = 18,    // extended: "{1241,1241,...}", the nodes the job ran on
  kQueueName = 19,  // extended: "q_1d"
  kNodeSpec = 20,   // extended: PBS "1:ppn=64:x86_64:cl_zewura#excl"
  kExtendedFields = 21,
};

constexpr int kStatusCancelled = 5;
// Larger values are typos or corruption; they would also overflow Duration (int64 ns) and
// Job::node_count.
constexpr double kMaxSeconds = 4e9;
constexpr double kMaxProcessors = 1e7;

// Node properties every machine of the MetaCentrum trace has: not constraints.
const std::unordered_set<std::string_view> kSiteProperties = {"x86_64", "brno", "nfs4", "linux",
                                                              "debian"};

std::string short_host(std::string_view host) {
  auto dot = host.find('.');
  return std::string(dot == std::string_view::npos ? host : host.substr(0, dot));
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct NodeSpec {
  std::uint32_t nodes = 0;
  std::vector<std::string> constraints;
  std::size_t ignored = 0;
};

/// Parses "1:ppn=1+3:ppn=2:cl_zegox"; returns an error message or "".
std::string parse_node_spec(std::string_view spec, NodeSpec& out) {
  auto add_constraint = [&](std::string c) {
    if (std::find(out.constraints.begin(), out.constraints.end(), c) == out.constraints.end()) {
      out.constraints.push_back(std::move(c));
    }
  };
  while (!spec.empty()) {
    auto plus = spec.find('+');
    std::string_view chunk = spec.substr(0, plus);
    spec = plus == std::string_view::npos ? std::string_view{} : spec.substr(plus + 1);
    if (chunk.empty()) return "empty chunk in node spec";
    bool first = true;
    std::uint32_t count = 1;
    while (!chunk.empty()) {
      auto colon = chunk.find(':');
      std::string_view item = chunk.substr(0, colon);
      chunk = colon == std::string_view::npos ? std::string_view{} : chunk.substr(colon + 1);
      if (item.empty()) return "empty item in node spec";
      if (first && all_digits(item)) {
        auto n = parse_number(item);
        if (!n || *n < 1 || *n > 100000) return "node count out of range";
        count = static_cast<std::uint32_t>(*n);
      } else if (item.rfind("ppn=", 0) == 0) {
        if (!parse_number(item.substr(4))) return "ppn is not a number";
      } else if (item.rfind("mem=", 0) == 0) {
        ++out.ignored;  // the job's memory is field 10
      } else if (item.front() == '^') {
        ++out.ignored;  // exclusions have no counterpart in Job
      } else {
        std::string_view name = item;
        if (auto hash = name.find('#'); hash != std::string_view::npos) {
          ++out.ignored;  // "#excl": exclusive use of the node
          name = name.substr(0, hash);
        }
        if (name.rfind("cl_", 0) == 0) {
          add_constraint("cluster=" + std::string(name.substr(3)));
        } else if (name.rfind("host=", 0) == 0) {
          add_constraint("host=" + short_host(name.substr(5)));
        } else if (name.find('.') != std::string_view::npos) {
          add_constraint("host=" + short_host(name));
        } else if (name.rfind("nodecpus", 0) == 0 && all_digits(name.substr(8))) {
          add_constraint("nodecpus=" + std::string(name.substr(8)));
        } else if (!kSiteProperties.contains(name) && !name.empty()) {
          add_constraint(std::string(name));
        }
      }
      first = false;
    }
    out.nodes += count;
    if (out.nodes > 1'000'000) return "node count out of range";
  }
  if (out.nodes == 0) return "node spec names no nodes";
  return "";
}

struct SwfReader {
  const WorkloadOptions& options;
  Workload& w;
  std::unordered_set<std::string> ids;
  std::unordered_set<std::string> partitions;
  std::vector<Field> fields;
  double earliest_submit = std::numeric_limits<double>::infinity();

  void header_line(std::string_view line) {
    line = trim(line.substr(1));
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string key(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    if (key.empty() || key.find(' ') != std::string::npos) return;  // a comment, not a field
    auto as_int = [&]() -> long long {
      auto n = parse_number(value);
      return n ? static_cast<long long>(*n) : -1;
    };
    if (key == "MaxNodes") w.header.max_nodes = as_int();
    if (key == "MaxProcs") w.header.max_procs = as_int();
    if (key == "UnixStartTime") w.header.unix_start_time = as_int();
    w.header.fields.emplace(std::move(key), std::move(value));
  }

  void malformed(int line, int column, std::string message, std::string fix = {}) {
    ++w.malformed;
    report(w, options, {w.source, line, column, std::move(message), std::move(fix)}, true);
  }

  void note(int line, std::string message) {
    report(w, options, {w.source, line, 0, std::move(message), {}}, false);
  }

  /// One job line; false when the line was skipped.
  void job_line(std::string_view line, int lineno) {
    ++w.records;
    detail::readers::split_fields(line, fields);
    const bool extended = fields.size() == kExtendedFields;
    if (fields.size() != kStandardFields && !extended) {
      malformed(
          lineno, 1,
          "expected 18 fields (SWF) or 21 (extended SWF), found " + std::to_string(fields.size()),
          "fix or delete the line");
      return;
    }
    double v[kStandardFields];
    for (std::size_t i = 0; i < kStandardFields; ++i) {
      auto n = parse_number(fields[i].text);
      if (!n) {
        malformed(lineno, fields[i].column,
                  "field " + std::to_string(i + 1) + " is not a number: '" +
                      std::string(fields[i].text) + "'",
                  "SWF fields are numbers, -1 when unknown");
        return;
      }
      v[i] = *n;
    }
    if (v[kJobNumber] < 0 || v[kJobNumber] != std::floor(v[kJobNumber])) {
      malformed(lineno, fields[kJobNumber].column, "job number must be an integer >= 0");
      return;
    }
    if (v[kSubmitTime] < 0) {
      malformed(lineno, fields[kSubmitTime].column, "submit time is negative or unknown",
                "every job needs its submit time");
      return;
    }
    if (v[kRunTime] < -1) {
      malformed(lineno, fields[kRunTime].column,
                "run time " + std::string(fields[kRunTime].text) + " is negative",
                "use -1 for an unknown run time");
      return;
    }
    for (std::size_t f :
         {kRequestedProcs, kAllocatedProcs, kRequestedTime, kRequestedMemory, kUsedMemory}) {
      if (v[f] < -1) {
        malformed(lineno, fields[f].column,
                  "field " + std::to_string(f + 1) + " is negative: " + std::string(fields[f].text),
                  "use -1 for unknown");
        return;
      }
    }
    for (std::size_t f : {kSubmitTime, kRunTime, kRequestedTime}) {
      if (v[f] > kMaxSeconds) {
        malformed(lineno, fields[f].column,
                  "field " + std::to_string(f + 1) +
                      " is out of range: " + std::string(fields[f].text) + " s",
                  "times are seconds, below 4e9 (126 years)");
        return;
      }
    }
    for (std::size_t f : {kRequestedProcs, kAllocatedProcs}) {
      if (v[f] > kMaxProcessors) {
        malformed(lineno, fields[f].column,
                  "field " + std::to_string(f + 1) +
                      " is out of range: " + std::string(fields[f].text) + " processors");
        return;
      }
    }
    for (std::size_t f : {kRequestedMemory, kUsedMemory}) {
      if (v[f] > 1e18) {
        malformed(
            lineno, fields[f].column,
            "field " + std::to_string(f + 1) + " is out of range: " + std::string(fields[f].text));
        return;
      }
    }
    Job job;
    job.id = std::string(fields[kJobNumber].text);
    if (ids.contains(job.id)) {
      malformed(lineno, fields[kJobNumber].column, "job number " + job.id + " repeats",
                "job numbers are unique in a trace");
      return;
    }

    NodeSpec spec;
    if (extended) {
      std::string_view nodes = fields[kNodeIds].text;
      if (nodes.size() < 2 || nodes.front() != '{' || nodes.back() != '}') {
        malformed(lineno, fields[kNodeIds].column, "field 19 is not a {node,...} list");
        return;
      }
      if (auto err = parse_node_spec(fields[kNodeSpec].text, spec); !err.empty()) {
        malformed(lineno, fields[kNodeSpec].column,
                  err + ": '" + std::string(fields[kNodeSpec].text) + "'",
                  "field 21 is a PBS node spec such as 2:ppn=8:cl_zegox");
        return;
      }
    }

    const double procs = v[kRequestedProcs] > 0 ? v[kRequestedProcs] : v[kAllocatedProcs];
    if (procs <= 0) {
      ++w.never_ran;
      note(lineno, "job " + job.id + " has no processor count: excluded (never ran)");
      return;
    }
    if (static_cast<int>(v[kStatus]) == kStatusCancelled && v[kRunTime] <= 0) {
      ++w.never_ran;
      note(lineno, "job " + job.id + " was cancelled before it started: excluded (never ran)");
      return;
    }
    double runtime = v[kRunTime];
    if (runtime < 0) {
      if (options.unknown_runtime == UnknownRuntime::kUseRequested && v[kRequestedTime] > 0) {
        runtime = v[kRequestedTime];
        note(lineno, "job " + job.id + " has an unknown run time: runs for its requested time");
      } else {
        ++w.unknown_runtime;
        note(lineno, "job " + job.id + " has an unknown run time (-1): excluded");
        return;
      }
    }

    ids.insert(job.id);
    job.submit_time = seconds(v[kSubmitTime]);
    earliest_submit = std::min(earliest_submit, v[kSubmitTime]);
    job.actual_runtime = seconds(runtime);
    if (v[kRequestedTime] > 0) {
      job.requested_runtime = seconds(v[kRequestedTime]);
    } else {
      job.requested_runtime = job.actual_runtime;
      ++w.estimated_requested;
    }
    if (v[kUserId] >= 0) job.user = "u" + std::string(fields[kUserId].text);
    if (v[kGroupId] >= 0) job.group = "g" + std::string(fields[kGroupId].text);
    if (v[kExecutable] >= 0) job.application = "app" + std::string(fields[kExecutable].text);

    double mem_total = 0, used_total = 0;  // bytes for the whole job
    if (extended) {
      job.node_count = spec.nodes;
      job.constraints = std::move(spec.constraints);
      w.ignored_properties += spec.ignored;
      job.partition = std::string(fields[kQueueName].text);
      if (partitions.insert(job.partition).second) w.partitions.push_back({.name = job.partition});
      if (v[kRequestedMemory] > 0) mem_total = v[kRequestedMemory];  // bytes per job
    } else {
      double per_node = options.cpus_per_node;
      job.node_count =
          per_node > 0 ? static_cast<std::uint32_t>(std::ceil(procs / per_node - 1e-9)) : 1;
      if (v[kRequestedMemory] > 0) mem_total = v[kRequestedMemory] * 1024.0 * procs;  // KB/proc
      // Field 7, the memory the job used (KB per processor, averaged over its run): its usage,
      // for peak-usage forecasting. The extended SWF's field 7 is no measurement (the same
      // 1024 on every record of the MetaCentrum trace) and is left out.
      if (v[kUsedMemory] > 0) used_total = v[kUsedMemory] * 1024.0 * procs;
    }
    job.node_count = std::max<std::uint32_t>(job.node_count, 1);
    job.request.set("cpu", procs / job.node_count);
    if (mem_total > 0) job.request.set("memory", mem_total / job.node_count);
    if (used_total > 0) job.used.set("memory", used_total / job.node_count);
    w.jobs.push_back(std::move(job));
  }
};

}  // namespace

Workload read_swf(std::istream& in, std::string_view source_name, const WorkloadOptions& options) {
  Workload w;
  w.source = std::string(source_name);
  w.format = "swf";
  SwfReader reader{options, w, {}, {}, {}};
  std::string line;
  int lineno = 0;
  bool any_extended = false;
  while (std::getline(in, line)) {
    ++lineno;
    std::string_view text = trim(line);
    if (text.empty()) continue;
    if (text.front() == ';') {
      reader.header_line(text);
      continue;
    }
    if (options.max_jobs > 0 && w.jobs.size() >= options.max_jobs) break;
    reader.job_line(text, lineno);
    if (!w.jobs.empty() && !w.jobs.back().partition.empty()) any_extended = true;
  }
  if (in.bad()) throw InputError({{w.source, lineno, 0, "read error", {}}});
  if (any_extended) w.format = "swf-extended";
  if (options.rebase_time && !w.jobs.empty()) {
    w.time_origin = seconds(reader.earliest_submit);
    for (Job& j : w.jobs) j.submit_time -= w.time_origin;
  }
  return w;
}

Workload read_swf(const std::filesystem::path& file, const WorkloadOptions& options) {
  std::ifstream in(file);
  if (!in) {
    throw InputError({{file.string(), 0, 0, "cannot open the workload file", "check the path"}});
  }
  return read_swf(in, file.string(), options);
}

}  // namespace taskloom::cluster
