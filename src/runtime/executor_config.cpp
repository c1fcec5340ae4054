#include "taskloom/runtime/executor_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/core/text.hpp"
#include "taskloom/core/units.hpp"

namespace taskloom::runtime {
namespace {

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

/// Collects every problem of one document, located at the node it is about.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void problem(const YAML::Node& at, std::string message, std::string fix = {}) {
    const YAML::Mark mark = at.Mark();
    problems_.push_back({file_, mark.line >= 0 ? mark.line + 1 : 0,
                         mark.column >= 0 ? mark.column + 1 : 0, std::move(message),
                         std::move(fix)});
  }
  void problem_at(const YAML::Mark& mark, std::string message, std::string fix) {
    problems_.push_back(
        {file_, mark.line + 1, mark.column + 1, std::move(message), std::move(fix)});
  }
  void throw_if_any() {
    if (!problems_.empty()) throw InputError(std::move(problems_));
  }

  /// Every key of `map` must be one of `known`; false (and a problem) when `map` is no map.
  bool keys_of(const YAML::Node& map, std::string_view what,
               const std::vector<std::string>& known) {
    if (!map.IsMap()) {
      problem(map,
              what == "" ? "the executor options must be a mapping of keys to values"
                         : std::string(what) + " must be a mapping of keys to values",
              "write key: value lines (or a JSON object)");
      return false;
    }
    for (const auto& kv : map) {
      const std::string key = kv.first.Scalar();
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      const std::string close = closest_match(key, known);
      problem(kv.first,
              "unknown key " + quote(key) + (what == "" ? "" : " in " + std::string(what)),
              close.empty() ? "the keys are " + join(known, ", ")
                            : "did you mean " + quote(close) + "?");
    }
    return true;
  }

  std::optional<std::string> text(const YAML::Node& n, std::string_view key) {
    if (n.IsScalar()) return n.Scalar();
    problem(n, std::string(key) + " must be a single value", "write it as key: value");
    return std::nullopt;
  }
  std::optional<unsigned> count(const YAML::Node& n, std::string_view key, unsigned at_least) {
    auto s = text(n, key);
    if (!s) return std::nullopt;
    unsigned long long v = 0;
    std::size_t used = 0;
    try {
      v = std::stoull(*s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s->size() || (*s)[0] == '-' || v < at_least ||
        v > std::numeric_limits<unsigned>::max()) {
      problem(n,
              std::string(key) + " is " + quote(*s) + ", not a whole number of at least " +
                  std::to_string(at_least),
              "write a number such as " + std::to_string(std::max(at_least, 1u)));
      return std::nullopt;
    }
    return static_cast<unsigned>(v);
  }
  std::optional<bool> flag(const YAML::Node& n, std::string_view key) {
    auto s = text(n, key);
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "yes" || *s == "on") return true;
    if (*s == "false" || *s == "no" || *s == "off") return false;
    problem(n, std::string(key) + " is " + quote(*s) + ", not true or false",
            "write true or false");
    return std::nullopt;
  }
  std::optional<Duration> duration(const YAML::Node& n, std::string_view key) {
    auto s = text(n, key);
    if (!s) return std::nullopt;
    if (auto d = units::parse_duration(*s)) return d;
    problem(n, std::string(key) + " is " + quote(*s) + ", not a duration",
            "write it with a unit, e.g. 200us, 5ms or 1s");
    return std::nullopt;
  }
  std::optional<Priority> priority(const YAML::Node& n, std::string_view key,
                                   const std::vector<PriorityClass>& classes) {
    auto s = text(n, key);
    if (!s) return std::nullopt;
    for (const PriorityClass& c : classes) {
      if (c.name == *s) return c.priority;
    }
    if (auto p = parse_priority(*s)) return p;
    std::vector<std::string> names;
    for (const auto& [name, p] : named_priorities()) names.emplace_back(name);
    for (const PriorityClass& c : classes) names.push_back(c.name);
    const std::string close = closest_match(*s, names);
    problem(n, std::string(key) + " is " + quote(*s) + ", not a priority",
            close.empty() ? "write a number in [-1000, 1000] or a class: " + join(names, ", ")
                          : "did you mean " + quote(close) + "?");
    return std::nullopt;
  }

 private:
  std::string file_;
  std::vector<Diagnostic> problems_;
};

const std::vector<std::string> kTopKeys = {
    "workers",    "pools",       "classes",      "resources",         "aging_interval",
    "preemption", "yield_grace", "caller_helps", "spin_before_sleep", "max_interruptions",
    "thread_name"};
const std::vector<std::string> kPoolKeys = {"name", "workers", "min_priority"};
const std::vector<std::string> kClassKeys = {"name", "priority", "queue_capacity"};

std::vector<PriorityClass> read_classes(Reader& r, const YAML::Node& list) {
  std::vector<PriorityClass> classes;
  if (!list.IsSequence()) {
    r.problem(list, "classes must be a list", "write one \"- {name: ..., priority: ...}\" each");
    return classes;
  }
  for (const YAML::Node& c : list) {
    if (!r.keys_of(c, "a class", kClassKeys)) continue;
    if (!c["name"] || !c["priority"]) {
      r.problem(c, "a class needs a name and a priority", "add the one missing");
      continue;
    }
    PriorityClass pc;
    auto name = r.text(c["name"], "name");
    auto p = r.priority(c["priority"], "priority", {});
    if (!name || !p) continue;
    pc.name = *name;
    pc.priority = *p;
    if (c["queue_capacity"]) {
      auto cap = r.count(c["queue_capacity"], "queue_capacity", 0);
      if (!cap) continue;
      pc.queue_capacity = *cap;
    }
    classes.push_back(std::move(pc));
  }
  return classes;
}

std::vector<WorkerPool> read_pools(Reader& r, const YAML::Node& list,
                                   const std::vector<PriorityClass>& classes) {
  std::vector<WorkerPool> pools;
  if (!list.IsSequence()) {
    r.problem(list, "pools must be a list", "write one \"- {name: ..., workers: ...}\" each");
    return pools;
  }
  for (const YAML::Node& p : list) {
    if (!r.keys_of(p, "a pool", kPoolKeys)) continue;
    if (!p["name"]) {
      r.problem(p, "a pool needs a name", "add name: <pool>");
      continue;
    }
    WorkerPool pool;
    auto name = r.text(p["name"], "name");
    if (!name) continue;
    pool.name = *name;
    if (p["workers"]) {
      auto n = r.count(p["workers"], "workers", 1);
      if (!n) continue;
      pool.workers = *n;
    }
    if (p["min_priority"]) {
      auto m = r.priority(p["min_priority"], "min_priority", classes);
      if (!m) continue;
      pool.min_priority = *m;
    }
    pools.push_back(std::move(pool));
  }
  return pools;
}

Resources read_resources(Reader& r, const YAML::Node& map) {
  Resources out;
  if (!map.IsMap()) {
    r.problem(map, "resources must be a mapping of pool names to amounts",
              "write e.g. resources: {gpu: 2, memory: 64GiB}");
    return out;
  }
  for (const auto& kv : map) {
    const std::string name = kv.first.Scalar();
    auto s = r.text(kv.second, name);
    if (!s) continue;
    std::optional<double> amount = units::parse_size(*s);  // a plain number reads as itself
    if (!amount || *amount <= 0 || !std::isfinite(*amount)) {
      r.problem(kv.second,
                "resource " + quote(name) + " is " + quote(*s) + ", not an amount above 0",
                "write a number, or a size such as 64GiB");
      continue;
    }
    out.set(name, *amount);
  }
  return out;
}

}  // namespace

ExecutorOptions parse_executor_options(std::string_view text, std::string_view file) {
  Reader r{std::string(file)};
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    r.problem_at(e.mark, "not valid YAML or JSON: " + e.msg,
                 "fix the syntax at this position (indent with spaces, quote odd values)");
    r.throw_if_any();
  }
  ExecutorOptions options;
  if (!doc || doc.IsNull()) return options;  // an empty file: the defaults
  if (!r.keys_of(doc, "", kTopKeys)) r.throw_if_any();

  std::vector<PriorityClass> classes;
  if (doc["classes"]) classes = read_classes(r, doc["classes"]);
  if (doc["pools"]) options.pools = read_pools(r, doc["pools"], classes);
  options.classes = classes;
  if (doc["workers"]) {
    if (doc["pools"]) {
      r.problem(doc["workers"], "workers and pools both given",
                "keep one: with pools, each pool says its workers");
    } else if (auto n = r.count(doc["workers"], "workers", 0)) {
      options.workers = *n;
    }
  }
  if (doc["resources"]) options.resources = read_resources(r, doc["resources"]);
  if (doc["aging_interval"]) {
    if (auto n = r.count(doc["aging_interval"], "aging_interval", 1)) options.aging_interval = *n;
  }
  if (doc["max_interruptions"]) {
    if (auto n = r.count(doc["max_interruptions"], "max_interruptions", 0)) {
      options.max_interruptions = *n;
    }
  }
  if (doc["preemption"]) {
    if (auto b = r.flag(doc["preemption"], "preemption")) options.preemption = *b;
  }
  if (doc["caller_helps"]) {
    if (auto b = r.flag(doc["caller_helps"], "caller_helps")) options.caller_helps = *b;
  }
  if (doc["yield_grace"]) {
    if (auto d = r.duration(doc["yield_grace"], "yield_grace")) options.yield_grace = *d;
  }
  if (doc["spin_before_sleep"]) {
    if (auto d = r.duration(doc["spin_before_sleep"], "spin_before_sleep")) {
      options.spin_before_sleep = *d;
    }
  }
  if (doc["thread_name"]) {
    if (auto s = r.text(doc["thread_name"], "thread_name")) options.thread_name = *s;
  }
  r.throw_if_any();
  return options;
}

ExecutorOptions load_executor_options(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    throw InputError({{path.string(), 0, 0, "cannot read the executor options file",
                       "check that the file exists and is readable"}});
  }
  return parse_executor_options(text.str(), path.string());
}

}  // namespace taskloom::runtime
