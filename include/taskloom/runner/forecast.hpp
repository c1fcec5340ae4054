// taskloom/runner/forecast.hpp — how long tasks will take, from how long they took.
//
//   runner::Forecasts f(wf, db.recent_durations(path, runner::kHistory));
//   f.of(task);                                      // optional: the task's median recent time
//   runner::Prediction p = runner::predict(wf, capacity, f);
//   p.wall;                                          // the run's predicted wall time
//
// A task's forecast is the median wall time of its last kHistory successful attempts in any run
// of the workflow: one slow outlier (a cold cache, a busy node) does not move it, and a task
// that became slower is followed within three runs. A task that never succeeded takes the
// median forecast of its group (a new frame of a known shot), else it has none. The runner
// gives each task's forecast to the runtime as its expected duration (so small tasks fill the
// gaps before a large request, runtime.md) and as its weight on the critical path, and the live
// display derives its ETA from them; `plan` shows predict()'s wall time.
// Thread-safety: a Forecasts is immutable once built; share it freely.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/resources.hpp"
#include "taskloom/workflow/workflow.hpp"

namespace taskloom::runner {

/// Successful attempts a forecast looks back on.
inline constexpr std::size_t kHistory = 5;

class Forecasts {
 public:
  Forecasts() = default;
  /// The forecasts of `wf`'s tasks from each task id's recent wall times (newest first, as
  /// RunStore::recent_durations gives them).
  Forecasts(const workflow::Workflow& wf,
            const std::unordered_map<std::string, std::vector<std::chrono::microseconds>>& recent);
  /// The forecast of `t`: its own median, else its group's; nullopt without history.
  std::optional<Duration> of(const workflow::Task& t) const;
  bool empty() const noexcept { return by_task_.empty(); }

 private:
  std::unordered_map<std::string, Duration> by_task_, by_group_;
};

struct Prediction {
  Duration wall{};           ///< list schedule of the tasks on `capacity`, in the runtime's order
  Duration critical_path{};  ///< the longest chain of forecasts
  std::size_t forecast = 0;  ///< tasks with a forecast
  std::size_t unknown = 0;   ///< tasks without one, counted as taking no time
};

/// The run of `wf` as the runtime would schedule it on `capacity` (the pools of
/// workflow::capacities), every task taking its forecast: ready tasks by priority then longest
/// remaining path, each started as soon as its needs fit.
Prediction predict(const workflow::Workflow& wf, const Resources& capacity, const Forecasts& f);

}  // namespace taskloom::runner
