// apps/taskloom/commands.hpp — the subcommands of the `taskloom` command.
//
// Each subcommand lives in its own <name>_command.cpp and adds itself to the application
// through one register function, so adding a command never edits main.cpp's logic beyond one
// line. A command's callback returns through CLI11 (throw CLI::RuntimeError(code) to set a
// non-zero exit status) and reports bad input as taskloom::Error, which main() prints.
#pragma once

#include <CLI/CLI.hpp>

namespace taskloom::cli {

/// `taskloom simulate`: replay a workload trace on a cluster under scheduling policies.
void register_simulate_command(CLI::App& app);

/// `taskloom run FILE`: run a YAML workflow, recorded in SQLite (run_command.cpp).
void register_run_command(CLI::App& app);
/// `taskloom resume RUN`: run the tasks of a recorded run that had not succeeded.
void register_resume_command(CLI::App& app);
/// `taskloom plan FILE`: check a workflow, print its waves, critical path and graph.
void register_plan_command(CLI::App& app);
/// `taskloom status [RUN]`: a recorded run task by task (status_command.cpp).
void register_status_command(CLI::App& app);
/// `taskloom runs`: the recorded runs.
void register_runs_command(CLI::App& app);
/// `taskloom logs RUN TASK`: the log of a task's attempt.
void register_logs_command(CLI::App& app);
/// `taskloom cancel RUN`: ask a run's runner, in another process, to cancel it.
void register_cancel_command(CLI::App& app);

}  // namespace taskloom::cli
