// Internal: a move-only type-erased task body with inline storage, so that adding a task with a
// small capture never allocates (std::function allocates past 16 bytes of capture).
#pragma once

#include <any>
#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

namespace taskloom::runtime {
class TaskContext;
}

namespace taskloom::runtime::detail {

/// Where a body's return value goes; null when nobody needs it.
using ResultSlot = std::any*;

class TaskFunction {
 public:
  static constexpr std::size_t kInlineSize = 40;  // a body is 64 bytes: one cache line

  TaskFunction() = default;

  template <class F>
  explicit TaskFunction(F&& fn) {
    using Fn = std::decay_t<F>;
    using R = decltype(call<Fn>(std::declval<Fn&>(), std::declval<TaskContext&>()));
    returns_value_ = !std::is_void_v<R>;
    if constexpr (sizeof(Fn) <= kInlineSize && alignof(Fn) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<Fn>) {
      ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(fn));
      invoke_ = [](void* self, TaskContext& ctx, ResultSlot out) {
        store(*std::launder(static_cast<Fn*>(self)), ctx, out);
      };
      if constexpr (!std::is_trivially_destructible_v<Fn> || !std::is_trivially_copyable_v<Fn>) {
        manage_ = [](void* self, void* to) noexcept {
          Fn* f = std::launder(static_cast<Fn*>(self));
          if (to) ::new (to) Fn(std::move(*f));
          f->~Fn();
        };
      }
    } else {
      ::new (static_cast<void*>(storage_)) Fn*(new Fn(std::forward<F>(fn)));
      invoke_ = [](void* self, TaskContext& ctx, ResultSlot out) {
        store(**std::launder(static_cast<Fn**>(self)), ctx, out);
      };
      manage_ = [](void* self, void* to) noexcept {
        Fn** f = std::launder(static_cast<Fn**>(self));
        if (to) {
          ::new (to) Fn*(*f);
        } else {
          delete *f;
        }
      };
    }
  }

  TaskFunction(TaskFunction&& other) noexcept { take(other); }
  TaskFunction& operator=(TaskFunction&& other) noexcept {
    if (this != &other) {
      destroy();
      take(other);
    }
    return *this;
  }
  ~TaskFunction() { destroy(); }

  /// Calls the body; a non-void result is stored in `*out` when `out` is not null.
  void operator()(TaskContext& ctx, ResultSlot out) { invoke_(storage_, ctx, out); }
  bool returns_value() const noexcept { return returns_value_; }
  /// False when destroying the body does nothing (its capture is trivial).
  bool needs_destroy() const noexcept { return manage_ != nullptr; }

 private:
  template <class Fn>
  static decltype(auto) call(Fn& fn, TaskContext& ctx) {
    if constexpr (std::is_invocable_v<Fn&, TaskContext&>) {
      return std::invoke(fn, ctx);
    } else {
      static_assert(std::is_invocable_v<Fn&>,
                    "a task body is callable as f() or f(taskloom::runtime::TaskContext&)");
      return std::invoke(fn);
    }
  }
  template <class Fn>
  static void store(Fn& fn, TaskContext& ctx, ResultSlot out) {
    using R = decltype(call<Fn>(fn, ctx));
    if constexpr (std::is_void_v<R>) {
      call<Fn>(fn, ctx);
    } else if (out) {
      *out = std::any(std::decay_t<R>(call<Fn>(fn, ctx)));
    } else {
      (void)call<Fn>(fn, ctx);
    }
  }
  void take(TaskFunction& other) noexcept {
    invoke_ = other.invoke_;
    manage_ = other.manage_;
    returns_value_ = other.returns_value_;
    if (manage_) {
      manage_(other.storage_, storage_);
    } else {
      std::memcpy(storage_, other.storage_, kInlineSize);
    }
    other.invoke_ = nullptr;
    other.manage_ = nullptr;
  }
  void destroy() noexcept {
    if (manage_) manage_(storage_, nullptr);
    manage_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char storage_[kInlineSize];
  void (*invoke_)(void*, TaskContext&, ResultSlot) = nullptr;
  void (*manage_)(void* self, void* move_to) noexcept = nullptr;  // null: trivially relocatable
  bool returns_value_ = false;
};

}  // namespace taskloom::runtime::detail
