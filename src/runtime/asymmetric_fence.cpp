#include "runtime/detail/asymmetric_fence.hpp"

#if defined(__linux__) && __has_include(<linux/membarrier.h>)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#define TASKLOOM_HAS_MEMBARRIER 1
#endif

namespace taskloom::runtime::detail {

namespace {

#if defined(TASKLOOM_HAS_MEMBARRIER)
long membarrier(int command) noexcept {
  return syscall(SYS_membarrier, command, 0, 0);
}

bool register_expedited() noexcept {
  const long supported = membarrier(MEMBARRIER_CMD_QUERY);
  return supported > 0 && (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
         membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}
#else
bool register_expedited() noexcept {
  return false;
}
#endif

}  // namespace

AsymmetricFence::AsymmetricFence(bool expedited) {
  static const bool registered = register_expedited();  // once per process
  expedited_ = expedited && registered;
}

void AsymmetricFence::heavy() const noexcept {
  full_fence();  // this thread's side; membarrier adds every other thread's
#if defined(TASKLOOM_HAS_MEMBARRIER)
  if (expedited_) membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);  // registered: cannot fail
#endif
}

}  // namespace taskloom::runtime::detail
