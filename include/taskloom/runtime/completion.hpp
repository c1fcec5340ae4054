// taskloom/runtime/completion.hpp — how an async task reports the end of work it started.
//
//   graph.add_async("render", [&](runtime::TaskContext&, runtime::Completion done) {
//     farm.submit(job, [done](bool ok, std::string why) mutable {   // on the farm's thread
//       if (ok) done.succeed(); else done.fail(why);
//     });
//     // returns at once: the attempt stays open without holding a worker
//   }, {.retries = 2, .timeout = std::chrono::minutes(10), .needs = {{"licence", 1}}});
//
// An attempt of an async task (TaskGraph::add_async) ends when its Completion is completed,
// not when the body returns. Meanwhile it holds its resources and its max_concurrency slot,
// its timeout runs and cancellation applies: both fire stop_token(), and the outside work is
// expected to stop and then complete (with fail(), or with anything: once the run is
// cancelled a failure ends the task cancelled; once the timeout fired it ends timed out).
// Retries start a new attempt with a new Completion. A completion dropped without an outcome
// (every copy destroyed) fails the attempt with a message saying so, so a run never hangs on a
// forgotten one; a body that throws fails it with the exception.
// Thread-safety: copies share one state; any copy may be completed from any thread, and only
// the first completion counts (the others return false). What the completing thread did before
// completing is visible to the task's dependents.
#pragma once

#include <exception>
#include <memory>
#include <stop_token>
#include <string>

#include "taskloom/runtime/observer.hpp"

namespace taskloom::runtime {

namespace detail {
struct CompletionCore;
}

class Completion {
 public:
  /// An empty completion: valid() is false, and completing it throws InvalidStateError.
  Completion() = default;

  bool succeed();
  bool fail(std::string message);
  bool fail(std::exception_ptr error);
  /// The outside work ran past a time limit of its own; the attempt ends timed out (and is
  /// retried like a timeout when it has retries left).
  bool time_out(std::string message);

  /// Fires when the run is cancelled or the attempt times out.
  std::stop_token stop_token() const;
  StopReason stop_reason() const noexcept;
  bool valid() const noexcept { return core_ != nullptr; }
  /// Some copy was completed.
  bool completed() const noexcept;

  explicit Completion(std::shared_ptr<detail::CompletionCore> core) : core_(std::move(core)) {}

 private:
  std::shared_ptr<detail::CompletionCore> core_;
};

}  // namespace taskloom::runtime
