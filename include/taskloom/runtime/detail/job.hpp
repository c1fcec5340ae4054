// Internal: the seam between header-only templates (submit, Future) and the executor.
#pragma once

#include <atomic>
#include <cstdint>

#include "taskloom/core/priority.hpp"

namespace taskloom::runtime {
class Executor;
}

namespace taskloom::runtime::detail {

/// A callable submitted without a graph. The executor calls run() exactly once.
class Job {
 public:
  virtual void run() noexcept = 0;

 protected:
  ~Job() = default;
};

/// Queues `job` on `executor` (the calling worker's own queue when called from a worker).
void schedule(Executor& executor, Job* job, Priority priority);

/// Returns once `done` is non-zero. A worker of `executor` runs other ready work meanwhile; any
/// other thread helps too, then sleeps on `done` when there is nothing to take.
void help_until(Executor& executor, const std::atomic<std::uint32_t>& done);

/// Sets `done` to 1 (release) and wakes the threads sleeping in `executor`'s help_until().
void signal_done(Executor& executor, std::atomic<std::uint32_t>& done) noexcept;

}  // namespace taskloom::runtime::detail
