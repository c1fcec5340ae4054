// Loading a workflow happens in two passes over the documents:
//   1. read: each file (the main one, then its includes, depth first) is parsed by yaml-cpp
//      and turned into TaskEntry templates, defaults applied, every field checked;
//   2. expand: matrices become concrete tasks, `after` references are resolved (groups,
//      element-wise matches), then ids, resources and cycles are checked on the result.
// Problems are collected as Diagnostics all along and thrown once at the end.
#include "workflow/workflow.hpp"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "taskloom/core/error.hpp"
#include "taskloom/core/text.hpp"
#include "taskloom/graph/algorithms.hpp"
#include "taskloom/graph/digraph.hpp"

namespace taskloom::workflow {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxTasks = 1'000'000;

const std::vector<std::string> kTopKeys{"name", "defaults", "resources", "include", "tasks"};
const std::vector<std::string> kDefaultKeys{"retries", "timeout", "priority",
                                            "needs",   "env",     "cwd"};
const std::vector<std::string> kTaskKeys{"id",      "group", "run", "after", "priority", "retries",
                                         "timeout", "needs", "env", "cwd",   "metadata", "matrix"};

// ---------------------------------------------------------------------------------------------
// Small text helpers

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string format_number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ptr);
}

bool is_id_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

bool is_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

template <class T>
std::optional<T> parse_int(std::string_view s) {
  T value{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<double> parse_number(std::string_view s) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = closest_match(word, candidates);
  return best.empty() ? std::string() : "did you mean " + quote(best) + "?";
}

// ---------------------------------------------------------------------------------------------
// Placeholders: `{var}` and `{var.end}`; `${...}` is left to the shell; other braces are text.

struct Placeholder {
  std::size_t begin, end;  // [begin, end) in the text, braces included
  std::string name;
  bool is_end;
};

std::vector<Placeholder> placeholders(std::string_view text) {
  std::vector<Placeholder> out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') continue;
    const std::size_t close = text.find('}', i);
    if (close == std::string_view::npos) break;
    if (i > 0 && text[i - 1] == '$') {
      i = close;
      continue;
    }
    std::string_view inner = text.substr(i + 1, close - i - 1);
    bool is_end = false;
    if (inner.size() > 4 && inner.substr(inner.size() - 4) == ".end") {
      inner.remove_suffix(4);
      is_end = true;
    }
    if (is_identifier(inner)) {
      out.push_back({i, close + 1, std::string(inner), is_end});
      i = close;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Workflow model before expansion

struct Where {
  std::string file;
  int line = 0, column = 0;
};

struct MatrixVar {
  std::string name;
  Where where;
  bool is_range = false;                    // integer range (stepped or not)
  std::vector<std::string> values;          // element values (chunk starts for stepped ranges)
  std::vector<std::string> ends;            // {var.end} of each value
  long long first = 0, last = 0, step = 1;  // for ranges
};

struct AfterRef {
  std::string text;  // may hold placeholders
  Where where;
};

struct Defaults {
  std::optional<unsigned> retries;
  std::optional<Duration> timeout;
  std::optional<Priority> priority;
  std::vector<std::pair<std::string, double>> needs;
  KeyValues env;
  std::optional<std::string> cwd;
  fs::path cwd_base;
};

struct TaskEntry {
  Where where;
  std::string id;     // template
  std::string group;  // group name (the id for a task without matrix)
  bool group_explicit = false;
  std::string run;
  std::vector<AfterRef> after;
  Priority priority;
  unsigned retries = 0;
  Duration timeout{0};
  Resources needs;
  std::map<std::string, Where> needs_where;  // pool -> where it was asked for
  KeyValues env;
  std::optional<std::string> cwd;
  fs::path cwd_base;
  KeyValues metadata;
  std::vector<MatrixVar> matrix;
  bool valid = true;               // false: do not expand (its id or matrix is unusable)
  std::vector<std::size_t> tasks;  // indices into the expanded tasks
  std::vector<std::vector<std::size_t>> element_values;  // per task: value index per variable
};

// ---------------------------------------------------------------------------------------------

Resources detected_capacity() {
  Resources r;
  const unsigned cores = std::thread::hardware_concurrency();
  r.set("cpu", cores == 0 ? 1 : cores);
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    r.set("memory", static_cast<double>(pages) * static_cast<double>(page_size));
  }
  return r;
}

class Loader {
 public:
  explicit Loader(fs::path main_file) : main_file_(std::move(main_file)) {
    main_dir_ = fs::absolute(main_file_).parent_path().lexically_normal();
  }

  Workflow load_file() {
    std::string text;
    if (!read_text(main_file_, text)) {
      error({main_file_.string(), 0, 0}, "cannot read the workflow file: " + read_error_,
            "check the path and its permissions");
      throw_if_errors();
    }
    return load_text(text);
  }

  Workflow load_text(std::string_view text) {
    Workflow wf;
    wf.file = main_file_;
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(fs::absolute(main_file_), ec);
    include_stack_.push_back(ec ? fs::absolute(main_file_) : canonical);
    include_names_.push_back(main_file_.string());
    Defaults defaults;
    defaults.cwd_base = main_dir_;
    read_document(text, main_file_.string(), defaults, /*is_main=*/true, wf);
    expand(wf);
    throw_if_errors();
    wf.resources = declared_;
    for (const auto& [pool, amount] : detected_capacity()) {
      if (!declared_names_.contains(pool)) wf.resources.set(pool, amount);
    }
    wf.fingerprint = fingerprint(wf);
    return wf;
  }

 private:
  // --- diagnostics -----------------------------------------------------------------------------

  void error(Where w, std::string message, std::string fix = {}) {
    diagnostics_.push_back({w.file, w.line, w.column, std::move(message), std::move(fix)});
  }

  Where where(const YAML::Node& node) const {
    const YAML::Mark m = node.Mark();
    if (m.is_null() || m.line < 0) return {file_, 0, 0};
    return {file_, m.line + 1, m.column + 1};
  }
  // A value's position, or its key's when the value is empty (yaml-cpp marks empty values at
  // the next token).
  Where where(const YAML::Node& key, const YAML::Node& value) const {
    return (!value || value.IsNull()) ? where(key) : where(value);
  }

  void throw_if_errors() {
    if (diagnostics_.empty()) return;
    std::vector<std::string> files;
    for (const Diagnostic& d : diagnostics_) {
      if (std::find(files.begin(), files.end(), d.file) == files.end()) files.push_back(d.file);
    }
    auto rank = [&](const Diagnostic& d) {
      return std::find(files.begin(), files.end(), d.file) - files.begin();
    };
    std::stable_sort(
        diagnostics_.begin(), diagnostics_.end(), [&](const Diagnostic& a, const Diagnostic& b) {
          return std::tuple(rank(a), a.line, a.column) < std::tuple(rank(b), b.line, b.column);
        });
    std::vector<Diagnostic> unique;
    for (Diagnostic& d : diagnostics_) {
      const bool seen = std::any_of(unique.begin(), unique.end(), [&](const Diagnostic& u) {
        return u.file == d.file && u.line == d.line && u.column == d.column &&
               u.message == d.message;
      });
      if (!seen) unique.push_back(std::move(d));
    }
    throw InputError(std::move(unique));
  }

  bool read_text(const fs::path& path, std::string& out) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      read_error_ = "it is a directory";
      return false;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      read_error_ = fs::exists(path, ec) ? "permission denied or unreadable" : "no such file";
      return false;
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) {
      read_error_ = "read error";
      return false;
    }
    out = std::move(buffer).str();
    return true;
  }

  // --- mappings (with duplicate-key detection and `<<` merge keys) -----------------------------

  struct KeyValue {
    YAML::Node key, value;
    std::string name;
  };

  std::vector<KeyValue> mapping(const YAML::Node& map) {
    std::vector<KeyValue> out;
    std::vector<KeyValue> merged;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) {
        error(where(key), "a key must be a plain name", "write the key as text");
        continue;
      }
      const std::string name = key.Scalar();
      if (name == "<<") {
        merge_into(merged, key, value);
        continue;
      }
      const bool dup =
          std::any_of(out.begin(), out.end(), [&](const KeyValue& kv) { return kv.name == name; });
      if (dup) {
        error(where(key), "the key " + quote(name) + " appears twice in this mapping",
              "remove one of them");
        continue;
      }
      out.push_back({key, value, name});
    }
    for (KeyValue& kv : merged) {
      const bool present =
          std::any_of(out.begin(), out.end(), [&](const KeyValue& o) { return o.name == kv.name; });
      if (!present) out.push_back(std::move(kv));
    }
    return out;
  }

  // `<<: *a` or `<<: [*a, *b]`: keys of the merged mappings, the earlier ones winning.
  void merge_into(std::vector<KeyValue>& merged, const YAML::Node& key, const YAML::Node& value) {
    std::vector<YAML::Node> sources;
    if (value.IsSequence()) {
      for (const YAML::Node& item : value) sources.push_back(item);
    } else {
      sources.push_back(value);
    }
    if (sources.empty() || !std::all_of(sources.begin(), sources.end(),
                                        [](const YAML::Node& n) { return n.IsMap(); })) {
      error(where(key),
            "the merge key \"<<\" needs a mapping or a list of mappings, not " + describe(value),
            "write \"<<: *anchor\" where the anchor names a mapping");
      return;
    }
    for (const YAML::Node& source : sources) {
      for (KeyValue& kv : mapping(source)) {
        const bool present = std::any_of(merged.begin(), merged.end(),
                                         [&](const KeyValue& o) { return o.name == kv.name; });
        if (!present) merged.push_back(std::move(kv));
      }
    }
  }

  void unknown_key(const KeyValue& kv, std::string_view context,
                   const std::vector<std::string>& valid) {
    std::string fix = suggest(kv.name, valid);
    if (fix.empty()) fix = "valid keys are " + join(valid, ", ");
    error(where(kv.key), "unknown key " + quote(kv.name) + " in " + std::string(context), fix);
  }

  // --- scalar fields ---------------------------------------------------------------------------

  std::optional<std::string> scalar(const KeyValue& kv, std::string_view what) {
    if (kv.value.IsScalar()) return kv.value.Scalar();
    error(where(kv.key, kv.value), std::string(what) + " must be a single value",
          "write it as text, e.g. " + std::string(what) + ": value");
    return std::nullopt;
  }

  std::optional<unsigned> read_retries(const KeyValue& kv) {
    if (kv.value.IsScalar()) {
      if (auto n = parse_int<unsigned>(kv.value.Scalar())) return *n;
    }
    error(where(kv.key, kv.value),
          "retries must be a whole number of 0 or more, not " + describe(kv.value),
          "write e.g. retries: 2");
    return std::nullopt;
  }

  std::optional<Duration> read_timeout(const KeyValue& kv) {
    if (kv.value.IsScalar()) {
      if (auto d = parse_duration(kv.value.Scalar())) return *d;
    }
    error(where(kv.key, kv.value), "timeout " + describe(kv.value) + " is not a duration",
          "write it like \"90s\", \"5m\", \"1h30m\", \"250ms\" or a number of seconds");
    return std::nullopt;
  }

  std::optional<Priority> read_priority(const KeyValue& kv) {
    if (kv.value.IsScalar()) {
      if (auto p = parse_task_priority(kv.value.Scalar())) return *p;
    }
    error(where(kv.key, kv.value), "priority " + describe(kv.value) + " is not a priority",
          "use lowest, low, normal, high, highest, interactive, urgent, background or a whole "
          "number from -1000 to 1000");
    return std::nullopt;
  }

  static std::string describe(const YAML::Node& n) {
    if (!n || n.IsNull()) return "empty";
    if (n.IsScalar()) return quote(n.Scalar());
    if (n.IsSequence()) return "a list";
    return "a mapping";
  }

  // needs / resources: pool -> amount (memory also as a size).
  std::vector<std::pair<std::string, double>> read_amounts(const KeyValue& kv,
                                                           std::string_view what,
                                                           std::map<std::string, Where>* at) {
    std::vector<std::pair<std::string, double>> out;
    if (!kv.value.IsMap()) {
      error(where(kv.key, kv.value),
            std::string(what) + " must be a mapping of resource names to amounts",
            "write e.g. " + std::string(what) + ": {cpu: 2, memory: 4G}");
      return out;
    }
    for (const KeyValue& item : mapping(kv.value)) {
      const std::string label = std::string(what) + "." + item.name;
      std::optional<double> amount;
      if (item.value.IsScalar()) {
        amount = item.name == "memory" ? parse_size(item.value.Scalar())
                                       : parse_number(item.value.Scalar());
      }
      if (!amount || *amount < 0) {
        std::string fix = item.name == "memory"
                              ? "write a number of bytes or a size like \"512M\", \"4G\" or "
                                "\"1.5GiB\""
                              : "write a number of 0 or more";
        if (item.name != "memory" && item.value.IsScalar() && parse_size(item.value.Scalar())) {
          fix += " (sizes like \"4G\" are accepted only for memory)";
        }
        error(where(item.key, item.value),
              label + " must be an amount of 0 or more, not " + describe(item.value), fix);
        continue;
      }
      out.emplace_back(item.name, *amount);
      if (at) (*at)[item.name] = where(item.key);
    }
    return out;
  }

  KeyValues read_strings(const KeyValue& kv, std::string_view what, bool env_names) {
    KeyValues out;
    if (!kv.value.IsMap()) {
      error(where(kv.key, kv.value), std::string(what) + " must be a mapping of names to values",
            "write e.g. " + std::string(what) + ": {NAME: value}");
      return out;
    }
    for (const KeyValue& item : mapping(kv.value)) {
      if (env_names && !is_identifier(item.name)) {
        error(where(item.key), "environment variable name " + quote(item.name) + " is not valid",
              "use letters, digits and \"_\", not starting with a digit");
        continue;
      }
      if (!item.value.IsScalar() && !item.value.IsNull()) {
        error(where(item.key, item.value),
              std::string(what) + "." + item.name + " must be a single value, not " +
                  describe(item.value),
              "write it as text");
        continue;
      }
      out.emplace_back(item.name, item.value.IsNull() ? std::string() : item.value.Scalar());
    }
    return out;
  }

  static void overlay(KeyValues& base, const KeyValues& top) {
    for (const auto& [k, v] : top) {
      auto it = std::find_if(base.begin(), base.end(), [&](const auto& p) { return p.first == k; });
      if (it != base.end()) {
        it->second = v;
      } else {
        base.emplace_back(k, v);
      }
    }
  }

  // --- documents -------------------------------------------------------------------------------

  void read_document(std::string_view text, const std::string& display, Defaults defaults,
                     bool is_main, Workflow& wf) {
    const std::string saved_file = file_;
    file_ = display;
    const fs::path dir = fs::absolute(fs::path(display)).parent_path().lexically_normal();
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      error({file_, e.mark.line + 1, e.mark.column + 1}, "malformed YAML: " + e.msg,
            "fix the syntax at this position");
      file_ = saved_file;
      return;
    }
    if (!root || root.IsNull()) {
      error({file_, 0, 0}, "the file is empty",
            is_main ? "a workflow needs at least a name and a list of tasks"
                    : "an included file needs tasks, defaults or resources");
      file_ = saved_file;
      return;
    }
    if (!root.IsMap()) {
      error(where(root), "the file must be a mapping of keys (name, tasks, ...)",
            "start the file with \"name:\" and \"tasks:\"");
      file_ = saved_file;
      return;
    }
    std::optional<KeyValue> name, tasks, includes, resources, defaults_kv;
    for (const KeyValue& kv : mapping(root)) {
      if (kv.name == "name") {
        name = kv;
      } else if (kv.name == "tasks") {
        tasks = kv;
      } else if (kv.name == "include") {
        includes = kv;
      } else if (kv.name == "resources") {
        resources = kv;
      } else if (kv.name == "defaults") {
        defaults_kv = kv;
      } else if (kv.name.rfind("x-", 0) != 0) {
        unknown_key(kv, "the workflow", kTopKeys);
      }
    }
    if (name) {
      if (auto s = scalar(*name, "name"); s && is_main) {
        wf.name = *s;
        if (trim(*s).empty()) error(where(name->key), "name is empty", "give the workflow a name");
      }
    } else if (is_main) {
      error({file_, 1, 1}, "the workflow has no name", "add \"name: <workflow name>\"");
    }
    if (defaults_kv) read_defaults(*defaults_kv, dir, defaults);
    if (resources) {
      for (const auto& [pool, amount] : read_amounts(*resources, "resources", nullptr)) {
        // The including file wins over what its includes declare.
        if (is_main || !declared_names_.contains(pool)) {
          declared_.set(pool, amount);
          declared_names_.insert(pool);
        }
      }
    }
    if (includes) read_includes(*includes, dir, defaults, wf);
    if (tasks) {
      if (!tasks->value.IsSequence()) {
        error(where(tasks->key, tasks->value), "tasks must be a list of tasks",
              "write each task as a list item starting with \"- id: ...\"");
      } else if (tasks->value.size() == 0) {
        if (is_main) error(where(tasks->key), "the task list is empty", "add at least one task");
      } else {
        for (const YAML::Node& item : tasks->value) read_task(item, dir, defaults);
      }
    } else if (is_main && entries_.empty()) {
      error({file_, 1, 1}, "the workflow has no tasks",
            "add a \"tasks:\" list with at least one task");
    }
    file_ = saved_file;
  }

  void read_defaults(const KeyValue& kv, const fs::path& dir, Defaults& d) {
    if (!kv.value.IsMap()) {
      error(where(kv.key, kv.value), "defaults must be a mapping",
            "write e.g. defaults: {retries: 1, timeout: 10m}");
      return;
    }
    for (const KeyValue& item : mapping(kv.value)) {
      if (item.name == "retries") {
        if (auto r = read_retries(item)) d.retries = r;
      } else if (item.name == "timeout") {
        if (auto t = read_timeout(item)) d.timeout = t;
      } else if (item.name == "priority") {
        if (auto p = read_priority(item)) d.priority = p;
      } else if (item.name == "needs") {
        for (const auto& [pool, amount] : read_amounts(item, "needs", nullptr)) {
          auto it = std::find_if(d.needs.begin(), d.needs.end(),
                                 [&](const auto& p) { return p.first == pool; });
          if (it != d.needs.end()) {
            it->second = amount;
          } else {
            d.needs.emplace_back(pool, amount);
          }
        }
      } else if (item.name == "env") {
        overlay(d.env, read_strings(item, "env", true));
      } else if (item.name == "cwd") {
        if (auto s = scalar(item, "cwd")) {
          d.cwd = *s;
          d.cwd_base = dir;
        }
      } else {
        unknown_key(item, "defaults", kDefaultKeys);
      }
    }
  }

  void read_includes(const KeyValue& kv, const fs::path& dir, const Defaults& defaults,
                     Workflow& wf) {
    std::vector<YAML::Node> items;
    if (kv.value.IsScalar()) {
      items.push_back(kv.value);
    } else if (kv.value.IsSequence()) {
      for (const YAML::Node& n : kv.value) items.push_back(n);
    } else {
      error(where(kv.key, kv.value), "include must be a file name or a list of file names",
            "write e.g. include: [common.yaml]");
      return;
    }
    const fs::path display_dir = fs::path(file_).parent_path();
    for (const YAML::Node& item : items) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        error(where(kv.key, item), "an include must be a file name",
              "write the path of a YAML file relative to this one");
        continue;
      }
      const fs::path rel = item.Scalar();
      const fs::path path = rel.is_absolute() ? rel : (dir / rel).lexically_normal();
      const std::string display =
          rel.is_absolute() ? rel.string() : (display_dir / rel).lexically_normal().string();
      std::error_code ec;
      fs::path canonical = fs::weakly_canonical(path, ec);
      if (ec) canonical = path;
      auto on_stack = std::find(include_stack_.begin(), include_stack_.end(), canonical);
      if (on_stack != include_stack_.end()) {
        std::vector<std::string> chain(include_names_.begin() + (on_stack - include_stack_.begin()),
                                       include_names_.end());
        chain.push_back(display);
        error(where(item), "include cycle: " + join(chain, " -> "), "remove one of these includes");
        continue;
      }
      if (!loaded_.insert(canonical.string()).second) continue;  // diamond: load once
      std::string text;
      if (!read_text(path, text)) {
        error(where(item), "cannot read the included file " + quote(display) + ": " + read_error_,
              "check the path, which is relative to this file");
        continue;
      }
      include_stack_.push_back(canonical);
      include_names_.push_back(display);
      read_document(text, display, defaults, /*is_main=*/false, wf);
      include_stack_.pop_back();
      include_names_.pop_back();
    }
  }

  // --- tasks -----------------------------------------------------------------------------------

  void read_task(const YAML::Node& node, const fs::path& dir, const Defaults& d) {
    TaskEntry e;
    e.where = where(node);
    if (!node.IsMap()) {
      error(e.where, "a task must be a mapping with at least id and run",
            "write it as \"- id: name\" followed by \"run: command\"");
      return;
    }
    e.priority = d.priority.value_or(Priority::kNormal);
    e.retries = d.retries.value_or(0);
    e.timeout = d.timeout.value_or(Duration{0});
    e.needs.set("cpu", 1);
    for (const auto& [pool, amount] : d.needs) e.needs.set(pool, amount);
    e.env = d.env;
    e.cwd = d.cwd;
    e.cwd_base = d.cwd_base;
    std::optional<KeyValue> id_kv, run_kv, group_kv, matrix_kv;
    std::vector<KeyValue> env_kvs;  // the task's own env
    for (const KeyValue& kv : mapping(node)) {
      if (kv.name == "id") {
        id_kv = kv;
      } else if (kv.name == "run") {
        run_kv = kv;
      } else if (kv.name == "group") {
        group_kv = kv;
      } else if (kv.name == "matrix") {
        matrix_kv = kv;
      } else if (kv.name == "after") {
        read_after(kv, e);
      } else if (kv.name == "priority") {
        if (auto p = read_priority(kv)) e.priority = *p;
      } else if (kv.name == "retries") {
        if (auto r = read_retries(kv)) e.retries = *r;
      } else if (kv.name == "timeout") {
        if (auto t = read_timeout(kv)) e.timeout = *t;
      } else if (kv.name == "needs") {
        for (const auto& [pool, amount] : read_amounts(kv, "needs", &e.needs_where)) {
          e.needs.set(pool, amount);
        }
      } else if (kv.name == "env") {
        overlay(e.env, read_strings(kv, "env", true));
      } else if (kv.name == "cwd") {
        if (auto s = scalar(kv, "cwd")) {
          e.cwd = *s;
          e.cwd_base = dir;
        }
      } else if (kv.name == "metadata") {
        e.metadata = read_strings(kv, "metadata", false);
      } else {
        unknown_key(kv, "a task", kTaskKeys);
      }
    }
    if (!id_kv) {
      error(e.where, "a task has no id", "add \"id: <name>\" to this task");
      e.valid = false;
    } else if (auto s = scalar(*id_kv, "id")) {
      e.id = *s;
      e.where = where(id_kv->key);
    } else {
      e.valid = false;
    }
    const std::string label = e.id.empty() ? std::string("this task") : "task " + quote(e.id);
    if (!run_kv) {
      error(e.where, label + " has no run command", "add \"run: <shell command>\"");
    } else if (run_kv->value.IsScalar()) {
      e.run = run_kv->value.Scalar();
      if (trim(e.run).empty()) {
        error(where(run_kv->key), label + " has an empty run command",
              "write the shell command to run");
      }
    } else {
      error(where(run_kv->key, run_kv->value),
            "the run command of " + label + " must be text, not " + describe(run_kv->value),
            "write run: followed by the shell command (use \"|\" for several lines)");
    }
    if (matrix_kv) read_matrix(*matrix_kv, e);
    if (e.valid) check_id_template(e, *id_kv);
    if (group_kv) {
      if (auto s = scalar(*group_kv, "group")) {
        if (s->empty() || !std::all_of(s->begin(), s->end(), is_id_char)) {
          error(where(group_kv->key, group_kv->value),
                "group name " + quote(*s) +
                    " has characters other than letters, digits, "
                    "\"_\", \".\" and \"-\"",
                "rename the group");
        } else {
          e.group = *s;
          e.group_explicit = true;
        }
      }
    }
    if (e.valid && !e.group_explicit) derive_group(e);
    if (e.valid) check_templates(e);
    entries_.push_back(std::move(e));
  }

  void read_after(const KeyValue& kv, TaskEntry& e) {
    auto add = [&](const YAML::Node& n) {
      if (!n.IsScalar() || trim(n.Scalar()).empty()) {
        error(where(kv.key, n), "after must name tasks or groups, not " + describe(n),
              "write after: name or after: [a, b]");
        return;
      }
      e.after.push_back({trim(n.Scalar()), where(n)});
    };
    if (kv.value.IsSequence()) {
      for (const YAML::Node& n : kv.value) add(n);
    } else {
      add(kv.value);
    }
  }

  void read_matrix(const KeyValue& kv, TaskEntry& e) {
    if (!kv.value.IsMap() || kv.value.size() == 0) {
      error(where(kv.key, kv.value), "matrix must be a mapping of variables to values",
            "write e.g. matrix: {frame: \"1-240\", scene: [a, b]}");
      e.valid = false;
      return;
    }
    for (const KeyValue& item : mapping(kv.value)) {
      MatrixVar var;
      var.name = item.name;
      var.where = where(item.key);
      if (!is_identifier(item.name)) {
        error(var.where, "matrix variable name " + quote(item.name) + " is not valid",
              "use letters, digits and \"_\", not starting with a digit");
        e.valid = false;
        continue;
      }
      if (item.value.IsSequence()) {
        for (const YAML::Node& v : item.value) {
          if (!v.IsScalar() || v.Scalar().empty()) {
            error(where(item.key, v),
                  "values of matrix variable " + quote(item.name) + " must be single values",
                  "list plain values, e.g. [a, b, c]");
            e.valid = false;
            continue;
          }
          var.values.push_back(v.Scalar());
        }
        var.ends = var.values;
        if (item.value.size() == 0) {
          error(var.where, "matrix variable " + quote(item.name) + " has no values",
                "list at least one value");
          e.valid = false;
        }
      } else if (item.value.IsScalar()) {
        if (!read_range(item.value.Scalar(), var, where(item.key, item.value))) e.valid = false;
      } else {
        error(where(item.key, item.value),
              "matrix variable " + quote(item.name) + " must be a list or a range, not " +
                  describe(item.value),
              "write a list like [a, b] or a range like \"1-240\" or \"1-240:10\"");
        e.valid = false;
      }
      e.matrix.push_back(std::move(var));
    }
  }

  bool read_range(const std::string& text, MatrixVar& var, Where at) {
    const std::string label = "matrix variable " + quote(var.name) + ": ";
    const std::size_t colon = text.find(':');
    const std::string span = text.substr(0, colon);
    const std::size_t dash = span.find('-', 1);
    std::optional<long long> first, last, step = 1;
    if (dash != std::string::npos) {
      first = parse_int<long long>(span.substr(0, dash));
      last = parse_int<long long>(span.substr(dash + 1));
    }
    if (colon != std::string::npos) step = parse_int<long long>(text.substr(colon + 1));
    if (!first || !last || !step || *first < 0) {
      error(at, label + quote(text) + " is not a range of whole numbers",
            "write a range like \"1-240\" or \"1-240:10\", or a list of values");
      return false;
    }
    if (*last < *first) {
      error(at, label + "the range " + quote(text) + " ends before it starts",
            "write the smaller number first, e.g. \"" + std::to_string(*last) + "-" +
                std::to_string(*first) + "\"");
      return false;
    }
    if (*step <= 0) {
      error(at, label + "the step of " + quote(text) + " must be 1 or more",
            "write e.g. \"" + span + ":10\"");
      return false;
    }
    if ((*last - *first) / *step >= static_cast<long long>(kMaxTasks)) {
      error(at,
            label + "the range " + quote(text) + " has more than " + std::to_string(kMaxTasks) +
                " values",
            "use a larger step or a smaller range");
      return false;
    }
    var.is_range = true;
    var.first = *first;
    var.last = *last;
    var.step = *step;
    for (long long v = *first; v <= *last; v += *step) {
      var.values.push_back(std::to_string(v));
      var.ends.push_back(std::to_string(std::min(v + *step - 1, *last)));
    }
    return true;
  }

  void check_id_template(TaskEntry& e, const KeyValue& id_kv) {
    const Where at = where(id_kv.key, id_kv.value);
    std::string literal = e.id;
    const auto ph = placeholders(e.id);
    for (auto it = ph.rbegin(); it != ph.rend(); ++it)
      literal.erase(it->begin, it->end - it->begin);
    if (e.id.empty() || !std::all_of(literal.begin(), literal.end(), is_id_char)) {
      error(at,
            "task id " + quote(e.id) +
                " has characters other than letters, digits, \"_\", "
                "\".\" and \"-\"",
            e.matrix.empty() ? "rename the task"
                             : "rename the task; matrix variables go in {braces}");
      e.valid = false;
      return;
    }
    for (const MatrixVar& var : e.matrix) {
      const bool used = std::any_of(ph.begin(), ph.end(),
                                    [&](const Placeholder& p) { return p.name == var.name; });
      if (!used) {
        error(at,
              "the id " + quote(e.id) + " of a matrix task does not use the matrix variable " +
                  quote(var.name) + ", so its tasks would share ids",
              "add {" + var.name + "} to the id, e.g. \"" + e.id + "-{" + var.name + "}\"");
        e.valid = false;
      }
    }
  }

  void derive_group(TaskEntry& e) {
    if (e.matrix.empty()) {
      e.group = e.id;
      return;
    }
    std::string g = e.id.substr(0, e.id.find('{'));
    while (!g.empty() && (g.back() == '-' || g.back() == '_' || g.back() == '.')) g.pop_back();
    if (g.empty()) {
      error(e.where, "cannot name the group of task " + quote(e.id) + " from its id",
            "start the id with a name, e.g. \"render-{...}\", or add \"group: <name>\"");
      e.valid = false;
      return;
    }
    e.group = g;
  }

  void check_templates(TaskEntry& e) {
    std::vector<std::string> names;
    for (const MatrixVar& v : e.matrix) names.push_back(v.name);
    auto check = [&](const std::string& text, std::string_view field, Where at) {
      for (const Placeholder& p : placeholders(text)) {
        if (std::find(names.begin(), names.end(), p.name) != names.end()) continue;
        std::string fix = suggest(p.name, names);
        if (fix.empty()) {
          fix = e.matrix.empty()
                    ? "declare it under matrix, or write ${" + p.name + "} for a shell variable"
                    : "use one of " + join(names, ", ") + ", or write ${" + p.name +
                          "} for a shell variable";
        }
        error(at,
              "{" + p.name + (p.is_end ? ".end" : "") + "} in the " + std::string(field) +
                  " of task " + quote(e.id) + " is not a matrix variable of this task",
              fix);
        e.valid = false;
      }
    };
    check(e.id, "id", e.where);
    check(e.run, "run command", e.where);
    for (const auto& [k, v] : e.env) check(v, "env", e.where);
    for (const auto& [k, v] : e.metadata) check(v, "metadata", e.where);
    if (e.cwd) check(*e.cwd, "cwd", e.where);
    for (const AfterRef& a : e.after) check(a.text, "after list", a.where);
  }

  // --- expansion -------------------------------------------------------------------------------

  static std::string substitute(const std::string& text, const TaskEntry& e,
                                const std::vector<std::size_t>& element) {
    const auto ph = placeholders(text);
    if (ph.empty()) return text;
    std::string out;
    std::size_t pos = 0;
    for (const Placeholder& p : ph) {
      out.append(text, pos, p.begin - pos);
      for (std::size_t v = 0; v < e.matrix.size(); ++v) {
        if (e.matrix[v].name == p.name) {
          out += p.is_end ? e.matrix[v].ends[element[v]] : e.matrix[v].values[element[v]];
        }
      }
      pos = p.end;
    }
    out.append(text, pos, std::string::npos);
    return out;
  }

  void expand(Workflow& wf) {
    std::size_t total = 0;
    for (TaskEntry& e : entries_) {
      if (!e.valid) continue;
      std::size_t count = 1;
      for (const MatrixVar& v : e.matrix) {
        count = count > kMaxTasks ? count : count * v.values.size();
      }
      if (count > kMaxTasks || total + count > kMaxTasks) {
        error(e.where,
              "the matrix of task " + quote(e.id) + " takes the workflow over " +
                  std::to_string(kMaxTasks) + " tasks",
              "use fewer matrix values or larger range steps, or split the workflow");
        e.valid = false;
        continue;
      }
      total += count;
      std::vector<std::size_t> element(e.matrix.size(), 0);
      for (std::size_t n = 0; n < count; ++n) {
        Task t;
        t.id = substitute(e.id, e, element);
        t.run = substitute(e.run, e, element);
        t.priority = e.priority;
        t.retries = e.retries;
        t.timeout = e.timeout;
        t.needs = e.needs;
        for (const auto& [k, v] : e.env) t.env.emplace_back(k, substitute(v, e, element));
        const fs::path cwd = e.cwd ? fs::path(substitute(*e.cwd, e, element)) : fs::path();
        t.cwd = e.cwd ? (cwd.is_absolute() ? cwd : e.cwd_base / cwd).lexically_normal() : main_dir_;
        for (const auto& [k, v] : e.metadata) t.metadata.emplace_back(k, substitute(v, e, element));
        t.group = e.group;
        for (std::size_t v = 0; v < e.matrix.size(); ++v) {
          t.matrix.emplace_back(e.matrix[v].name, e.matrix[v].values[element[v]]);
        }
        t.file = e.where.file;
        t.line = e.where.line;
        t.column = e.where.column;
        e.tasks.push_back(wf.tasks.size());
        e.element_values.push_back(element);
        wf.tasks.push_back(std::move(t));
        for (std::size_t v = e.matrix.size(); v-- > 0;) {  // odometer, last variable fastest
          if (++element[v] < e.matrix[v].values.size()) break;
          element[v] = 0;
        }
      }
    }
    check_ids(wf);
    resolve_after(wf);
    check_resources();
    check_cycles(wf);
  }

  void check_ids(const Workflow& wf) {
    std::unordered_map<std::string, const TaskEntry*> seen;
    std::set<std::pair<const TaskEntry*, const TaskEntry*>> reported;
    std::set<const TaskEntry*> bad_chars;
    for (const TaskEntry& e : entries_) {
      for (std::size_t i : e.tasks) {
        const Task& t = wf.tasks[i];
        if (!std::all_of(t.id.begin(), t.id.end(), is_id_char) && bad_chars.insert(&e).second) {
          error(e.where,
                "task id " + quote(t.id) + " (from " + quote(e.id) +
                    ") has characters other than letters, digits, \"_\", \".\" and \"-\"",
                "change the matrix values that go into the id");
        }
        auto [it, inserted] = seen.emplace(t.id, &e);
        if (!inserted && reported.insert({it->second, &e}).second) {
          const Where& w = it->second->where;
          error(e.where,
                "duplicate task id " + quote(t.id) + ", also made by the task at " + w.file + ":" +
                    std::to_string(w.line) + ":" + std::to_string(w.column),
                "rename one of them");
        }
      }
    }
    // A matrix group's name must not also be another entry's task id or group.
    std::unordered_map<std::string, const TaskEntry*> groups;
    for (const TaskEntry& e : entries_) {
      if (!e.valid || e.matrix.empty()) continue;
      auto [it, inserted] = groups.emplace(e.group, &e);
      if (!inserted) {
        const Where& w = it->second->where;
        error(e.where,
              "the group name " + quote(e.group) + " of task " + quote(e.id) +
                  " is also the group of the task at " + w.file + ":" + std::to_string(w.line) +
                  ":" + std::to_string(w.column),
              "give one of them another name with \"group: <name>\"");
      }
      auto id = seen.find(e.group);
      if (id != seen.end() && id->second != &e) {
        error(e.where,
              "the group name " + quote(e.group) + " of task " + quote(e.id) +
                  " is also the id of another task",
              "rename that task, or name this group with \"group: <name>\"");
      }
    }
  }

  struct Group {
    const TaskEntry* entry;
    // Values of the variables matched on, joined by '\0' -> tasks (for element-wise lookups).
    std::map<std::vector<std::string>, std::unordered_map<std::string, std::vector<std::size_t>>>
        index;
  };

  void resolve_after(Workflow& wf) {
    std::unordered_map<std::string, std::size_t> ids;  // first task with each id
    for (std::size_t i = 0; i < wf.tasks.size(); ++i) ids.emplace(wf.tasks[i].id, i);
    std::unordered_map<std::string, TaskEntry*> groups;  // matrix groups only
    // Names (and id prefixes) of entries we could not expand: references to them are not
    // reported, since the real problem was already.
    std::set<std::string> broken;
    std::vector<std::string> known;
    for (TaskEntry& e : entries_) {
      if (!e.valid) {
        std::string prefix = e.id.substr(0, e.id.find('{'));
        while (!prefix.empty() &&
               std::string_view("-_.").find(prefix.back()) != std::string::npos) {
          prefix.pop_back();
        }
        broken.insert(prefix);
        if (!e.group.empty()) broken.insert(e.group);
        if (!e.id.empty()) broken.insert(e.id);
        continue;
      }
      if (!e.matrix.empty()) {
        groups.emplace(e.group, &e);
        known.push_back(e.group);
      }
    }
    for (const Task& t : wf.tasks) known.push_back(t.id);

    for (TaskEntry& e : entries_) {
      std::vector<std::unordered_set<std::size_t>> added(e.tasks.size());  // no repeats
      for (const AfterRef& ref : e.after) {
        std::string first_missing, missing_values;
        std::size_t missing = 0;
        bool reported = false;
        for (std::size_t n = 0; n < e.tasks.size() && !reported; ++n) {
          Task& t = wf.tasks[e.tasks[n]];
          const std::string text = substitute(ref.text, e, e.element_values[n]);
          std::vector<std::size_t> deps;
          const std::size_t bracket = text.find('[');
          if (bracket == std::string::npos) {
            if (auto g = groups.find(text); g != groups.end()) {
              deps = g->second->tasks;
            } else if (auto id = ids.find(text); id != ids.end()) {
              deps.push_back(id->second);
            } else {
              const bool from_broken =
                  std::any_of(broken.begin(), broken.end(), [&](const std::string& b) {
                    return text == b ||
                           (!b.empty() && text.size() > b.size() &&
                            text.compare(0, b.size(), b) == 0 &&
                            std::string_view("-_.").find(text[b.size()]) != std::string_view::npos);
                  });
              if (!from_broken) {
                std::string fix = suggest(text, known);
                error(ref.where,
                      "task " + quote(e.id) + " runs after " + quote(text) +
                          ", which is not a task or group",
                      fix.empty() ? "check the name, or add a task with that id" : fix);
              }
              reported = true;
              continue;
            }
          } else {
            std::optional<std::vector<std::size_t>> found =
                element_wise(e, n, text, bracket, ref, groups, ids, broken);
            if (!found) {
              reported = true;
              continue;
            }
            if (found->empty()) {
              if (missing++ == 0) {
                first_missing = t.id;
                std::vector<std::string> values;
                for (const std::string& var : bracket_vars(text)) {
                  for (const auto& [k, v] : t.matrix) {
                    if (k == var) values.push_back(k + " = " + v);
                  }
                }
                missing_values = join(values, ", ");
              }
              continue;
            }
            deps = std::move(*found);
          }
          for (std::size_t d : deps) {
            if (added[n].insert(d).second) t.after.push_back(wf.tasks[d].id);
          }
        }
        if (missing > 0) {
          const std::string group = ref.text.substr(0, ref.text.find('['));
          error(ref.where,
                "task " + quote(first_missing) + " runs after " + quote(ref.text) + ", but group " +
                    quote(group) + " has no task with " + missing_values +
                    (missing > 1 ? " (" + std::to_string(missing - 1) + " more tasks of " +
                                       quote(e.id) + " have the same problem)"
                                 : ""),
                "make the matrices cover the same values, or write after: " + group +
                    " to run after all of them");
        }
      }
    }
  }

  static std::vector<std::string> bracket_vars(const std::string& text) {
    std::vector<std::string> out;
    const std::size_t open = text.find('[');
    const std::size_t close = text.rfind(']');
    if (open == std::string::npos || close == std::string::npos || close < open) return out;
    std::string inner = text.substr(open + 1, close - open - 1);
    std::size_t pos = 0;
    while (pos <= inner.size()) {
      const std::size_t comma = inner.find(',', pos);
      out.push_back(
          trim(inner.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos)));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    return out;
  }

  // `group[var, ...]`: the tasks of `group` whose variables match element n of `e`; nullopt
  // when the reference itself is wrong (already reported).
  std::optional<std::vector<std::size_t>> element_wise(
      TaskEntry& e, std::size_t n, const std::string& text, std::size_t bracket,
      const AfterRef& ref, std::unordered_map<std::string, TaskEntry*>& groups,
      const std::unordered_map<std::string, std::size_t>& ids,
      const std::set<std::string>& broken) {
    const std::string name = trim(text.substr(0, bracket));
    const std::vector<std::string> vars = bracket_vars(text);
    const bool well_formed =
        text.back() == ']' && std::all_of(vars.begin(), vars.end(), is_identifier) && !name.empty();
    if (!well_formed) {
      error(ref.where, quote(text) + " is not a valid dependency",
            "write a task or group name, or group[variable] to match matrix elements");
      return std::nullopt;
    }
    auto g = groups.find(name);
    if (g == groups.end()) {
      if (broken.contains(name)) return std::nullopt;
      if (ids.contains(name)) {
        error(ref.where,
              quote(name) + " in " + quote(text) + " is a single task, not a matrix group",
              "write after: " + name);
      } else {
        std::vector<std::string> names;
        for (const auto& [k, v] : groups) names.push_back(k);
        std::sort(names.begin(), names.end());
        std::string fix = suggest(name, names);
        error(ref.where,
              "task " + quote(e.id) + " runs after " + quote(text) +
                  ", but there is no matrix "
                  "group " +
                  quote(name),
              fix.empty() ? "check the name of the group" : fix);
      }
      return std::nullopt;
    }
    const TaskEntry& other = *g->second;
    std::vector<std::size_t> mine, theirs;
    for (const std::string& var : vars) {
      auto find = [&](const TaskEntry& t) {
        for (std::size_t i = 0; i < t.matrix.size(); ++i) {
          if (t.matrix[i].name == var) return i;
        }
        return t.matrix.size();
      };
      const std::size_t a = find(e), b = find(other);
      if (a == e.matrix.size()) {
        error(ref.where,
              "task " + quote(e.id) + " has no matrix variable " + quote(var) + " to match " +
                  quote(text),
              "add " + var + " to this task's matrix, or write after: " + name +
                  " to run after every task of the group");
        return std::nullopt;
      }
      if (b == other.matrix.size()) {
        std::vector<std::string> common;
        for (const MatrixVar& v : e.matrix) {
          for (const MatrixVar& w : other.matrix) {
            if (w.name == v.name) common.push_back(v.name);
          }
        }
        error(ref.where, "group " + quote(name) + " has no matrix variable " + quote(var),
              common.empty() ? "write after: " + name + " to run after every task of the group"
                             : "match on variables both tasks have: " + join(common, ", "));
        return std::nullopt;
      }
      mine.push_back(a);
      theirs.push_back(b);
    }
    // Index the other group by the values of `theirs` (built once per set of variables).
    std::vector<std::string> key_vars;
    for (std::size_t b : theirs) key_vars.push_back(other.matrix[b].name);
    Group& cache = group_cache_[g->second];
    auto& index = cache.index[key_vars];
    if (index.empty()) {
      for (std::size_t k = 0; k < other.tasks.size(); ++k) {
        std::string key;
        for (std::size_t b : theirs)
          key += other.matrix[b].values[other.element_values[k][b]] + '\0';
        index[key].push_back(other.tasks[k]);
      }
    }
    std::string key;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      std::string value = e.matrix[mine[i]].values[e.element_values[n][mine[i]]];
      const MatrixVar& ov = other.matrix[theirs[i]];
      if (ov.is_range) {  // the chunk containing the value
        const auto v = parse_int<long long>(value);
        if (!v || *v < ov.first || *v > ov.last) return std::vector<std::size_t>{};
        value = std::to_string(ov.first + (*v - ov.first) / ov.step * ov.step);
      }
      key += value + '\0';
    }
    auto found = index.find(key);
    if (found == index.end()) return std::vector<std::size_t>{};
    return found->second;
  }

  void check_resources() {
    for (const TaskEntry& e : entries_) {
      if (!e.valid) continue;
      for (const auto& [pool, amount] : e.needs) {
        auto at = e.needs_where.find(pool);
        const Where w = at == e.needs_where.end() ? e.where : at->second;
        if (!declared_names_.contains(pool) && !detected_.contains(pool)) {
          std::vector<std::string> names(declared_names_.begin(), declared_names_.end());
          for (const auto& [p, a] : detected_) names.push_back(p);
          std::string fix =
              "add \"" + pool + ": <amount>\" under resources, or remove it from needs";
          if (std::string close = closest_match(pool, names); !close.empty()) {
            fix = "did you mean " + quote(close) + "? Otherwise " + fix;
          }
          error(w,
                "task " + quote(e.id) + " needs " + format_number(amount) + " " + pool +
                    ", but the workflow declares no " + quote(pool) + " resource",
                fix);
          continue;
        }
        const double capacity =
            declared_names_.contains(pool) ? declared_.get(pool) : detected_.get(pool);
        if (amount > capacity * (1 + 1e-9)) {
          error(w,
                "task " + quote(e.id) + " needs " + format_number(amount) + " " + pool +
                    ", but the workflow has only " + format_number(capacity) +
                    ", so it could never start",
                "lower needs." + pool + " to at most " + format_number(capacity) +
                    ", or raise resources." + pool);
        }
      }
    }
  }

  void check_cycles(const Workflow& wf) {
    std::unordered_map<std::string, graph::NodeIndex> index;
    for (std::size_t i = 0; i < wf.tasks.size(); ++i) {
      index.emplace(wf.tasks[i].id, static_cast<graph::NodeIndex>(i));
    }
    std::vector<graph::Edge> edges;
    for (std::size_t i = 0; i < wf.tasks.size(); ++i) {
      for (const std::string& dep : wf.tasks[i].after) {
        edges.push_back({index.at(dep), static_cast<graph::NodeIndex>(i)});
      }
    }
    const graph::Digraph g(wf.tasks.size(), edges);
    const auto cycle = graph::find_cycle(g);
    if (!cycle) return;
    std::vector<std::string> path;
    for (graph::NodeIndex v : *cycle) path.push_back(wf.tasks[v].id);
    const Task& at = wf.tasks[cycle->front()];
    error({at.file.string(), at.line, at.column},
          "dependency cycle: " + join(path, " -> ") + " (each task runs after the one before it)",
          "remove one of these dependencies");
  }

  // --- fingerprint -----------------------------------------------------------------------------

  std::string fingerprint(const Workflow& wf) const {
    std::uint64_t h = 14695981039346656037ull;
    auto feed = [&](std::string_view s) {
      const std::string len = std::to_string(s.size()) + ':';
      for (char c : len) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    };
    auto feed_pairs = [&](const KeyValues& kv) {
      feed(std::to_string(kv.size()));
      for (const auto& [k, v] : kv) {
        feed(k);
        feed(v);
      }
    };
    feed(wf.name);
    feed(std::to_string(wf.tasks.size()));
    for (const Task& t : wf.tasks) {
      feed(t.id);
      feed(t.run);
      feed(std::to_string(t.after.size()));
      for (const std::string& a : t.after) feed(a);
      feed(std::to_string(t.priority.value()));
      feed(std::to_string(t.retries));
      feed(std::to_string(t.timeout.count()));
      feed(to_string(t.needs));
      feed_pairs(t.env);
      feed(t.cwd.lexically_relative(main_dir_).generic_string());
      feed_pairs(t.metadata);
      feed(t.group);
      feed_pairs(t.matrix);
    }
    char buf[17];
    for (int i = 15; i >= 0; --i) {
      buf[i] = "0123456789abcdef"[h & 0xf];
      h >>= 4;
    }
    return std::string(buf, 16);
  }

  fs::path main_file_, main_dir_;
  std::string file_;  // display name of the file being read
  std::string read_error_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<fs::path> include_stack_;
  std::vector<std::string> include_names_;
  std::set<std::string> loaded_;
  Resources declared_;
  std::set<std::string> declared_names_;
  Resources detected_ = detected_capacity();
  std::vector<TaskEntry> entries_;
  std::map<const TaskEntry*, Group> group_cache_;
};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  const std::string s = trim(text);
  if (s.empty()) return std::nullopt;
  if (auto seconds = parse_number(s)) {
    if (*seconds < 0 || *seconds > 1e9) return std::nullopt;
    return Duration{static_cast<Duration::rep>(std::llround(*seconds * 1e9))};
  }
  double total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    const auto number = parse_number(std::string_view(s).substr(i, j - i));
    std::size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
    const std::string_view unit = std::string_view(s).substr(j, k - j);
    double scale = 0;
    if (unit == "ms") {
      scale = 1e-3;
    } else if (unit == "s") {
      scale = 1;
    } else if (unit == "m") {
      scale = 60;
    } else if (unit == "h") {
      scale = 3600;
    } else if (unit == "d") {
      scale = 86400;
    }
    if (!number || scale == 0) return std::nullopt;
    total += *number * scale;
    i = k;
  }
  if (total > 1e9) return std::nullopt;
  return Duration{static_cast<Duration::rep>(std::llround(total * 1e9))};
}

std::optional<double> parse_size(std::string_view text) {
  const std::string s = trim(text);
  std::size_t j = 0;
  while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.' ||
                          s[j] == 'e' || s[j] == 'E' || s[j] == '+')) {
    ++j;
  }
  const auto number = parse_number(std::string_view(s).substr(0, j));
  if (!number || *number < 0) return std::nullopt;
  std::string_view unit = std::string_view(s).substr(j);
  if (unit.empty()) return *number;
  if (unit.back() == 'B') unit.remove_suffix(1);
  if (unit.empty()) return *number;
  const std::string_view prefixes = "KMGT";
  const std::size_t p = prefixes.find(static_cast<char>(std::toupper(unit[0])));
  if (p == std::string_view::npos) return std::nullopt;
  double base = 1000;
  if (unit.size() == 2 && unit[1] == 'i') {
    base = 1024;
  } else if (unit.size() != 1) {
    return std::nullopt;
  }
  const double bytes = *number * std::pow(base, static_cast<double>(p + 1));
  if (!std::isfinite(bytes)) return std::nullopt;
  return bytes;
}

std::optional<Priority> parse_task_priority(std::string_view text) {
  const std::string s = trim(text);
  if (s == "interactive") return Priority(900);
  if (s == "urgent") return Priority(500);
  if (s == "background") return Priority(-500);
  return parse_priority(s);
}

Workflow load_workflow(const std::filesystem::path& file) {
  return Loader(file).load_file();
}

Workflow parse_workflow(std::string_view yaml, const std::filesystem::path& file) {
  return Loader(file).load_text(yaml);
}

}  // namespace taskloom::workflow
