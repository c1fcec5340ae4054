// taskloom/backends/subprocess.hpp — run one shell command as a local subprocess and block the
// calling thread until it has ended: own process group, log files, timeout, cancellation.
//
//   backends::CommandSpec spec{.command = "blender -b shot.blend -f 42",
//                              .env = {{"FRAME", "42"}},
//                              .cwd = "/shots/sh010",
//                              .stdout_path = "logs/render-42/attempt-1.out",
//                              .stderr_path = "logs/render-42/attempt-1.err",
//                              .timeout = std::chrono::minutes(10)};
//   backends::CommandOutcome o = backends::run_command(spec, ctx.stop_token());
//   if (!o.succeeded()) fail(o.message);  // "exit status 2", "killed by signal SIGSEGV (11)"...
//
// The command runs as `<shell> -c <command>` with stdin from /dev/null, stdout and stderr in the
// log files, no other inherited file descriptor, default signal dispositions, an empty signal
// mask, and in a new process group whose id is its pid. A timeout or a stop request sends
// SIGTERM to the group, lets the whole group exit within `kill_grace`, then sends SIGKILL. When
// the leader (the shell) has ended in any way, the rest of its group is SIGKILLed, so a task
// leaves no background process behind; one that leaves the group (setsid(), setpgid()) escapes
// that cleanup, as with every runner based on process groups.
// Thread-safety: run_command may be called from many threads at once; it waits on a pidfd and an
// eventfd with poll(), without busy polling. It needs that nobody else reaps its child: SIGCHLD
// must not be ignored and no thread may call wait()/waitpid(-1) (else the outcome is kLost); it
// reads `environ`, so no thread may call setenv() meanwhile.
// Errors: misuse (empty command, NUL bytes, an env name with '=', negative durations) throws
// InvalidArgumentError; everything else, including failing to start, is an outcome value.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskloom/core/clock.hpp"

namespace taskloom::backends {

/// What to run and how. Relative log paths are relative to the caller's working directory, not
/// to `cwd`.
struct CommandSpec {
  std::string command;  ///< shell command line, run as `<shell> -c <command>`; must not be empty
  /// Added to the inherited environment, overriding variables of the same name (last one wins).
  std::vector<std::pair<std::string, std::string>> env;
  bool inherit_env = true;            ///< false: the child sees only `env`
  std::filesystem::path cwd;          ///< working directory of the command; empty: the caller's
  std::filesystem::path stdout_path;  ///< created with its parent directories, truncated;
  std::filesystem::path stderr_path;  ///< may be the same file; empty: /dev/null
  Duration timeout{};                 ///< zero: none
  Duration kill_grace = std::chrono::seconds(5);  ///< between SIGTERM and SIGKILL
  std::filesystem::path shell = "/bin/sh";
};

struct CommandOutcome {
  enum class End {
    kExited,         ///< the shell exited by itself; exit_code says how
    kSignaled,       ///< killed by a signal that run_command did not send
    kTimedOut,       ///< ran past `timeout` and was terminated
    kCancelled,      ///< the stop token fired (before start too: then pid is 0)
    kFailedToStart,  ///< nothing ran: bad cwd, log file, shell...; message says why
    kLost,           ///< someone else reaped the child (see Thread-safety above)
  };
  End end = End::kFailedToStart;
  int exit_code = -1;     ///< when the shell exited, else -1
  int signal = 0;         ///< the signal that killed the shell, else 0
  Duration wall{};        ///< from start to reaping the shell
  Duration user_cpu{};    ///< of the shell and the descendants it waited for
  Duration system_cpu{};  ///< likewise
  long peak_rss_kb = 0;   ///< largest resident set of the shell or one it waited for (kB)
  pid_t pid = 0;          ///< also the process group id; 0 when nothing started
  /// One line for people: "exit status 3", "killed by signal SIGSEGV (11)", "timed out after 5s:
  /// sent SIGTERM to its process group, SIGKILL after 2s grace", "cannot open log file
  /// /x/y.log: Permission denied".
  std::string message;

  /// Exited with status 0.
  bool succeeded() const noexcept { return end == End::kExited && exit_code == 0; }
};

/// "exited", "signaled", "timed_out", "cancelled", "failed_to_start", "lost".
std::string_view to_string(CommandOutcome::End end) noexcept;

/// Runs `spec` and returns when its process has ended and been reaped. `stop` cancels it (see
/// above). `on_started(pid)` is called on this thread once the process exists, before waiting;
/// a caller may keep the pid to force an end early with kill(-pid, SIGKILL). If on_started
/// throws, the group is SIGKILLed and reaped and the exception propagates.
CommandOutcome run_command(const CommandSpec& spec, std::stop_token stop = {},
                           const std::function<void(pid_t)>& on_started = {});

}  // namespace taskloom::backends
