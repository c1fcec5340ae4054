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

}  // namespace taskloom::cli
