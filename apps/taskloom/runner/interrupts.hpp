// apps/taskloom/runner/interrupts.hpp — SIGINT and SIGTERM turned into readable events.
//
//   Interrupts interrupts;                    // installs the handlers; restores them when
//   destroyed while (!done) {
//     if (interrupts.wait(std::chrono::milliseconds(50)) > 0) { ... }   // new signals arrived
//     interrupts.count();                     // signals received so far
//   }
//
// The handler only does what is async-signal-safe: it bumps a lock-free atomic counter and
// writes one byte to a non-blocking self-pipe (errno is saved and restored). Everything else
// happens on the thread that calls wait(). One Interrupts object may exist at a time. It also
// ignores SIGPIPE meanwhile, so a closed output pipe (`taskloom run f | head`) never kills a run
// (commands still start with default dispositions: backends::run_command resets them).
#pragma once

#include <chrono>
#include <csignal>

namespace taskloom::cli {

class Interrupts {
 public:
  Interrupts();
  ~Interrupts();
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;

  /// Waits up to `timeout` for a signal; returns how many arrived since the previous call.
  int wait(std::chrono::milliseconds timeout);
  /// Signals received since construction.
  int count() const noexcept;

 private:
  int read_fd_ = -1;
  int seen_ = 0;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
  struct sigaction old_pipe_ {};
};

}  // namespace taskloom::cli
