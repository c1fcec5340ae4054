// The commands that read (and, for cancel, flag) what the database recorded:
//   taskloom status [RUN] [--db PATH] [--json] [--watch]  the run (latest by default) task by task
//   taskloom runs [--db PATH] [--limit N] [--json]        every run, newest first
//   taskloom logs RUN TASK [--attempt N] [--stderr] [--follow] [--db PATH]   an attempt's log
//   taskloom cancel RUN [--db PATH]                       ask the run's runner to stop
// Without --db they use $TASKLOOM_DB, else .taskloom/taskloom.db here or in a parent directory,
// else the database of the last `taskloom run` from here (run_records.hpp).
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "taskloom/core/error.hpp"
#include "taskloom/runner/leftovers.hpp"
#include "taskloom/store/run_store.hpp"

#include "commands.hpp"
#include "runner/run_records.hpp"

namespace taskloom::cli {
namespace {

struct InspectArgs {
  std::string db;
  store::RunId run = 0;
  std::string task;
  int attempt = 0;
  bool stderr_log = false;
  bool json = false;
  bool follow = false;  // logs: until the task ends, attempt after attempt
  bool watch = false;   // status: redrawn until the run ends
  std::size_t limit = 0;
};

constexpr auto kPoll = std::chrono::milliseconds(250);

/// A run that will change no more: final, or nobody drives it (its runner died).
bool settled(const store::RunStore& db, store::RunId run) {
  const store::RunRecord r = require_run(db, run);
  return r.status != store::RunStatus::kRunning;
}

void status(const InspectArgs& a) {
  store::RunStore db = open_database(a.db);
  store::RunId id = a.run;
  if (id == 0) {
    const std::vector<store::RunRecord> latest = db.list_runs(1);
    if (latest.empty()) throw InvalidArgumentError("no runs in " + db.file().string());
    id = latest.front().id;
  }
  if (a.json) {
    std::cout << run_json(db, id).dump(2) << '\n';
    return;
  }
  if (!a.watch) {
    std::cout << status_text(db, id);
    return;
  }
  // --watch: on a terminal the screen is redrawn in place; elsewhere a new picture is printed
  // each time it changes. Either way it ends with the run.
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  std::string shown;
  for (;;) {
    const bool done = settled(db, id);
    const std::string now = status_text(db, id);
    if (now != shown) {
      std::cout << (tty ? "\033[H\033[2J" : shown.empty() ? "" : "\n") << now << std::flush;
      shown = now;
    }
    if (done) return;
    std::this_thread::sleep_for(kPoll);
  }
}

void runs(const InspectArgs& a) {
  store::RunStore db = open_database(a.db);
  if (!a.json) {
    std::cout << runs_text(db, a.limit);
    return;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const store::RunRecord& r : db.list_runs(a.limit)) {
    std::size_t ok = 0, total = 0;
    for (const auto& t : db.tasks(r.id)) {
      ++total;
      ok += t.status == TaskStatus::kSucceeded ? 1 : 0;
    }
    list.push_back({{"id", r.id},
                    {"workflow", r.workflow_name},
                    {"workflow_path", r.workflow_path},
                    {"status", std::string(store::to_string(r.status))},
                    {"message", r.message},
                    {"tasks", total},
                    {"succeeded", ok},
                    {"created", store::format_time(r.created)}});
  }
  std::cout << list.dump(2) << '\n';
}

/// `logs --follow`: what the attempt writes from now on, then each retry's log after a header
/// line, until the task ends (or the run does: its runner stopped).
void follow_log(const store::RunStore& db, const InspectArgs& a, int number, std::ifstream& in) {
  // Not `cout << in.rdbuf()`: inserting a buffer with nothing new sets cout's failbit.
  auto drain = [&] {
    in.clear();
    char buf[8192];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) std::cout.write(buf, in.gcount());
    std::cout.flush();
    in.clear();
  };
  for (;;) {
    std::this_thread::sleep_for(kPoll);
    drain();
    const std::vector<store::AttemptRecord> attempts = db.attempts(a.run, a.task);
    const store::AttemptRecord& last = attempts.back();
    if (last.number != number) {  // a retry began: its log from the start
      number = last.number;
      const std::string& path = a.stderr_log ? last.start.stderr_path : last.start.stdout_path;
      std::cout << "==> attempt " << number << " <==\n" << std::flush;
      in = std::ifstream(path, std::ios::binary);
      continue;
    }
    if (!last.ended) continue;
    const auto task = db.find_task(a.run, a.task);
    if ((task && is_final(task->status)) || settled(db, a.run)) {
      drain();
      return;
    }
  }
}

void logs(const InspectArgs& a) {
  store::RunStore db = open_database(a.db);
  require_run(db, a.run);
  if (!db.find_task(a.run, a.task)) {
    throw InvalidArgumentError("run " + std::to_string(a.run) + " has no task '" + a.task +
                               "' — `taskloom status " + std::to_string(a.run) + "` lists them");
  }
  std::vector<store::AttemptRecord> attempts = db.attempts(a.run, a.task);
  while (a.follow && attempts.empty() && !settled(db, a.run)) {  // wait for its first attempt
    std::this_thread::sleep_for(kPoll);
    attempts = db.attempts(a.run, a.task);
  }
  if (attempts.empty()) {
    throw InvalidArgumentError("task '" + a.task + "' of run " + std::to_string(a.run) +
                               " has not run yet: no logs");
  }
  const store::AttemptRecord* chosen = &attempts.back();
  if (a.attempt > 0) {
    chosen = nullptr;
    for (const auto& at : attempts) {
      if (at.number == a.attempt) chosen = &at;
    }
    if (chosen == nullptr) {
      throw InvalidArgumentError("task '" + a.task + "' has no attempt " +
                                 std::to_string(a.attempt) + " (it has 1 to " +
                                 std::to_string(attempts.back().number) + ")");
    }
  }
  if (chosen->start.pid == 0 && chosen->status != store::AttemptStatus::kRunning) {
    std::cout << "attempt " << chosen->number << " of task '" << a.task
              << "' never started: " << chosen->outcome.message << '\n';
    return;
  }
  const std::string& path = a.stderr_log ? chosen->start.stderr_path : chosen->start.stdout_path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InvalidArgumentError("cannot read the log " + path + " of attempt " +
                               std::to_string(chosen->number) + " of task '" + a.task + "'");
  }
  if (in.peek() != std::ifstream::traits_type::eof()) std::cout << in.rdbuf();
  std::cout.flush();
  if (a.follow && a.attempt == 0) follow_log(db, a, chosen->number, in);
}

void cancel(const InspectArgs& a) {
  store::RunStore db = open_database(a.db);
  const store::RunRecord r = require_run(db, a.run);
  if (r.status != store::RunStatus::kRunning && r.status != store::RunStatus::kInterrupted) {
    std::cout << "run " << a.run << " is not running (" << store::to_string(r.status)
              << "): nothing to cancel\n";
    return;
  }
  if (r.lease && r.lease->live) {
    db.request_cancel(a.run);
    std::cout << "cancel requested: the runner of run " << a.run << " (pid " << r.lease->holder.pid
              << " on " << r.lease->holder.host << ") stops its tasks within a second\n";
  } else {
    // Nobody drives the run (its runner died): finish it here. Take the lease so no resume starts
    // meanwhile, stop what the dead runner left running, close its open attempts as interrupted
    // (prepare_resume), and record every unfinished task, then the run, as cancelled.
    store::Lease lease = db.acquire_lease(a.run);
    const std::size_t killed =
        runner::kill_leftover_processes(db.attempts(a.run), runner::run_key(db.file(), a.run));
    const store::ResumePlan plan = db.prepare_resume(a.run, store::ResumeScope::kInterruptedOnly);
    for (const store::TaskRecord& t : db.tasks(a.run)) {
      if (!is_final(t.status)) {
        db.set_task_status(a.run, t.id, TaskStatus::kCancelled, "run cancelled with no runner");
      }
    }
    db.set_run_status(a.run, store::RunStatus::kCancelled, "cancelled while no runner ran it");
    std::cout << "run " << a.run << " had no live runner: recorded as cancelled";
    if (!plan.interrupted.empty()) {
      std::cout << " (" << plan.interrupted.size() << " attempts interrupted, " << killed
                << " leftover processes killed)";
    }
    std::cout << "; `taskloom resume " << a.run << "` runs what had not succeeded\n";
  }
}

void add_db(CLI::App* cmd, InspectArgs& a) {
  cmd->add_option("--db", a.db,
                  "the database (default: $TASKLOOM_DB, else .taskloom/taskloom.db here or above)");
}

}  // namespace

void register_status_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd =
      app.add_subcommand("status", "Show a recorded run task by task (the latest by default)");
  cmd->add_option("run", a->run, "the run's number");
  add_db(cmd, *a);
  auto* json = cmd->add_flag("--json", a->json, "print the run, its tasks and attempts as JSON");
  cmd->add_flag("-w,--watch", a->watch, "redraw it as it changes, until the run ends")
      ->excludes(json);
  cmd->callback([a] { status(*a); });
}

void register_runs_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("runs", "List the recorded runs, newest first");
  add_db(cmd, *a);
  cmd->add_option("--limit", a->limit, "show at most this many");
  cmd->add_flag("--json", a->json, "print the list as JSON");
  cmd->callback([a] { runs(*a); });
}

void register_logs_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("logs", "Print the log of a task's attempt");
  cmd->add_option("run", a->run, "the run's number")->required();
  cmd->add_option("task", a->task, "the task's id")->required();
  cmd->add_option("--attempt", a->attempt, "the attempt (default: the last)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--stderr", a->stderr_log, "print its standard error instead of its output");
  cmd->add_flag("-f,--follow", a->follow,
                "keep printing what it writes, then its retries' logs, until the task ends");
  add_db(cmd, *a);
  cmd->callback([a] { logs(*a); });
}

void register_cancel_command(CLI::App& app) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("cancel", "Cancel a run from another terminal");
  cmd->add_option("run", a->run, "the run's number")->required();
  add_db(cmd, *a);
  cmd->callback([a] { cancel(*a); });
}

}  // namespace taskloom::cli
