// Runs one data-driven case of tests/workflows through the real binary (tests/workflows/
// README.md): a fresh temporary directory, the expectations of its comment header checked
// against the exit status, the output and the SQLite database.
#include "cli/workflow_cases.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "taskloom/store/run_store.hpp"

#include "cli/cli_harness.hpp"

namespace taskloom::cli_test {
namespace {

namespace fs = std::filesystem;

struct Expectations {
  std::string what;
  std::vector<std::string> args;
  int exit_code = 0;
  std::map<std::string, std::string> status;
  std::string default_status;
  std::map<std::string, int> attempts;
  std::map<std::string, std::string> skipped_because;
  std::map<std::string, int> max_concurrent;  // group -> most attempts overlapping
  std::vector<std::pair<std::string, std::string>> order;
  std::vector<std::string> no_orphans;
  int tasks = -1;
  std::vector<std::string> stdout_patterns;
  std::vector<std::string> stderr_lines;
  bool no_run = false;  // nothing recorded: the input was refused
  std::vector<std::string> backends{"local"};
};

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

std::pair<std::string, std::string> split_pair(const std::string& w, char sep) {
  const auto at = w.find(sep);
  if (at == std::string::npos)
    throw std::runtime_error("expected NAME" + std::string(1, sep) + "VALUE: " + w);
  return {w.substr(0, at), w.substr(at + 1)};
}

Expectations parse_header(const fs::path& file) {
  Expectations e;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("#")) break;
    const std::string body = line.substr(std::min<std::size_t>(2, line.size()));
    const auto colon = body.find(": ");
    if (colon == std::string::npos) continue;
    const std::string key = body.substr(0, colon);
    const std::string value = body.substr(colon + 2);
    if (key == "test") {
      e.what += value;
    } else if (key == "args") {
      for (auto& w : words(value)) e.args.push_back(w);
    } else if (key == "exit") {
      e.exit_code = std::stoi(value);
    } else if (key == "status") {
      for (auto& w : words(value)) {
        auto [k, v] = split_pair(w, '=');
        if (k == "*") {
          e.default_status = v;
        } else {
          e.status[k] = v;
        }
      }
    } else if (key == "attempts") {
      for (auto& w : words(value)) {
        auto [k, v] = split_pair(w, '=');
        e.attempts[k] = std::stoi(v);
      }
    } else if (key == "skipped-because") {
      for (auto& w : words(value)) e.skipped_because.insert(split_pair(w, '='));
    } else if (key == "max-concurrent") {
      for (auto& w : words(value)) {
        auto [k, v] = split_pair(w, '=');
        e.max_concurrent[k] = std::stoi(v);
      }
    } else if (key == "order") {
      const auto ws = words(value);
      if (ws.size() != 3 || ws[1] != "<") throw std::runtime_error("order: A < B, got " + value);
      e.order.emplace_back(ws[0], ws[2]);
    } else if (key == "no-orphans") {
      e.no_orphans.push_back(value);
    } else if (key == "tasks") {
      e.tasks = std::stoi(value);
    } else if (key == "stdout") {
      e.stdout_patterns.push_back(value);
    } else if (key == "stderr") {
      e.stderr_lines.push_back(value);
    } else if (key == "recorded") {
      e.no_run = value == "nothing";
    } else if (key == "backends") {
      e.backends = words(value);
    }
  }
  return e;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

/// The most attempts of tasks of `group` running at once, from their recorded times.
int peak_overlap(const std::vector<store::AttemptRecord>& attempts,
                 const std::map<std::string, std::string>& group_of, const std::string& group) {
  std::vector<std::pair<std::int64_t, int>> edges;  // (time, +1 start / -1 end); ends first
  for (const auto& a : attempts) {
    if (group_of.at(a.task) != group || !a.ended) continue;
    edges.emplace_back(a.started.time_since_epoch().count(), +1);
    edges.emplace_back(a.ended->time_since_epoch().count(), -1);
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, peak = 0;
  for (const auto& [t, d] : edges) {
    now += d;
    peak = std::max(peak, now);
  }
  return peak;
}

}  // namespace

void check_workflow_case(const std::string& name, const std::vector<std::string>& extra_args) {
  const fs::path source = fs::path(TASKLOOM_WORKFLOWS_DIR) / (name + ".yaml");
  const Expectations e = parse_header(source);
  ASSERT_FALSE(e.what.empty()) << source << " has no '# test:' line";
  TempDir dir;
  const fs::path file = dir.path() / source.filename();
  fs::copy_file(source, file);
  std::vector<std::string> args{"run", file.string()};
  args.insert(args.end(), e.args.begin(), e.args.end());
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  const CliResult r = run_taskloom(args, {}, std::chrono::seconds(90));
  SCOPED_TRACE(e.what + "\n--- stdout\n" + r.out + "--- stderr\n" + r.err);

  EXPECT_EQ(r.exit_code, e.exit_code);
  for (const std::string& p : e.stdout_patterns) {
    EXPECT_TRUE(std::regex_search(r.out, std::regex(p))) << "stdout does not match " << p;
  }
  for (const std::string& l : e.stderr_lines) {
    const std::string line = replace_all(l, "{file}", file.string());
    EXPECT_NE(r.err.find(line + "\n"), std::string::npos) << "stderr lacks the line\n" << line;
  }
  const fs::path db_file = dir.path() / ".taskloom" / "taskloom.db";
  if (e.no_run) {
    EXPECT_FALSE(fs::exists(db_file)) << "bad input must not create a database";
    return;
  }
  ASSERT_TRUE(fs::exists(db_file));
  store::RunStore db = store::RunStore::open(db_file);
  const auto run = db.find_run(1);
  ASSERT_TRUE(run.has_value());
  const std::vector<store::TaskRecord> tasks = db.tasks(1);
  const std::vector<store::AttemptRecord> attempts = db.attempts(1);
  if (e.tasks >= 0) {
    EXPECT_EQ(static_cast<int>(tasks.size()), e.tasks);
  }

  // Invariants of every finished run.
  const char* expected_run = e.exit_code == 0     ? "succeeded"
                             : e.exit_code == 130 ? "cancelled"
                                                  : "failed";
  EXPECT_EQ(store::to_string(run->status), expected_run);
  EXPECT_FALSE(run->lease.has_value()) << "the runner must release its lease";
  std::map<std::string, std::string> group_of;
  std::map<std::string, int> recorded_attempts;
  for (const auto& t : tasks) {
    group_of[t.id] = t.group;
    EXPECT_TRUE(is_final(t.status)) << t.id << " ended " << to_string(t.status);
  }
  for (const auto& a : attempts) {
    ++recorded_attempts[a.task];
    EXPECT_NE(a.status, store::AttemptStatus::kRunning) << a.task << " attempt left open";
    if (a.start.pid > 0 || !a.start.job_id.empty()) {
      EXPECT_TRUE(fs::exists(a.start.stdout_path)) << a.start.stdout_path;
    }
  }
  for (const auto& t : tasks) {
    EXPECT_EQ(recorded_attempts[t.id], t.attempts) << t.id;
    std::string want = e.default_status;
    if (auto it = e.status.find(t.id); it != e.status.end()) want = it->second;
    if (!want.empty()) {
      EXPECT_EQ(to_string(t.status), want) << "task " << t.id;
    }
  }
  for (const auto& [id, n] : e.attempts) {
    EXPECT_EQ(recorded_attempts[id], n) << "attempts of " << id;
  }
  for (const auto& [id, upstream] : e.skipped_because) {
    const auto t = db.find_task(1, id);
    ASSERT_TRUE(t.has_value()) << id;
    EXPECT_EQ(t->skipped_because, upstream) << id;
  }
  for (const auto& [group, most] : e.max_concurrent) {
    const int peak = peak_overlap(attempts, group_of, group);
    EXPECT_LE(peak, most) << "attempts of group " << group << " running at once";
    EXPECT_GE(peak, 1) << "no attempt of group " << group;
  }
  for (const auto& [first, second] : e.order) {
    const store::AttemptRecord *a = nullptr, *b = nullptr;
    for (const auto& at : attempts) {
      if (at.task == first && at.number == 1) a = &at;
      if (at.task == second && at.number == 1) b = &at;
    }
    ASSERT_TRUE(a && b && a->ended) << first << " < " << second;
    EXPECT_LE(*a->ended, b->started) << first << " must end before " << second << " starts";
  }
  for (const std::string& pid_file : e.no_orphans) {
    const std::string text = read_file(dir.path() / pid_file);
    const auto pids = words(text);
    EXPECT_FALSE(pids.empty()) << pid_file << " lists no pid";
    for (const auto& p : pids) {
      const pid_t pid = std::stoi(p);
      EXPECT_TRUE(eventually([&] { return !process_alive(pid); }, std::chrono::seconds(5)))
          << "process " << pid << " outlived its task";
    }
  }
}

std::vector<std::string> workflow_cases(std::string_view backend) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(TASKLOOM_WORKFLOWS_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::vector<std::string> b = parse_header(entry.path()).backends;
    if (std::find(b.begin(), b.end(), backend) != b.end()) {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string case_name(const ::testing::TestParamInfo<std::string>& param) {
  std::string n = param.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

}  // namespace taskloom::cli_test
