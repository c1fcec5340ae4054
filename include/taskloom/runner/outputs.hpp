// taskloom/runner/outputs.hpp — make's rule, for tasks that declare the files they write.
//
//   runner::Freshness f = runner::freshness(task, upstream);   // upstream: the tasks it runs after
//   if (f.up_to_date) { /* recorded as succeeded with f.reason; not run */ }
//
// A task is up to date when it declares outputs, each exists (a glob: matches a file), and the
// oldest of them is not older than any input (each must exist) or any existing output of a task
// it runs after. Times are file modification times, nanoseconds; paths are relative to the
// task's cwd. The runner decides when the task would start, so an upstream task that ran in
// this run has just made its outputs newer and the task runs too. Modification times, not
// content hashes: a stat per file whatever its size (render outputs are gigabytes), as make and
// ninja do; a touched but unchanged input costs a re-run, never a missed change.
// Partial results: the runner removes what a failed, timed-out or cancelled attempt wrote
// (remove_partial_outputs, make's .DELETE_ON_ERROR), and never trusts the outputs of a task
// whose last recorded attempt did not succeed (Journal::tasks_without_success: a runner killed
// mid-attempt leaves files that look new).
// Thread-safety: the functions only read (or remove) files; call them from any thread.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "taskloom/workflow/workflow.hpp"

namespace taskloom::runner {

struct Freshness {
  bool up_to_date = false;
  /// "up to date: its 2 outputs are newer than its inputs", or why it must run: "output
  /// out/f-1.exr does not exist", "input shot.blend is newer than output out/f-1.exr".
  std::string reason;
};

/// Whether `t` need not run (see the file comment); `upstream` are the tasks it runs after.
/// A task without outputs always runs.
Freshness freshness(const workflow::Task& t, std::span<const workflow::Task* const> upstream);

/// Removes the outputs of `t` modified at or after `since` (files only); returns them.
std::vector<std::filesystem::path> remove_partial_outputs(const workflow::Task& t,
                                                          std::filesystem::file_time_type since);

}  // namespace taskloom::runner
