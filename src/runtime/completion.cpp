#include "taskloom/runtime/completion.hpp"

#include <stdexcept>

#include "taskloom/core/error.hpp"

#include "runtime/detail/run_state.hpp"

namespace taskloom::runtime {
namespace {

detail::CompletionCore& checked(const std::shared_ptr<detail::CompletionCore>& core) {
  if (!core) {
    throw InvalidStateError(
        "Completion is empty — take it from TaskGraph::add_async's body, not a default one");
  }
  return *core;
}

}  // namespace

std::string_view to_string(StopReason r) noexcept {
  switch (r) {
    case StopReason::kNone:
      return "none";
    case StopReason::kCancelled:
      return "cancelled";
    case StopReason::kTimedOut:
      return "timed_out";
    case StopReason::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

bool Completion::succeed() {
  return checked(core_).complete(TaskStatus::kSucceeded, nullptr, {});
}

bool Completion::fail(std::string message) {
  if (message.empty()) message = "failed";
  auto error = std::make_exception_ptr(std::runtime_error(message));
  return checked(core_).complete(TaskStatus::kFailed, std::move(error), std::move(message));
}

bool Completion::fail(std::exception_ptr error) {
  return checked(core_).complete(TaskStatus::kFailed, std::move(error), {});
}

bool Completion::time_out(std::string message) {
  if (message.empty()) message = "timed out";
  return checked(core_).complete(TaskStatus::kTimedOut, nullptr, std::move(message));
}

std::stop_token Completion::stop_token() const {
  return checked(core_).attempt->stop.get_token();
}

StopReason Completion::stop_reason() const noexcept {
  if (!core_ || !core_->attempt->stop.stop_requested()) return StopReason::kNone;
  if (core_->attempt->timed_out.load(std::memory_order_acquire)) return StopReason::kTimedOut;
  return StopReason::kCancelled;
}

bool Completion::completed() const noexcept {
  return core_ && core_->done.load(std::memory_order_acquire);
}

}  // namespace taskloom::runtime
