// taskloom/core/error.hpp — the error hierarchy for misuse and bad input.
//
// Every error raised at an API boundary derives from taskloom::Error and carries an ErrorCode,
// so callers can catch one base type and still branch on what went wrong. Messages name the
// offending task (and file/line when there is one) and say how to fix the problem. Outcomes of
// tasks are values (see runtime/report.hpp), never these exceptions.
//
//   try { graph.add("b", fn, {.after = {"fecth"}}); executor.run(graph); }
//   catch (const taskloom::UnknownDependencyError& e) { e.suggestion(); }  // "fetch"
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace taskloom {

enum class ErrorCode {
  kInvalidArgument,    ///< a value out of range or malformed
  kInvalidState,       ///< a call that is not allowed now (e.g. adding tasks to a running graph)
  kCycle,              ///< the dependencies form a cycle
  kUnknownDependency,  ///< a dependency names a task that does not exist
  kDuplicateId,        ///< two tasks share an id
  kTypeMismatch,       ///< a result or state value read as the wrong type
  kResourceRequest,    ///< a resource request names an unknown pool or exceeds its capacity
  kQueueFull,          ///< a bounded queue is full and the caller chose not to wait
  kBadInput,           ///< a file (workflow, trace, cluster description) has errors
  kUnknownName,        ///< a name (policy, pool, class, command) that is not registered
  kStorage,            ///< the durable store failed (I/O, corruption, newer schema)
  kBusy,               ///< someone else holds what was asked for (e.g. a run's lease)
};

/// Name of a code, e.g. "cycle".
std::string_view to_string(ErrorCode code) noexcept;

/// Base of every taskloom exception.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

class InvalidArgumentError : public Error {
 public:
  explicit InvalidArgumentError(const std::string& message);
};

class InvalidStateError : public Error {
 public:
  explicit InvalidStateError(const std::string& message);
};

class TypeMismatchError : public Error {
 public:
  explicit TypeMismatchError(const std::string& message);
};

/// The dependency graph has a cycle; path() lists it closed, each task running before the next
/// one: {"a", "b", "c", "a"} means b is after a, c after b and a after c.
class CycleError : public Error {
 public:
  explicit CycleError(std::vector<std::string> path);
  const std::vector<std::string>& path() const noexcept { return path_; }

 private:
  std::vector<std::string> path_;
};

/// `task` depends on `missing`, which is not one of `known`; suggestion() is the closest known
/// id by edit distance (empty when nothing is close).
class UnknownDependencyError : public Error {
 public:
  UnknownDependencyError(std::string task, std::string missing, std::vector<std::string> known);
  const std::string& task() const noexcept { return task_; }
  const std::string& missing() const noexcept { return missing_; }
  const std::vector<std::string>& known() const noexcept { return known_; }
  const std::string& suggestion() const noexcept { return suggestion_; }

 private:
  std::string task_, missing_;
  std::vector<std::string> known_;
  std::string suggestion_;
};

/// A task asks for more of a pool than its capacity, or for a pool that does not exist: it
/// could never start. Raised when the task is added, not when it would run.
class ResourceRequestError : public Error {
 public:
  /// `capacity` < 0 means the pool does not exist.
  ResourceRequestError(std::string task, std::string pool, double requested, double capacity);
  const std::string& task() const noexcept { return task_; }
  const std::string& pool() const noexcept { return pool_; }
  double requested() const noexcept { return requested_; }
  double capacity() const noexcept { return capacity_; }

 private:
  std::string task_, pool_;
  double requested_, capacity_;
};

/// One problem in an input file, located as editors expect: "file:line:column: what — fix".
/// line and column count from 1; 0 means unknown (then they are left out of the text).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;  ///< what is wrong
  std::string fix;      ///< how to fix it; may be empty
};
std::string to_string(const Diagnostic& d);

/// Bad input: every problem found in one pass, not just the first. what() is one line per
/// diagnostic.
class InputError : public Error {
 public:
  explicit InputError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const noexcept { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

/// `name` is not a registered `kind` (e.g. kind "queue policy"); known() lists what is, and
/// suggestion() is the closest one.
class UnknownNameError : public Error {
 public:
  UnknownNameError(std::string kind, std::string name, std::vector<std::string> known);
  const std::string& kind() const noexcept { return kind_; }
  const std::string& name() const noexcept { return name_; }
  const std::vector<std::string>& known() const noexcept { return known_; }
  const std::string& suggestion() const noexcept { return suggestion_; }

 private:
  std::string kind_, name_;
  std::vector<std::string> known_;
  std::string suggestion_;
};

/// A bounded queue is full and the caller asked to fail rather than wait (or its wait ran out).
class QueueFullError : public Error {
 public:
  explicit QueueFullError(const std::string& message);
};

/// The durable store failed; the message says which file and operation.
class StorageError : public Error {
 public:
  explicit StorageError(const std::string& message);
};

/// What was asked for is held by someone else (e.g. another runner holds the run's lease).
class BusyError : public Error {
 public:
  explicit BusyError(const std::string& message);
};

class DuplicateIdError : public Error {
 public:
  explicit DuplicateIdError(std::string id);
  const std::string& id() const noexcept { return id_; }

 private:
  std::string id_;
};

}  // namespace taskloom
