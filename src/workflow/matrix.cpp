// Pass 2: matrices. The checks of an entry's templates (made while parsing, so that a broken
// entry is not expanded), then the expansion of every valid entry into concrete tasks: one per
// element of the cross product of its matrix variables, the last variable varying fastest.
#include <algorithm>

#include "workflow/load_state.hpp"

namespace taskloom::workflow::detail {

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

bool read_range(const std::string& text, MatrixVar& var, Where at, Problems& problems) {
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
    problems.add(at, label + quote(text) + " is not a range of whole numbers",
                 "write a range like \"1-240\" or \"1-240:10\", or a list of values");
    return false;
  }
  if (*last < *first) {
    problems.add(at, label + "the range " + quote(text) + " ends before it starts",
                 "write the smaller number first, e.g. \"" + std::to_string(*last) + "-" +
                     std::to_string(*first) + "\"");
    return false;
  }
  if (*step <= 0) {
    problems.add(at, label + "the step of " + quote(text) + " must be 1 or more",
                 "write e.g. \"" + span + ":10\"");
    return false;
  }
  if ((*last - *first) / *step >= static_cast<long long>(kMaxTasks)) {
    problems.add(at,
                 label + "the range " + quote(text) + " has more than " +
                     std::to_string(kMaxTasks) + " values",
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

void check_id_template(TaskEntry& e, Where at, Problems& problems) {
  std::string literal = e.id;
  const auto ph = placeholders(e.id);
  for (auto it = ph.rbegin(); it != ph.rend(); ++it) literal.erase(it->begin, it->end - it->begin);
  if (e.id.empty() || !std::all_of(literal.begin(), literal.end(), is_id_char)) {
    problems.add(
        at,
        "task id " + quote(e.id) +
            " has characters other than letters, digits, \"_\", "
            "\".\" and \"-\"",
        e.matrix.empty() ? "rename the task" : "rename the task; matrix variables go in {braces}");
    e.valid = false;
    return;
  }
  for (const MatrixVar& var : e.matrix) {
    const bool used =
        std::any_of(ph.begin(), ph.end(), [&](const Placeholder& p) { return p.name == var.name; });
    if (!used) {
      problems.add(at,
                   "the id " + quote(e.id) + " of a matrix task does not use the matrix variable " +
                       quote(var.name) + ", so its tasks would share ids",
                   "add {" + var.name + "} to the id, e.g. \"" + e.id + "-{" + var.name + "}\"");
      e.valid = false;
    }
  }
}

void derive_group(TaskEntry& e, Problems& problems) {
  if (e.matrix.empty()) {
    e.group = e.id;
    return;
  }
  std::string g = e.id.substr(0, e.id.find('{'));
  while (!g.empty() && (g.back() == '-' || g.back() == '_' || g.back() == '.')) g.pop_back();
  if (g.empty()) {
    problems.add(e.where, "cannot name the group of task " + quote(e.id) + " from its id",
                 "start the id with a name, e.g. \"render-{...}\", or add \"group: <name>\"");
    e.valid = false;
    return;
  }
  e.group = g;
}

void check_templates(TaskEntry& e, Problems& problems) {
  std::vector<std::string> names;
  for (const MatrixVar& v : e.matrix) names.push_back(v.name);
  auto check = [&](const std::string& text, std::string_view field, Where at) {
    for (const Placeholder& p : placeholders(text)) {
      if (std::find(names.begin(), names.end(), p.name) != names.end()) continue;
      std::string fix = suggest(p.name, names, problems);
      if (fix.empty()) {
        fix = e.matrix.empty()
                  ? "declare it under matrix, or write ${" + p.name + "} for a shell variable"
                  : "use one of " + join(names, ", ") + ", or write ${" + p.name +
                        "} for a shell variable";
      }
      problems.add(at,
                   "{" + p.name + (p.is_end ? ".end" : "") + "} in the " + std::string(field) +
                       " of task " + quote(e.id) + " is not a matrix variable of this task",
                   fix);
      e.valid = false;
    }
    // {var.suffix} of one of the entry's variables with a suffix other than end: a typo, not text.
    for (std::size_t open = text.find('{'); open != std::string::npos;
         open = text.find('{', open + 1)) {
      const std::size_t close = text.find('}', open);
      if (close == std::string::npos) break;
      const std::string inner = text.substr(open + 1, close - open - 1);
      const std::size_t dot = inner.find('.');
      if (dot == std::string::npos || (open > 0 && text[open - 1] == '$')) continue;
      const std::string var = inner.substr(0, dot), suffix = inner.substr(dot + 1);
      if (suffix == "end" || std::find(names.begin(), names.end(), var) == names.end() ||
          !is_identifier(suffix)) {
        continue;
      }
      problems.add(at,
                   "{" + inner + "} in the " + std::string(field) + " of task " + quote(e.id) +
                       ": a matrix variable has only {" + var + "} and {" + var + ".end}",
                   "write {" + var + "} for its value (a stepped range's chunk start) or {" + var +
                       ".end} for the chunk's last value");
      e.valid = false;
    }
  };
  check(e.id, "id", e.where);
  check(e.run, "run command", e.where);
  for (const auto& [k, v] : e.env) check(v, "env", e.where);
  for (const auto& [k, v] : e.metadata) check(v, "metadata", e.where);
  if (e.cwd) check(*e.cwd, "cwd", e.where);
  for (const std::string& f : e.inputs) check(f, "inputs", e.where);
  for (const std::string& f : e.outputs) check(f, "outputs", e.where);
  for (const AfterRef& a : e.after) check(a.text, "after list", a.where);
}

std::string substitute(const std::string& text, const TaskEntry& e,
                       std::span<const std::size_t> element) {
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

void expand_matrices(LoadState& state, Workflow& wf) {
  std::size_t total = 0;
  for (TaskEntry& e : state.entries) {
    if (!e.valid) continue;
    std::size_t count = 1;
    for (const MatrixVar& v : e.matrix) {
      count = count > kMaxTasks ? count : count * v.values.size();
    }
    if (count > kMaxTasks || total + count > kMaxTasks) {
      state.problems.add(e.where,
                         "the matrix of task " + quote(e.id) + " takes the workflow over " +
                             std::to_string(kMaxTasks) + " tasks",
                         "use fewer matrix values or larger range steps, or split the workflow");
      e.valid = false;
      continue;
    }
    total += count;
  }
  wf.tasks.reserve(total);  // a million tasks are not moved again and again
  for (TaskEntry& e : state.entries) {
    if (!e.valid) continue;
    std::size_t count = 1;
    for (const MatrixVar& v : e.matrix) count *= v.values.size();
    e.tasks.reserve(count);
    e.element_values.reserve(count * e.matrix.size());
    std::vector<std::size_t> element(e.matrix.size(), 0);
    const SharedPath file(fs::path(e.where.file));
    SharedPath cwd_shared = e.cwd ? SharedPath() : SharedPath(state.main_dir);
    for (std::size_t n = 0; n < count; ++n) {
      Task t;
      t.id = substitute(e.id, e, element);
      t.run = substitute(e.run, e, element);
      t.priority = e.priority;
      t.retries = e.retries;
      t.timeout = e.timeout;
      t.needs = e.needs;
      t.features = e.features;
      for (const std::string& f : e.inputs) t.inputs.push_back(substitute(f, e, element));
      for (const std::string& f : e.outputs) t.outputs.push_back(substitute(f, e, element));
      for (const auto& [k, v] : e.env) t.env.emplace_back(k, substitute(v, e, element));
      if (e.cwd) {  // tasks whose cwd comes out the same share it
        const fs::path cwd = substitute(*e.cwd, e, element);
        fs::path absolute = (cwd.is_absolute() ? cwd : e.cwd_base / cwd).lexically_normal();
        if (cwd_shared.get() != absolute) cwd_shared = std::move(absolute);
      }
      t.cwd = cwd_shared;
      for (const auto& [k, v] : e.metadata) t.metadata.emplace_back(k, substitute(v, e, element));
      t.group = e.group;
      for (std::size_t v = 0; v < e.matrix.size(); ++v) {
        t.matrix.emplace_back(e.matrix[v].name, e.matrix[v].values[element[v]]);
      }
      t.file = file;
      t.line = e.where.line;
      t.column = e.where.column;
      e.tasks.push_back(wf.tasks.size());
      e.element_values.insert(e.element_values.end(), element.begin(), element.end());
      wf.tasks.push_back(std::move(t));
      for (std::size_t v = e.matrix.size(); v-- > 0;) {  // odometer, last variable fastest
        if (++element[v] < e.matrix[v].values.size()) break;
        element[v] = 0;
      }
    }
  }
}

}  // namespace taskloom::workflow::detail
