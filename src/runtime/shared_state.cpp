#include "taskloom/runtime/shared_state.hpp"

namespace taskloom::runtime {

bool SharedState::contains(std::string_view key) const {
  std::lock_guard lock(mutex_);
  return values_.find(key) != values_.end();
}

bool SharedState::erase(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto it = values_.find(key);
  if (it == values_.end()) return false;
  values_.erase(it);
  return true;
}

std::vector<std::string> SharedState::keys() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  out.reserve(values_.size());
  for (const auto& [key, value] : values_) out.push_back(key);
  return out;
}

}  // namespace taskloom::runtime
