// Pass 1: the YAML documents. Each file (the main one, then its includes, depth first) is read
// into a YamlTree (yaml_tree.hpp) and turned into TaskEntry templates, defaults applied, every
// field checked.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "taskloom/core/units.hpp"

#include "workflow/load_state.hpp"
#include "workflow/yaml_tree.hpp"

namespace taskloom::workflow::detail {
namespace {

const std::vector<std::string> kTopKeys{"name",  "defaults", "resources", "include",
                                        "tasks", "backend",  "slurm"};
const std::vector<std::string> kDefaultKeys{"retries", "timeout", "priority", "needs",
                                            "env",     "cwd",     "features"};
const std::vector<std::string> kTaskKeys{"id",       "group",    "run",    "after",  "priority",
                                         "retries",  "timeout",  "needs",  "env",    "cwd",
                                         "features", "metadata", "matrix", "inputs", "outputs"};
const std::vector<std::string> kBackends{"local", "slurm"};
const std::vector<std::string> kSlurmKeys{"partition", "account", "qos", "options"};
/// sbatch options taskloom sets for every job itself (docs/backends.md).
const std::vector<std::string> kManagedSbatchOptions{
    "--parsable", "--job-name", "-J",     "--output",  "-o",          "--error",      "-e",
    "--chdir",    "-D",         "--wrap", "--comment", "--open-mode", "--dependency", "-d"};

/// What `defaults:` gives the tasks of a file and of the files it includes.
struct Defaults {
  std::optional<unsigned> retries;
  std::optional<Duration> timeout;
  std::optional<Priority> priority;
  std::map<std::string, double> needs;  // by name (so the task's Resources grow at the end)
  KeyValues env;
  std::optional<std::string> cwd;
  fs::path cwd_base;
  std::optional<std::vector<std::string>> features;
};

class DocumentReader {
 public:
  explicit DocumentReader(LoadState& state) : s_(state) {}

  void read_main(std::string_view text, Workflow& wf) {
    std::error_code ec;
    const fs::path absolute = fs::absolute(s_.main_file);
    const fs::path canonical = fs::weakly_canonical(absolute, ec);
    include_stack_.push_back(ec ? absolute : canonical);
    include_names_.push_back(s_.main_file.string());
    Defaults defaults;
    defaults.cwd_base = s_.main_dir;
    read_document(text, s_.main_file.string(), defaults, /*is_main=*/true, wf);
  }

 private:
  void error(Where w, std::string message, std::string fix = {}) {
    s_.problems.add(std::move(w), std::move(message), std::move(fix));
  }

  Where where(const YamlNode& node) const {
    if (node.line() <= 0) return {file_, 0, 0};
    return {file_, node.line(), node.column()};
  }
  // A value's position, or its key's when the value is empty (yaml-cpp marks empty values at
  // the next token).
  Where where(const YamlNode& key, const YamlNode& value) const {
    return (!value || value.is_null()) ? where(key) : where(value);
  }

  // --- mappings (with duplicate-key detection and `<<` merge keys) -----------------------------

  struct KeyValue {
    YamlNode key, value;
    std::string name;
  };

  /// Names seen in one mapping: a look along the few keys of a task, a hash for a large mapping
  /// (so a mapping of n keys costs n, not n squared). The views point into the tree.
  class NameSet {
   public:
    bool insert(std::string_view name) {
      if (contains(name)) return false;
      if (hashed_.empty() && few_.size() < kFew) {
        few_.push_back(name);
      } else {
        if (hashed_.empty()) hashed_.insert(few_.begin(), few_.end());
        hashed_.insert(name);
      }
      return true;
    }
    bool contains(std::string_view name) const {
      if (!hashed_.empty()) return hashed_.contains(name);
      return std::find(few_.begin(), few_.end(), name) != few_.end();
    }

   private:
    static constexpr std::size_t kFew = 16;
    std::vector<std::string_view> few_;
    std::unordered_set<std::string_view> hashed_;
  };

  /// Thrown when a document cannot be read further (a limit of merges or includes was passed).
  struct StopDocument {};

  // `depth`: how many merge keys led here.
  std::vector<KeyValue> mapping(const YamlNode& map, std::size_t depth = 0) {
    std::vector<KeyValue> out;
    std::vector<KeyValue> merged;
    NameSet own, from_merges;
    out.reserve(map.size());
    for (std::size_t i = 0; i < map.size(); ++i) {
      const YamlNode key = map.key(i);
      const YamlNode value = map.value(i);
      if (!key.is_scalar()) {
        error(where(key), "a key must be a plain name", "write the key as text");
        continue;
      }
      const std::string& name = key.scalar();
      if (name == "<<") {
        merge_into(merged, from_merges, key, value, depth);
        continue;
      }
      if (!own.insert(name)) {
        error(where(key), "the key " + quote(name) + " appears twice in this mapping",
              "remove one of them");
        continue;
      }
      out.push_back({key, value, name});
    }
    for (KeyValue& kv : merged) {
      if (!own.contains(kv.key.scalar())) out.push_back(std::move(kv));
    }
    return out;
  }

  // `<<: *a` or `<<: [*a, *b]`: keys of the merged mappings, the earlier ones winning. A merged
  // mapping is read once (its own merges resolved) and remembered by its node, so aliases of
  // aliases cost their size, not the product of every level's; what merges may copy in all is
  // limited (kMergedEntriesPerByte), and how deep they nest (kMaxDepth).
  void merge_into(std::vector<KeyValue>& merged, NameSet& names, const YamlNode& key,
                  const YamlNode& value, std::size_t depth) {
    std::vector<YamlNode> sources;
    if (value.is_sequence()) {
      for (const YamlNode item : value.items()) sources.push_back(item);
    } else {
      sources.push_back(value);
    }
    if (sources.empty() || !std::all_of(sources.begin(), sources.end(),
                                        [](const YamlNode& n) { return n.is_map(); })) {
      error(where(key),
            "the merge key \"<<\" needs a mapping or a list of mappings, not " + describe(value),
            "write \"<<: *anchor\" where the anchor names a mapping");
      return;
    }
    if (depth >= kMaxDepth) {
      error(where(key),
            "merge keys nest deeper than " + std::to_string(kMaxDepth) +
                " levels here (a merged mapping merges another, which merges another, ...)",
            "merge the mappings this one needs directly");
      throw StopDocument{};
    }
    for (const YamlNode& source : sources) {
      const std::vector<NodePair>& entries = merged_mapping(source, depth + 1);
      merges_.entries += entries.size();
      if (merges_.entries > merges_.budget) {
        error(where(key),
              "merge keys expand to more than " + std::to_string(merges_.budget) +
                  " entries in this file: the mappings merged are too large or merged too often",
              "merge smaller mappings, or put what every task shares under defaults:");
        throw StopDocument{};
      }
      for (const auto& [key_id, value_id] : entries) {
        const YamlNode merged_key = merges_.tree->node(key_id);
        if (names.insert(merged_key.scalar())) {
          merged.push_back({merged_key, merges_.tree->node(value_id), merged_key.scalar()});
        }
      }
    }
  }

  using NodePair = std::pair<std::uint32_t, std::uint32_t>;  // key and value ids

  const std::vector<NodePair>& merged_mapping(const YamlNode& source, std::size_t depth) {
    if (auto it = merges_.by_node.find(source.id()); it != merges_.by_node.end()) {
      return it->second;
    }
    std::vector<NodePair> entries;
    for (const KeyValue& kv : mapping(source, depth)) {
      entries.emplace_back(kv.key.id(), kv.value.id());
    }
    return merges_.by_node.emplace(source.id(), std::move(entries)).first->second;
  }

  void unknown_key(const KeyValue& kv, std::string_view context,
                   const std::vector<std::string>& valid) {
    std::string fix = suggest(kv.name, valid, s_.problems);
    if (fix.empty()) fix = "valid keys are " + join(valid, ", ");
    error(where(kv.key), "unknown key " + quote(kv.name) + " in " + std::string(context), fix);
  }

  // --- scalar fields ---------------------------------------------------------------------------

  std::optional<std::string> scalar(const KeyValue& kv, std::string_view what) {
    if (kv.value.is_scalar()) return kv.value.scalar();
    error(where(kv.key, kv.value), std::string(what) + " must be a single value",
          "write it as text, e.g. " + std::string(what) + ": value");
    return std::nullopt;
  }

  std::optional<unsigned> read_retries(const KeyValue& kv) {
    if (kv.value.is_scalar()) {
      if (auto n = parse_int<unsigned>(kv.value.scalar())) return *n;
    }
    error(where(kv.key, kv.value),
          "retries must be a whole number of 0 or more, not " + describe(kv.value),
          "write e.g. retries: 2");
    return std::nullopt;
  }

  std::optional<Duration> read_timeout(const KeyValue& kv) {
    if (kv.value.is_scalar()) {
      if (auto d = units::parse_duration(kv.value.scalar())) return *d;
    }
    error(where(kv.key, kv.value), "timeout " + describe(kv.value) + " is not a duration",
          "write it like \"90s\", \"5m\", \"1h30m\", \"250ms\" or a number of seconds");
    return std::nullopt;
  }

  std::optional<Priority> read_priority(const KeyValue& kv) {
    if (kv.value.is_scalar()) {
      if (auto p = parse_task_priority(kv.value.scalar())) return *p;
    }
    error(where(kv.key, kv.value), "priority " + describe(kv.value) + " is not a priority",
          "use lowest, low, normal, high, highest, interactive, urgent, background or a whole "
          "number from -1000 to 1000");
    return std::nullopt;
  }

  static std::string describe(const YamlNode& n) {
    if (!n || n.is_null()) return "empty";
    if (n.is_scalar()) return quote(n.scalar());
    if (n.is_sequence()) return "a list";
    return "a mapping";
  }

  // needs / resources: pool -> amount (memory also as a size).
  std::vector<std::pair<std::string, double>> read_amounts(const KeyValue& kv,
                                                           std::string_view what,
                                                           std::map<std::string, Where>* at) {
    std::vector<std::pair<std::string, double>> out;
    if (!kv.value.is_map()) {
      error(where(kv.key, kv.value),
            std::string(what) + " must be a mapping of resource names to amounts",
            "write e.g. " + std::string(what) + ": {cpu: 2, memory: 4G}");
      return out;
    }
    for (const KeyValue& item : mapping(kv.value)) {
      const std::string label = std::string(what) + "." + item.name;
      if (const std::string_view canonical = canonical_resource_name(item.name);
          canonical != item.name) {
        error(where(item.key), label + ": this pool is called " + quote(canonical) + " in taskloom",
              "write " + std::string(canonical) + ": " +
                  (item.value.is_scalar() ? item.value.scalar() : std::string("<amount>")));
        continue;
      }
      std::optional<double> amount;
      if (item.value.is_scalar()) {
        amount = item.name == "memory" ? units::parse_size(item.value.scalar())
                                       : parse_number(item.value.scalar());
      }
      if (!amount || *amount < 0) {
        std::string fix = item.name == "memory"
                              ? "write a number of bytes or a size like \"512M\", \"4G\" or "
                                "\"1.5GiB\""
                              : "write a number of 0 or more";
        if (item.name != "memory" && item.value.is_scalar() &&
            units::parse_size(item.value.scalar())) {
          fix += " (sizes like \"4G\" are accepted only for memory)";
        }
        error(where(item.key, item.value),
              label + " must be an amount of 0 or more, not " + describe(item.value), fix);
        continue;
      }
      out.emplace_back(item.name, *amount);
      if (at) (*at)[item.name] = where(item.key);
    }
    // By name: Resources keeps its amounts sorted, and grows at the end fastest.
    std::sort(out.begin(), out.end());
    return out;
  }

  KeyValues read_strings(const KeyValue& kv, std::string_view what, bool env_names) {
    KeyValues out;
    if (!kv.value.is_map()) {
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
      if (!item.value.is_scalar() && !item.value.is_null()) {
        error(where(item.key, item.value),
              std::string(what) + "." + item.name + " must be a single value, not " +
                  describe(item.value),
              "write it as text");
        continue;
      }
      out.emplace_back(item.name, item.value.is_null() ? std::string() : item.value.scalar());
    }
    return out;
  }

  // `top` over `base`, key by key, in linear time (an env may have thousands of names).
  static void overlay(KeyValues& base, const KeyValues& top) {
    base.reserve(base.size() + top.size());  // the views below stay valid
    std::unordered_map<std::string_view, std::size_t> index;
    for (std::size_t i = 0; i < base.size(); ++i) index.emplace(base[i].first, i);
    for (const auto& [k, v] : top) {
      if (auto it = index.find(k); it != index.end()) {
        base[it->second].second = v;
      } else {
        index.emplace(k, base.size());
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
    if (const std::optional<YamlTree> tree = read_yaml(text, file_, s_.problems)) {
      // Merges are per document (anchors and node ids are); an include has its own.
      Merges saved = std::exchange(
          merges_,
          Merges{&*tree, {}, 0, std::max(kMinMergedEntries, kMergedEntriesPerByte * text.size())});
      try {
        read_tree(tree->root(), dir, defaults, is_main, wf);
      } catch (const StopDocument&) {
      }
      merges_ = std::move(saved);
    }
    file_ = saved_file;
  }

  void read_tree(const YamlNode& root, const fs::path& dir, Defaults& defaults, bool is_main,
                 Workflow& wf) {
    if (!root || root.is_null()) {
      error({file_, 0, 0}, "the file is empty",
            is_main ? "a workflow needs at least a name and a list of tasks"
                    : "an included file needs tasks, defaults or resources");
      return;
    }
    if (!root.is_map()) {
      error(where(root), "the file must be a mapping of keys (name, tasks, ...)",
            "start the file with \"name:\" and \"tasks:\"");
      return;
    }
    std::optional<KeyValue> name, tasks, includes, resources, defaults_kv, backend, slurm;
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
      } else if (kv.name == "backend") {
        backend = kv;
      } else if (kv.name == "slurm") {
        slurm = kv;
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
        if (is_main || !s_.declared_names.contains(pool)) {
          s_.declared.set(pool, amount);
          s_.declared_names.insert(pool);
        }
      }
    }
    // A file's own settings come before its includes', which fill in only what is still unset.
    if (backend) read_backend(*backend, wf);
    if (slurm) read_slurm(*slurm, wf.slurm);
    if (includes) read_includes(*includes, dir, defaults, wf);
    if (tasks) {
      if (!tasks->value.is_sequence()) {
        error(where(tasks->key, tasks->value), "tasks must be a list of tasks",
              "write each task as a list item starting with \"- id: ...\"");
      } else if (tasks->value.size() == 0) {
        if (is_main) error(where(tasks->key), "the task list is empty", "add at least one task");
      } else {
        for (const YamlNode item : tasks->value.items()) read_task(item, dir, defaults);
      }
    } else if (is_main && s_.entries.empty()) {
      error({file_, 1, 1}, "the workflow has no tasks",
            "add a \"tasks:\" list with at least one task");
    }
  }

  void read_defaults(const KeyValue& kv, const fs::path& dir, Defaults& d) {
    if (!kv.value.is_map()) {
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
          d.needs[pool] = amount;
        }
      } else if (item.name == "env") {
        overlay(d.env, read_strings(item, "env", true));
      } else if (item.name == "cwd") {
        if (auto s = scalar(item, "cwd")) {
          d.cwd = *s;
          d.cwd_base = dir;
        }
      } else if (item.name == "features") {
        if (auto f = read_features(item)) d.features = std::move(*f);
      } else {
        unknown_key(item, "defaults", kDefaultKeys);
      }
    }
  }

  // --- where the tasks run --------------------------------------------------------------------

  void read_backend(const KeyValue& kv, Workflow& wf) {
    auto s = scalar(kv, "backend");
    if (!s) return;
    if (std::find(kBackends.begin(), kBackends.end(), *s) == kBackends.end()) {
      std::string fix = suggest(*s, kBackends, s_.problems);
      error(where(kv.key, kv.value), "backend " + quote(*s) + " is not a backend of taskloom",
            fix.empty() ? "write backend: local or backend: slurm" : fix);
      return;
    }
    if (wf.backend.empty()) wf.backend = *s;
  }

  void read_slurm(const KeyValue& kv, SlurmSettings& out) {
    if (!kv.value.is_map()) {
      error(where(kv.key, kv.value), "slurm must be a mapping",
            "write e.g. slurm: {partition: render, account: shots}");
      return;
    }
    for (const KeyValue& item : mapping(kv.value)) {
      std::string* field = item.name == "partition" ? &out.partition
                           : item.name == "account" ? &out.account
                           : item.name == "qos"     ? &out.qos
                                                    : nullptr;
      if (field != nullptr) {
        auto s = scalar(item, "slurm." + item.name);
        if (s && (s->empty() || s->find_first_of(" \t,") != std::string::npos)) {
          error(where(item.key, item.value),
                "slurm." + item.name + " " + quote(*s) + " is not one " + item.name + " name",
                "write the name Slurm knows it by (sacctmgr/sinfo), without spaces or commas");
        } else if (s && field->empty()) {
          *field = *s;
        }
      } else if (item.name == "options") {
        if (auto list = read_sbatch_options(item); list && out.options.empty()) {
          out.options = std::move(*list);
        }
      } else {
        unknown_key(item, "slurm", kSlurmKeys);
      }
    }
  }

  /// The items of a key that takes one value or a list of them; nullopt (and a problem saying
  /// `what` and `fix`) for a mapping.
  std::optional<std::vector<YamlNode>> one_or_list(const KeyValue& kv, const std::string& what,
                                                   const std::string& fix) {
    std::vector<YamlNode> items;
    if (kv.value.is_scalar()) {
      items.push_back(kv.value);
    } else if (kv.value.is_sequence()) {
      for (const YamlNode n : kv.value.items()) items.push_back(n);
    } else {
      error(where(kv.key, kv.value), what, fix);
      return std::nullopt;
    }
    return items;
  }

  std::optional<std::vector<std::string>> read_sbatch_options(const KeyValue& kv) {
    const auto items = one_or_list(kv, "slurm.options must be a list of sbatch options",
                                   "write e.g. options: [--exclusive, --mail-type=END]");
    if (!items) return std::nullopt;
    std::vector<std::string> out;
    for (const YamlNode& n : *items) {
      const std::string text = n.is_scalar() ? n.scalar() : std::string();
      const std::string flag = text.substr(0, text.find('='));
      if (text.size() < 2 || text[0] != '-') {
        error(where(n), "slurm.options: " + describe(n) + " is not an sbatch option",
              "write each option as one item starting with \"-\", its value after \"=\" "
              "(--mail-type=END)");
      } else if (std::find(kManagedSbatchOptions.begin(), kManagedSbatchOptions.end(), flag) !=
                 kManagedSbatchOptions.end()) {
        error(where(n), "slurm.options: taskloom sets " + flag + " for every job itself",
              "remove it (logs go under the run's log directory; dependencies come from after:)");
      } else {
        out.push_back(text);
      }
    }
    return out;
  }

  // inputs / outputs: a list of paths or globs (or one), relative to the task's cwd.
  std::optional<std::vector<std::string>> read_files(const KeyValue& kv) {
    const auto items = one_or_list(kv, kv.name + " must be a file name or a list of file names",
                                   "write e.g. " + kv.name + ": [frames/f-{frame}.exr]");
    if (!items) return std::nullopt;
    std::vector<std::string> out;
    bool ok = true;
    for (const YamlNode& n : *items) {
      if (!n.is_scalar() || trim(n.scalar()).empty()) {
        error(where(n), "each item of " + kv.name + " must be a file name, not " + describe(n),
              "write one path or glob per item");
        ok = false;
      } else if (std::find(out.begin(), out.end(), n.scalar()) == out.end()) {
        out.push_back(n.scalar());
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // features: a list of node feature names (or one name).
  std::optional<std::vector<std::string>> read_features(const KeyValue& kv) {
    const auto items = one_or_list(kv, "features must be a list of node feature names",
                                   "write e.g. features: [gpu, avx512]");
    if (!items) return std::nullopt;
    std::vector<std::string> out;
    NameSet seen;
    bool ok = true;
    for (const YamlNode& n : *items) {
      const std::string& name = n.scalar();
      if (name.empty() || !std::all_of(name.begin(), name.end(), is_id_char)) {
        error(where(n), "feature " + describe(n) + " is not a node feature name",
              "use letters, digits, \"_\", \".\" and \"-\"; a task needs every feature listed "
              "(one name per item, no \"&\" or \"|\")");
        ok = false;
      } else if (seen.insert(name)) {
        out.push_back(name);
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  void read_includes(const KeyValue& kv, const fs::path& dir, const Defaults& defaults,
                     Workflow& wf) {
    const auto list = one_or_list(kv, "include must be a file name or a list of file names",
                                  "write e.g. include: [common.yaml]");
    if (!list) return;
    const std::vector<YamlNode>& items = *list;
    const fs::path display_dir = fs::path(file_).parent_path();
    for (const YamlNode& item : items) {
      // Each include costs file system calls: a few hundred are plenty, a million would not be.
      if (++includes_ > kMaxIncludes) {
        error(where(item),
              "the workflow includes more than " + std::to_string(kMaxIncludes) + " files",
              "merge some of the included files");
        throw StopDocument{};
      }
      if (include_stack_.size() > kMaxDepth) {
        error(where(item),
              "includes nest deeper than " + std::to_string(kMaxDepth) +
                  " levels here (a file includes one that includes another, ...)",
              "include the files this one needs directly");
        throw StopDocument{};
      }
      if (!item.is_scalar() || item.scalar().empty()) {
        error(where(kv.key, item), "an include must be a file name",
              "write the path of a YAML file relative to this one");
        continue;
      }
      const fs::path rel = item.scalar();
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
      if (auto why = read_text_file(path, text)) {
        error(where(item), "cannot read the included file " + quote(display) + ": " + *why,
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

  void read_task(const YamlNode& node, const fs::path& dir, const Defaults& d) {
    TaskEntry e;
    e.where = where(node);
    if (!node.is_map()) {
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
    e.features = d.features.value_or(std::vector<std::string>{});
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
      } else if (kv.name == "features") {
        if (auto f = read_features(kv)) e.features = std::move(*f);
      } else if (kv.name == "inputs" || kv.name == "outputs") {
        if (auto files = read_files(kv)) (kv.name == "inputs" ? e.inputs : e.outputs) = *files;
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
    } else if (run_kv->value.is_scalar()) {
      e.run = run_kv->value.scalar();
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
    if (e.valid) check_id_template(e, where(id_kv->key, id_kv->value), s_.problems);
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
    if (e.valid && !e.group_explicit) derive_group(e, s_.problems);
    if (e.valid) check_templates(e, s_.problems);
    s_.entries.push_back(std::move(e));
  }

  void read_after(const KeyValue& kv, TaskEntry& e) {
    auto add = [&](const YamlNode& n) {
      if (!n.is_scalar() || trim(n.scalar()).empty()) {
        error(where(kv.key, n), "after must name tasks or groups, not " + describe(n),
              "write after: name or after: [a, b]");
        return;
      }
      e.after.push_back({std::string(trim(n.scalar())), where(n)});
    };
    if (kv.value.is_sequence()) {
      for (const YamlNode n : kv.value.items()) add(n);
    } else {
      add(kv.value);
    }
  }

  void read_matrix(const KeyValue& kv, TaskEntry& e) {
    if (!kv.value.is_map() || kv.value.size() == 0) {
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
      if (item.value.is_sequence()) {
        for (const YamlNode v : item.value.items()) {
          if (!v.is_scalar() || v.scalar().empty()) {
            error(where(item.key, v),
                  "values of matrix variable " + quote(item.name) + " must be single values",
                  "list plain values, e.g. [a, b, c]");
            e.valid = false;
            continue;
          }
          var.values.push_back(v.scalar());
        }
        var.ends = var.values;
        if (item.value.size() == 0) {
          error(var.where, "matrix variable " + quote(item.name) + " has no values",
                "list at least one value");
          e.valid = false;
        }
      } else if (item.value.is_scalar()) {
        if (!read_range(item.value.scalar(), var, where(item.key, item.value), s_.problems))
          e.valid = false;
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

  LoadState& s_;
  std::string file_;  // display name of the file being read
  std::vector<fs::path> include_stack_;
  std::vector<std::string> include_names_;
  std::set<std::string> loaded_;
  std::size_t includes_ = 0;  // include entries read in this load
  struct Merges {
    const YamlTree* tree = nullptr;
    std::unordered_map<std::uint32_t, std::vector<NodePair>> by_node;  // merged mappings read
    std::size_t entries = 0;  // copied by merge keys so far
    std::size_t budget = 0;
  };
  Merges merges_;  // of the document being read
};

}  // namespace

void parse_documents(std::string_view text, LoadState& state, Workflow& wf) {
  DocumentReader(state).read_main(text, wf);
}

std::optional<std::string> read_text_file(const fs::path& path, std::string& out) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return "it is a directory";
  std::ifstream in(path, std::ios::binary);
  if (!in) return fs::exists(path, ec) ? "permission denied or unreadable" : "no such file";
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return "read error";
  out = std::move(buffer).str();
  return std::nullopt;
}

}  // namespace taskloom::workflow::detail

namespace taskloom::workflow {

std::optional<Priority> parse_task_priority(std::string_view text) {
  const std::string_view s = trim(text);
  if (s == "interactive") return Priority(900);
  if (s == "urgent") return Priority(500);
  if (s == "background") return Priority(-500);
  return parse_priority(s);
}

}  // namespace taskloom::workflow
