// Internal: all-or-nothing admission of tasks to named resource pools, with an EASY-style
// reservation for the head of the line, and per-pool utilisation accounting.
//
// Defines ResourceAdmission (the controller), its compiled Request, the Grant a holder gets and
// the opaque AdmissionPayload the runtime attaches to a waiter; usage() fills the public
// runtime::PoolUsage (report.hpp).
//
//   ManualClock clock;
//   ResourceAdmission pools(Resources{{"cpu", 8}, {"gpu", 1}}, clock);
//   const auto need = pools.compile("render", Resources{{"cpu", 4}, {"gpu", 1}});  // may throw
//   std::optional<Grant> g = pools.try_acquire(need, key, expected, payload);
//   if (!g) { /* queued: `payload` comes back from a later release() or cancel */ }
//   std::vector<Admitted> now_running;
//   pools.release(*g, now_running);  // each element's resources are already held for it
//
// Admission rule (EASY backfilling). Waiters are ordered by key, larger first, then by arrival.
// The first waiter is the head; it never fits in what is free (else it would have been
// admitted). It gets a reservation: the shadow time S, the earliest time at which enough
// would be free for it if every holder ran for exactly its expected duration (holders whose
// duration is unknown are taken to run for ever), and the extra: what would be left over at S
// once the head took its share. A request ranked behind the head (queued, or new) starts now
// only if it fits in what is free now AND either (a) it takes, in every pool, no more than
// the remaining extra (the extra is then reduced by its amounts), or (b) its own expected
// duration is known, S is finite, and now + expected <= S. With unknown durations only (a)
// applies. A request ranked ahead of every waiter (larger key than the head's) is admitted
// whenever it fits.
// Bound: backfilling never delays the head past S, the time it would start with no backfill
// at all, as long as expected durations are upper bounds (a task running over its estimate
// can delay it, as in any EASY scheduler; the head itself may change when a request with a
// larger key arrives, which is priority, not starvation). A stream of small requests
// therefore cannot starve a large one.
//
// Thread-safety: every member function may be called from any thread. One mutex guards the
// pools' free amounts, the holders, the waiters and the utilisation integrals. The empty
// request (needs nothing) never takes the lock: try_acquire() returns a null Grant at once and
// release() of a null Grant does nothing. No threads are created and nothing sleeps.
// Cost: try_acquire with no waiters is O(pools in the request); with waiters it also computes
// the head's reservation, O(H log H) in the number H of holders. release() scans at most
// Options::backfill_depth waiters.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "taskloom/core/clock.hpp"
#include "taskloom/core/resources.hpp"
#include "taskloom/runtime/report.hpp"  // PoolUsage

namespace taskloom::runtime::detail {

/// Test-and-test-and-set lock that yields the CPU after a short spin (its holder may have been
/// descheduled), for the admission's short critical sections.
class AdmissionLock {
 public:
  void lock() noexcept {
    for (unsigned spins = 0; locked_.exchange(true, std::memory_order_acquire);) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 128) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  void unlock() noexcept {
    locked_.store(false, std::memory_order_release);
  }

 private:
  std::atomic<bool> locked_{false};
};

/// A waiter's rank: larger is admitted first; ties in arrival order (same as ReadyQueue's Key).
using AdmissionKey = std::uint64_t;

/// What the runtime attaches to a waiting request and gets back, untouched, when the request
/// is admitted or removed. Opaque here; trivially copyable, 24 bytes (room for an Item's
/// target, begin, end, kind and flags).
struct AdmissionPayload {
  void* target = nullptr;
  std::uint32_t a = 0, b = 0;
  std::uint64_t tag = 0;
};

/// A compiled resource request: amounts by pool index, validated against the capacities once.
/// Up to kInline pools are stored inline (no allocation, trivially cheap to copy); larger
/// requests share one immutable heap array.
class Request {
 public:
  struct Entry {
    std::uint32_t pool = 0;
    double amount = 0;
  };
  static constexpr std::size_t kInline = 3;

  Request() = default;
  /// Needs nothing: always admitted, without taking the controller's lock.
  bool empty() const noexcept { return size_ == 0; }
  std::span<const Entry> entries() const noexcept {
    return {size_ <= kInline ? inline_.data() : heap_.get(), size_};
  }

 private:
  friend class ResourceAdmission;
  std::array<Entry, kInline> inline_{};
  std::shared_ptr<const Entry[]> heap_;  // when size_ > kInline
  std::uint32_t size_ = 0;
};

/// A held request; pass it back to release(). A default (null) Grant holds nothing.
struct Grant {
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;
  std::uint32_t slot = kNone;
  std::uint32_t generation = 0;  // catches a release of a slot already released and reused
  bool null() const noexcept { return slot == kNone; }
};

/// A waiter admitted by release() or remove_waiters_if(): its resources are already held under
/// `grant`.
struct Admitted {
  AdmissionPayload payload;
  Grant grant;
};

class ResourceAdmission {
 public:
  struct Options {
    /// Waiters examined per admission pass (the head included); bounds the cost of a release
    /// when many waiters are blocked. Waiters beyond it wait for a later pass.
    std::size_t backfill_depth = 1024;
  };

  /// `capacities` names the pools; `clock` (outliving this) times holders and utilisation.
  ResourceAdmission(const Resources& capacities, const Clock& clock);
  ResourceAdmission(const Resources& capacities, const Clock& clock, Options options);
  ~ResourceAdmission();
  ResourceAdmission(const ResourceAdmission&) = delete;
  ResourceAdmission& operator=(const ResourceAdmission&) = delete;

  /// Throws what compile() would for `needs` against pools with these `capacities`.
  static void check(std::string_view task, const Resources& needs, const Resources& capacities);
  /// Validates `needs` for `task` and compiles it. Throws ResourceRequestError for a pool
  /// that does not exist (capacity -1) or a request above a pool's capacity.
  Request compile(std::string_view task, const Resources& needs) const;

  /// Acquires all of `request` now if it fits and may start now (see the rule above), and
  /// returns its Grant; otherwise queues the waiter (`key`, `payload`) and returns nullopt:
  /// the payload comes back from a later release() or remove_waiters_if(). Never holds part
  /// of a request. `expected`: an upper bound on how long it will hold the resources;
  /// zero or Duration::max() means unknown.
  std::optional<Grant> try_acquire(const Request& request, AdmissionKey key, Duration expected,
                                   const AdmissionPayload& payload);
  /// As try_acquire(), but never queues: nullopt means it may not start now, and nothing of it
  /// is kept (for a caller that must prepare before its waiter becomes visible to others).
  std::optional<Grant> try_acquire_now(const Request& request, AdmissionKey key, Duration expected);

  /// Gives back what `grant` holds, then admits waiters in order; each admitted waiter is
  /// appended to `admitted` with its resources already held.
  void release(Grant grant, std::vector<Admitted>& admitted);

  /// Removes every waiter whose payload satisfies `pred` (e.g. those of a cancelled run),
  /// appending their payloads to `removed` for the runtime to finalise, then admits waiters
  /// that may now start into `admitted`. Returns the number removed. `pred` runs under the
  /// lock: it must not call back into this controller.
  std::size_t remove_waiters_if(const std::function<bool(const AdmissionPayload&)>& pred,
                                std::vector<AdmissionPayload>& removed,
                                std::vector<Admitted>& admitted);

  /// Per pool, in name order: capacity, peak and time-weighted average amount held over
  /// [first acquire, now] (peak and average zero before the first acquire; amounts in the
  /// pool's unit, divide by capacity for a ratio).
  std::vector<PoolUsage> usage() const;

  /// Snapshot counters (for tests and reports).
  std::size_t waiting() const;
  std::size_t holding() const;
  /// Amount of pool `name` free now (0 for an unknown pool).
  double available(std::string_view name) const;

 private:
  struct Holder {
    Request request;
    TimePoint start{};
    Duration expected{};  // zero when unknown
    std::uint32_t generation = 0;
    bool live = false;
  };
  struct Rank {
    AdmissionKey key;
    std::uint64_t seq;
    bool operator<(const Rank& o) const noexcept {
      return key != o.key ? key > o.key : seq < o.seq;
    }
  };
  struct Waiter {
    Request request;
    Duration expected{};
    AdmissionPayload payload;
  };
  struct Reservation {
    bool finite = false;
    TimePoint shadow{};
    std::vector<double> extra;  // by pool index
  };

  std::optional<Grant> acquire(const Request& request, AdmissionKey key, Duration expected,
                               const AdmissionPayload* payload);
  bool fits_locked(const Request& r) const noexcept;
  Grant hold_locked(const Request& r, Duration expected, TimePoint now);
  void account_locked(TimePoint now);  // integrates in-use amounts up to `now`
  void reserve_locked(const Request& head, TimePoint now, Reservation& out);
  /// True (and consumes extra when rule (a) is used) if `r` may start now behind the head.
  bool may_backfill_locked(const Request& r, Duration expected, TimePoint now,
                           Reservation& res) const;
  void admit_waiters_locked(TimePoint now, std::vector<Admitted>& admitted);

  // Immutable after construction.
  std::vector<std::string> names_;  // by pool index, sorted
  std::vector<double> capacity_;
  std::vector<double> epsilon_;  // tolerance for comparisons, relative to capacity
  /// The clock's time; for the steady clock, its coarse variant (CLOCK_MONOTONIC_COARSE, a
  /// few ms resolution): a precise read costs ~130 ns on this project's VMs, as much as the
  /// rest of an admission. Holder times only place reservations and weigh the executor-wide
  /// utilisation; a run's report measures its own tasks precisely.
  TimePoint time_now() const noexcept;
  const Clock& clock_;
  bool coarse_;
  Options options_;

  // A spin lock, not std::mutex: the critical sections are a few hundred ns, and with tasks of
  // a microsecond two workers contending on a futex mutex spent more time asleep and waking
  // than admitting (43% fewer tasks/s than without pools, against 7% with a spin lock).
  mutable AdmissionLock mutex_;
  // All guarded by mutex_.
  std::vector<double> free_;  // by pool index
  std::vector<Holder> holders_;
  std::vector<std::uint32_t> free_slots_;
  std::size_t live_holders_ = 0;
  std::map<Rank, Waiter> waiters_;  // first = head
  std::uint64_t next_seq_ = 0;
  Reservation scratch_;                                    // reused by try_acquire
  std::vector<std::pair<TimePoint, std::uint32_t>> ends_;  // scratch for reserve_locked
  bool started_ = false;  // an acquire happened; the window is open
  TimePoint window_start_{};
  TimePoint last_change_{};
  std::vector<double> peak_;
  std::vector<double> area_;  // integral of in-use amount, in amount x seconds
};

}  // namespace taskloom::runtime::detail
