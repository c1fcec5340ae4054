// Pass 5: the fingerprint, FNV-1a 64 over every field of the expanded tasks (lengths
// prefixed, so that no two different workflows feed the same bytes). Paths are relative to the
// main file's folder, so a moved checkout keeps its fingerprint and resumes its runs.
#include <cstdint>

#include "workflow/load_state.hpp"

namespace taskloom::workflow::detail {

std::string fingerprint(const Workflow& wf, const fs::path& main_dir) {
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
    if (!t.features.empty()) {  // only then, so fingerprints of files without them stay
      feed("features");
      for (const std::string& f : t.features) feed(f);
    }
    feed_pairs(t.env);
    feed(t.cwd.lexically_relative(main_dir).generic_string());
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

}  // namespace taskloom::workflow::detail
