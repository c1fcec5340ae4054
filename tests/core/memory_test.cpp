#include "taskloom/core/memory.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "taskloom/core/detail/block_allocator.hpp"

namespace taskloom {
namespace {

using detail::allocate_block;
using detail::deallocate_block;
using detail::kCachedBlock;

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(BlockCache, SmallBlocksAreNeitherCountedNorCached) {
  release_cached_memory();
  const CachedMemory before = cached_memory();
  void* p = allocate_block(100);
  std::memset(p, 1, 100);
  EXPECT_EQ(cached_memory().in_use_bytes, before.in_use_bytes);
  deallocate_block(p, 100);
  EXPECT_EQ(cached_memory().cached_bytes, 0u);
}

TEST(BlockCache, LargeBlocksAreAlignedRoundedUpAndReused) {
  release_cached_memory();
  const std::size_t in_use = cached_memory().in_use_bytes;
  const std::size_t bytes = kMiB + 1;  // rounds up to 2 MiB
  void* p = allocate_block(bytes);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
  std::memset(p, 1, bytes);
  EXPECT_EQ(cached_memory().in_use_bytes, in_use + 2 * kMiB);
  deallocate_block(p, bytes);
  EXPECT_EQ(cached_memory().in_use_bytes, in_use);
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(cached_memory().cached_bytes, 0u) << "AddressSanitizer builds do not cache";
#else
  EXPECT_EQ(cached_memory().cached_bytes, 2 * kMiB);
  // Any request of the same size class gets the cached block back.
  void* q = allocate_block(2 * kMiB - 5);
  EXPECT_EQ(q, p);
  EXPECT_EQ(cached_memory().cached_bytes, 0u);
  deallocate_block(q, 2 * kMiB - 5);
#endif
  const std::size_t cached = cached_memory().cached_bytes;
  EXPECT_EQ(release_cached_memory(), cached);
  EXPECT_EQ(cached_memory().cached_bytes, 0u);
}

TEST(BlockCache, KeepsNoMoreThanTheHighWaterMarkOfBlocksInUse) {
  release_cached_memory();  // the mark drops to what is in use now: nothing, in this test
  ASSERT_EQ(cached_memory().in_use_bytes, 0u);
  // Two blocks in use at once set the mark to two blocks; both are kept when released.
  void* a = allocate_block(kCachedBlock);
  void* b = allocate_block(kCachedBlock);
  deallocate_block(a, kCachedBlock);
  deallocate_block(b, kCachedBlock);
  // A block of four alone raises the mark to four; keeping it too would make six: it is freed.
  void* c = allocate_block(4 * kCachedBlock);
  deallocate_block(c, 4 * kCachedBlock);
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(cached_memory().cached_bytes, 0u);
#else
  EXPECT_EQ(cached_memory().cached_bytes, 2 * kCachedBlock);
#endif
  release_cached_memory();
}

}  // namespace
}  // namespace taskloom
