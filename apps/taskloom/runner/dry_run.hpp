// apps/taskloom/runner/dry_run.hpp — `taskloom run --dry-run`: what a run would do, doing nothing.
#pragma once

#include <functional>
#include <ostream>

#include "taskloom/workflow/workflow.hpp"

namespace taskloom::cli {

/// Every task of `wf` in the order a run with one worker would start them (the runtime's rule:
/// among ready tasks the highest priority, then the longest remaining path, then file order),
/// each with its command as it would run, its cwd, the environment it adds and its needs, and
/// for a task with outputs whether it is up to date (runner/outputs.hpp; a task after one that
/// would run would run too). `forced`: tasks run whatever their outputs (run --force).
void print_dry_run(const workflow::Workflow& wf, std::ostream& out,
                   const std::function<bool(const workflow::Task&)>& forced);

}  // namespace taskloom::cli
