#include <cerrno>
#include <climits>

#include "runtime/detail/ready_queue.hpp"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#else
#include <thread>
#endif

namespace taskloom::runtime::detail {

#if defined(__linux__)

namespace {
std::uint32_t* word(std::atomic<std::uint32_t>& a) noexcept {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                std::atomic<std::uint32_t>::is_always_lock_free);
  return reinterpret_cast<std::uint32_t*>(&a);
}
}  // namespace

bool EventCount::commit_wait(std::uint32_t epoch, std::chrono::nanoseconds timeout) noexcept {
  bool notified = true;
  if (timeout.count() > 0) {
    timespec ts{static_cast<time_t>(timeout.count() / 1'000'000'000),
                static_cast<long>(timeout.count() % 1'000'000'000)};
    if (syscall(SYS_futex, word(epoch_), FUTEX_WAIT_PRIVATE, epoch, &ts, nullptr, 0) != 0 &&
        errno == ETIMEDOUT) {
      notified = false;
    }
  } else {
    syscall(SYS_futex, word(epoch_), FUTEX_WAIT_PRIVATE, epoch, nullptr, nullptr, 0);
  }
  waiters_.fetch_sub(1, std::memory_order_relaxed);
  return notified;
}

void EventCount::wake(int count) noexcept {
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  syscall(SYS_futex, word(epoch_), FUTEX_WAKE_PRIVATE, count < 0 ? INT_MAX : count, nullptr,
          nullptr, 0);
}

#else  // portable fallback: std::atomic::wait, and a timed wait that polls

bool EventCount::commit_wait(std::uint32_t epoch, std::chrono::nanoseconds timeout) noexcept {
  bool notified = true;
  if (timeout.count() > 0) {
    std::this_thread::sleep_for(timeout);
    notified = epoch_.load(std::memory_order_acquire) != epoch;
  } else {
    epoch_.wait(epoch, std::memory_order_seq_cst);
  }
  waiters_.fetch_sub(1, std::memory_order_relaxed);
  return notified;
}

void EventCount::wake(int count) noexcept {
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  if (count == 1) {
    epoch_.notify_one();
  } else {
    epoch_.notify_all();
  }
}

#endif

}  // namespace taskloom::runtime::detail
