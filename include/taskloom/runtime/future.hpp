// taskloom/runtime/future.hpp — the result of Executor::submit() and TaskContext::spawn().
//
//   taskloom::runtime::Future<int> f = executor.submit([] { return 6 * 7; });
//   int v = f.get();   // 42; rethrows what the callable threw
// wait()/get() never idle a worker: called inside a task, the worker runs other ready work until
// the result is there; called from any other thread, that thread helps run work first.
// Visibility: everything the callable did happens-before wait()/get() returns.
// A Future is move-only; dropping it does not cancel the work, cancel() does if it has not
// started, and so do a stop request and a deadline given to submit (SubmitOptions).
// wait_for(d) waits a bounded time.
#pragma once

#include <atomic>
#include <exception>
#include <optional>
#include <stop_token>
#include <string>
#include <type_traits>
#include <utility>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/error.hpp"
#include "taskloom/runtime/detail/job.hpp"
#include "taskloom/runtime/job_context.hpp"

namespace taskloom::runtime {

/// What get() throws for a job cancelled (Future::cancel) before it started.
class CancelledError : public InvalidStateError {
 public:
  using InvalidStateError::InvalidStateError;
};

/// What get() throws for a job whose SubmitOptions::deadline passed before it started.
class DeadlineExceededError : public CancelledError {
 public:
  using CancelledError::CancelledError;
};

namespace detail {

template <class T>
class FutureState {
 public:
  FutureState(Executor& executor, Priority priority)
      : executor_(&executor), priority_(priority.value()) {}
  virtual ~FutureState() = default;
  FutureState(const FutureState&) = delete;
  FutureState& operator=(const FutureState&) = delete;

  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  bool ready() const noexcept { return done_.load(std::memory_order_acquire) != 0; }
  void wait() { help_until(*executor_, done_); }
  bool wait_for(Duration timeout) {
    return ready() || sleep_until_done(*executor_, done_, timeout);
  }
  bool cancel() { return cancel_because(/*deadline=*/false); }
  void set_priority(Priority p) {
    if (ready()) return;
    priority_.store(p.value(), std::memory_order_relaxed);  // where a yielded job goes back
    reprioritize(*executor_, job(), p);
  }

  T take() {
    wait();
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<T>) return std::move(*value_);
  }

 protected:
  template <class F>
  void complete_with(F& fn) noexcept {
    if (start()) finish(fn);
  }
  /// Claims the job for the calling worker; false when cancel() came first.
  bool start() noexcept {
    std::uint8_t queued = kQueued;
    return claim_.compare_exchange_strong(queued, kStarted, std::memory_order_acq_rel);
  }
  /// A started job that yielded goes back to queued (cancel() can claim it again).
  void unstart() noexcept { claim_.store(kQueued, std::memory_order_release); }
  Priority priority() const noexcept { return Priority(priority_.load(std::memory_order_relaxed)); }
  /// Calls `fn` and publishes what it returned or threw.
  template <class F>
  void finish(F&& fn) noexcept {
    try {
      if constexpr (std::is_void_v<T>) {
        fn();
      } else {
        value_.emplace(fn());
      }
    } catch (...) {
      error_ = std::current_exception();
    }
    body_returned(*executor_);
    signal_done(*executor_, done_);
  }
  /// Cancels the job if it has not started; get() then throws DeadlineExceededError when
  /// `deadline`, else CancelledError.
  bool cancel_because(bool deadline) {
    std::uint8_t queued = kQueued;
    if (!claim_.compare_exchange_strong(queued, kCancelled, std::memory_order_acq_rel)) {
      return false;
    }
    error_ = deadline ? std::make_exception_ptr(DeadlineExceededError(
                            "the job's deadline (SubmitOptions::deadline) passed before it "
                            "started — give it a later deadline, or free a worker sooner"))
                      : std::make_exception_ptr(CancelledError(
                            "the job was cancelled before it started (Future::cancel, or its "
                            "SubmitOptions::stop_token)"));
    signal_done(*executor_, done_);
    return true;
  }
  Executor& executor() const noexcept { return *executor_; }
  virtual Job* job() noexcept = 0;

 private:
  struct Empty {};
  static constexpr std::uint8_t kQueued = 0, kStarted = 1, kCancelled = 2;
  Executor* executor_;
  std::atomic<int> priority_;                 // the job's priority now (set_priority)
  std::atomic<std::uint8_t> claim_{kQueued};  // who came first: the worker or cancel()
  std::atomic<int> refs_{2};                  // the Future and the executor
  std::atomic<std::uint32_t> done_{0};
  std::conditional_t<std::is_void_v<T>, Empty, std::optional<T>> value_;
  std::exception_ptr error_;
};

/// What a submitted callable returns: fn(JobContext&) (interruptible) or fn(std::stop_token)
/// when it takes one, else fn().
template <class F>
using submit_result_t = typename std::conditional_t<
    std::is_invocable_v<F&, JobContext&>, std::invoke_result<F&, JobContext&>,
    std::conditional_t<std::is_invocable_v<F&, std::stop_token>,
                       std::invoke_result<F&, std::stop_token>, std::invoke_result<F&>>>::type;

template <class T, class F>
class SubmittedJob final : public FutureState<T>, public Job {
 public:
  SubmittedJob(Executor& executor, Priority priority, F fn, std::stop_token stop,
               TimePoint deadline)
      : FutureState<T>(executor, priority),
        fn_(std::move(fn)),
        stop_(std::move(stop)),
        deadline_(deadline) {}
  /// Before scheduling: a stop request (or the deadline) that comes before the job starts
  /// cancels it. With a deadline the callable gets a token of the job's own, which fires at
  /// the deadline or when the caller's token fires.
  void cancel_on_stop() {
    if (deadline_ != TimePoint::max()) {
      own_.emplace();
      if (stop_.stop_possible()) forward_.emplace(stop_, Forward{this});
      stop_ = own_->get_token();
      on_stop_.emplace(stop_, CancelJob{this});
      timer_ = start_timer(this->executor(), deadline_, [this] {
        deadline_passed_.store(true, std::memory_order_relaxed);
        own_->request_stop();
      });
    } else if (stop_.stop_possible()) {
      on_stop_.emplace(stop_, CancelJob{this});
    }
  }
  void run() noexcept override {
    if constexpr (kInterruptible) {
      // Stopped while it ran and yielded meanwhile: it does not start again.
      if (resume_.interruptions > 0 && stop_.stop_requested()) {
        (void)this->cancel_because(deadline_passed_.load(std::memory_order_relaxed));
      }
      if (this->start() && run_interruptible()) return;  // yielded: queued again
    } else {
      auto call = [this]() -> T {
        if constexpr (std::is_invocable_v<F&, std::stop_token>) {
          return fn_(stop_);
        } else {
          return fn_();
        }
      };
      this->complete_with(call);
    }
    if (timer_) stop_timer(this->executor(), *timer_);  // the callback uses this job
    this->release();
  }

 private:
  struct CancelJob {
    SubmittedJob* job;
    void operator()() const noexcept {
      // The timer stores the flag before it requests stop, on the thread that runs this.
      (void)job->cancel_because(job->deadline_passed_.load(std::memory_order_relaxed));
    }
  };
  struct Forward {
    SubmittedJob* job;
    void operator()() const noexcept { job->own_->request_stop(); }
  };
  static constexpr bool kInterruptible = std::is_invocable_v<F&, JobContext&>;
  struct RequestStop {
    std::stop_source* source;
    void operator()() const noexcept { source->request_stop(); }
  };

  /// One call of an interruptible callable, with a stop source of its own that an interruption
  /// fires as well as the job's. True when it yielded and was queued again; otherwise its
  /// outcome is published.
  bool run_interruptible() noexcept {
    std::stop_source call_stop;
    std::stop_callback<RequestStop> link(stop_, RequestStop{&call_stop});
    std::atomic<bool> requested{false};
    const bool preemptible = enter_interruptible(this->executor(), this->priority(),
                                                 resume_.interruptions, call_stop, requested);
    std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
    std::exception_ptr error;
    try {
      JobContext ctx(call_stop.get_token(), requested, resume_.interruptions, resume_.saved);
      if constexpr (std::is_void_v<T>) {
        fn_(ctx);
      } else {
        value.emplace(fn_(ctx));
      }
    } catch (...) {
      error = std::current_exception();
    }
    if (preemptible) leave_interruptible(this->executor());
    // Asked to yield, it returned or threw: either way it yielded (throwing is how many
    // bodies say "interrupted"). Queued again; the worker's hold on the job passes to the
    // new queue entry.
    if (requested.load(std::memory_order_acquire)) {
      ++resume_.interruptions;
      this->unstart();
      schedule(this->executor(), this, this->priority());
      return true;
    }
    this->finish([&]() -> T {
      if (error) std::rethrow_exception(error);
      if constexpr (!std::is_void_v<T>) return std::move(*value);
    });
    return false;
  }

  /// What an interruptible job keeps across its calls, touched only by the thread running it.
  struct Resumable {
    unsigned interruptions = 0;
    std::string saved;  // JobContext::save_state
  };
  struct NotResumable {};

  Job* job() noexcept override { return this; }
  F fn_;
  [[no_unique_address]] std::conditional_t<kInterruptible, Resumable, NotResumable> resume_;
  std::stop_token stop_;  // what the callable is given
  TimePoint deadline_;
  std::optional<std::stop_source> own_;  // with a deadline: fired by it or by the caller's
  std::atomic<bool> deadline_passed_{false};
  std::optional<TimerId> timer_;
  std::optional<std::stop_callback<Forward>> forward_;  // the caller's token into own_
  std::optional<std::stop_callback<CancelJob>> on_stop_;
};

}  // namespace detail

template <class T>
class Future {
 public:
  Future() = default;
  explicit Future(detail::FutureState<T>* state) : state_(state) {}
  Future(Future&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  Future& operator=(Future&& other) noexcept {
    if (this != &other) {
      reset();
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  ~Future() { reset(); }

  bool valid() const noexcept { return state_ != nullptr; }
  /// True once the callable has returned or thrown.
  bool ready() const { return check().ready(); }
  void wait() const { check().wait(); }
  /// Waits at most `timeout` for the result, without running other work meanwhile (so a
  /// task calling it blocks its worker for up to `timeout`); true when ready().
  bool wait_for(Duration timeout) const { return check().wait_for(timeout); }
  /// Cancels the job if it has not started: it never runs, ready() turns true at once and
  /// get() throws CancelledError; the queue room it held is given back when a worker meets
  /// it. False when it started (or ended) already: it then runs to its end as usual.
  bool cancel() { return check().cancel(); }
  /// Moves the job to the place of `priority` among queued work, if it has not started.
  void set_priority(Priority priority) { check().set_priority(priority); }
  /// Waits, then returns the value or rethrows the callable's exception. Leaves the future
  /// invalid.
  T get() {
    Future keep = std::move(*this);
    return keep.check().take();
  }

 private:
  detail::FutureState<T>& check() const {
    if (!state_)
      throw InvalidStateError("Future has no state — it was moved from or get() was called");
    return *state_;
  }
  void reset() noexcept {
    if (state_) std::exchange(state_, nullptr)->release();
  }
  detail::FutureState<T>* state_ = nullptr;
};

}  // namespace taskloom::runtime
