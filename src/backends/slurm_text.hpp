// The text side of the Slurm backend, kept pure so it is tested on recorded samples
// (tests/data/slurm): what sbatch is given for an attempt, what squeue prints back, and how a
// job's final state becomes an AttemptResult.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/backends/backend.hpp"
#include "taskloom/backends/slurm.hpp"

namespace taskloom::backends::slurm_text {

/// sbatch's arguments (after the program name) and the batch script for its stdin.
struct Submission {
  std::vector<std::string> args;
  std::string script;
};

/// Throws InvalidArgumentError for what the mapping cannot express (a negative need).
Submission submission(const AttemptSpec& spec, const SlurmOptions& options);

/// The batch script's line on stderr, and its exit status, when the job cannot enter its
/// working directory on the node (reported as kFailedToStart, as a local run does).
inline constexpr std::string_view kNoCwdMarker = "taskloom: working directory";
inline constexpr int kNoCwdExit = 126;

/// Where the batch script writes the command's exit status: "<stdout>.exit" (empty when the
/// attempt has no stdout log).
std::string exit_file(const AttemptSpec& spec);

/// The job id in `sbatch --parsable`'s output ("41" or "41;cluster"); nullopt when none.
std::optional<std::string> parse_job_id(std::string_view sbatch_stdout);

/// squeue's --Format for parse_squeue.
inline constexpr std::string_view kSqueueFormat =
    "JobID:|,State:|,Reason:|,NodeList:|,exit_code:|,RestartCnt:|,TimeUsed:|";

/// One job as squeue lists it.
struct JobRow {
  std::string id;
  std::string state;    ///< "PENDING", "RUNNING", "COMPLETED", "NODE_FAIL", ...
  std::string reason;   ///< "None", "Priority", "NonZeroExitCode", ...
  std::string nodes;    ///< "n2", "n[1-2]"; empty while pending
  int wait_status = 0;  ///< Slurm's exit_code field: a wait(2) status (exit << 8 | signal)
  int restarts = 0;
  Duration used{};  ///< time the job has run (queue time excluded)
};

/// Lines of `squeue -h --states=all -O <kSqueueFormat>`; lines that do not parse are skipped.
std::vector<JobRow> parse_squeue(std::string_view text);

/// "1-02:03:04", "02:03:04", "3:04", "0:00" -> duration; nullopt otherwise.
std::optional<Duration> parse_time_used(std::string_view text);

enum class Phase { kWaiting, kRunning, kEnded };
/// Where a job state leaves the job: waiting (pending, requeued, suspended...), running
/// (running, completing...), or ended for good.
Phase phase_of(std::string_view state);

/// Whether a pending job's reason means it can never start as submitted (it asks more than
/// any node of the partition has, features no node has, a bad account...), rather than that
/// it waits its turn.
bool never_starts(std::string_view reason);

/// What taskloom did to the job, which decides how a CANCELLED end reads: stopped it, stopped
/// it at its timeout, or cancelled it because Slurm could never start it.
enum class Intent { kNone, kStop, kTimeout, kRefuse };

/// The outcome of a job in an ended state. `stderr_tail` is the end of the attempt's stderr
/// log, where slurmstepd writes when it kills a job over its memory limit.
AttemptResult result_of(const JobRow& job, Intent intent, const AttemptSpec& spec,
                        std::string_view stderr_tail);

/// What the batch script wrote to its exit-status file: "<status> <start> <end>\n", the times
/// in seconds since the epoch (`date +%s.%N`), or only "<status>\n" (as earlier taskloom versions
/// wrote it).
struct ExitRecord {
  int status = 0;                ///< the command's exit status, 0-255 (128+N: killed by signal N)
  std::optional<Duration> wall;  ///< how long the command ran on the node, to the nanosecond
};
/// nullopt without a status; times that do not parse (a `date` without %N) leave `wall` empty.
std::optional<ExitRecord> parse_exit_file(std::string_view text);

/// The outcome recorded in an exit-status file's text, for a job Slurm forgot.
std::optional<AttemptResult> result_of_exit_file(std::string_view text, const std::string& job_id);

/// `text` quoted for /bin/sh: 'it'\''s'.
std::string shell_quote(std::string_view text);

}  // namespace taskloom::backends::slurm_text
