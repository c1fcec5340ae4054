// taskloom/backends/local.hpp — the Backend that runs attempts as processes on this machine.
//
//   backends::LocalBackend local;
//   local.start(spec, stop, {.ended = [](backends::AttemptResult r) { ... }});
//
// Each attempt runs in a new process group whose id is its pid, stdin from /dev/null, stdout
// and stderr in the spec's log files, no other inherited descriptor, default signal
// dispositions and an empty mask. A command without shell syntax (only words of letters,
// digits and `_./,:+@%=-` separated by blanks) is run directly with PATH lookup, as make does,
// saving a shell per task; anything else runs as `/bin/sh -c <command>`. start() spawns on the
// calling thread (posix_spawn, a fraction of a millisecond) and calls `started` there; one
// event thread then waits for every process at once (a pidfd each, epoll) and calls `ended`.
// A stop request or the timeout sends SIGTERM (and SIGCONT) to the group, SIGKILL after
// kill_grace; when the leader has ended the rest of its group is SIGKILLed, so an attempt
// leaves no background process behind (one that leaves the group with setsid() escapes that).
// Thread-safety: as Backend. It needs that nobody else reaps its children (SIGCHLD not
// ignored, no wait(-1) elsewhere) and reads `environ`, so no thread may call setenv().
#pragma once

#include <memory>

#include "taskloom/backends/backend.hpp"

namespace taskloom::backends {

class LocalBackend final : public Backend {
 public:
  LocalBackend();
  ~LocalBackend() override;
  LocalBackend(const LocalBackend&) = delete;
  LocalBackend& operator=(const LocalBackend&) = delete;

  std::string_view name() const noexcept override { return "local"; }
  void start(AttemptSpec spec, std::stop_token stop, AttemptCallbacks callbacks) override;
  void kill_all() override;
  std::size_t running() const override;
  /// host_capacity().
  Resources capacity() const override;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

/// This machine's cores ("cpu": the CPUs this process may run on) and memory ("memory": bytes
/// of physical memory).
Resources host_capacity();

/// The argv of `command` when it has no shell syntax (see above), else empty.
std::vector<std::string> split_plain_command(std::string_view command);

}  // namespace taskloom::backends
