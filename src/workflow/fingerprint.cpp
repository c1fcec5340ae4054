// Pass 5: the fingerprint, FNV-1a 64 over every field of the expanded tasks (lengths
// prefixed, so that no two different workflows feed the same bytes). Paths are relative to the
// main file's folder, so a moved checkout keeps its fingerprint and resumes its runs.
#include <charconv>
#include <cstdint>

#include "workflow/load_state.hpp"

namespace taskloom::workflow::detail {

std::string fingerprint(const Workflow& wf, const fs::path& main_dir) {
  std::uint64_t h = 14695981039346656037ull;
  auto bytes = [&](std::string_view s) {
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  };
  auto feed = [&](std::string_view s) {  // "<length>:<bytes>"
    char len[24];
    char* end = std::to_chars(len, len + sizeof len - 1, s.size()).ptr;
    *end++ = ':';
    bytes({len, static_cast<std::size_t>(end - len)});
    bytes(s);
  };
  auto feed_number = [&](auto n) {  // as its decimal text, which feed(std::to_string(n)) was
    char text[24];
    const char* end = std::to_chars(text, text + sizeof text, n).ptr;
    feed({text, static_cast<std::size_t>(end - text)});
  };
  // Tasks of one entry share a cwd: its relative form is computed once per run of equal cwds.
  std::string last_cwd, last_relative;
  bool have_cwd = false;
  auto feed_pairs = [&](const KeyValues& kv) {
    feed_number(kv.size());
    for (const auto& [k, v] : kv) {
      feed(k);
      feed(v);
    }
  };
  feed(wf.name);
  feed_number(wf.tasks.size());
  for (const Task& t : wf.tasks) {
    feed(t.id);
    feed(t.run);
    feed_number(t.after.size());
    for (const std::string& a : t.after) feed(a);
    feed_number(t.priority.value());
    feed_number(t.retries);
    feed_number(t.timeout.count());
    feed(to_string(t.needs));
    if (!t.features.empty()) {  // only then, so fingerprints of files without them stay
      feed("features");
      for (const std::string& f : t.features) feed(f);
    }
    for (const auto* files : {&t.inputs, &t.outputs}) {  // likewise
      if (files->empty()) continue;
      feed(files == &t.inputs ? "inputs" : "outputs");
      feed_number(files->size());
      for (const std::string& f : *files) feed(f);
    }
    feed_pairs(t.env);
    const fs::path& cwd = t.cwd;
    if (!have_cwd || cwd.native() != last_cwd) {
      last_cwd = cwd.native();
      last_relative = cwd.lexically_relative(main_dir).generic_string();
      have_cwd = true;
    }
    feed(last_relative);
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
