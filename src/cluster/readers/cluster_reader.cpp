// Cluster descriptions: Alea `.machines` files and the YAML cluster format.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <istream>
#include <sstream>
#include <string>
#include <unordered_set>

#include "taskloom/cluster/workload.hpp"
#include "taskloom/core/resources.hpp"
#include "taskloom/core/text.hpp"
#include "taskloom/core/units.hpp"

#include "reader_support.hpp"

namespace taskloom::cluster {
namespace {

using detail::readers::parse_number;

std::string read_file(const std::filesystem::path& file, std::string_view what) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw InputError(
        {{file.string(), 0, 0, "cannot open the " + std::string(what), "check the path"}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- .machines --------------------------------------------------------------------------------

bool is_count(double v) {
  return v >= 0 && v == std::floor(v) && v <= 1e6;
}

// ---- YAML -------------------------------------------------------------------------------------

struct YamlCluster {
  std::string source;
  std::vector<Diagnostic> problems;
  ClusterSpec out;

  void problem(const YAML::Node& at, std::string message, std::string fix = {}) {
    const YAML::Mark m = at.Mark();
    problems.push_back({source, m.line >= 0 ? m.line + 1 : 0, m.column >= 0 ? m.column + 1 : 0,
                        std::move(message), std::move(fix)});
  }

  void check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                  std::string_view where) {
    for (const auto& kv : map) {
      const std::string key = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string known;
        for (auto a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
        problem(kv.first, "unknown key '" + key + "' in " + std::string(where),
                "known keys: " + known);
      }
    }
  }

  /// A number >= `min` (> with `strictly_above`); with `size`, also a size in bytes ("4G",
  /// "128GiB"), parsed as a workflow file's memory is (units::parse_size).
  std::optional<double> number(const YAML::Node& n, std::string_view what, double min,
                               bool strictly_above = false, bool size = false) {
    if (!n.IsScalar()) {
      problem(n, std::string(what) + (size ? " must be a size" : " must be a number"));
      return std::nullopt;
    }
    const std::string& text = n.Scalar();
    std::optional<double> v = size ? units::parse_size(text) : parse_number(text);
    if (!v && size) {
      if (auto plain = parse_number(text); plain && *plain < 0) v = plain;  // "must be >= 0"
    }
    if (!v) {
      if (size) {
        problem(n, std::string(what) + " is not a size: '" + text + "'",
                "write a number of bytes or a size like \"512M\", \"4G\" or \"1.5GiB\"");
      } else {
        problem(n, std::string(what) + " is not a number: '" + text + "'",
                units::parse_size(text) ? "write a number (sizes like \"4G\" are accepted only "
                                          "for memory)"
                                        : "write a number");
      }
      return std::nullopt;
    }
    if (*v < min || (strictly_above && *v <= min)) {
      problem(n, std::string(what) + " must be " + (strictly_above ? "> " : ">= ") +
                     std::to_string(static_cast<long long>(min)) + ", found " + text);
      return std::nullopt;
    }
    return v;
  }

  Resources resources(const YAML::Node& n, std::string_view what) {
    Resources r;
    if (!n.IsMap()) {
      problem(n, std::string(what) + " must be a map of resource names to amounts",
              "e.g. {cpu: 32, memory: 128GiB}");
      return r;
    }
    for (const auto& kv : n) {
      const std::string name = kv.first.Scalar();
      const std::string label = std::string(what) + "." + name;
      // As in a workflow file: one spelling per pool, so that jobs and nodes name it alike.
      if (const std::string_view canonical = canonical_resource_name(name); canonical != name) {
        problem(kv.first,
                label + ": this pool is called '" + std::string(canonical) + "' in taskloom",
                "write " + std::string(canonical) + ": " +
                    (kv.second.IsScalar() ? kv.second.Scalar() : std::string("<amount>")));
        continue;
      }
      if (auto v = number(kv.second, label, 0, false, name == "memory")) r.set(name, *v);
    }
    return r;
  }

  void node_group(const YAML::Node& g, std::unordered_set<std::string>& ids) {
    if (!g.IsMap()) {
      problem(g, "a node group must be a map", "e.g. {name: cpu, count: 4, capacity: {cpu: 8}}");
      return;
    }
    check_keys(g, {"name", "count", "capacity", "labels", "speed", "power", "state"}, "node group");
    Node proto;
    std::string name;
    if (!g["name"] || !g["name"].IsScalar() || g["name"].Scalar().empty()) {
      problem(g, "a node group needs a name");
    } else {
      name = g["name"].Scalar();
    }
    long long count = 1;
    if (g["count"]) {
      if (auto c = number(g["count"], "count", 0)) {
        if (*c != std::floor(*c)) {
          problem(g["count"], "count must be a whole number");
        } else {
          count = static_cast<long long>(*c);
        }
      } else {
        count = 0;
      }
    }
    if (!g["capacity"]) {
      problem(g, "node group '" + name + "' needs a capacity", "e.g. capacity: {cpu: 8}");
    } else {
      proto.capacity = resources(g["capacity"], "capacity");
    }
    if (const auto& labels = g["labels"]) {
      if (!labels.IsSequence()) {
        problem(labels, "labels must be a list", "e.g. labels: [gpu, highmem]");
      } else {
        for (const auto& l : labels) {
          if (!l.IsScalar() || l.Scalar().empty()) {
            problem(l, "a label must be a non-empty string");
          } else {
            proto.labels.push_back(l.Scalar());
          }
        }
      }
    }
    if (g["speed"]) {
      if (auto s = number(g["speed"], "speed", 0, true)) proto.speed = *s;
    }
    if (const auto& p = g["power"]) {
      if (!p.IsMap()) {
        problem(p, "power must be a map", "e.g. power: {idle: 90, busy: 450}");
      } else {
        check_keys(p, {"idle", "busy"}, "power");
        if (p["idle"]) proto.power.idle_watts = number(p["idle"], "power.idle", 0).value_or(0);
        if (p["busy"]) proto.power.busy_watts = number(p["busy"], "power.busy", 0).value_or(0);
      }
    }
    if (const auto& s = g["state"]) {
      const std::string st = s.IsScalar() ? s.Scalar() : "";
      if (st == "up") {
        proto.state = NodeState::kUp;
      } else if (st == "draining") {
        proto.state = NodeState::kDraining;
      } else if (st == "down") {
        proto.state = NodeState::kDown;
      } else {
        problem(s, "state must be up, draining or down");
      }
    }
    if (name.empty()) return;
    for (long long i = 1; i <= count; ++i) {
      Node n = proto;
      n.id = count == 1 ? name : name + std::to_string(i);
      if (!ids.insert(n.id).second) {
        problem(g["name"], "node id '" + n.id + "' is defined twice",
                "give each node group a distinct name");
        return;
      }
      out.nodes.push_back(std::move(n));
    }
  }

  void partition(const YAML::Node& p, std::unordered_set<std::string>& names) {
    if (!p.IsMap()) {
      problem(p, "a partition must be a map", "e.g. {name: batch, quota: {cpu: 64}}");
      return;
    }
    check_keys(p, {"name", "quota", "weight", "priority"}, "partition");
    Partition part;
    if (!p["name"] || !p["name"].IsScalar() || p["name"].Scalar().empty()) {
      problem(p, "a partition needs a name");
      return;
    }
    part.name = p["name"].Scalar();
    if (!names.insert(part.name).second) {
      problem(p["name"], "partition '" + part.name + "' is defined twice");
    }
    if (p["quota"]) part.quota = resources(p["quota"], "quota");
    if (p["weight"]) part.fair_share_weight = number(p["weight"], "weight", 0, true).value_or(1);
    if (p["priority"]) {
      if (auto v = number(p["priority"], "priority", -1e6)) part.priority = static_cast<int>(*v);
    }
    out.partitions.push_back(std::move(part));
  }

  void parse(const YAML::Node& root) {
    if (!root.IsMap()) {
      problem(root, "a cluster file is a map with 'nodes' (and optionally 'partitions')");
      return;
    }
    check_keys(root, {"name", "nodes", "partitions"}, "the cluster file");
    std::unordered_set<std::string> ids;
    if (!root["nodes"] || !root["nodes"].IsSequence()) {
      problem(root, "'nodes' must be a list of node groups");
    } else {
      for (const auto& g : root["nodes"]) node_group(g, ids);
    }
    std::unordered_set<std::string> names;
    if (const auto& ps = root["partitions"]) {
      if (!ps.IsSequence()) {
        problem(ps, "'partitions' must be a list");
      } else {
        for (const auto& p : ps) partition(p, names);
      }
    }
  }
};

}  // namespace

ClusterSpec read_machines(std::istream& in, std::string_view source_name) {
  ClusterSpec out;
  out.source = std::string(source_name);
  std::vector<Diagnostic> problems;
  std::unordered_set<std::string> ids, names;
  std::vector<detail::readers::Field> fields;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string_view text = trim(line);
    if (text.empty() || text.front() == '#' || text.front() == ';') continue;
    detail::readers::split_fields(text, fields);
    auto bad = [&](int column, std::string message, std::string fix = {}) {
      problems.push_back({out.source, lineno, column, std::move(message), std::move(fix)});
    };
    if (fields.size() != 6) {
      bad(1, "expected 6 fields (id name nodes cpus_per_node speed memory_kb), found " +
                 std::to_string(fields.size()));
      continue;
    }
    double v[6] = {};
    bool ok = true;
    for (int i : {0, 2, 3, 4, 5}) {
      auto n = parse_number(fields[i].text);
      if (!n) {
        bad(fields[i].column, "not a number: '" + std::string(fields[i].text) + "'");
        ok = false;
      } else {
        v[i] = *n;
      }
    }
    if (!ok) continue;
    const std::string id(fields[0].text), name(fields[1].text);
    if (!ids.insert(id).second) bad(fields[0].column, "cluster id " + id + " repeats");
    if (!names.insert(name).second) bad(fields[1].column, "cluster name " + name + " repeats");
    if (!is_count(v[2])) {
      bad(fields[2].column,
          "node count must be a whole number >= 0, found " + std::string(fields[2].text));
      ok = false;
    }
    if (v[3] <= 0) {
      bad(fields[3].column, "cpus per node must be > 0, found " + std::string(fields[3].text));
      ok = false;
    }
    if (v[4] <= 0) {
      bad(fields[4].column, "speed must be > 0, found " + std::string(fields[4].text));
      ok = false;
    }
    if (v[5] < 0) {
      bad(fields[5].column, "memory must be >= 0, found " + std::string(fields[5].text));
      ok = false;
    }
    if (!ok) continue;
    const auto nodes = static_cast<long long>(v[2]);
    for (long long i = 1; i <= nodes; ++i) {
      Node n;
      n.id = name + std::to_string(i);
      n.capacity.set("cpu", v[3]);
      n.capacity.set("memory", v[5] * 1024.0);  // KiB
      n.labels = {"cluster=" + name, "host=" + n.id, "nodecpus=" + std::string(fields[3].text)};
      n.speed = v[4];
      out.nodes.push_back(std::move(n));
    }
  }
  if (out.nodes.empty() && problems.empty()) {
    problems.push_back({out.source, 0, 0, "the machine file describes no nodes",
                        "one line per cluster: id name nodes cpus_per_node speed memory_kb"});
  }
  if (!problems.empty()) throw InputError(std::move(problems));
  return out;
}

ClusterSpec read_machines(const std::filesystem::path& file) {
  std::istringstream in(read_file(file, "machine file"));
  return read_machines(in, file.string());
}

ClusterSpec read_cluster_yaml_string(std::string_view yaml, std::string_view source_name) {
  YamlCluster c;
  c.source = std::string(source_name);
  c.out.source = c.source;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw InputError({{c.source,
                       e.mark.line >= 0 ? e.mark.line + 1 : 0,
                       e.mark.column >= 0 ? e.mark.column + 1 : 0,
                       "YAML syntax: " + e.msg,
                       {}}});
  }
  try {
    c.parse(root);
  } catch (const YAML::Exception& e) {
    c.problems.push_back({c.source,
                          e.mark.line >= 0 ? e.mark.line + 1 : 0,
                          e.mark.column >= 0 ? e.mark.column + 1 : 0,
                          e.msg,
                          {}});
  } catch (const InvalidArgumentError& e) {
    c.problems.push_back({c.source, 0, 0, e.what(), {}});
  }
  if (c.problems.empty() && c.out.nodes.empty()) {
    c.problems.push_back({c.source, 0, 0, "the cluster has no nodes", "add a node group"});
  }
  if (!c.problems.empty()) throw InputError(std::move(c.problems));
  return std::move(c.out);
}

ClusterSpec read_cluster_yaml(const std::filesystem::path& file) {
  return read_cluster_yaml_string(read_file(file, "cluster file"), file.string());
}

ClusterSpec read_cluster(const std::filesystem::path& file) {
  if (file.extension() == ".machines") return read_machines(file);
  return read_cluster_yaml(file);
}

std::optional<std::filesystem::path> machines_sibling(const std::filesystem::path& trace) {
  std::filesystem::path sibling = trace;
  sibling += ".machines";
  std::error_code ec;
  if (std::filesystem::is_regular_file(sibling, ec)) return sibling;
  return std::nullopt;
}

ClusterSpec cluster_from_swf_header(const SwfHeader& header, std::string_view source_name) {
  const long long procs = header.max_procs > 0 ? header.max_procs : header.max_nodes;
  if (procs <= 0) {
    throw InputError(
        {{std::string(source_name), 0, 0, "the trace's header gives neither MaxProcs nor MaxNodes",
          "pass a cluster file (--cluster)"}});
  }
  ClusterSpec out;
  out.source = std::string(source_name) + " (header: " + std::to_string(procs) + " processors)";
  out.nodes.reserve(static_cast<std::size_t>(procs));
  for (long long i = 1; i <= procs; ++i) {
    Node n;
    n.id = "n";  // (not "n" + to_string(i): GCC 12 -O3 warns -Wrestrict on that, falsely)
    n.id += std::to_string(i);
    n.capacity.set("cpu", 1);
    out.nodes.push_back(std::move(n));
  }
  return out;
}

double cpus_per_node(const ClusterSpec& cluster) {
  double most = 0;
  for (const Node& n : cluster.nodes) most = std::max(most, n.capacity.get("cpu"));
  return most;
}

}  // namespace taskloom::cluster
