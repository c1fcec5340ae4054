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

class DuplicateIdError : public Error {
 public:
  explicit DuplicateIdError(std::string id);
  const std::string& id() const noexcept { return id_; }

 private:
  std::string id_;
};

}  // namespace taskloom
