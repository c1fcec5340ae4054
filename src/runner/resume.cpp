#include "taskloom/runner/resume.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runner/leftovers.hpp"

namespace taskloom::runner {

std::string recorded_backend(const store::RunStore& db, store::RunId run) {
  const std::vector<store::AttemptRecord> attempts = db.attempts(run);
  return attempts.empty() ? std::string() : attempts.back().start.backend;
}

void check_resumable(const store::RunStore& db, store::RunId run, const workflow::Workflow& wf,
                     std::string_view backend, bool force) {
  const std::optional<store::RunRecord> rec = db.find_run(run);
  if (!rec) throw InvalidArgumentError("there is no run " + std::to_string(run));
  std::size_t open = 0;
  std::string other;
  for (const store::AttemptRecord& r : db.attempts(run)) {
    if (!r.ended && r.start.backend != "local" && r.start.backend != backend) {
      ++open;
      other = r.start.backend;
    }
  }
  if (open > 0) {
    throw InvalidStateError("run " + std::to_string(run) + " has " + std::to_string(open) + " " +
                            other + " job" + (open == 1 ? "" : "s") +
                            " that may still be in flight — resume it with --backend " + other +
                            " to follow them, or cancel them there first (`taskloom status " +
                            std::to_string(run) + " --json` lists their job ids)");
  }
  if (wf.fingerprint != rec->fingerprint && !force) {
    throw InvalidStateError("the workflow " + rec->workflow_path + " changed since run " +
                            std::to_string(run) + " started (fingerprint " + rec->fingerprint +
                            ", now " + wf.fingerprint +
                            ") — resume with --force to run its unfinished tasks as the file "
                            "now defines them, or start a new run with `taskloom run`");
  }
}

Takeover take_over(store::RunStore& db, store::RunId run, std::string_view backend) {
  std::vector<store::AttemptRecord> attempts = db.attempts(run);
  // Commands of a runner killed with -9 live on in their own process groups: stop them first.
  // Jobs of a cluster backend live on too, but there they are followed again, not killed.
  std::erase_if(attempts, [](const store::AttemptRecord& r) { return r.start.backend != "local"; });
  Takeover t;
  t.killed = kill_leftover_processes(attempts, backend == "local" ? run_key(db.file(), run) : "");
  t.plan = db.prepare_resume(run, store::ResumeScope::kAllUnsucceeded, backend);
  return t;
}

}  // namespace taskloom::runner
