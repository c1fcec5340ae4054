// taskloom/core/memory.hpp — the memory taskloom keeps between graphs.
//
// Arrays sized by a graph (bodies, edges, per-task run state) of 64 KiB or more come from a
// process-wide cache of blocks: when a graph or run is destroyed its large blocks are kept for
// the next one instead of being returned to the kernel, so building and running one large graph
// after another touches no fresh pages (a page fault per 4 KiB costs ~0.5 µs, as much as
// running several empty tasks). The cache holds at most as many bytes as were in use at once
// before (the high-water mark), and never more than 1 GiB. Builds with AddressSanitizer do not
// cache, so use-after-free stays detectable.
#pragma once

#include <cstddef>

namespace taskloom {

struct CachedMemory {
  std::size_t cached_bytes = 0;  ///< kept for reuse now
  std::size_t in_use_bytes = 0;  ///< handed out and not yet given back
};

/// What the cache holds now.
CachedMemory cached_memory() noexcept;

/// Returns every cached block to the system; yields the bytes released.
std::size_t release_cached_memory() noexcept;

}  // namespace taskloom
