// taskloom/runtime/job_context.hpp — what an interruptible submitted job sees, and the state a
// stateful job or task keeps across interruptions.
//
//   auto f = executor.submit([&](runtime::JobContext& job) {   // interruptible: takes a JobContext
//     std::size_t i = job.saved_state().empty() ? 0 : std::stoul(std::string(job.saved_state()));
//     for (; i < frames; ++i) {
//       if (job.interrupt_requested()) { job.save_state(std::to_string(i)); return; }  // yield
//       render(i);
//     }
//   }, runtime::Priority::kBackground);
//   executor.submit_stateful(Progress{}, [](runtime::JobContext& job, Progress& p) {...});
//
// A submitted callable invocable as fn(JobContext&) is interruptible: when more important work
// arrives and no worker is free for it, its stop token fires and interrupt_requested() turns
// true. If it then returns or throws, it has yielded: it is queued again at its priority and
// called again later with what it saved (saved_state()), and its Future stays pending. While
// it waits to resume, Future::cancel() cancels it. Interruptions per job are bounded by
// ExecutorOptions::max_interruptions (then it keeps its worker), and a job run by a thread
// outside the pool (helping while it waits) is never interrupted. The stop token fires for
// SubmitOptions::stop_token and deadline too; then interrupt_requested() stays false.
// Thread-safety: a context is valid during the call that received it, on that thread.
#pragma once

#include <atomic>
#include <concepts>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

namespace taskloom::runtime {

/// A task or job state that survives interruptions: saved when it yields, restored when it
/// starts again (TaskGraph::add_stateful, Executor::submit_stateful).
template <class S>
concept SavableState = std::copy_constructible<S> && requires(const S& s, std::string_view bytes) {
  { s.save() } -> std::convertible_to<std::string>;
  { S::restore(bytes) } -> std::same_as<S>;
};

class JobContext {
 public:
  /// Fires when the job is interrupted, stopped (SubmitOptions::stop_token) or past its
  /// deadline.
  std::stop_token stop_token() const noexcept { return stop_; }
  bool stop_requested() const noexcept { return stop_.stop_requested(); }
  /// The executor asked this job to yield to more important work.
  bool interrupt_requested() const noexcept { return requested_->load(std::memory_order_acquire); }
  /// Times the job yielded before this call.
  unsigned interruptions() const noexcept { return interruptions_; }
  /// What the job saved before it last yielded ("" at first).
  std::string_view saved_state() const noexcept { return *saved_; }
  /// Keeps `bytes` for the job's next call, if it yields.
  void save_state(std::string bytes) { *saved_ = std::move(bytes); }

  /// Internal: made by the job for each call.
  JobContext(std::stop_token stop, const std::atomic<bool>& requested, unsigned interruptions,
             std::string& saved) noexcept
      : stop_(std::move(stop)),
        requested_(&requested),
        saved_(&saved),
        interruptions_(interruptions) {}

 private:
  std::stop_token stop_;
  const std::atomic<bool>* requested_;
  std::string* saved_;
  unsigned interruptions_;
};

namespace detail {
/// Saves a stateful body's state when it returns (or throws) after an interruption request.
template <class S, class Context>
struct SaveStateOnExit {
  Context& ctx;
  const S& state;
  ~SaveStateOnExit() {
    if (ctx.interrupt_requested()) ctx.save_state(state.save());
  }
};
}  // namespace detail

}  // namespace taskloom::runtime
