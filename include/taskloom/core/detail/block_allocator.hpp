// Internal (public only because graph::Digraph stores its arrays with it): an allocator for
// arrays sized by a graph, backed by the block cache described in taskloom/core/memory.hpp.
#pragma once

#include <cstddef>
#include <vector>

namespace taskloom::detail {

/// At least `bytes`, aligned as ::operator new aligns. Blocks of kCachedBlock bytes or more are
/// rounded up to a power of two, aligned to 64 bytes (a cache line), and may come from the
/// cache. Throws std::bad_alloc.
void* allocate_block(std::size_t bytes);
/// Gives back a block from allocate_block(bytes) (the same `bytes`).
void deallocate_block(void* block, std::size_t bytes) noexcept;

inline constexpr std::size_t kCachedBlock = std::size_t{64} << 10;

template <class T>
struct BlockAllocator {
  using value_type = T;
  BlockAllocator() = default;
  template <class U>
  BlockAllocator(const BlockAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(allocate_block(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { deallocate_block(p, n * sizeof(T)); }
  friend bool operator==(BlockAllocator, BlockAllocator) noexcept { return true; }
};

template <class T>
using BlockVector = std::vector<T, BlockAllocator<T>>;

}  // namespace taskloom::detail
