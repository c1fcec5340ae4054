// The entry points: read the file, run the passes of load_state.hpp in order, throw every
// problem at once.
#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <tuple>

#include "workflow/load_state.hpp"

namespace taskloom::workflow {

const std::filesystem::path& SharedPath::empty() noexcept {
  static const std::filesystem::path none;
  return none;
}

namespace detail {

bool Problems::before(const Kept& a, const Kept& b) noexcept {
  return std::tuple(a.file_rank, a.diagnostic.line, a.diagnostic.column, a.seq) <
         std::tuple(b.file_rank, b.diagnostic.line, b.diagnostic.column, b.seq);
}

void Problems::add(Where w, std::string message, std::string fix) {
  auto file = std::find(files_.begin(), files_.end(), w.file);
  if (file == files_.end()) file = files_.insert(files_.end(), w.file);
  std::uint64_t hash = std::hash<std::string>{}(w.file);
  for (std::uint64_t part :
       {static_cast<std::uint64_t>(w.line), static_cast<std::uint64_t>(w.column),
        std::hash<std::string>{}(message)}) {
    hash = (hash ^ part) * 0x100000001b3ULL;
  }
  Kept k{static_cast<std::size_t>(file - files_.begin()),
         added_++,
         hash,
         {std::move(w.file), w.line, w.column, std::move(message), std::move(fix)}};
  // The same problem at the same place (found twice, e.g. through two aliases) counts once.
  auto at = std::lower_bound(kept_.begin(), kept_.end(), k, before);
  for (auto same = at; same != kept_.begin();) {
    --same;
    if (same->file_rank != k.file_rank || same->diagnostic.line != k.diagnostic.line ||
        same->diagnostic.column != k.diagnostic.column) {
      break;
    }
    if (same->diagnostic.message == k.diagnostic.message) return;
  }
  if (kept_.size() == kMaxReported) {
    if (at == kept_.end()) {
      beyond_.push_back(k.hash);
      return;
    }
    beyond_.push_back(kept_.back().hash);
    kept_.pop_back();
  }
  kept_.insert(at, std::move(k));
}

void Problems::throw_if_any() {
  if (kept_.empty()) return;
  std::sort(beyond_.begin(), beyond_.end());
  const std::size_t more =
      static_cast<std::size_t>(std::unique(beyond_.begin(), beyond_.end()) - beyond_.begin());
  std::vector<Diagnostic> shown;
  shown.reserve(kept_.size() + 1);
  for (Kept& k : kept_) shown.push_back(std::move(k.diagnostic));
  if (more > 0) {
    shown.push_back(
        {shown.front().file, 0, 0,
         "and " + std::to_string(more) + " more problem" + (more == 1 ? "" : "s") + " not shown",
         "fix these first, then load the file again"});
  }
  kept_.clear();
  beyond_.clear();
  throw InputError(std::move(shown));
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
