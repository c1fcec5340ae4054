#include "taskloom/core/detail/block_allocator.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "taskloom/core/memory.hpp"

namespace taskloom {
namespace {

constexpr std::align_val_t kAlign{64};
constexpr std::size_t kMaxCached = std::size_t{1} << 30;
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCaching = false;  // a reused block would hide a use after free
#else
constexpr bool kCaching = true;
#endif

/// Free blocks by size class (log2 of the size), the bytes they hold, and the bytes handed out.
class BlockCache {
 public:
  void* take(unsigned size_class) {
    {
      std::lock_guard lock(mutex_);
      const std::size_t size = std::size_t{1} << size_class;
      in_use_ += size;
      high_water_ = std::max(high_water_, in_use_);
      std::vector<void*>& free = free_[size_class];
      if (!free.empty()) {
        void* block = free.back();
        free.pop_back();
        cached_ -= size;
        return block;
      }
    }
    try {
      return ::operator new (std::size_t{1} << size_class, kAlign);
    } catch (...) {
      std::lock_guard lock(mutex_);
      in_use_ -= std::size_t{1} << size_class;
      throw;
    }
  }

  void give(void* block, unsigned size_class) noexcept {
    const std::size_t size = std::size_t{1} << size_class;
    {
      std::lock_guard lock(mutex_);
      in_use_ -= size;
      if (kCaching && cached_ + size <= std::min(high_water_, kMaxCached)) {
        try {
          free_[size_class].push_back(block);
          cached_ += size;
          return;
        } catch (...) {  // no room to remember it: free it below
        }
      }
    }
    ::operator delete(block, kAlign);
  }

  CachedMemory state() noexcept {
    std::lock_guard lock(mutex_);
    return {cached_, in_use_};
  }

  std::size_t release() noexcept {
    std::array<std::vector<void*>, 64> blocks;
    std::size_t released = 0;
    {
      std::lock_guard lock(mutex_);
      blocks.swap(free_);
      released = std::exchange(cached_, 0);
      high_water_ = in_use_;
    }
    for (auto& list : blocks) {
      for (void* block : list) ::operator delete(block, kAlign);
    }
    return released;
  }

 private:
  std::mutex mutex_;
  std::array<std::vector<void*>, 64> free_;
  std::size_t cached_ = 0, in_use_ = 0, high_water_ = 0;
};

// Never destroyed: blocks may be given back by objects destroyed after main() returns.
BlockCache& cache() {
  static BlockCache* instance = new BlockCache;
  return *instance;
}

unsigned size_class_of(std::size_t bytes) noexcept {
  return static_cast<unsigned>(std::bit_width(bytes - 1));
}

}  // namespace

namespace detail {

void* allocate_block(std::size_t bytes) {
  if (bytes < kCachedBlock) return ::operator new(bytes);
  return cache().take(size_class_of(bytes));
}

void deallocate_block(void* block, std::size_t bytes) noexcept {
  if (block == nullptr) return;
  if (bytes < kCachedBlock) {
    ::operator delete(block);
  } else {
    cache().give(block, size_class_of(bytes));
  }
}

}  // namespace detail

CachedMemory cached_memory() noexcept {
  return cache().state();
}

std::size_t release_cached_memory() noexcept {
  return cache().release();
}

}  // namespace taskloom
