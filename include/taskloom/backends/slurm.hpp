// taskloom/backends/slurm.hpp — the Backend that runs each attempt as a Slurm batch job.
//
//   backends::SlurmBackend slurm({.partition = "render", .account = "shots"});
//   runner::run_workflow(wf, journal, slurm, options);   // each attempt: one sbatch job
//
// An attempt becomes `sbatch --parsable` of a small /bin/sh script that exports the spec's env,
// runs the command and writes its exit status beside the stdout log (`<stdout>.exit`), so the
// outcome of a job survives Slurm forgetting it. Needs map to options as docs/backends.md
// tabulates: cpu -> --cpus-per-task (rounded up, at least 1), memory -> --mem (MiB, rounded up),
// gpu -> --gres=gpu:N, features -> --constraint (all of them), priority -> --nice, every other
// pool -> --licenses=name:N. Jobs are requeued by Slurm after a node failure (--requeue): the
// attempt goes on under the same job id and counts as one attempt.
// The timeout is enforced here, from the job's start (queue time does not count), because Slurm
// rounds --time up to whole minutes and checks it only every ~30 s; --time is still given, one
// minute above, as a backstop. A stop request or the timeout runs `scancel` (Slurm sends
// SIGTERM, then SIGKILL after its KillWait).
// Threads: `submitters` threads run sbatch (start() only queues), and one poller thread follows
// every job with one `squeue` per round (`-j` with their ids, or `--me` past ids_per_call),
// every poll_min after a change, backing off to poll_max while nothing changes — no thread per
// job. Slurm's tools are found on PATH (or `bin_dir`), so SLURM_CONF and the site's
// configuration apply as for the user's own sbatch.
// Thread-safety: as Backend. Supported: Slurm 20.11 and later (the squeue --Format fields and
// --me used).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "taskloom/backends/backend.hpp"

namespace taskloom::backends {

struct SlurmOptions {
  std::string partition;  ///< --partition; empty: the cluster's default
  std::string account;    ///< --account; empty: the user's default
  std::string qos;        ///< --qos; empty: the default
  /// Put in every job's --comment ("taskloom <run key>"), so `squeue -O Comment` and reattach
  /// can tell a run's jobs apart.
  std::string comment;
  std::vector<std::string> extra_args;  ///< given to every sbatch, before the script
  std::filesystem::path bin_dir;        ///< where sbatch, squeue, scancel are; empty: PATH
  std::size_t submitters = 4;           ///< sbatch processes at once
  /// Job ids per squeue or scancel command line. When more jobs are followed than this, each
  /// round is one `squeue --me` of all the user's jobs instead of a call per this many.
  std::size_t ids_per_call = 500;
  std::chrono::milliseconds poll_min{200};
  std::chrono::milliseconds poll_max{1000};
  /// A job squeue no longer lists, and that left no exit status, is reported vanished after
  /// this many rounds (a job just submitted may not be listed at once).
  int vanish_rounds = 3;
};

class SlurmBackend final : public Backend {
 public:
  explicit SlurmBackend(SlurmOptions options = {});
  /// Asks the cluster (one `sinfo`) whether it answers and has `options.partition`, so a run is
  /// refused before anything is recorded: InvalidStateError naming Slurm's complaint when it
  /// does not answer, InvalidArgumentError listing the partitions when it lacks that one.
  static void check_cluster(const SlurmOptions& options);
  ~SlurmBackend() override;
  SlurmBackend(const SlurmBackend&) = delete;
  SlurmBackend& operator=(const SlurmBackend&) = delete;

  std::string_view name() const noexcept override { return "slurm"; }
  /// Queues the submission. `started` is called once sbatch has given the job id (nodes empty:
  /// the job may still be pending); the end's AttemptResult::nodes says where it ran.
  /// A need the mapping cannot express throws InvalidArgumentError naming it and the fix.
  void start(AttemptSpec spec, std::stop_token stop, AttemptCallbacks callbacks) override;
  /// Follows the job `where.job_id` again (a resumed run): its end is reported as for start();
  /// one that ended meanwhile with its real outcome (from Slurm, or from its exit-status file
  /// once Slurm forgot it). Returns false only when `where` names no Slurm job.
  bool reattach(const AttemptSpec& spec, const Placement& where, std::stop_token stop,
                AttemptCallbacks callbacks) override;
  /// scancel of every job still followed, at once.
  void kill_all() override;
  std::size_t running() const override;
  /// Empty: Slurm bounds its jobs itself.
  Resources capacity() const override { return {}; }

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace taskloom::backends
