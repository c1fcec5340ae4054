// Internal: a store-then-load handshake between a side that runs it millions of times and a
// side that runs it rarely, with the cost on the rare side.
#pragma once

#include <atomic>

namespace taskloom::runtime::detail {

/// std::atomic_thread_fence(seq_cst). GCC's ThreadSanitizer does not model fences and warns on
/// them (-Wtsan); the order they give is real all the same, and TSan still checks the
/// acquire/release pairs around them.
inline void full_fence() noexcept {
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#pragma GCC diagnostic pop
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

/// With `f` an AsymmetricFence and x, y atomics initially 0:
///   frequent side:  x.store(1); f.light(); r1 = y.load();
///   rare side:      y.store(1); f.heavy(); r2 = x.load();
/// never ends with r1 == 0 and r2 == 0 (any memory order). On Linux, heavy() makes every thread
/// of the process execute a full barrier (membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED: a few
/// microseconds, an interrupt to each CPU running one), so light() is only a compiler barrier.
/// Elsewhere, or when the kernel refuses, both are a full fence.
class AsymmetricFence {
 public:
  /// Registers the process for expedited membarrier on first use; `expedited` false forces
  /// the full-fence fallback.
  explicit AsymmetricFence(bool expedited = true);

  void light() const noexcept {
    if (!expedited_) full_fence();
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  void heavy() const noexcept;
  /// True when light() is a compiler barrier only.
  bool expedited() const noexcept { return expedited_; }

 private:
  bool expedited_;
};

}  // namespace taskloom::runtime::detail
