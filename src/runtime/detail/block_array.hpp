// Internal: a fixed-size array in a cached block (taskloom/core/memory.hpp) whose elements are
// made in one pass by a function of their index, for per-node state that is neither copyable
// nor movable (atomics) and must not be written twice.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "taskloom/core/detail/block_allocator.hpp"

namespace taskloom::runtime::detail {

template <class T>
class BlockArray {
 public:
  BlockArray() = default;
  /// `make(i)` returns the i-th element's initial value (T must be constructible from it).
  template <class Make>
  BlockArray(std::size_t n, Make make)
      : data_(static_cast<T*>(taskloom::detail::allocate_block(n * sizeof(T)))), size_(n) {
    static_assert(std::is_nothrow_destructible_v<T>);
    for (std::size_t i = 0; i < n; ++i) ::new (static_cast<void*>(data_ + i)) T(make(i));
  }
  BlockArray(BlockArray&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  BlockArray& operator=(BlockArray&& o) noexcept {
    BlockArray(std::move(o)).swap(*this);
    return *this;
  }
  ~BlockArray() {
    if (data_ == nullptr) return;
    std::destroy_n(data_, size_);
    taskloom::detail::deallocate_block(data_, size_ * sizeof(T));
  }
  void swap(BlockArray& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
  }

  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  std::size_t size() const noexcept { return size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace taskloom::runtime::detail
