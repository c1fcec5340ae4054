// The `taskloom` command: see `taskloom help` and docs/cli.md.
//
// Usage errors follow the conventions of git and make: `taskloom` alone prints the usage, an
// unknown command or option is named with the closest valid one, and every usage error exits
// with status 2 (as bad input does); help and --version exit 0.
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/core/text.hpp"

#include "commands.hpp"

namespace {

constexpr int kUsageError = 2;

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

/// "--workers", "-q", ... of `app` (its own options, not its parent's).
std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
    for (const std::string& s : o->get_snames()) names.push_back("-" + s);
  }
  return names;
}

/// The innermost command being parsed when parsing failed (the app itself if none).
const CLI::App& command_of(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) return *sub;
  return app;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string close = taskloom::closest_match(word, candidates);
  return close.empty() ? std::string() : " — did you mean '" + close + "'?";
}

/// A bash completion script for `app`, generated from its commands and options (zsh loads it
/// through bashcompinit): commands after `taskloom`, options after `-`, file names otherwise.
std::string completion_script(const CLI::App& app, bool zsh) {
  std::string cases;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    cases += "    " + sub->get_name() + ") opts=\"" + taskloom::join(option_names(*sub), " ") +
             "\" ;;\n";
  }
  // bashcompinit's `complete` needs compinit's compdef: load it unless the rc file did.
  std::string out =
      zsh ? "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit -i; }\n"
            "autoload -U +X bashcompinit && bashcompinit\n"
          : "";
  out +=
      "# taskloom completion: eval \"$(taskloom completion " + std::string(zsh ? "zsh" : "bash") +
      ")\" in your shell's rc file\n_taskloom() {\n  local cur=${COMP_WORDS[COMP_CWORD]} opts\n"
      "  if [[ $COMP_CWORD -eq 1 ]]; then\n    COMPREPLY=($(compgen -W \"" +
      taskloom::join(command_names(app), " ") +
      " --help --version\" -- \"$cur\"))\n    return\n  fi\n  case ${COMP_WORDS[1]} in\n" + cases +
      "    *) opts=\"\" ;;\n  esac\n  if [[ $cur == -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$opts --help\" -- \"$cur\"))\n  else\n"
      "    COMPREPLY=($(compgen -f -- \"$cur\"))\n  fi\n}\ncomplete -o filenames -F _taskloom "
      "taskloom\n";
  return out;
}

int usage_error(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App& cmd = command_of(app);
  const std::string who = &cmd == &app ? "taskloom" : "taskloom " + cmd.get_name();
  const std::string help = &cmd == &app ? "taskloom help" : "taskloom help " + cmd.get_name();
  std::string message = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    // CLI11 says "The following arguments were not expected: ..."; name the first one.
    const std::vector<std::string> extras = cmd.remaining();
    const std::string first = extras.empty() ? std::string() : extras.front();
    if (!first.empty() && first[0] == '-') {
      message = "unknown option '" + first + "'" +
                did_you_mean(first.substr(0, first.find('=')), option_names(cmd));
    } else if (!first.empty()) {
      message = "unexpected argument '" + first + "'";
    }
  }
  std::cerr << who << ": " << message << " (" << help << " shows the usage)\n";
  return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"taskloom: run task graphs, workflows and scheduling simulations", "taskloom"};
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
  std::string shell;
  CLI::App* completion = app.add_subcommand("completion",
                                            "Print a shell completion script: eval \"$(taskloom "
                                            "completion bash)\" (or zsh) in your shell's rc file");
  completion->add_option("shell", shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  std::string help_topic;
  CLI::App* help = app.add_subcommand("help", "Show the usage of taskloom, or of one command");
  help->add_option("command", help_topic, "the command to explain");
  const std::vector<std::string> commands = command_names(app);

  if (argc < 2) {
    std::cerr << app.help();
    return kUsageError;
  }
  // Before CLI11, whose word for both would be "A subcommand is required".
  const std::string first = argv[1];
  if (first[0] == '-') {
    const std::vector<std::string> top = option_names(app);
    if (std::find(top.begin(), top.end(), first) == top.end()) {
      std::cerr << "taskloom: unknown option '" << first << "'" << did_you_mean(first, top)
                << " (taskloom help shows the usage)\n";
      return kUsageError;
    }
  } else if (std::find(commands.begin(), commands.end(), first) == commands.end()) {
    std::cerr << "taskloom: unknown command '" << first << "'" << did_you_mean(first, commands)
              << " (taskloom help lists the commands)\n";
    return kUsageError;
  }
  try {
    app.parse(argc, argv);
    if (completion->parsed()) std::cout << completion_script(app, shell == "zsh");
    if (help->parsed()) {
      if (help_topic.empty()) {
        std::cout << app.help();
      } else if (std::find(commands.begin(), commands.end(), help_topic) != commands.end()) {
        std::cout << app.get_subcommand(help_topic)->help("taskloom");
      } else {
        std::cerr << "taskloom help: unknown command '" << help_topic << "'"
                  << did_you_mean(help_topic, commands) << '\n';
        return kUsageError;
      }
    }
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command's own exit status (commands.hpp)
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e);
  } catch (const taskloom::Error& e) {
    std::cerr << "taskloom: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "taskloom: internal error: " << e.what() << '\n';
    return 70;  // EX_SOFTWARE
  }
  return 0;
}
