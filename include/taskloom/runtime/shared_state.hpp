// taskloom/runtime/shared_state.hpp — a thread-safe key/value store shared by the tasks of a run.
//
//   ctx.shared().set("frames", 240);
//   int n = ctx.shared().get<int>("frames").value_or(0);
//   ctx.shared().update<long>("rendered", [](long& v) { ++v; });   // atomic read-modify-write
// Thread-safety: every member may be called concurrently. What a task wrote with set()/update()
// before it finished is visible to every task that depends on it.
#pragma once

#include <any>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/runtime/detail/type_mismatch.hpp"

namespace taskloom::runtime {

class SharedState {
 public:
  template <class T>
  void set(std::string_view key, T value) {
    std::lock_guard lock(mutex_);
    values_.insert_or_assign(std::string(key), std::any(std::move(value)));
  }

  /// A copy of the value, nullopt when absent; TypeMismatchError when stored as another type.
  template <class T>
  std::optional<T> get(std::string_view key) const {
    std::lock_guard lock(mutex_);
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return checked<T>(key, it->second);
  }

  /// Runs `fn` on the value (default-constructed if absent) under the store's lock and returns
  /// the new value. `fn` must not call back into this SharedState.
  template <class T, class F>
  T update(std::string_view key, F&& fn) {
    std::lock_guard lock(mutex_);
    auto it = values_.find(key);
    if (it == values_.end()) it = values_.emplace(std::string(key), std::any(T{})).first;
    T& value = checked_ref<T>(key, it->second);
    std::invoke(std::forward<F>(fn), value);
    return value;
  }

  bool contains(std::string_view key) const;
  bool erase(std::string_view key);
  std::vector<std::string> keys() const;

 private:
  template <class T>
  static T checked(std::string_view key, const std::any& v) {
    if (const T* p = std::any_cast<T>(&v)) return *p;
    detail::throw_type_mismatch("shared state '" + std::string(key) + "'", typeid(T), v,
                                "read it with the type it was set with");
  }
  template <class T>
  static T& checked_ref(std::string_view key, std::any& v) {
    if (T* p = std::any_cast<T>(&v)) return *p;
    detail::throw_type_mismatch("shared state '" + std::string(key) + "'", typeid(T), v,
                                "update it with the type it was set with");
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::any, std::less<>> values_;  // guarded by mutex_
};

}  // namespace taskloom::runtime
