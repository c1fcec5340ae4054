// Pass 3: dependencies. Each `after` reference of each concrete task becomes concrete ids: a
// task id, every task of a matrix group, or with `group[var, ...]` the tasks of the group whose
// variables match this task's (for a stepped range, the chunk that contains the value).
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "workflow/load_state.hpp"

namespace taskloom::workflow::detail {
namespace {

constexpr std::size_t kMaxMatrixSuggestions = 10'000;

/// `names` without the entry's own id and group: a task is never suggested to itself.
std::vector<std::string> other_than(const std::vector<std::string>& names, const TaskEntry& e) {
  std::vector<std::string> out;
  out.reserve(names.size());
  std::unordered_set<std::string_view> own{e.id, e.group};
  for (const std::string& n : names) {
    if (!own.contains(n)) out.push_back(n);
  }
  return out;
}

struct Group {
  const TaskEntry* entry;
  // Values of the variables matched on, joined by '\0' -> tasks (for element-wise lookups).
  std::map<std::vector<std::string>, std::unordered_map<std::string, std::vector<std::size_t>>>
      index;
};

class DependencyResolver {
 public:
  explicit DependencyResolver(LoadState& state) : s_(state) {}

  void resolve(Workflow& wf) {
    const std::unordered_map<std::string_view, std::size_t>& ids = s_.id_index;
    std::unordered_map<std::string, TaskEntry*> groups;  // matrix groups only
    // Names (and id prefixes) of entries we could not expand: references to them are not
    // reported, since the real problem was already.
    std::set<std::string> broken;
    std::vector<std::string> known;
    for (TaskEntry& e : s_.entries) {
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
    // Suggestions for a misspelt name come from groups and single tasks, and from matrix tasks
    // too while there are few (each suggestion is a scan of the candidates).
    for (const TaskEntry& e : s_.entries) {
      if (!e.valid) continue;
      if (e.matrix.empty() || wf.tasks.size() <= kMaxMatrixSuggestions) {
        for (std::size_t i : e.tasks) known.push_back(wf.tasks[i].id);
      }
    }

    for (TaskEntry& e : s_.entries) {
      if (e.after.empty()) continue;
      // One reference gives distinct tasks; only several can repeat one (a million sets for a
      // million tasks after one `prep` would be most of the loader's memory).
      const bool may_repeat = e.after.size() > 1;
      std::vector<std::unordered_set<std::size_t>> added(may_repeat ? e.tasks.size() : 0);
      for (const AfterRef& ref : e.after) {
        std::string first_missing, missing_values;
        std::size_t missing = 0;
        bool reported = false;
        for (std::size_t n = 0; n < e.tasks.size() && !reported; ++n) {
          Task& t = wf.tasks[e.tasks[n]];
          const std::string text = substitute(ref.text, e, e.element(n));
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
                std::string fix = s_.problems.detailed()
                                      ? suggest(text, other_than(known, e), s_.problems)
                                      : std::string();
                s_.problems.add(ref.where,
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
          t.after.reserve(t.after.size() + deps.size());
          for (std::size_t d : deps) {
            if (!may_repeat || added[n].insert(d).second) t.after.push_back(wf.tasks[d].id);
          }
        }
        if (missing > 0) {
          const std::string group = ref.text.substr(0, ref.text.find('['));
          s_.problems.add(
              ref.where,
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
      out.emplace_back(
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
      const std::unordered_map<std::string_view, std::size_t>& ids,
      const std::set<std::string>& broken) {
    const std::string name(trim(text.substr(0, bracket)));
    const std::vector<std::string> vars = bracket_vars(text);
    const bool well_formed =
        text.back() == ']' && std::all_of(vars.begin(), vars.end(), is_identifier) && !name.empty();
    if (!well_formed) {
      s_.problems.add(ref.where, quote(text) + " is not a valid dependency",
                      "write a task or group name, or group[variable] to match matrix elements");
      return std::nullopt;
    }
    auto g = groups.find(name);
    if (g == groups.end()) {
      if (broken.contains(name)) return std::nullopt;
      if (ids.contains(name)) {
        s_.problems.add(
            ref.where, quote(name) + " in " + quote(text) + " is a single task, not a matrix group",
            "write after: " + name);
      } else {
        std::vector<std::string> names;
        for (const auto& [k, v] : groups) names.push_back(k);
        std::sort(names.begin(), names.end());
        std::string fix = s_.problems.detailed() ? suggest(name, other_than(names, e), s_.problems)
                                                 : std::string();
        s_.problems.add(ref.where,
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
        s_.problems.add(ref.where,
                        "task " + quote(e.id) + " has no matrix variable " + quote(var) +
                            " to match " + quote(text),
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
        s_.problems.add(ref.where, "group " + quote(name) + " has no matrix variable " + quote(var),
                        common.empty()
                            ? "write after: " + name + " to run after every task of the group"
                            : "match on variables both tasks have: " + join(common, ", "));
        return std::nullopt;
      }
      mine.push_back(a);
      theirs.push_back(b);
    }
    // Index the other group by the values of `theirs` (built once per set of variables).
    std::vector<std::string> key_vars;
    for (std::size_t b : theirs) key_vars.push_back(other.matrix[b].name);
    Group& cache = cache_[g->second];
    auto& index = cache.index[key_vars];
    if (index.empty()) {
      for (std::size_t k = 0; k < other.tasks.size(); ++k) {
        std::string key;
        for (std::size_t b : theirs) key += other.matrix[b].values[other.element(k)[b]] + '\0';
        index[key].push_back(other.tasks[k]);
      }
    }
    std::string key;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      std::string value = e.matrix[mine[i]].values[e.element(n)[mine[i]]];
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

 private:
  LoadState& s_;
  std::map<const TaskEntry*, Group> cache_;
};

}  // namespace

void resolve_dependencies(LoadState& state, Workflow& wf) {
  DependencyResolver(state).resolve(wf);
}

}  // namespace taskloom::workflow::detail
