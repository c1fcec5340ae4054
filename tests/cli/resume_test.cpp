// Resume after kill -9: the runner is SIGKILLed at random moments (seeded) and resumed until the
// run completes. No task that had succeeded runs again, every attempt the kill cut short is
// recorded as interrupted, and no log of an earlier attempt is lost.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_db.hpp"
#include "cli/cli_harness.hpp"

namespace taskloom::cli_test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// 20 + 20 + 1 tasks; each appends "<task> <GEN>" to lines.txt, GEN naming the runner process.
const char* kWorkflow = R"yaml(name: crashy
resources: {cpu: 4}
tasks:
  - id: a-{i}
    run: echo "a-{i} $GEN" >> lines.txt; sleep 0.1
    matrix: {i: "1-20"}
  - id: b-{i}
    run: echo "b-{i} $GEN" >> lines.txt; sleep 0.1
    after: "a[i]"
    matrix: {i: "1-20"}
  - id: report
    run: echo "report $GEN" >> lines.txt; test "$(cut -d' ' -f1 lines.txt | sort -u | wc -l)" -ge 40
    after: b
)yaml";

struct KillRound {
  int gen = 0;
  std::set<std::string> succeeded;             // tasks succeeded when it was killed
  std::set<std::pair<std::string, int>> open;  // attempts open when it was killed
};

class ResumeAfterKill : public ::testing::TestWithParam<unsigned> {};

TEST_P(ResumeAfterKill, NoSucceededTaskRunsTwiceAndNothingRecordedIsLost) {
  std::mt19937 rng(GetParam());
  std::uniform_int_distribution<int> delay_ms(10, 400);
  TempDir dir;
  const fs::path file = dir.path() / "crashy.yaml";
  const fs::path db_file = dir.path() / "state.db";
  write_file(file, kWorkflow);

  std::vector<KillRound> kills;
  bool finished = false;
  bool created = false;
  constexpr int kMaxRounds = 10;
  for (int gen = 0; gen < kMaxRounds && !finished; ++gen) {
    std::vector<std::string> args =
        created ? std::vector<std::string>{"resume", "1", "--db", db_file.string()}
                : std::vector<std::string>{"run", file.string(), "--db", db_file.string()};
    ChildProcess runner = ChildProcess::start(taskloom_path(), args, {{"GEN", std::to_string(gen)}},
                                              dir.path() / ("runner-" + std::to_string(gen)));
    const auto code = runner.wait_for(milliseconds(delay_ms(rng)));
    if (code.has_value()) {
      ASSERT_EQ(*code, 0) << runner.out() << runner.err();
      finished = true;
      break;
    }
    runner.signal(SIGKILL);
    const int status = runner.wait_for(seconds(10)).value_or(-1);
    if (status == 0) {  // it finished just before the kill landed
      finished = true;
      break;
    }
    ASSERT_EQ(status, 128 + SIGKILL) << runner.out() << runner.err();
    if (!fs::exists(db_file)) continue;
    store::RunStore db = store::RunStore::open(db_file);
    if (!db.find_run(1)) continue;  // killed before the run was recorded: start it again
    created = true;
    KillRound k;
    k.gen = gen;
    for (const auto& t : db.tasks(1)) {
      if (t.status == TaskStatus::kSucceeded) k.succeeded.insert(t.id);
    }
    for (const auto& a : db.attempts(1)) {
      if (a.status == store::AttemptStatus::kRunning) k.open.emplace(a.task, a.number);
    }
    kills.push_back(std::move(k));
  }
  if (!finished) {
    const CliResult last = run_taskloom({"resume", "1", "--db", db_file.string()},
                                        {{"GEN", std::to_string(kMaxRounds)}});
    ASSERT_EQ(last.exit_code, 0) << last.out << last.err;
  }
  EXPECT_GE(kills.size(), 1u) << "the runner was never killed: the test proved nothing";
  RecordProperty("kills", static_cast<int>(kills.size()));
  std::cout << "[ seed " << GetParam() << " ] " << kills.size() << " kills before completion\n";

  store::RunStore db = store::RunStore::open(db_file);
  EXPECT_EQ(db.find_run(1)->status, store::RunStatus::kSucceeded);
  const auto tasks = db.tasks(1);
  ASSERT_EQ(tasks.size(), 41u);
  const auto attempts = db.attempts(1);
  std::map<std::string, int> successes;
  std::map<std::pair<std::string, int>, store::AttemptStatus> status_of;
  for (const auto& a : attempts) {
    EXPECT_NE(a.status, store::AttemptStatus::kRunning) << a.task << " left open";
    if (a.status == store::AttemptStatus::kSucceeded) ++successes[a.task];
    status_of[{a.task, a.number}] = a.status;
    if (a.start.pid > 0) {
      EXPECT_TRUE(fs::exists(a.start.stdout_path)) << "log of " << a.task << " #" << a.number;
    }
  }
  for (const auto& t : tasks) {
    EXPECT_EQ(t.status, TaskStatus::kSucceeded) << t.id;
    EXPECT_EQ(successes[t.id], 1) << t.id << " must succeed exactly once";
  }
  // Lines written by each generation.
  std::map<std::string, std::vector<int>> gens_of;
  std::istringstream in(read_file(dir.path() / "lines.txt"));
  for (std::string task; in >> task;) {
    int gen = 0;
    in >> gen;
    gens_of[task].push_back(gen);
  }
  for (const KillRound& k : kills) {
    for (const std::string& task : k.succeeded) {
      for (int g : gens_of[task]) {
        EXPECT_LE(g, k.gen) << task << " had succeeded before kill " << k.gen
                            << " but ran again in generation " << g;
      }
    }
    for (const auto& open : k.open) {
      auto it = status_of.find(open);
      ASSERT_NE(it, status_of.end());
      EXPECT_EQ(it->second, store::AttemptStatus::kInterrupted)
          << open.first << " attempt " << open.second << " was cut short by kill " << k.gen;
    }
  }
  for (const auto& t : tasks) EXPECT_FALSE(gens_of[t.id].empty()) << t.id << " never ran";
}

INSTANTIATE_TEST_SUITE_P(Seeds, ResumeAfterKill, ::testing::Values(1u, 2u, 3u, 4u, 5u));

}  // namespace
}  // namespace taskloom::cli_test
