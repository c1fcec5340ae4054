// Internal: an append-only sequence stored in chunks of doubling size (64, 64, 128, 256, ...),
// so elements never move and growing never copies — a million-task graph is built without
// relocating a single body. Index lookup is two shifts and a subtraction.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

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
      chunks_.push_back(static_cast<T*>(::operator new(
          sizeof(T) * (kFirst << chunk), std::align_val_t(alignof(T) < 64 ? 64 : alignof(T)))));
    }
    ::new (static_cast<void*>(chunks_[chunk] + offset)) T(std::move(value));
    ++size_;
  }

  void clear() noexcept {
    for (std::size_t i = 0; i < size_; ++i) (*this)[i].~T();
    for (std::size_t c = 0; c < chunks_.size(); ++c) {
      ::operator delete(chunks_[c], std::align_val_t(alignof(T) < 64 ? 64 : alignof(T)));
    }
    chunks_.clear();
    size_ = 0;
  }

 private:
  static constexpr std::size_t kFirst = 64;
  static std::pair<std::size_t, std::size_t> locate(std::size_t i) noexcept {
    const std::size_t j = i + kFirst;
    const std::size_t chunk = static_cast<std::size_t>(std::bit_width(j)) - 7;  // log2(kFirst)+1
    return {chunk, j - (kFirst << chunk)};
  }
  std::vector<T*> chunks_;
  std::size_t size_ = 0;
};

}  // namespace taskloom::runtime::detail
