#include "backends/slurm_text.hpp"

#include <signal.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "taskloom/core/error.hpp"
#include "taskloom/core/resources.hpp"
#include "taskloom/core/text.hpp"
#include "taskloom/core/units.hpp"

#include "backends/signals.hpp"

namespace taskloom::backends::slurm_text {
namespace {

using End = AttemptResult::End;

/// Slurm expands %j, %x... in --output/--error; "%%" is a literal "%".
std::string slurm_path(const std::filesystem::path& p) {
  std::string out;
  for (char c : p.string()) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

long whole(double amount) {
  return static_cast<long>(std::ceil(amount - 1e-9));
}

std::string format_amount(double amount) {
  return std::to_string(whole(amount));
}

std::optional<long> to_long(std::string_view s) {
  s = trim(s);
  long v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string on_nodes(const JobRow& job) {
  return job.nodes.empty() || job.nodes == "(null)" ? std::string() : " on " + job.nodes;
}

}  // namespace

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string exit_file(const AttemptSpec& spec) {
  return spec.stdout_path.empty() ? std::string() : spec.stdout_path.string() + ".exit";
}

Submission submission(const AttemptSpec& spec, const SlurmOptions& options) {
  Submission s;
  auto& a = s.args;
  a.push_back("--parsable");
  a.push_back("--job-name=" + spec.task);
  const std::string out = spec.stdout_path.empty() ? "/dev/null" : slurm_path(spec.stdout_path);
  const std::string err = spec.stderr_path.empty() ? "/dev/null" : slurm_path(spec.stderr_path);
  a.push_back("--output=" + out);
  if (err != out) a.push_back("--error=" + err);
  a.push_back("--open-mode=truncate");
  a.push_back("--chdir=" +
              (spec.cwd.empty() ? std::filesystem::current_path() : spec.cwd).string());
  a.push_back("--requeue");  // a node failure requeues the job instead of failing the attempt

  long cpus = 1;
  std::vector<std::string> licenses;
  for (const auto& [pool, amount] : spec.needs) {
    if (pool == "cpu") {
      cpus = std::max(1L, whole(amount));
    } else if (pool == "memory") {
      if (amount > 0) {
        a.push_back("--mem=" + format_amount(amount / (1024.0 * 1024.0)) + "M");
      }
    } else if (pool == "gpu") {
      if (amount > 0) a.push_back("--gres=gpu:" + format_amount(amount));
    } else if (amount > 0) {
      licenses.push_back(pool + ":" + format_amount(amount));
    }
  }
  a.push_back("--cpus-per-task=" + std::to_string(cpus));
  if (!licenses.empty()) a.push_back("--licenses=" + join(licenses, ","));
  if (!spec.features.empty()) a.push_back("--constraint=" + join(spec.features, "&"));
  if (spec.timeout > Duration::zero()) {
    // Minutes, rounded up, plus one: taskloom stops the job at its timeout; this is a backstop.
    const auto minutes = std::chrono::ceil<std::chrono::minutes>(spec.timeout).count() + 1;
    a.push_back("--time=" + std::to_string(minutes));
  }
  // Raising a job above others needs a Slurm operator: only lower priorities map to --nice.
  if (spec.priority.value() < 0) a.push_back("--nice=" + std::to_string(-spec.priority.value()));
  if (!options.partition.empty()) a.push_back("--partition=" + options.partition);
  if (!options.account.empty()) a.push_back("--account=" + options.account);
  if (!options.qos.empty()) a.push_back("--qos=" + options.qos);
  if (!options.comment.empty()) a.push_back("--comment=" + options.comment);
  a.insert(a.end(), options.extra_args.begin(), options.extra_args.end());

  std::string& sh = s.script;
  sh = "#!/bin/sh\n# taskloom: task " + spec.task + ", attempt " + std::to_string(spec.attempt) +
       "\n";
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find_first_of("= \t\n'\"$") != std::string::npos) {
      throw InvalidArgumentError("environment variable name " + shell_quote(name) + " of task " +
                                 spec.task + " is not a valid name");
    }
    sh += "export " + name + "=" + shell_quote(value) + "\n";
  }
  // slurmd runs a job whose --chdir it cannot enter in /tmp instead: refuse that here.
  if (!spec.cwd.empty()) {
    const std::string cwd = shell_quote(spec.cwd.string());
    sh += "cd " + cwd + " 2>/dev/null || { echo \"" + std::string(kNoCwdMarker) + " \"" + cwd +
          "\" does not exist on ${SLURMD_NODENAME:-$(hostname)}\" >&2; exit " +
          std::to_string(kNoCwdExit) + "; }\n";
  }
  // In a subshell, so that `exit` in the command still lets the status be written. The script
  // outlives the command when Slurm's SIGTERM arrives (trapped here, default again in the
  // subshell), so that a process tree that ignores SIGTERM is still whole, and found, when
  // Slurm's SIGKILL follows (proctrack/linuxproc finds processes by ancestry).
  // Its start and end times go with the status: Slurm's TimeUsed has whole seconds only.
  sh += "t0=$(date +%s.%N)\ntrap : TERM\n(\n" + spec.command + "\n)\nrc=$?\ntrap - TERM\n";
  if (const std::string file = exit_file(spec); !file.empty()) {
    sh += "printf '%s %s %s\\n' \"$rc\" \"$t0\" \"$(date +%s.%N)\" > " +
          shell_quote(file + ".tmp") + " && mv -f " + shell_quote(file + ".tmp") + " " +
          shell_quote(file) + "\n";
  }
  // A command killed by a signal ends the job by the same signal, so Slurm records it as such.
  sh += "if [ \"$rc\" -gt 128 ] && [ \"$rc\" -lt 160 ]; then kill -$((rc - 128)) $$; fi\n";
  sh += "exit \"$rc\"\n";
  return s;
}

std::optional<std::string> parse_job_id(std::string_view sbatch_stdout) {
  std::string_view line = trim(sbatch_stdout);
  if (const auto nl = line.find_last_of('\n'); nl != std::string_view::npos) {
    line = trim(line.substr(nl + 1));  // warnings may come first
  }
  line = line.substr(0, line.find(';'));
  if (line.empty() || line.find_first_not_of("0123456789_") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(line);
}

std::optional<Duration> parse_time_used(std::string_view text) {
  text = trim(text);
  long days = 0;
  if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    const auto d = to_long(text.substr(0, dash));
    if (!d || *d < 0) return std::nullopt;
    days = *d;
    text = text.substr(dash + 1);
  }
  long parts[3] = {0, 0, 0};  // seconds, minutes, hours
  int n = 0;
  while (!text.empty()) {
    if (n == 3) return std::nullopt;
    const auto colon = text.find_last_of(':');
    const std::string_view field = colon == std::string_view::npos ? text : text.substr(colon + 1);
    const auto v = to_long(field);
    if (!v || *v < 0) return std::nullopt;
    parts[n++] = *v;
    text = colon == std::string_view::npos ? std::string_view() : text.substr(0, colon);
  }
  if (n < 2 && days == 0) return std::nullopt;  // Slurm always prints at least M:SS
  return std::chrono::duration_cast<Duration>(
      std::chrono::seconds(((days * 24 + parts[2]) * 60 + parts[1]) * 60 + parts[0]));
}

std::vector<JobRow> parse_squeue(std::string_view text) {
  std::vector<JobRow> rows;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    std::vector<std::string_view> f;
    while (!line.empty()) {
      const auto bar = line.find('|');
      f.push_back(trim(line.substr(0, bar)));
      line = bar == std::string_view::npos ? std::string_view() : line.substr(bar + 1);
    }
    // Comments (in recorded captures) and a header line have no numeric job id.
    if (f.size() < 7 || f[0].empty() || f[0][0] < '0' || f[0][0] > '9') continue;
    JobRow r;
    r.id = std::string(f[0]);
    r.state = std::string(f[1]);
    r.reason = std::string(f[2]);
    r.nodes = f[3] == "(null)" ? std::string() : std::string(f[3]);
    r.wait_status = static_cast<int>(to_long(f[4]).value_or(0));
    r.restarts = static_cast<int>(to_long(f[5]).value_or(0));
    r.used = parse_time_used(f[6]).value_or(Duration::zero());
    rows.push_back(std::move(r));
  }
  return rows;
}

Phase phase_of(std::string_view state) {
  // A state may carry flags after a space or '+' ("CANCELLED by 0", "COMPLETING+").
  state = state.substr(0, state.find_first_of(" +"));
  for (std::string_view s : {"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "SUSPENDED",
                             "RESV_DEL_HOLD", "STOPPED", "CONFIGURING"}) {
    if (state == s) return Phase::kWaiting;
  }
  for (std::string_view s : {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING"}) {
    if (state == s) return Phase::kRunning;
  }
  return Phase::kEnded;
}

bool never_starts(std::string_view reason) {
  for (std::string_view r :
       {"PartitionConfig", "BadConstraints", "PartitionNodeLimit", "PartitionTimeLimit",
        "InvalidAccount", "InvalidQOS", "QOSMaxCpuPerJobLimit", "QOSMaxGRESPerJob",
        "QOSMaxMemoryPerJob", "QOSMaxWallDurationPerJobLimit", "AssocMaxWallDurationPerJobLimit"}) {
    if (reason == r) return true;
  }
  return false;
}

AttemptResult result_of(const JobRow& job, Intent intent, const AttemptSpec& spec,
                        std::string_view stderr_tail) {
  AttemptResult r;
  r.wall = job.used;
  r.nodes = job.nodes;
  const int code = (job.wait_status >> 8) & 0xff;
  const int sig = job.wait_status & 0x7f;
  const std::string state(job.state.substr(0, job.state.find_first_of(" +")));
  const std::string where = on_nodes(job);
  const std::string name = "Slurm job " + job.id;
  const std::string restarts =
      job.restarts > 0 ? " (requeued by Slurm " + std::to_string(job.restarts) +
                             (job.restarts == 1 ? " time" : " times") + " after node failures)"
                       : "";
  if (sig == 0) r.exit_code = code;
  r.signal = sig;
  if (state == "COMPLETED") {
    r.end = End::kSucceeded;
    r.exit_code = 0;
    r.message = "exit status 0" + where + restarts;
    return r;
  }
  if (state == "CANCELLED" || (intent != Intent::kNone && state != "TIMEOUT")) {
    if (intent == Intent::kRefuse) {
      r.end = End::kFailedToStart;
      r.reason = job.reason;
      r.message = name + " could never start (Slurm says " + job.reason +
                  ": no node of the partition, or no limit of the account, allows what the task "
                  "asks) and was cancelled — lower the task's needs, fix its features, or choose "
                  "another partition (sinfo -o '%P %N %c %m %G %f')";
    } else if (intent == Intent::kTimeout) {
      r.end = End::kTimedOut;
      r.reason = "TIMEOUT";
      r.message = "timed out after " + units::format_limit(spec.timeout) + where + ": " + name +
                  " cancelled by taskloom (scancel)";
    } else if (intent == Intent::kStop) {
      r.end = End::kCancelled;
      r.message = name + " cancelled" + where;
    } else {
      r.end = End::kFailed;
      r.reason = "CANCELLED";
      r.message =
          name + " was cancelled outside taskloom (scancel by a user or an operator)" + where;
    }
    return r;
  }
  r.end = End::kFailed;
  r.reason = state;
  const bool over_memory = stderr_tail.find("Exceeded job memory limit") != std::string::npos ||
                           stderr_tail.find("oom-kill") != std::string::npos;
  if (state == "OUT_OF_MEMORY" || (state == "FAILED" && sig == SIGKILL && over_memory)) {
    r.reason = "OUT_OF_MEMORY";
    const double mem = spec.needs.get("memory");
    r.message = name + " ended OUT_OF_MEMORY" + where + ": it used more than " +
                (mem > 0 ? units::format_size(mem) + " (needs.memory)" : "its memory limit") +
                " and Slurm killed it";
  } else if (state == "TIMEOUT") {
    r.end = End::kTimedOut;
    r.message = name + " ended TIMEOUT" + where + ": it reached its Slurm time limit";
  } else if (state == "FAILED" && sig != 0) {
    r.message = "killed by signal " + signal_name(sig) + " (" + std::to_string(sig) + ")" + where +
                " (" + name + ")";
  } else if (const auto marker = stderr_tail.rfind(kNoCwdMarker);
             state == "FAILED" && code == kNoCwdExit && marker != std::string_view::npos) {
    r.end = End::kFailedToStart;
    r.reason.clear();
    std::string_view line = stderr_tail.substr(marker + std::string_view("taskloom: ").size());
    r.message = std::string(trim(line.substr(0, line.find('\n')))) + " (" + name + ")";
  } else if (state == "FAILED") {
    r.reason.clear();  // a plain non-zero exit
    r.message = "exit status " + std::to_string(code) + where + " (" + name + ")";
  } else if (state == "NODE_FAIL") {
    r.message =
        name + " ended NODE_FAIL" + where + ": the node failed and Slurm did not requeue it";
  } else if (state == "PREEMPTED") {
    r.message = name + " ended PREEMPTED" + where + ": a higher-priority job took its resources";
  } else if (state == "BOOT_FAIL") {
    r.message = name + " ended BOOT_FAIL" + where + ": its node failed to boot";
  } else if (state == "DEADLINE") {
    r.end = End::kTimedOut;
    r.message = name + " ended DEADLINE: it could not finish before its Slurm deadline";
  } else {
    r.message = name + " ended " + state + where +
                (job.reason.empty() || job.reason == "None" ? "" : " (" + job.reason + ")");
  }
  r.message += restarts;
  return r;
}

std::optional<ExitRecord> parse_exit_file(std::string_view text) {
  std::vector<std::string_view> words;
  for (text = trim(text); !text.empty(); text = trim(text)) {
    const auto space = text.find_first_of(" \t\n");
    words.push_back(text.substr(0, space));
    text = space == std::string_view::npos ? std::string_view() : text.substr(space);
  }
  if (words.empty()) return std::nullopt;
  const auto rc = to_long(words[0]);
  if (!rc || *rc < 0 || *rc > 255) return std::nullopt;
  ExitRecord e{.status = static_cast<int>(*rc)};
  if (words.size() == 3) {
    const auto seconds = [](std::string_view w) -> std::optional<long double> {
      long double v = 0;
      const auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
      if (ec != std::errc() || p != w.data() + w.size() || v < 0) return std::nullopt;
      return v;
    };
    // A node whose date lacks %N writes "1796408481.N": the status still counts.
    const auto start = seconds(words[1]), end = seconds(words[2]);
    if (start && end && *end >= *start) {
      e.wall =
          std::chrono::duration_cast<Duration>(std::chrono::duration<long double>(*end - *start));
    }
  }
  return e;
}

std::optional<AttemptResult> result_of_exit_file(std::string_view text, const std::string& job_id) {
  const std::optional<ExitRecord> record = parse_exit_file(text);
  if (!record) return std::nullopt;
  const int rc = record->status;
  AttemptResult r;
  if (record->wall) r.wall = *record->wall;
  const std::string how =
      " (Slurm job " + job_id + ", read from its exit-status file: Slurm no longer lists the job)";
  if (rc == 0) {
    r.end = End::kSucceeded;
    r.exit_code = 0;
    r.message = "exit status 0" + how;
  } else if (rc > 128 && rc < 160) {
    r.end = End::kFailed;
    r.signal = rc - 128;
    r.message =
        "killed by signal " + signal_name(r.signal) + " (" + std::to_string(r.signal) + ")" + how;
  } else {
    r.end = End::kFailed;
    r.exit_code = rc;
    r.message = "exit status " + std::to_string(rc) + how;
  }
  return r;
}

}  // namespace taskloom::backends::slurm_text
