// The `taskloom` command: see `taskloom --help` and docs/.
#include <exception>
#include <iostream>

#include "taskloom/core/error.hpp"

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"taskloom: run task graphs, workflows and scheduling simulations"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "taskloom 0.1.0");
  taskloom::cli::register_run_command(app);
  taskloom::cli::register_plan_command(app);
  taskloom::cli::register_status_command(app);
  taskloom::cli::register_runs_command(app);
  taskloom::cli::register_logs_command(app);
  taskloom::cli::register_cancel_command(app);
  taskloom::cli::register_resume_command(app);
  taskloom::cli::register_simulate_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const taskloom::Error& e) {
    std::cerr << "taskloom: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "taskloom: internal error: " << e.what() << '\n';
    return 70;  // EX_SOFTWARE
  }
  return 0;
}
