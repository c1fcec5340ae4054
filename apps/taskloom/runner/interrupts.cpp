#include "runner/interrupts.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "taskloom/core/error.hpp"

namespace taskloom::cli {
namespace {

std::atomic<int> g_count{0};
int g_write_fd = -1;  // set before the handlers are installed, cleared after they are removed

static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_signal(int) {
  const int saved = errno;
  g_count.fetch_add(1, std::memory_order_relaxed);
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(g_write_fd, &byte, 1);
  errno = saved;
}

}  // namespace

Interrupts::Interrupts() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw InvalidStateError(std::string("cannot create the signal pipe: ") + std::strerror(errno));
  }
  read_fd_ = fds[0];
  g_write_fd = fds[1];
  g_count.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, &old_int_);
  ::sigaction(SIGTERM, &sa, &old_term_);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, &old_pipe_);
}

Interrupts::~Interrupts() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
  ::sigaction(SIGPIPE, &old_pipe_, nullptr);
  ::close(g_write_fd);
  g_write_fd = -1;
  ::close(read_fd_);
}

int Interrupts::wait(std::chrono::milliseconds timeout) {
  pollfd p{read_fd_, POLLIN, 0};
  ::poll(&p, 1, static_cast<int>(timeout.count()));
  char buf[64];
  while (::read(read_fd_, buf, sizeof buf) > 0) {
  }
  const int now = g_count.load(std::memory_order_relaxed);
  const int fresh = now - seen_;
  seen_ = now;
  return fresh;
}

int Interrupts::count() const noexcept {
  return g_count.load(std::memory_order_relaxed);
}

}  // namespace taskloom::cli
