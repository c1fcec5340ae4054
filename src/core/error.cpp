#include "taskloom/core/error.hpp"

#include "taskloom/core/text.hpp"
#include "taskloom/core/units.hpp"

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

/// Memory as a size ("4 GB", as every report prints it), any other pool as a plain number.
std::string format_amount(const std::string& pool, double v) {
  if (pool == "memory") return units::format_size(v);
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string resource_request_message(const std::string& task, const std::string& pool,
                                     double requested, double capacity) {
  if (capacity < 0) {
    return "task '" + task + "' needs " + format_amount(pool, requested) +
           " of unknown resource '" + pool + "' — declare a pool named '" + pool +
           "' or remove it from the task's needs";
  }
  return "task '" + task + "' needs " + format_amount(pool, requested) + " of '" + pool +
         "' but the pool's capacity is " + format_amount(pool, capacity) +
         " — lower the request or raise the capacity";
}

std::string join_lines(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) {
    if (!out.empty()) out += '\n';
    out += to_string(d);
  }
  return out;
}

std::string unknown_name_message(const std::string& kind, const std::string& name,
                                 const std::vector<std::string>& known) {
  std::string msg = "unknown " + kind + " '" + name + "'";
  const std::string suggestion = closest_match(name, known);
  if (!suggestion.empty()) msg += " — did you mean '" + suggestion + "'?";
  msg += " (known: ";
  for (std::size_t i = 0; i < known.size(); ++i) msg += (i ? ", " : "") + known[i];
  return msg + ")";
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
    case ErrorCode::kResourceRequest:
      return "resource_request";
    case ErrorCode::kQueueFull:
      return "queue_full";
    case ErrorCode::kBadInput:
      return "bad_input";
    case ErrorCode::kUnknownName:
      return "unknown_name";
    case ErrorCode::kStorage:
      return "storage";
    case ErrorCode::kBusy:
      return "busy";
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

ResourceRequestError::ResourceRequestError(std::string task, std::string pool, double requested,
                                           double capacity)
    : Error(ErrorCode::kResourceRequest, resource_request_message(task, pool, requested, capacity)),
      task_(std::move(task)),
      pool_(std::move(pool)),
      requested_(requested),
      capacity_(capacity) {}

std::string to_string(const Diagnostic& d) {
  std::string out = d.file.empty() ? std::string("<input>") : d.file;
  if (d.line > 0) {
    out += ':' + std::to_string(d.line);
    if (d.column > 0) out += ':' + std::to_string(d.column);
  }
  out += ": " + d.message;
  if (!d.fix.empty()) out += " — " + d.fix;
  return out;
}

InputError::InputError(std::vector<Diagnostic> diagnostics)
    : Error(ErrorCode::kBadInput, join_lines(diagnostics)), diagnostics_(std::move(diagnostics)) {}

UnknownNameError::UnknownNameError(std::string kind, std::string name,
                                   std::vector<std::string> known)
    : Error(ErrorCode::kUnknownName, unknown_name_message(kind, name, known)),
      kind_(std::move(kind)),
      name_(std::move(name)),
      known_(std::move(known)),
      suggestion_(closest_match(name_, known_)) {}

QueueFullError::QueueFullError(const std::string& message)
    : Error(ErrorCode::kQueueFull, message) {}

StorageError::StorageError(const std::string& message) : Error(ErrorCode::kStorage, message) {}

BusyError::BusyError(const std::string& message) : Error(ErrorCode::kBusy, message) {}

DuplicateIdError::DuplicateIdError(std::string id)
    : Error(ErrorCode::kDuplicateId,
            "duplicate task id '" + id + "' — every task in a graph needs a unique id"),
      id_(std::move(id)) {}

}  // namespace taskloom
