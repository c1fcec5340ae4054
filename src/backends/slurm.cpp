// SlurmBackend: attempts as sbatch jobs, submitted by a few threads, followed by one poller
// that asks squeue about every job at once, with backoff; scancel for stops and timeouts.
#include "taskloom/backends/slurm.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "taskloom/core/error.hpp"
#include "taskloom/core/text.hpp"

#include "backends/slurm_text.hpp"
#include "backends/tool.hpp"

namespace taskloom::backends {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using slurm_text::Intent;
using slurm_text::Phase;

constexpr auto kToolLimit = 60s;         // sbatch/squeue/scancel retry a slow controller
constexpr auto kUnconfirmedLimit = 30s;  // the destructor's wait for Slurm to confirm ends

struct Job {
  AttemptSpec spec;
  AttemptCallbacks callbacks;
  std::optional<std::stop_callback<std::function<void()>>> on_stop;
  // Guarded by State::mu:
  std::string id;  // empty until sbatch answered
  Intent intent = Intent::kNone;
  bool running = false;
  Clock::time_point run_start{};
  int missing = 0;
  std::string nodes;
  std::string refusal;  // the pending reason that made taskloom cancel it (Intent::kRefuse)
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s;
  std::getline(in, s, '\0');
  return s;
}

/// What a Slurm tool printed, one line, its "<tool>: error: " prefixes dropped.
std::string complaint(const ToolRun& run, const std::string& tool) {
  std::string text;
  const std::string error = tool + ": error: ", fatal = tool + ": fatal: ";
  for (std::string_view line : {std::string_view(run.err), std::string_view(run.out)}) {
    while (!line.empty()) {
      const auto nl = line.find('\n');
      std::string_view l = trim(line.substr(0, nl));
      line = nl == std::string_view::npos ? std::string_view() : line.substr(nl + 1);
      for (std::string_view prefix : {std::string_view(error), std::string_view(fatal),
                                      std::string_view("Batch job submission failed: ")}) {
        if (l.starts_with(prefix)) l.remove_prefix(prefix.size());
      }
      if (l.empty()) continue;
      if (!text.empty()) text += "; ";
      text += l;
    }
  }
  if (text.empty()) text = tool + " exited with status " + std::to_string(run.exit_code);
  return text;
}

/// sbatch's complaint with the fix that fits it.
std::string refusal(const ToolRun& run, const AttemptSpec& spec) {
  const std::string text = complaint(run, "sbatch");
  std::string fix =
      "check the task's needs against what the cluster offers (sinfo -o '%N %c %m %G %f')";
  if (text.find("icense") != std::string::npos) {
    fix =
        "a pool other than cpu, memory and gpu becomes a Slurm licence: declare it in "
        "slurm.conf (Licenses=) or remove it from the task's needs";
  } else if (text.find("eature") != std::string::npos ||
             text.find("onstraint") != std::string::npos) {
    fix = "no node has these features (sinfo -o '%N %f'): fix the task's features";
  } else if (text.find("artition") != std::string::npos) {
    fix = "name an existing partition (sinfo -s) in slurm.partition or with --partition";
  } else if (text.find("ccount") != std::string::npos || text.find("QOS") != std::string::npos) {
    fix = "give an account and QOS you may use (sacctmgr show assoc user=$USER)";
  }
  return "Slurm refused task " + spec.task + ": " + text + " — " + fix;
}

}  // namespace

struct SlurmBackend::State {
  SlurmOptions options;
  mutable std::mutex mu;
  std::condition_variable submit_cv, poll_cv, idle_cv;
  std::deque<std::shared_ptr<Job>> to_submit;
  std::unordered_map<std::string, std::shared_ptr<Job>> jobs;  // followed, by job id
  std::vector<std::string> to_cancel;
  std::vector<std::shared_ptr<Job>> submitting;  // popped from to_submit, sbatch not answered
  // Jobs ended from their own stop callback: freed by the poller, as a callback cannot free
  // itself.
  std::vector<std::shared_ptr<Job>> retired;
  std::size_t in_flight = 0;  // queued, being submitted, or followed
  // Of those, the ones whose `ended` callback has begun: running() leaves them out (they are
  // reported ended), while the destructor still waits for their callbacks to return.
  std::size_t ending = 0;
  bool poke = false;
  bool closing = false;
  std::vector<std::thread> submitters;
  std::thread poller;

  std::string tool(std::string_view name) const {
    return options.bin_dir.empty() ? std::string(name) : (options.bin_dir / name).string();
  }

  void submit_loop();
  void poll_loop();
  void request_stop(const std::shared_ptr<Job>& job);
  void end(const std::shared_ptr<Job>& job, AttemptResult r);
  /// Runs `program args... ids...` in chunks; returns each chunk's run.
  std::vector<ToolRun> for_ids(std::vector<std::string> base, const std::vector<std::string>& ids);
};

void SlurmBackend::State::end(const std::shared_ptr<Job>& job, AttemptResult r) {
  job->on_stop.reset();  // waits for a stop callback running on another thread
  {
    std::lock_guard lock(mu);
    ++ending;
  }
  job->callbacks.ended(std::move(r));
  std::lock_guard lock(mu);
  --ending;
  --in_flight;
  idle_cv.notify_all();
}

void SlurmBackend::State::request_stop(const std::shared_ptr<Job>& job) {
  std::unique_lock lock(mu);
  auto queued = std::find(to_submit.begin(), to_submit.end(), job);
  if (queued != to_submit.end()) {
    to_submit.erase(queued);
    ++ending;
    lock.unlock();
    AttemptResult r;
    r.end = AttemptResult::End::kCancelled;
    r.message = "cancelled before it was submitted to Slurm";
    job->callbacks.ended(std::move(r));
    lock.lock();
    --ending;
    --in_flight;
    retired.push_back(job);
    idle_cv.notify_all();
    return;
  }
  if (job->intent == Intent::kNone) job->intent = Intent::kStop;
  if (!job->id.empty()) {
    to_cancel.push_back(job->id);
    poke = true;
    poll_cv.notify_one();
  }
}

std::vector<ToolRun> SlurmBackend::State::for_ids(std::vector<std::string> base,
                                                  const std::vector<std::string>& ids) {
  std::vector<ToolRun> runs;
  const std::size_t per_call = std::max<std::size_t>(1, options.ids_per_call);
  for (std::size_t i = 0; i < ids.size(); i += per_call) {
    std::vector<std::string> argv = base;
    const std::size_t n = std::min(per_call, ids.size() - i);
    if (argv.back() == "-j") {  // squeue takes one comma-separated list
      std::string list;
      for (std::size_t k = 0; k < n; ++k) list += (k ? "," : "") + ids[i + k];
      argv.push_back(std::move(list));
    } else {
      argv.insert(argv.end(), ids.begin() + static_cast<std::ptrdiff_t>(i),
                  ids.begin() + static_cast<std::ptrdiff_t>(i + n));
    }
    runs.push_back(run_tool(argv, {}, kToolLimit));
  }
  return runs;
}

void SlurmBackend::State::submit_loop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu);
      submit_cv.wait(lock, [&] { return closing || !to_submit.empty(); });
      if (to_submit.empty()) return;
      job = std::move(to_submit.front());
      to_submit.pop_front();
      submitting.push_back(job);
    }
    slurm_text::Submission sub = slurm_text::submission(job->spec, options);  // checked by start()
    std::vector<std::string> argv{tool("sbatch")};
    argv.insert(argv.end(), sub.args.begin(), sub.args.end());
    const ToolRun run = run_tool(argv, sub.script, kToolLimit);
    const std::optional<std::string> id =
        run.ok() ? slurm_text::parse_job_id(run.out) : std::nullopt;
    {
      std::lock_guard lock(mu);
      std::erase(submitting, job);
    }
    if (!id) {
      AttemptResult r;
      r.end = AttemptResult::End::kFailedToStart;
      r.reason = "SUBMIT_FAILED";
      r.message = refusal(run, job->spec);
      end(job, std::move(r));
      continue;
    }
    if (job->callbacks.started) {
      job->callbacks.started(Placement{.backend = "slurm", .job_id = *id});
    }
    std::lock_guard lock(mu);
    job->id = *id;
    if (job->intent == Intent::kStop) to_cancel.push_back(*id);
    jobs.emplace(*id, job);
    poke = true;
    poll_cv.notify_one();
  }
}

void SlurmBackend::State::poll_loop() {
  auto interval = options.poll_min;
  std::optional<Clock::time_point> closing_since;
  for (;;) {
    std::vector<std::string> cancel, ids;
    std::vector<std::shared_ptr<Job>> freed;
    {
      std::unique_lock lock(mu);
      freed.swap(retired);
      // The earliest timeout of a running job bounds the sleep.
      auto wake = Clock::now() + interval;
      for (const auto& [id, job] : jobs) {
        if (job->running && job->intent == Intent::kNone && job->spec.timeout > Duration::zero()) {
          wake = std::min(wake, job->run_start + job->spec.timeout);
        }
      }
      poll_cv.wait_until(lock, wake, [&] { return poke || (closing && in_flight == 0); });
      poke = false;
      if (closing && in_flight == 0) {
        lock.unlock();
        return;  // `freed` goes outside the lock
      }
      if (closing && !closing_since) closing_since = Clock::now();
      cancel.swap(to_cancel);
      ids.reserve(jobs.size());
      for (const auto& [id, job] : jobs) ids.push_back(id);
    }
    freed.clear();
    if (!cancel.empty()) for_ids({tool("scancel")}, cancel);
    if (ids.empty()) {
      interval = options.poll_min;
      continue;
    }
    // Past one call's worth of ids, one `squeue --me` of all the user's jobs costs the controller
    // and this machine less than a call per 500 ids (each a process, a config read, an auth).
    std::vector<std::string> squeue{tool("squeue"), "-h", "--states=all", "-O",
                                    std::string(slurm_text::kSqueueFormat)};
    std::vector<ToolRun> runs;
    if (ids.size() > options.ids_per_call) {
      squeue.push_back("--me");
      runs.push_back(run_tool(squeue, {}, kToolLimit));
    } else {
      squeue.push_back("-j");
      runs = for_ids(std::move(squeue), ids);
    }
    std::unordered_map<std::string, slurm_text::JobRow> rows;
    bool answered = true;
    for (const ToolRun& run : runs) {
      // A list of only unknown ids makes squeue fail with "Invalid job id specified".
      if (!run.ok() && run.err.find("Invalid job id") == std::string::npos) answered = false;
      for (slurm_text::JobRow& r : slurm_text::parse_squeue(run.out)) {
        rows.emplace(r.id, std::move(r));
      }
    }
    bool changed = false;
    std::vector<std::pair<std::shared_ptr<Job>, std::optional<slurm_text::JobRow>>> ended;
    const auto now = Clock::now();
    {
      std::lock_guard lock(mu);
      for (auto it = jobs.begin(); it != jobs.end();) {
        Job& job = *it->second;
        auto row = rows.find(it->first);
        if (row == rows.end()) {
          if (answered && ++job.missing >= options.vanish_rounds) {
            ended.emplace_back(it->second, std::nullopt);
            it = jobs.erase(it);
            changed = true;
            continue;
          }
          ++it;
          continue;
        }
        job.missing = 0;
        const Phase phase = slurm_text::phase_of(row->second.state);
        if (phase == Phase::kEnded) {
          ended.emplace_back(it->second, std::move(row->second));
          it = jobs.erase(it);
          changed = true;
          continue;
        }
        if (phase == Phase::kRunning && !job.running) {
          job.running = true;
          job.run_start = now - row->second.used;
          job.nodes = row->second.nodes;
          changed = true;
        } else if (phase == Phase::kWaiting && job.running) {
          job.running = false;  // requeued (node failure) or suspended: the clock restarts
          changed = true;
        }
        if (phase == Phase::kWaiting && job.intent == Intent::kNone &&
            slurm_text::never_starts(row->second.reason)) {
          job.intent = Intent::kRefuse;
          job.refusal = row->second.reason;
          to_cancel.push_back(it->first);
          poke = true;
        }
        if (job.running && job.intent == Intent::kNone && job.spec.timeout > Duration::zero() &&
            now - job.run_start >= job.spec.timeout) {
          job.intent = Intent::kTimeout;
          to_cancel.push_back(it->first);
          poke = true;
        }
        ++it;
      }
      if (closing_since && Clock::now() - *closing_since > kUnconfirmedLimit) {
        for (auto& [id, job] : jobs) ended.emplace_back(job, std::nullopt);
        jobs.clear();
      }
    }
    for (auto& [job, row] : ended) {
      Intent intent;
      std::string nodes;
      {
        std::lock_guard lock(mu);
        intent = job->intent;
        nodes = job->nodes;
        if (row && intent == Intent::kRefuse) row->reason = job->refusal;
      }
      AttemptResult r;
      if (row) {
        const bool failed = row->state.starts_with("FAILED");
        r = slurm_text::result_of(*row, intent, job->spec,
                                  failed ? read_tail(job->spec.stderr_path, 4096) : "");
        // The script's own times beat TimeUsed's whole seconds (absent when it was killed).
        if (auto record = slurm_text::parse_exit_file(read_file(slurm_text::exit_file(job->spec)));
            record && record->wall) {
          r.wall = *record->wall;
        }
      } else if (auto from_file = slurm_text::result_of_exit_file(
                     read_file(slurm_text::exit_file(job->spec)), job->id)) {
        r = std::move(*from_file);
        r.nodes = nodes;
      } else if (intent == Intent::kStop) {
        r.end = AttemptResult::End::kCancelled;
        r.message = "Slurm job " + job->id + " cancelled (scancel); Slurm no longer lists it";
      } else {
        r.end = AttemptResult::End::kFailed;
        r.reason = "VANISHED";
        r.message = "Slurm job " + job->id +
                    " vanished: squeue no longer lists it and it left no exit status (purged "
                    "after MinJobAge while nobody watched, or the controller lost its state)";
      }
      end(job, std::move(r));
    }
    interval =
        changed ? options.poll_min
                : std::min(options.poll_max,
                           std::chrono::duration_cast<std::chrono::milliseconds>(interval * 3 / 2));
  }
}

void SlurmBackend::check_cluster(const SlurmOptions& options) {
  const std::string sinfo =
      options.bin_dir.empty() ? std::string("sinfo") : (options.bin_dir / "sinfo").string();
  const ToolRun run = run_tool({sinfo, "--noheader", "--format=%R"}, {}, kToolLimit);
  if (!run.ok()) {
    throw InvalidStateError("Slurm does not answer (sinfo: " + complaint(run, "sinfo") +
                            ") — check that slurmctld runs (scontrol ping) and that SLURM_CONF "
                            "names its slurm.conf, or run with --backend local");
  }
  if (options.partition.empty()) return;
  std::vector<std::string> partitions;
  for (std::string_view rest = run.out; !rest.empty();) {
    const auto nl = rest.find('\n');
    if (std::string_view p = trim(rest.substr(0, nl)); !p.empty()) partitions.emplace_back(p);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  if (std::find(partitions.begin(), partitions.end(), options.partition) == partitions.end()) {
    throw InvalidArgumentError("Slurm has no partition \"" + options.partition + "\" (it has " +
                               join(partitions, ", ") +
                               ") — fix slurm.partition in the workflow or --partition");
  }
}

SlurmBackend::SlurmBackend(SlurmOptions options) : state_(std::make_unique<State>()) {
  if (options.submitters == 0) options.submitters = 1;
  if (options.poll_min <= std::chrono::milliseconds::zero() ||
      options.poll_max < options.poll_min) {
    throw InvalidArgumentError("SlurmOptions: poll_min must be positive and poll_max >= poll_min");
  }
  state_->options = std::move(options);
  State& s = *state_;
  for (std::size_t i = 0; i < s.options.submitters; ++i) {
    s.submitters.emplace_back([&s] { s.submit_loop(); });
  }
  s.poller = std::thread([&s] { s.poll_loop(); });
}

SlurmBackend::~SlurmBackend() {
  kill_all();
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    s.closing = true;
    s.poke = true;
  }
  s.submit_cv.notify_all();
  s.poll_cv.notify_all();
  for (std::thread& t : s.submitters) t.join();
  s.poller.join();
}

void SlurmBackend::start(AttemptSpec spec, std::stop_token stop, AttemptCallbacks callbacks) {
  if (spec.command.empty()) throw InvalidArgumentError("task " + spec.task + ": empty command");
  if (!callbacks.ended) throw InvalidArgumentError("AttemptCallbacks::ended is required");
  (void)slurm_text::submission(spec, state_->options);  // throws for what cannot be mapped
  auto job = std::make_shared<Job>();
  job->spec = std::move(spec);
  job->callbacks = std::move(callbacks);
  std::error_code ec;
  for (const auto& p : {job->spec.stdout_path, job->spec.stderr_path}) {
    if (!p.empty()) std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) {
      AttemptResult r;
      r.message =
          "cannot create the log directory " + p.parent_path().string() + ": " + ec.message();
      job->callbacks.ended(std::move(r));
      return;
    }
  }
  if (const std::string f = slurm_text::exit_file(job->spec); !f.empty()) {
    std::filesystem::remove(f, ec);
  }
  // The stop callback exists before another thread can see the job; a stop requested already
  // ends the attempt here, before anything is submitted.
  State* s = state_.get();
  std::weak_ptr<Job> weak = job;
  job->on_stop.emplace(stop, std::function<void()>([s, weak] {
                         if (auto j = weak.lock()) s->request_stop(j);
                       }));
  if (stop.stop_requested()) {
    AttemptResult r;
    r.end = AttemptResult::End::kCancelled;
    r.message = "cancelled before it was submitted to Slurm";
    job->callbacks.ended(std::move(r));
    return;
  }
  {
    std::lock_guard lock(state_->mu);
    ++state_->in_flight;
    state_->to_submit.push_back(job);
  }
  state_->submit_cv.notify_one();
}

bool SlurmBackend::reattach(const AttemptSpec& spec, const Placement& where, std::stop_token stop,
                            AttemptCallbacks callbacks) {
  if (where.job_id.empty() || !callbacks.ended) return false;
  auto job = std::make_shared<Job>();
  job->spec = spec;
  job->callbacks = std::move(callbacks);
  job->id = where.job_id;
  job->nodes = where.nodes;
  State* s = state_.get();
  std::weak_ptr<Job> weak = job;
  job->on_stop.emplace(stop, std::function<void()>([s, weak] {
                         if (auto j = weak.lock()) s->request_stop(j);
                       }));
  {
    std::lock_guard lock(state_->mu);
    ++state_->in_flight;
    if (stop.stop_requested()) job->intent = Intent::kStop, state_->to_cancel.push_back(job->id);
    state_->jobs.emplace(job->id, job);
    state_->poke = true;
  }
  state_->poll_cv.notify_one();
  return true;
}

void SlurmBackend::kill_all() {
  State& s = *state_;
  std::vector<std::shared_ptr<Job>> queued;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(s.mu);
    queued.assign(s.to_submit.begin(), s.to_submit.end());
    s.to_submit.clear();
    for (auto& [id, job] : s.jobs) {
      if (job->intent == Intent::kNone) job->intent = Intent::kStop;
      ids.push_back(id);
    }
    for (auto& job : s.submitting) job->intent = Intent::kStop;  // cancelled once submitted
    s.poke = true;
  }
  for (const auto& job : queued) {
    AttemptResult r;
    r.end = AttemptResult::End::kCancelled;
    r.message = "cancelled before it was submitted to Slurm";
    s.end(job, std::move(r));
  }
  if (!ids.empty()) s.for_ids({s.tool("scancel")}, ids);
  s.poll_cv.notify_one();
}

std::size_t SlurmBackend::running() const {
  std::lock_guard lock(state_->mu);
  return state_->in_flight - state_->ending;
}

}  // namespace taskloom::backends
