// White-box tests of the runtime's asymmetric fence (src/runtime/detail/asymmetric_fence.hpp):
// the store-buffering litmus test, run many times with both sides started together, never
// ends with both loads missing the other side's store.
#include "runtime/detail/asymmetric_fence.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "runtime/detail/ready_queue.hpp"  // cpu_relax

namespace taskloom::runtime::detail {
namespace {

/// Runs `rounds` rounds of: light side `x = 1; light(); r1 = y` on a second thread, heavy side
/// `y = 1; heavy(); r2 = x` on this one, which releases the other and waits a varying few
/// loop iterations first so that the stores and loads of the two sides meet at every offset;
/// returns the rounds where r1 == 0 and r2 == 0. Without the fences (a compiler barrier on
/// both sides) this machine shows r1 == r2 == 0 in about 1% of rounds; with a full fence on
/// the heavy side only, in about 0.05%.
int rounds_where_both_missed(const AsymmetricFence& fence, int rounds) {
  // Each on its own cache line: a shared line would order the two sides by itself.
  struct alignas(64) Flag {
    std::atomic<int> value{0};
  };
  Flag x_flag, y_flag, start_flag, r1_flag;
  std::atomic<int>& x = x_flag.value;
  std::atomic<int>& y = y_flag.value;
  std::atomic<int>& start = start_flag.value;  // the round the light side may run
  std::atomic<int>& r1 = r1_flag.value;        // -1 until the light side has run the round
  r1.store(-1);
  std::thread light_side([&] {
    for (int round = 1; round <= rounds; ++round) {
      while (start.load(std::memory_order_acquire) != round) cpu_relax();
      x.store(1, std::memory_order_relaxed);
      fence.light();
      r1.store(y.load(std::memory_order_relaxed), std::memory_order_release);
    }
  });
  int both_missed = 0;
  for (int round = 1; round <= rounds; ++round) {
    start.store(round, std::memory_order_release);
    for (int i = (round * 7) % 128; i > 0; --i) std::atomic_signal_fence(std::memory_order_seq_cst);
    y.store(1, std::memory_order_relaxed);
    fence.heavy();
    const int r2 = x.load(std::memory_order_relaxed);
    int seen = -1;
    while ((seen = r1.load(std::memory_order_acquire)) < 0) cpu_relax();
    if (seen == 0 && r2 == 0) ++both_missed;
    x.store(0, std::memory_order_relaxed);
    y.store(0, std::memory_order_relaxed);
    r1.store(-1, std::memory_order_relaxed);
  }
  light_side.join();
  return both_missed;
}

TEST(AsymmetricFence, NeverBothSidesMissTheOthersStore) {
  const AsymmetricFence fence;
  EXPECT_EQ(rounds_where_both_missed(fence, 20'000), 0)
      << (fence.expedited() ? "membarrier" : "full fences");
}

TEST(AsymmetricFence, TheFullFenceFallbackKeepsTheSameGuarantee) {
  const AsymmetricFence fence(/*expedited=*/false);
  EXPECT_FALSE(fence.expedited());
  EXPECT_EQ(rounds_where_both_missed(fence, 20'000), 0);
}

#if defined(__linux__)
TEST(AsymmetricFence, LinuxUsesMembarrier) {
  // Every kernel since 4.14 has it; a seccomp filter could refuse it, and the runtime would
  // still be correct, only slower: say so rather than pass silently.
  EXPECT_TRUE(AsymmetricFence().expedited())
      << "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) is unavailable: every task body pays "
         "two full fences";
}
#endif

}  // namespace
}  // namespace taskloom::runtime::detail
