// The entry points: read the file, run the passes of load_state.hpp in order, throw every
// problem at once.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <tuple>

#include "workflow/load_state.hpp"

namespace taskloom::workflow {
namespace detail {

void Problems::add(Where w, std::string message, std::string fix) {
  list_.push_back({std::move(w.file), w.line, w.column, std::move(message), std::move(fix)});
}

void Problems::throw_if_any() {
  if (list_.empty()) return;
  std::vector<std::string> files;
  for (const Diagnostic& d : list_) {
    if (std::find(files.begin(), files.end(), d.file) == files.end()) files.push_back(d.file);
  }
  auto rank = [&](const Diagnostic& d) {
    return std::find(files.begin(), files.end(), d.file) - files.begin();
  };
  std::stable_sort(list_.begin(), list_.end(), [&](const Diagnostic& a, const Diagnostic& b) {
    return std::tuple(rank(a), a.line, a.column) < std::tuple(rank(b), b.line, b.column);
  });
  std::vector<Diagnostic> unique;
  std::size_t same_place = 0;  // first of the problems at the last position kept
  std::size_t dropped = 0;
  for (Diagnostic& d : list_) {
    if (!unique.empty() && (unique.back().file != d.file || unique.back().line != d.line ||
                            unique.back().column != d.column)) {
      same_place = unique.size();
    }
    const bool seen = std::any_of(unique.begin() + static_cast<std::ptrdiff_t>(same_place),
                                  unique.end(), [&](const Diagnostic& u) {
                                    return u.file == d.file && u.line == d.line &&
                                           u.column == d.column && u.message == d.message;
                                  });
    if (seen) continue;
    if (unique.size() >= kMaxReported) {
      ++dropped;
      continue;
    }
    unique.push_back(std::move(d));
  }
  if (dropped > 0) {
    unique.push_back({unique.front().file, 0, 0,
                      "and " + std::to_string(dropped) + " more problem" +
                          (dropped == 1 ? "" : "s") + " not shown",
                      "fix these first, then load the file again"});
  }
  throw InputError(std::move(unique));
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

std::string suggest(std::string_view word, const std::vector<std::string>& candidates,
                    const Problems& problems) {
  if (!problems.detailed()) return {};
  std::string best = closest_match(word, candidates);
  return best.empty() ? std::string() : "did you mean " + quote(best) + "?";
}

namespace {

Workflow load(std::string_view text, const fs::path& file) {
  LoadState state;
  state.main_file = file;
  state.main_dir = fs::absolute(file).parent_path().lexically_normal();
  Workflow wf;
  wf.file = file;
  parse_documents(text, state, wf);
  expand_matrices(state, wf);
  check_ids(state, wf);
  resolve_dependencies(state, wf);
  check_resources(state);
  check_cycles(state, wf);
  state.problems.throw_if_any();
  wf.resources = state.declared;
  wf.fingerprint = fingerprint(wf, state.main_dir);
  return wf;
}

}  // namespace
}  // namespace detail

Workflow load_workflow(const std::filesystem::path& file) {
  std::string text;
  if (auto why = detail::read_text_file(file, text)) {
    detail::Problems problems;
    problems.add({file.string(), 0, 0}, "cannot read the workflow file: " + *why,
                 "check the path and its permissions");
    problems.throw_if_any();
  }
  return detail::load(text, file);
}

Workflow parse_workflow(std::string_view yaml, const std::filesystem::path& file) {
  return detail::load(yaml, file);
}

}  // namespace taskloom::workflow
