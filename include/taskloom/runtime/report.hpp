// taskloom/runtime/report.hpp — what a run did, task by task.
//
//   const runtime::RunReport& r = run.report();
//   r.succeeded; r.failed; r.skipped;  r.speedup();   // sequential time / wall time
//   r.task("parse").status;  r.task("parse").result_as<int>();
//   r.task("encode").skipped_because;   // "render" when render failed (even two hops up)
//   std::cout << r.summary();  r.write_chrome_trace("run.json");
// Times are measured on the steady clock, relative to the start of the run.
#pragma once

#include <any>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/error.hpp"
#include "taskloom/core/status.hpp"
#include "taskloom/runtime/detail/type_mismatch.hpp"

namespace taskloom::runtime {

/// A resource pool's use over a run (or over the executor's life).
struct PoolUsage {
  std::string name;
  double capacity = 0;
  double peak = 0;     ///< most in use at once
  double average = 0;  ///< time-weighted mean in use
};

/// One try at running a task.
struct AttemptRecord {
  unsigned number = 0;  ///< 1-based
  TaskStatus status = TaskStatus::kPending;
  std::string error;  ///< what the body threw, or why the attempt ended
  Duration start{}, end{};
  unsigned worker = 0;
};

struct TaskReport {
  std::string id;
  TaskStatus status = TaskStatus::kPending;
  std::any result;                     ///< the body's return value (empty for void bodies)
  std::string error;                   ///< message of the last failed attempt
  std::exception_ptr exception;        ///< what the last failed attempt threw, if it threw
  std::string skipped_because;         ///< for kSkipped: the task whose failure caused it
  unsigned attempts = 0;               ///< attempts started (interrupted ones not counted)
  unsigned interruptions = 0;          ///< times it yielded to more important work
  std::vector<AttemptRecord> history;  ///< every attempt, in order
  Duration start{}, end{};             ///< first attempt's start, last attempt's end
  unsigned worker = 0;                 ///< worker of the last attempt (see TaskContext::worker)
  unsigned wave = 0;

  Duration duration() const noexcept { return end - start; }
  /// The result as T; TypeMismatchError if it holds another type or nothing.
  template <class T>
  const T& result_as() const {
    if (const T* p = std::any_cast<T>(&result)) return *p;
    detail::throw_type_mismatch("the result of task '" + id + "'", typeid(T), result,
                                "read it with the type the task returns");
  }
};

struct WaveSummary {
  unsigned index = 0;
  std::size_t tasks = 0;
  std::vector<std::string> ids;  ///< the wave's tasks, in the order they were added
  Duration start{}, end{};       ///< first start and last end among the wave's tasks that ran
  Duration duration() const noexcept { return end - start; }
};

struct RunReport {
  std::vector<TaskReport> tasks;  ///< in the order tasks were added
  std::size_t succeeded = 0, failed = 0, timed_out = 0, cancelled = 0, skipped = 0;
  Duration wall_time{};        ///< start of the run to its end
  Duration sequential_time{};  ///< sum of every attempt's duration
  std::vector<WaveSummary> waves;
  std::vector<std::string> critical_path;  ///< heaviest dependency chain by measured time
  Duration critical_path_time{};
  std::vector<PoolUsage> resources;  ///< per resource pool the run used: peak and average

  /// sequential_time / wall_time (0 for an empty run).
  double speedup() const noexcept;
  /// True when every task succeeded.
  bool ok() const noexcept { return succeeded == tasks.size(); }
  /// The task with this id; InvalidArgumentError (naming the closest id) when there is none.
  const TaskReport& task(std::string_view id) const;
  /// A human-readable table: totals, waves, critical path, slowest tasks.
  std::string summary() const;
  /// The report as JSON (results are left out: they are not serialisable in general).
  std::string to_json() const;
  /// Chrome trace event JSON (chrome://tracing, ui.perfetto.dev): one track per worker.
  std::string to_chrome_trace() const;
  /// Writes to_chrome_trace() to `path`; InvalidArgumentError naming the path on failure.
  void write_chrome_trace(const std::string& path) const;
};

}  // namespace taskloom::runtime
