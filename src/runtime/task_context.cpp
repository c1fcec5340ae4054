#include "taskloom/runtime/task_context.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

#include "runtime/detail/run_state.hpp"

namespace taskloom::runtime {

namespace detail {

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  std::string text = status == 0 && name ? name.get() : type.name();
  // The standard library's spelling of std::string is long and says nothing more.
  for (const std::string_view long_name :
       {std::string_view("std::__cxx11::basic_string<char, std::char_traits<char>, "
                         "std::allocator<char> >"),
        std::string_view(
            "std::basic_string<char, std::char_traits<char>, std::allocator<char> >")}) {
    for (std::size_t at; (at = text.find(long_name)) != std::string::npos;) {
      text.replace(at, long_name.size(), "std::string");
      if (text.compare(at + 11, 2, " >") == 0) text.erase(at + 11, 1);  // "std::string>"
    }
  }
  return text;
}

void throw_type_mismatch(const std::string& what, const std::type_info& requested,
                         const std::any& held, const std::string& fix) {
  throw TypeMismatchError(what + " holds " +
                          (held.has_value() ? type_name(held.type()) : std::string("nothing")) +
                          ", not the requested " + type_name(requested) + " — " + fix);
}

}  // namespace detail

std::string TaskContext::id() const {
  return run_->plan().id(node_);
}

std::stop_token TaskContext::stop_token() const {
  return stop_->get_token();
}

StopReason TaskContext::stop_reason() const noexcept {
  if (!stop_->stop_requested()) return StopReason::kNone;
  if (timed_out_ != nullptr && timed_out_->load(std::memory_order_acquire)) {
    return StopReason::kTimedOut;
  }
  if (interrupt_requested()) return StopReason::kInterrupted;
  return StopReason::kCancelled;
}

Completion TaskContext::defer() {
  if (deferred_ == nullptr) {
    throw InvalidStateError("task '" + id() +
                            "' is not async — add it with TaskGraph::add_async to complete it "
                            "later");
  }
  if (deferred_->taken) {
    throw InvalidStateError("task '" + id() + "' took its attempt's Completion already");
  }
  deferred_->taken = true;
  auto core = std::make_shared<detail::CompletionCore>();
  core->attempt = deferred_->shared_from_this();
  return Completion(std::move(core));
}

bool TaskContext::interrupt_requested() const noexcept {
  return control_ != nullptr && control_->requested.load(std::memory_order_acquire);
}

unsigned TaskContext::interruptions() const noexcept {
  return control_ != nullptr ? control_->interruptions : 0;
}

void TaskContext::decline_reschedule() noexcept {
  if (control_ != nullptr) control_->declined = true;
}

std::string_view TaskContext::saved_state() const noexcept {
  return control_ != nullptr ? std::string_view(control_->saved) : std::string_view();
}

void TaskContext::save_state(std::string bytes) {
  if (control_ != nullptr) control_->to_save = std::move(bytes);
}

SharedState& TaskContext::shared() const {
  return run_->shared();
}

std::string_view TaskContext::metadata(std::string_view key) const {
  if (const detail::NodeMeta* meta = run_->plan().meta(node_)) {
    for (const auto& [k, v] : meta->metadata) {
      if (k == key) return v;
    }
  }
  return {};
}

std::vector<DependencyResult> TaskContext::dependency_results() const {
  return run_->dependency_results(node_);
}

const std::any& TaskContext::dependency_result(std::string_view dependency) const {
  return run_->dependency_result(node_, dependency);
}

void TaskContext::throw_result_type_mismatch(std::string_view dependency,
                                             const std::type_info& requested,
                                             const std::any& value) const {
  detail::throw_type_mismatch(
      "task '" + id() + "' reads the result of '" + std::string(dependency) + "', which", requested,
      value, "read it with the type the dependency returns");
}

}  // namespace taskloom::runtime
