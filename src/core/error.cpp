#include "taskloom/core/error.hpp"

#include "taskloom/core/text.hpp"

namespace taskloom {
namespace {

std::string join_path(const std::vector<std::string>& path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i != 0) out += " -> ";
    out += path[i];
  }
  return out;
}

std::string unknown_dependency_message(const std::string& task, const std::string& missing,
                                       const std::string& suggestion) {
  std::string msg = "task '" + task + "' depends on unknown task '" + missing + "'";
  if (!suggestion.empty()) {
    msg += " — did you mean '" + suggestion + "'?";
  } else {
    msg += " — add a task with that id or remove the dependency";
  }
  return msg;
}

}  // namespace

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kInvalidState:
      return "invalid_state";
    case ErrorCode::kCycle:
      return "cycle";
    case ErrorCode::kUnknownDependency:
      return "unknown_dependency";
    case ErrorCode::kDuplicateId:
      return "duplicate_id";
    case ErrorCode::kTypeMismatch:
      return "type_mismatch";
  }
  return "unknown";
}

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(message), code_(code) {}

InvalidArgumentError::InvalidArgumentError(const std::string& message)
    : Error(ErrorCode::kInvalidArgument, message) {}

InvalidStateError::InvalidStateError(const std::string& message)
    : Error(ErrorCode::kInvalidState, message) {}

TypeMismatchError::TypeMismatchError(const std::string& message)
    : Error(ErrorCode::kTypeMismatch, message) {}

CycleError::CycleError(std::vector<std::string> path)
    : Error(ErrorCode::kCycle,
            "dependency cycle: " + join_path(path) + " — remove one of these dependencies"),
      path_(std::move(path)) {}

UnknownDependencyError::UnknownDependencyError(std::string task, std::string missing,
                                               std::vector<std::string> known)
    : Error(ErrorCode::kUnknownDependency,
            unknown_dependency_message(task, missing, closest_match(missing, known))),
      task_(std::move(task)),
      missing_(std::move(missing)),
      known_(std::move(known)),
      suggestion_(closest_match(missing_, known_)) {}

DuplicateIdError::DuplicateIdError(std::string id)
    : Error(ErrorCode::kDuplicateId,
            "duplicate task id '" + id + "' — every task in a graph needs a unique id"),
      id_(std::move(id)) {}

}  // namespace taskloom
