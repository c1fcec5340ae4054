// Internal: an append-only sequence stored in chunks of doubling size (64, 64, 128, 256, ...),
// so elements never move and growing never copies — a million-task graph is built without
// relocating a single body. Index lookup is two shifts and a subtraction. Chunks come from the
// block cache (taskloom/core/memory.hpp), so the next graph reuses them.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "taskloom/core/detail/block_allocator.hpp"

namespace taskloom::runtime::detail {

template <class T>
class ChunkedVector {
 public:
  ChunkedVector() = default;
  ChunkedVector(ChunkedVector&& other) noexcept
      : chunks_(std::move(other.chunks_)), size_(std::exchange(other.size_, 0)) {}
  ChunkedVector& operator=(ChunkedVector&& other) noexcept {
    if (this != &other) {
      clear();
      chunks_ = std::move(other.chunks_);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~ChunkedVector() { clear(); }

  std::size_t size() const noexcept { return size_; }

  T& operator[](std::size_t i) noexcept {
    const auto [chunk, offset] = locate(i);
    return chunks_[chunk][offset];
  }
  const T& operator[](std::size_t i) const noexcept {
    const auto [chunk, offset] = locate(i);
    return chunks_[chunk][offset];
  }

  void push_back(T&& value) {
    const auto [chunk, offset] = locate(size_);
    if (chunk == chunks_.size()) {
      chunks_.reserve(chunks_.size() + 1);
      chunks_.push_back(static_cast<T*>(taskloom::detail::allocate_block(chunk_bytes(chunk))));
    }
    ::new (static_cast<void*>(chunks_[chunk] + offset)) T(std::move(value));
    ++size_;
  }

  void clear() noexcept {
    if constexpr (!std::is_trivially_destructible_v<T>) {
      for_each_chunk([](T* first, std::size_t n) { std::destroy_n(first, n); });
    }
    release_without_destroying();
  }

  /// Frees the storage without running the elements' destructors: for elements known to need
  /// none (a task body capturing only trivial values), saving a pass over all of them.
  void release_without_destroying() noexcept {
    for (std::size_t c = 0; c < chunks_.size(); ++c) {
      taskloom::detail::deallocate_block(chunks_[c], chunk_bytes(c));
    }
    chunks_.clear();
    size_ = 0;
  }

 private:
  static constexpr std::size_t kFirst = 64;
  static_assert(alignof(T) <= alignof(std::max_align_t), "chunks come from ::operator new");
  static constexpr std::size_t chunk_bytes(std::size_t chunk) noexcept {
    return sizeof(T) * (kFirst << chunk);
  }
  static std::pair<std::size_t, std::size_t> locate(std::size_t i) noexcept {
    const std::size_t j = i + kFirst;
    const std::size_t chunk = static_cast<std::size_t>(std::bit_width(j)) - 7;  // log2(kFirst)+1
    return {chunk, j - (kFirst << chunk)};
  }
  template <class F>
  void for_each_chunk(F f) noexcept {
    std::size_t left = size_;
    for (std::size_t c = 0; c < chunks_.size() && left != 0; ++c) {
      const std::size_t n = std::min(left, kFirst << c);
      f(chunks_[c], n);
      left -= n;
    }
  }

  std::vector<T*> chunks_;
  std::size_t size_ = 0;
};

}  // namespace taskloom::runtime::detail
