// Reader dispatch and the checks that need both a workload and a cluster.
#include "taskloom/cluster/workload.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "taskloom/core/error.hpp"

#include "reader_support.hpp"

namespace taskloom::cluster {

Workload read_workload(const std::filesystem::path& file, const WorkloadOptions& options) {
  if (file.extension() == ".json") return read_wfcommons(file, options);
  return read_swf(file, options);
}

std::size_t exclude_unplaceable(Workload& w, std::span<const Node> nodes) {
  // Nodes grouped by shape: by capacity alone for jobs without constraints, by capacity and
  // labels for the others (labels such as host=<id> make every node its own shape).
  struct Shape {
    const Node* example;
    std::size_t count;
  };
  auto group = [&](bool with_labels) {
    std::vector<Shape> shapes;
    std::unordered_map<std::string, std::size_t> index;
    for (const Node& n : nodes) {
      if (n.state == NodeState::kDown) continue;
      std::string key = to_string(n.capacity);
      if (with_labels) {
        for (const auto& l : n.labels) key += '\n' + l;
      }
      auto [it, added] = index.emplace(std::move(key), shapes.size());
      if (added) {
        shapes.push_back({&n, 1});
      } else {
        ++shapes[it->second].count;
      }
    }
    return shapes;
  };
  const std::vector<Shape> by_capacity = group(false);
  std::vector<Shape> by_labels;  // built on first use
  std::size_t excluded = 0;
  std::vector<Job> kept;
  kept.reserve(w.jobs.size());
  for (Job& job : w.jobs) {
    if (!job.constraints.empty() && by_labels.empty()) by_labels = group(true);
    std::size_t fitting = 0;
    for (const Shape& s : job.constraints.empty() ? by_capacity : by_labels) {
      const auto& labels = s.example->labels;
      bool has_labels = std::all_of(job.constraints.begin(), job.constraints.end(), [&](auto& c) {
        return std::find(labels.begin(), labels.end(), c) != labels.end();
      });
      if (has_labels && job.request.fits_within(s.example->capacity)) fitting += s.count;
    }
    if (fitting >= job.node_count) {
      kept.push_back(std::move(job));
      continue;
    }
    ++excluded;
    std::string what =
        std::to_string(job.node_count) + " node(s) x {" + to_string(job.request) + "}";
    if (!job.constraints.empty()) {
      what += " with labels";
      for (const auto& c : job.constraints) what += " " + c;
    }
    detail::readers::report(
        w, {},
        {w.source,
         0,
         0,
         "job " + job.id + " asks for " + what + " but only " + std::to_string(fitting) +
             " node(s) of the cluster can hold it: "
             "excluded (larger than the whole cluster)",
         {}},
        false);
    w.too_large_ids.push_back(job.id);
  }
  // Jobs that depend on an excluded job could never start either (WfCommons workflows).
  std::unordered_set<std::string> gone(w.too_large_ids.begin(), w.too_large_ids.end());
  for (bool changed = excluded > 0; changed;) {
    changed = false;
    std::vector<Job> still;
    still.reserve(kept.size());
    for (Job& job : kept) {
      auto dep = std::find_if(job.after.begin(), job.after.end(),
                              [&](const std::string& a) { return gone.contains(a); });
      if (dep == job.after.end()) {
        still.push_back(std::move(job));
        continue;
      }
      ++excluded;
      changed = true;
      gone.insert(job.id);
      w.too_large_ids.push_back(job.id);
      detail::readers::report(
          w, {},
          {w.source, 0, 0, "job " + job.id + " depends on excluded job " + *dep + ": excluded", {}},
          false);
    }
    kept = std::move(still);
  }
  w.jobs = std::move(kept);
  w.too_large += excluded;
  return excluded;
}

std::size_t assign_deadlines(Workload& w, double factor) {
  if (!(factor > 0) || !std::isfinite(factor)) {
    throw InvalidArgumentError("the deadline factor must be a positive number, not " +
                               std::to_string(factor));
  }
  std::size_t given = 0;
  for (Job& j : w.jobs) {
    if (j.deadline) continue;
    const Duration basis =
        j.requested_runtime > Duration::zero() ? j.requested_runtime : j.actual_runtime;
    j.deadline = j.submit_time + std::chrono::duration_cast<Duration>(
                                     std::chrono::duration<double, Duration::period>(
                                         static_cast<double>(basis.count()) * factor));
    ++given;
  }
  return given;
}

std::size_t add_missing_partitions(ClusterSpec& cluster, const Workload& w) {
  std::unordered_set<std::string> known;
  for (const Partition& p : cluster.partitions) known.insert(p.name);
  std::size_t added = 0;
  for (const Job& j : w.jobs) {
    if (!j.partition.empty() && known.insert(j.partition).second) {
      cluster.partitions.push_back({.name = j.partition});
      ++added;
    }
  }
  return added;
}

std::string summary(const Workload& w) {
  std::string out =
      std::to_string(w.records) + " records, " + std::to_string(w.jobs.size()) + " jobs";
  std::string excluded;
  auto add = [&](std::size_t n, const char* what) {
    if (n == 0) return;
    excluded += (excluded.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  add(w.malformed, "malformed");
  add(w.never_ran, "never ran");
  add(w.unknown_runtime, "unknown runtime");
  add(w.too_large, "larger than the cluster");
  if (!excluded.empty()) out += "; excluded: " + excluded;
  if (w.estimated_requested > 0) {
    out += "; " + std::to_string(w.estimated_requested) +
           " without a requested time use their actual runtime";
  }
  return out;
}

}  // namespace taskloom::cluster
