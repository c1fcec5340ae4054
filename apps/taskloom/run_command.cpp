// `taskloom run FILE` and `taskloom resume RUN`: run a YAML workflow durably (docs/cli.md).
//
//   taskloom run examples/workflows/render-shot.yaml [--db PATH] [--workers N] [--json OUT]
//                [--trace OUT] [--fail-fast] [--quiet] [--kill-grace DURATION]
//                [--backend local|slurm] [--partition P] [--account A] [--qos Q]
//   taskloom resume 7 [--db PATH] [--force] [the same options]
//
// Exit status: 0 every task succeeded, 1 some task failed, timed out or was skipped, 2 bad input
// (or a store error), 3 the run is held by another live runner, 130 cancelled.
#include <sys/ioctl.h>
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
#include "taskloom/core/text.hpp"
#include "taskloom/core/units.hpp"
#include "taskloom/runner/leftovers.hpp"
#include "taskloom/runner/resume.hpp"
#include "taskloom/runner/workflow_run.hpp"
#include "taskloom/store/run_store.hpp"
#include "taskloom/workflow/workflow.hpp"

#include "commands.hpp"
#include "runner/dry_run.hpp"
#include "runner/interrupts.hpp"
#include "runner/progress.hpp"
#include "runner/run_records.hpp"

namespace taskloom::cli {
namespace {

/// How `run` and `resume` record: see store::Durability::kBackground.
constexpr store::Durability kRunDurability = store::Durability::kBackground;

struct RunArgs {
  std::string file;
  std::vector<std::string> targets;  // run: these tasks or groups and what they need; empty: all
  bool dry_run = false;
  store::RunId run = 0;
  std::string db;
  unsigned workers = 0;
  std::string json_out;
  std::string trace_out;
  bool fail_fast = false;
  bool quiet = false;
  bool force = false;                    // resume: even though the workflow file changed
  bool force_all = false;                // run --force: every task, up to date or not
  std::vector<std::string> force_tasks;  // run --force TASK: these tasks or groups
  Duration kill_grace = std::chrono::seconds(5);
  std::string backend;  // empty: see backend_choice()
  std::string color = "auto";
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

/// NO_COLOR (https://no-color.org): any non-empty value turns colours off; so does TERM=dumb.
bool no_color_unset() {
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return (no_color == nullptr || *no_color == '\0') &&
         (term == nullptr || std::string_view(term) != "dumb");
}

/// The terminal's width in columns ($COLUMNS when it cannot be asked), at least 20.
int terminal_columns(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return std::max<int>(20, size.ws_col);
  if (const char* c = std::getenv("COLUMNS"); c != nullptr) {
    const int n = std::atoi(c);
    if (n > 0) return std::max(20, n);
  }
  return 80;
}

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
  cmd->add_option("--color", a.color,
                  "colour the live display: auto (on a terminal, unless NO_COLOR is set), "
                  "always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
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

/// The failed tasks whose stderr the summary quotes, and how much of it.
constexpr std::size_t kStderrShownTasks = 3;
constexpr std::size_t kStderrLineWidth = 160;

/// The last `n` non-empty lines of the file at `path` (from its last 8 KiB), each cut to
/// kStderrLineWidth; none when it cannot be read.
std::vector<std::string> last_lines(const std::string& path, std::size_t n) {
  constexpr std::size_t kWindow = 8192;
  const std::string text = read_tail(path, kWindow);
  std::error_code ec;
  const bool cut = std::filesystem::file_size(path, ec) > kWindow && !ec;
  std::vector<std::string> lines;
  std::istringstream s(text);
  for (std::string line; std::getline(s, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    if (line.size() > kStderrLineWidth) line = line.substr(0, kStderrLineWidth - 3) + "...";
    lines.push_back(std::move(line));
  }
  if (cut && lines.size() > 1) lines.erase(lines.begin());  // cut by the 8 KiB window
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
  return lines;
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
  if (r.up_to_date > 0) o << ", " << r.up_to_date << " of them up to date (not run)";
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
  std::vector<std::string> peaks;
  for (const runtime::PoolUsage& p : rep.resources) {
    if (p.peak <= 0) continue;
    auto num = [](double v) {
      char b[32];
      std::snprintf(b, sizeof b, "%g", v);
      return std::string(b);
    };
    peaks.push_back(p.name == "memory"
                        ? "memory peak " + units::format_size(p.peak) + " of " +
                              units::format_size(p.capacity)
                        : p.name + " peak " + num(p.peak) + " of " + num(p.capacity));
  }
  if (!peaks.empty()) o << "  resources: " << join(peaks, "; ") << '\n';
  std::size_t listed = 0;
  for (const auto& t : tasks) {
    if (t.status != TaskStatus::kFailed && t.status != TaskStatus::kTimedOut) continue;
    if (listed++ == 10) {
      o << "  ...\n";
      break;
    }
    o << "  " << t.id << " " << to_string(t.status) << ": " << t.message << "  (taskloom logs "
      << id << " " << t.id << " --stderr" << db_flag(db) << ")\n";
    if (listed <= kStderrShownTasks) {
      const std::vector<store::AttemptRecord> attempts = db.attempts(id, t.id);
      if (!attempts.empty()) {
        for (const std::string& line : last_lines(attempts.back().start.stderr_path, 3)) {
          o << "    | " << line << '\n';
        }
      }
    }
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
  vo.color = a.color == "always" ||
             (a.color == "auto" && vo.mode == ProgressMode::kLive && no_color_unset());
  vo.columns = [] { return terminal_columns(STDOUT_FILENO); };
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
  options.force_all = a.force_all;
  options.force = a.force_tasks;
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
    if (!a.targets.empty()) wf = workflow::select_targets(wf, a.targets);
    if (!a.force_tasks.empty()) workflow::select_targets(wf, a.force_tasks);  // names exist
    if (a.dry_run) {
      runner::RunnerOptions force;  // only its --force part: what the dry run says is forced
      force.force_all = a.force_all;
      force.force = a.force_tasks;
      print_dry_run(wf, std::cout, [&force](const workflow::Task& t) { return force.forces(t); });
      return 0;
    }
    const std::string backend_name = backend_choice(a, "", wf);
    check_backend(backend_name, a, wf);
    const std::filesystem::path db_path =
        a.db.empty() ? database_beside(wf.file) : std::filesystem::path(a.db);
    // Outcomes are fsynced just after they are recorded, not before the next task may start.
    store::RunStore db = store::RunStore::open(db_path, {.durability = kRunDurability});
    remember_database(db.file());  // so that `taskloom status` run from here finds it
    const store::RunId id = db.create_run(runner::new_run_of(wf, a.targets));
    std::unique_ptr<backends::Backend> backend =
        make_backend(backend_name, a, wf, runner::run_key(db.file(), id));
    store::Lease lease = db.acquire_lease(id);
    db.set_run_status(id, store::RunStatus::kRunning);
    if (!a.quiet) {
      std::cout << "run " << id << " of " << wf.name << ": " << wf.tasks.size() << " tasks"
                << (a.targets.empty() ? "" : " for " + join(a.targets, " ")) << " (db "
                << db.file().string() << (backend_name == "local" ? "" : ", on " + backend_name)
                << ")\n"
                << std::flush;
    }
    return execute(wf, db, lease, *backend, a);
  });
}

void resume_run(const RunArgs& a) {
  refusing_busy([&] {
    store::RunStore db = open_database(a.db, kRunDurability);
    const store::RunRecord rec = require_run(db, a.run);
    if (rec.status == store::RunStatus::kSucceeded) {
      std::cout << "run " << a.run << " already succeeded: nothing to resume\n";
      return 0;
    }
    workflow::Workflow wf = workflow::load_workflow(rec.workflow_path);
    if (!rec.targets.empty()) wf = workflow::select_targets(wf, rec.targets);
    const std::string backend_name = backend_choice(a, runner::recorded_backend(db, a.run), wf);
    runner::check_resumable(db, a.run, wf, backend_name, a.force);
    check_backend(backend_name, a, wf);
    store::Lease lease = db.acquire_lease(a.run);
    const runner::Takeover takeover = runner::take_over(db, a.run, backend_name);
    const store::ResumePlan& plan = takeover.plan;
    const std::size_t killed = takeover.killed;
    std::unique_ptr<backends::Backend> backend =
        make_backend(backend_name, a, wf, runner::run_key(db.file(), a.run));
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
  cmd->add_option("tasks", args->targets,
                  "run only these tasks or groups, and the tasks they run after (default: all)");
  cmd->add_flag("-n,--dry-run", args->dry_run,
                "print what would run, in the order it would start; run and record nothing");
  cmd->add_option("--db", args->db,
                  "the SQLite database (default: .taskloom/taskloom.db beside the workflow)");
  CLI::Option* force =
      cmd->add_option("--force", args->force_tasks,
                      "run tasks even when their outputs are up to date: every task, or with "
                      "--force=TASK that task or group (repeatable)")
          ->expected(0, 1)
          ->type_name("[TASK]");
  add_run_options(cmd, *args);
  cmd->callback([args, force] {
    // A bare --force (CLI11 gives it as an empty value) forces every task.
    const bool bare = std::erase(args->force_tasks, std::string()) > 0;
    args->force_all = bare || (force->count() > 0 && args->force_tasks.empty());
    run_file(*args);
  });
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
