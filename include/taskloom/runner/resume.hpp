// taskloom/runner/resume.hpp — taking over a run whose runner stopped (`taskloom resume`).
//
//   runner::check_resumable(db, run, wf, "slurm", force);    // throws; records nothing
//   store::Lease lease = db.acquire_lease(run);
//   runner::Takeover t = runner::take_over(db, run, "slurm");  // leftovers killed, plan made
//   runner::WorkflowRun(wf, *runner::store_journal(db, lease), slurm, options).finish();
//
// Thread-safety: plain functions over a RunStore; take_over() must be called holding the run's
// lease, before any task of the run starts.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "taskloom/store/run_store.hpp"
#include "taskloom/workflow/workflow.hpp"

namespace taskloom::runner {

/// The backend the run's last attempt used ("local", "slurm"); empty when none began.
std::string recorded_backend(const store::RunStore& db, store::RunId run);

/// Refuses, with InvalidStateError naming the fix, to resume `run` with `wf` (the workflow file as
/// it is now) on `backend`: when `wf` changed since the run began (its fingerprint) and `force`
/// is false, and when jobs of another cluster backend may still be in flight (nothing would
/// follow or cancel them, and their tasks would run twice).
void check_resumable(const store::RunStore& db, store::RunId run, const workflow::Workflow& wf,
                     std::string_view backend, bool force);

struct Takeover {
  store::ResumePlan plan;
  std::size_t killed = 0;  ///< processes that local attempts of the dead runner left, killed
};

/// Kills what the local attempts of the run's dead runner left running (kill_leftover_processes),
/// then prepare_resume(): every unsucceeded task to run again, the open attempts of `backend` (a
/// cluster's jobs) kept open to be followed again.
Takeover take_over(store::RunStore& db, store::RunId run, std::string_view backend);

}  // namespace taskloom::runner
