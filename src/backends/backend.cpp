#include "taskloom/backends/backend.hpp"

namespace taskloom::backends {

std::string_view to_string(AttemptResult::End end) noexcept {
  using End = AttemptResult::End;
  switch (end) {
    case End::kSucceeded:
      return "succeeded";
    case End::kFailed:
      return "failed";
    case End::kTimedOut:
      return "timed_out";
    case End::kCancelled:
      return "cancelled";
    case End::kFailedToStart:
      return "failed_to_start";
  }
  return "unknown";
}

}  // namespace taskloom::backends
