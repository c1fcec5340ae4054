// src/workflow/load_state.hpp — what the passes of loading a workflow share (private).
//
// load.cpp runs the passes in order over one LoadState:
//   parse.cpp         YAML documents (the main file, then its includes) -> TaskEntry templates;
//                     each file read by yaml_tree.cpp (yaml_errors.cpp words its syntax errors)
//   matrix.cpp        template checks, then matrices -> concrete Tasks
//   dependencies.cpp  `after` references -> concrete ids (groups, element-wise matches)
//   checks.cpp        ids, resources, cycles of the result
//   fingerprint.cpp   the hash of the expanded workflow
// Each pass adds what is wrong to `problems`; load.cpp throws them all at once at the end.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/core/text.hpp"
#include "taskloom/workflow/workflow.hpp"

namespace taskloom::workflow::detail {

namespace fs = std::filesystem;

constexpr std::size_t kMaxTasks = 1'000'000;
/// At most this many problems are reported, then how many more there are.
constexpr std::size_t kMaxReported = 100;
/// Deepest nesting of collections in a file, and of merge keys (a mapping merging one that
/// merges another ...). A workflow needs about six; yaml-cpp's own limit (500) ends in "bad file".
constexpr std::size_t kMaxDepth = 100;
/// Most key/value entries merge keys may copy in one file: 4 per byte of it, at least a million.
/// A mapping merged into every task stays far below; large mappings merged over and over (the
/// same work as "billion laughs") would not, and would take minutes and gigabytes.
constexpr std::size_t kMergedEntriesPerByte = 4;
constexpr std::size_t kMinMergedEntries = 1'000'000;
/// Most `include:` entries in one load (the main file's and its includes' together).
constexpr std::size_t kMaxIncludes = 1000;

struct Where {
  std::string file;
  int line = 0, column = 0;
};

/// The problems found so far: the first kMaxReported by position are kept, of the others only
/// a hash (to count them without their repeats). Passes stop spending time on suggestions once
/// more problems than are reported have been found (`detailed()`), so a file with an error per
/// task of a million is refused in linear time and memory.
class Problems {
 public:
  void add(Where w, std::string message, std::string fix = {});
  bool empty() const noexcept { return kept_.empty(); }
  bool detailed() const noexcept { return kept_.size() + beyond_.size() < kMaxReported; }
  /// Sorted by file (in the order files were first named) and position, duplicates removed,
  /// the first kMaxReported and a last line saying how many more; no-op when empty.
  void throw_if_any();

 private:
  struct Kept {
    std::size_t file_rank;
    std::uint64_t seq;  // order of adding: the tie-break among problems at one position
    std::uint64_t hash;
    Diagnostic diagnostic;
  };
  static bool before(const Kept& a, const Kept& b) noexcept;

  std::vector<std::string> files_;     // in the order first named
  std::vector<Kept> kept_;             // sorted by before(), at most kMaxReported
  std::vector<std::uint64_t> beyond_;  // hashes of the problems after the kept ones
  std::uint64_t added_ = 0;
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

/// One task entry of a file, before its matrix is expanded.
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
  std::vector<std::string> features;
  std::vector<std::string> inputs, outputs;  // templates
  std::map<std::string, Where> needs_where;  // pool -> where it was asked for
  KeyValues env;
  std::optional<std::string> cwd;
  fs::path cwd_base;
  KeyValues metadata;
  std::vector<MatrixVar> matrix;
  bool valid = true;               // false: do not expand (its id or matrix is unusable)
  std::vector<std::size_t> tasks;  // indices into the expanded tasks
  // Per task n, the value index of each matrix variable: matrix.size() entries from
  // n * matrix.size() (one flat array: a million tasks make a million elements).
  std::vector<std::size_t> element_values;
  std::span<const std::size_t> element(std::size_t n) const {
    return {element_values.data() + n * matrix.size(), matrix.size()};
  }
};

struct LoadState {
  fs::path main_file, main_dir;
  Problems problems;
  std::vector<TaskEntry> entries;
  Resources declared;  // resources: of the files, the including file winning
  std::set<std::string> declared_names;
  /// Task id -> index of the first task with it in wf.tasks (views of those ids): built by
  /// check_ids, once the tasks are expanded, for every later pass.
  std::unordered_map<std::string_view, std::size_t> id_index;
};

// --- passes -----------------------------------------------------------------------------------

/// Reads the main document and its includes into `state` (entries, declared resources) and
/// sets wf.name.
void parse_documents(std::string_view text, LoadState& state, Workflow& wf);
/// Expands every valid entry's matrix into wf.tasks (entries remember their tasks).
void expand_matrices(LoadState& state, Workflow& wf);
/// Resolves every entry's `after` into its tasks' Task::after.
void resolve_dependencies(LoadState& state, Workflow& wf);
void check_ids(LoadState& state, const Workflow& wf);
void check_resources(LoadState& state);
void check_cycles(LoadState& state, const Workflow& wf);
std::string fingerprint(const Workflow& wf, const fs::path& main_dir);
/// dependency_graph() with the ids already indexed (LoadState::id_index).
graph::Digraph dependency_graph(const Workflow& wf,
                                const std::unordered_map<std::string_view, std::size_t>& index);

/// Reads a whole file into `out`; the reason ("no such file", ...) when it cannot.
std::optional<std::string> read_text_file(const fs::path& path, std::string& out);

// --- templates (matrix.cpp), used by parse.cpp ------------------------------------------------

/// `{var}` or `{var.end}` in a template; `${...}` is left to the shell, other braces are text.
struct Placeholder {
  std::size_t begin, end;  // [begin, end) in the text, braces included
  std::string name;
  bool is_end;
};
std::vector<Placeholder> placeholders(std::string_view text);
/// "1-240" or "1-240:10" into `var`; false (and a problem) when malformed.
bool read_range(const std::string& text, MatrixVar& var, Where at, Problems& problems);
/// The id template's characters and its use of every matrix variable.
void check_id_template(TaskEntry& e, Where at, Problems& problems);
/// The group of an entry without `group:` (its id, or the id's text before the first brace).
void derive_group(TaskEntry& e, Problems& problems);
/// Every placeholder of every field names a matrix variable of the entry.
void check_templates(TaskEntry& e, Problems& problems);
/// `text` with element `element` of `e`'s matrix put in.
std::string substitute(const std::string& text, const TaskEntry& e,
                       std::span<const std::size_t> element);

// --- text -------------------------------------------------------------------------------------

inline std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}
std::string format_number(double v);
bool is_id_char(char c);
/// Letters, digits and "_", not starting with a digit.
bool is_identifier(std::string_view s);
/// "did you mean "x"?" or "" when nothing is close (or problems are no longer detailed).
std::string suggest(std::string_view word, const std::vector<std::string>& candidates,
                    const Problems& problems);

template <class T>
std::optional<T> parse_int(std::string_view s) {
  T value{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

inline std::optional<double> parse_number(std::string_view s) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace taskloom::workflow::detail
