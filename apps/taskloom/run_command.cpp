// `taskloom run FILE` and `taskloom resume RUN`: run a YAML workflow durably (docs/cli.md).
//
//   taskloom run examples/workflows/render-shot.yaml [--db PATH] [--workers N] [--json OUT]
//                [--trace OUT] [--fail-fast] [--quiet] [--kill-grace DURATION]
//                [--backend local|slurm] [--partition P] [--account A] [--qos Q]
//   taskloom resume 7 [--db PATH] [--force] [the same options]
//
// Exit status: 0 every task succeeded, 1 some task failed, timed out or was skipped, 2 bad input
// (or a store error), 3 the run is held by another live runner, 130 cancelled.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "taskloom/backends/local.hpp"
#include "taskloom/backends/slurm.hpp"
#include "taskloom/core/error.hpp"
#include "taskloom/core/units.hpp"
#include "taskloom/runner/leftovers.hpp"
#include "taskloom/runner/workflow_run.hpp"
#include "taskloom/store/run_store.hpp"
#include "taskloom/workflow/workflow.hpp"

#include "commands.hpp"
#include "runner/interrupts.hpp"
#include "runner/progress.hpp"
#include "runner/run_records.hpp"

namespace taskloom::cli {
namespace {

struct RunArgs {
  std::string file;
  store::RunId run = 0;
  std::string db;
  unsigned workers = 0;
  std::string json_out;
  std::string trace_out;
  bool fail_fast = false;
  bool quiet = false;
  bool force = false;
  Duration kill_grace = std::chrono::seconds(5);
  std::string backend;  // empty: see backend_choice()
  std::string partition, account, qos;
};

/// Jobs a Slurm run keeps submitted at once unless --workers says otherwise.
constexpr std::size_t kSlurmJobsInFlight = 500;

/// The backend named by --backend, else $TASKLOOM_BACKEND, else `recorded` (the backend of a
/// resumed run's attempts), else the workflow's `backend:`, else local.
std::string backend_choice(const RunArgs& a, std::string_view recorded,
                           const workflow::Workflow& wf) {
  if (!a.backend.empty()) return a.backend;
  if (const char* env = std::getenv("TASKLOOM_BACKEND"); env != nullptr && *env != '\0') {
    if (std::string_view(env) != "local" && std::string_view(env) != "slurm") {
      throw InvalidArgumentError("TASKLOOM_BACKEND is \"" + std::string(env) +
                                 "\" — set it to local or slurm, or unset it");
    }
    return env;
  }
  if (!recorded.empty()) return std::string(recorded);
  return wf.backend.empty() ? "local" : wf.backend;
}

/// The flags over the workflow's `slurm:` settings.
backends::SlurmOptions slurm_options(const RunArgs& a, const workflow::Workflow& wf) {
  backends::SlurmOptions o;
  o.partition = a.partition.empty() ? wf.slurm.partition : a.partition;
  o.account = a.account.empty() ? wf.slurm.account : a.account;
  o.qos = a.qos.empty() ? wf.slurm.qos : a.qos;
  o.extra_args = wf.slurm.options;
  return o;
}

/// Refuses, before anything is recorded, what could never run where `backend` runs tasks.
void check_backend(const std::string& backend, const RunArgs& a, const workflow::Workflow& wf) {
  if (backend == "slurm") {
    backends::SlurmBackend::check_cluster(slurm_options(a, wf));
  } else {
    workflow::capacities(wf, backends::host_capacity());  // tasks larger than this machine
  }
}

std::unique_ptr<backends::Backend> make_backend(const std::string& name, const RunArgs& a,
                                                const workflow::Workflow& wf,
                                                const std::string& run_key) {
  if (name == "slurm") {
    backends::SlurmOptions o = slurm_options(a, wf);
    o.comment = "taskloom " + run_key;
    return std::make_unique<backends::SlurmBackend>(std::move(o));
  }
  return std::make_unique<backends::LocalBackend>();
}

constexpr int kExitFailed = 1;
constexpr int kExitRefused = 3;
constexpr int kExitCancelled = 130;

bool utf8_terminal() {
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      const std::string s(v);
      return s.find("UTF-8") != std::string::npos || s.find("utf8") != std::string::npos ||
             s.find("utf-8") != std::string::npos;
    }
  }
  return false;
}

void add_run_options(CLI::App* cmd, RunArgs& a) {
  cmd->add_option("--workers", a.workers,
                  "most tasks running at once, or Slurm jobs submitted at once (default: as the "
                  "workflow's resources allow; on Slurm 500)")
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("--json", a.json_out, "write the run report (tasks, attempts) as JSON here");
  cmd->add_option("--trace", a.trace_out, "write a Chrome trace of the run here");
  cmd->add_flag("--fail-fast", a.fail_fast, "cancel the rest of the run at the first failure");
  cmd->add_flag("-q,--quiet", a.quiet, "print only the final status line");
  cmd->add_option_function<std::string>(
         "--kill-grace",
         [&a](const std::string& text) {
           const std::optional<Duration> d = units::parse_duration(text);
           if (!d || *d > std::chrono::hours(1)) {
             throw CLI::ValidationError("--kill-grace",
                                        "must be a duration from 0 to 1h (5, 2.5s, "
                                        "500ms), not '" +
                                            text + "'");
           }
           a.kill_grace = *d;
         },
         "time between SIGTERM and SIGKILL when a task times out or is cancelled (default 5s)")
      ->type_name("DURATION");
  cmd->add_option("--backend", a.backend,
                  "where tasks run: local (this machine) or slurm (one sbatch job per attempt); "
                  "default $TASKLOOM_BACKEND, else the run's own on resume, else the "
                  "workflow's backend:, else local")
      ->check(CLI::IsMember({"local", "slurm"}));
  cmd->add_option("--partition", a.partition,
                  "Slurm partition (default: the workflow's slurm.partition, else "
                  "$SBATCH_PARTITION or the cluster's)");
  cmd->add_option("--account", a.account,
                  "Slurm account (default: the workflow's slurm.account, else $SBATCH_ACCOUNT or "
                  "yours)");
  cmd->add_option("--qos", a.qos,
                  "Slurm QOS (default: the workflow's slurm.qos, else $SBATCH_QOS or the "
                  "default)");
}

/// " --db PATH" when the inspecting commands, run from here, would not find `db` by themselves.
std::string db_flag(const store::RunStore& db) {
  std::error_code ec;
  const std::filesystem::path mine = std::filesystem::weakly_canonical(db.file(), ec);
  try {
    if (std::filesystem::weakly_canonical(find_database("", /*quiet=*/true), ec) == mine) return "";
  } catch (const Error&) {
  }
  std::filesystem::path shown = std::filesystem::relative(mine, ec);
  if (ec || shown.empty() || shown.string().size() > mine.string().size()) shown = mine;
  return " --db " + shown.string();
}

std::string summary(const store::RunStore& db, store::RunId id, const runner::RunOutcome& r) {
  const store::RunRecord rec = require_run(db, id);
  const std::vector<store::TaskRecord> tasks = db.tasks(id);
  std::ostringstream o;
  std::size_t ok = 0;
  for (const auto& t : tasks) ok += t.status == TaskStatus::kSucceeded ? 1 : 0;
  o << "\nrun " << id << " " << store::to_string(r.status);
  if (rec.started && rec.ended) o << " in " << units::format_duration(*rec.ended - *rec.started);
  o << ": " << ok << " of " << tasks.size() << " tasks succeeded";
  if (!r.message.empty() && r.status != store::RunStatus::kSucceeded) o << " (" << r.message << ")";
  o << '\n';
  const runtime::RunReport& rep = r.report;
  if (r.ran > 0) {
    char speed[32];
    std::snprintf(speed, sizeof speed, "%.2fx", rep.speedup());
    o << "  this runner ran " << r.ran << " tasks: wall " << units::format_duration(rep.wall_time)
      << ", task time " << units::format_duration(rep.sequential_time) << ", speedup " << speed
      << '\n';
  }
  if (!rep.critical_path.empty()) {
    o << "  critical path " << units::format_duration(rep.critical_path_time) << ": ";
    constexpr std::size_t kShown = 8;
    for (std::size_t i = 0; i < rep.critical_path.size(); ++i) {
      if (i == kShown && rep.critical_path.size() > kShown + 1) {
        o << " -> ... (" << rep.critical_path.size() - kShown - 1 << " more) -> "
          << rep.critical_path.back();
        break;
      }
      o << (i > 0 ? " -> " : "") << rep.critical_path[i];
    }
    o << '\n';
  }
  if (!rep.resources.empty()) {
    o << "  resources:";
    for (const runtime::PoolUsage& p : rep.resources) {
      if (p.peak <= 0) continue;
      auto num = [](double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%g", v);
        return std::string(b);
      };
      if (p.name == "memory") {
        o << " memory peak " << units::format_size(p.peak) << " of "
          << units::format_size(p.capacity) << ";";
      } else {
        o << " " << p.name << " peak " << num(p.peak) << " of " << num(p.capacity) << ";";
      }
    }
    o << '\n';
  }
  std::size_t listed = 0;
  for (const auto& t : tasks) {
    if (t.status != TaskStatus::kFailed && t.status != TaskStatus::kTimedOut) continue;
    if (listed++ == 10) {
      o << "  ...\n";
      break;
    }
    o << "  " << t.id << " " << to_string(t.status) << ": " << t.message << "  (taskloom logs "
      << id << " " << t.id << " --stderr" << db_flag(db) << ")\n";
  }
  o << "  logs in " << runner::log_directory(db, id).string() << "; details: taskloom status " << id
    << db_flag(db) << '\n';
  return o.str();
}

/// Runs to the end on this thread's watch: SIGINT/SIGTERM cancel (running commands get
/// SIGTERM, then SIGKILL after the grace), a second signal kills every command at once; the
/// live display is redrawn 5 times a second.
runner::RunOutcome drive(const workflow::Workflow& wf, runner::Journal& journal,
                         backends::Backend& backend, runner::RunnerOptions options,
                         ProgressView& view) {
  constexpr auto kWatch = std::chrono::milliseconds(50);
  constexpr auto kTick = std::chrono::milliseconds(200);
  const std::string grace = units::format_limit(options.kill_grace);
  Interrupts interrupts;
  runner::WorkflowRun run(wf, journal, backend, std::move(options));
  bool cancelling = false;
  auto next_tick = std::chrono::steady_clock::now();
  while (!run.done()) {
    const int fresh = interrupts.wait(kWatch);
    if (fresh > 0) {
      if (!cancelling) {
        cancelling = true;
        view.note(
            "cancelling: interrupted by a signal; running tasks get SIGTERM, then SIGKILL "
            "after " +
            grace + " (Ctrl-C again to force)");
        run.cancel("interrupted by a signal");
      }
      if (fresh > 1 || interrupts.count() > 1) {
        const std::size_t n = backend.running();
        run.force();
        view.note(backend.name() == "slurm" ? "forcing: scancel of " + std::to_string(n) +
                                                  " Slurm job" + (n == 1 ? "" : "s")
                                            : "forcing: sent SIGKILL to " + std::to_string(n) +
                                                  " running process group" + (n == 1 ? "" : "s"));
      }
    }
    run.tend();
    const runner::RunProgress p = run.progress();
    if (p.cancelling && !cancelling) {
      cancelling = true;
      view.note(
          "cancelling: cancel requested (taskloom cancel); running tasks get SIGTERM, "
          "then SIGKILL after " +
          grace);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_tick) {
      next_tick = now + kTick;
      view.tick(p);
    }
  }
  view.tick(run.progress());
  view.close();
  return run.finish();
}

int execute(const workflow::Workflow& wf, store::RunStore& db, store::Lease& lease,
            backends::Backend& backend, const RunArgs& a) {
  const store::RunId id = lease.run();
  ProgressViewOptions vo;
  vo.mode = a.quiet                   ? ProgressMode::kQuiet
            : ::isatty(STDOUT_FILENO) ? ProgressMode::kLive
                                      : ProgressMode::kLines;
  vo.title = wf.name;
  vo.unicode = utf8_terminal();
  std::unique_ptr<ProgressView> view = make_progress_view(vo, std::cout);
  runner::RunnerOptions options;
  options.max_running = a.workers;
  if (a.workers == 0 && backend.name() == "slurm") options.max_running = kSlurmJobsInFlight;
  options.fail_fast = a.fail_fast;
  options.trace_path = a.trace_out;
  options.kill_grace = a.kill_grace;
  options.log_dir = runner::log_directory(db, id);
  // Every command carries the run's key, so a later resume finds what a killed runner left.
  options.env = {{"TASKLOOM_RUN", runner::run_key(db.file(), id)}};
  options.on_event = [&view](const runner::TaskEvent& e) { view->event(e); };
  options.heartbeat = std::chrono::duration_cast<std::chrono::milliseconds>(lease.ttl() / 3);

  std::unique_ptr<runner::Journal> journal = runner::store_journal(db, lease);
  runner::RunOutcome r = drive(wf, *journal, backend, std::move(options), *view);
  lease.release();

  if (!a.json_out.empty()) {
    nlohmann::json j = run_json(db, id);
    j["runtime"] = nlohmann::json::parse(r.report.to_json());
    std::ofstream out(a.json_out);
    out << j.dump(2) << '\n';
    if (!out) throw InvalidArgumentError("cannot write the JSON report to " + a.json_out);
  }
  if (a.quiet) {
    std::cout << "run " << id << " " << store::to_string(r.status)
              << (r.message.empty() ? "" : ": " + r.message) << '\n';
  } else {
    std::cout << summary(db, id, r) << std::flush;
  }
  switch (r.status) {
    case store::RunStatus::kSucceeded:
      return 0;
    case store::RunStatus::kCancelled:
      return kExitCancelled;
    default:
      return kExitFailed;
  }
}

/// A run whose cluster jobs may still run cannot resume on another backend: nothing would follow
/// or cancel those jobs, and their tasks would run twice.
void refuse_switch_with_jobs_in_flight(store::RunId run,
                                       const std::vector<store::AttemptRecord>& attempts,
                                       const std::string& backend) {
  std::size_t open = 0;
  std::string other;
  for (const store::AttemptRecord& r : attempts) {
    if (!r.ended && r.start.backend != "local" && r.start.backend != backend) {
      ++open;
      other = r.start.backend;
    }
  }
  if (open == 0) return;
  throw InvalidStateError("run " + std::to_string(run) + " has " + std::to_string(open) + " " +
                          other + " job" + (open == 1 ? "" : "s") +
                          " that may still be in flight — resume it with --backend " + other +
                          " to follow them, or cancel them there first (`taskloom status " +
                          std::to_string(run) + " --json` lists their job ids)");
}

/// Runs `body`; a BusyError (the run's lease is held) becomes exit status 3.
template <class F>
void refusing_busy(F body) {
  int code = 0;
  try {
    code = body();
  } catch (const BusyError& e) {
    std::cerr << "taskloom: " << e.what() << '\n';
    throw CLI::RuntimeError(kExitRefused);
  }
  if (code != 0) throw CLI::RuntimeError(code);
}

void run_file(const RunArgs& a) {
  refusing_busy([&] {
    workflow::Workflow wf = workflow::load_workflow(a.file);
    const std::string backend_name = backend_choice(a, "", wf);
    check_backend(backend_name, a, wf);
    const std::filesystem::path db_path =
        a.db.empty() ? database_beside(wf.file) : std::filesystem::path(a.db);
    store::RunStore db = store::RunStore::open(db_path);
    remember_database(db.file());  // so that `taskloom status` run from here finds it
    const store::RunId id = db.create_run(runner::new_run_of(wf));
    std::unique_ptr<backends::Backend> backend =
        make_backend(backend_name, a, wf, runner::run_key(db.file(), id));
    store::Lease lease = db.acquire_lease(id);
    db.set_run_status(id, store::RunStatus::kRunning);
    if (!a.quiet) {
      std::cout << "run " << id << " of " << wf.name << ": " << wf.tasks.size() << " tasks (db "
                << db.file().string() << (backend_name == "local" ? "" : ", on " + backend_name)
                << ")\n"
                << std::flush;
    }
    return execute(wf, db, lease, *backend, a);
  });
}

void resume_run(const RunArgs& a) {
  refusing_busy([&] {
    store::RunStore db = open_database(a.db);
    const store::RunRecord rec = require_run(db, a.run);
    if (rec.status == store::RunStatus::kSucceeded) {
      std::cout << "run " << a.run << " already succeeded: nothing to resume\n";
      return 0;
    }
    workflow::Workflow wf = workflow::load_workflow(rec.workflow_path);
    std::vector<store::AttemptRecord> attempts = db.attempts(a.run);
    const std::string backend_name = backend_choice(
        a, attempts.empty() ? std::string_view() : attempts.back().start.backend, wf);
    refuse_switch_with_jobs_in_flight(a.run, attempts, backend_name);
    check_backend(backend_name, a, wf);
    if (wf.fingerprint != rec.fingerprint && !a.force) {
      throw InvalidStateError("the workflow " + rec.workflow_path + " changed since run " +
                              std::to_string(a.run) + " started (fingerprint " + rec.fingerprint +
                              ", now " + wf.fingerprint +
                              ") — resume with --force to run its unfinished tasks as the file "
                              "now defines them, or start a new run with `taskloom run`");
    }
    store::Lease lease = db.acquire_lease(a.run);
    const std::string key = runner::run_key(db.file(), a.run);
    // Commands of a runner killed with -9 live on in their own process groups: stop them first.
    // Jobs of a cluster backend live on too, but there they are followed again, not killed.
    std::erase_if(attempts,
                  [](const store::AttemptRecord& r) { return r.start.backend != "local"; });
    const std::size_t killed =
        runner::kill_leftover_processes(attempts, backend_name == "local" ? key : "");
    std::unique_ptr<backends::Backend> backend = make_backend(backend_name, a, wf, key);
    const store::ResumePlan plan =
        db.prepare_resume(a.run, store::ResumeScope::kAllUnsucceeded, backend->name());
    if (!a.quiet) {
      std::cout << "resuming run " << a.run << " of " << wf.name << ": " << plan.succeeded.size()
                << " tasks succeeded before, " << plan.reset.size() << " to run";
      if (!plan.interrupted.empty()) {
        std::cout << " (" << plan.interrupted.size() << " interrupted while running";
        if (killed > 0) std::cout << "; killed " << killed << " processes they left behind";
        std::cout << ")";
      }
      if (!plan.reattached.empty()) {
        std::cout << "; following again " << plan.reattached.size() << " " << backend_name << " job"
                  << (plan.reattached.size() == 1 ? "" : "s") << " still in flight";
      }
      if (wf.fingerprint != rec.fingerprint) std::cout << " — workflow changed, --force";
      std::cout << '\n' << std::flush;
    }
    return execute(wf, db, lease, *backend, a);
  });
}

}  // namespace

void register_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd =
      app.add_subcommand("run", "Run a YAML workflow of shell commands, recorded in SQLite");
  cmd->add_option("file", args->file, "the workflow file (docs/workflow-format.md)")->required();
  cmd->add_option("--db", args->db,
                  "the SQLite database (default: .taskloom/taskloom.db beside the workflow)");
  add_run_options(cmd, *args);
  cmd->callback([args] { run_file(*args); });
}

void register_resume_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd =
      app.add_subcommand("resume", "Run again the tasks of a recorded run that had not succeeded");
  cmd->add_option("run", args->run, "the run's number (taskloom runs)")->required();
  cmd->add_option("--db", args->db,
                  "the database (default: $TASKLOOM_DB, else .taskloom/taskloom.db here or above)");
  cmd->add_flag("--force", args->force, "resume even though the workflow file changed");
  add_run_options(cmd, *args);
  cmd->callback([args] { resume_run(*args); });
}

}  // namespace taskloom::cli
