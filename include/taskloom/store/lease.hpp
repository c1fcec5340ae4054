// taskloom/store/lease.hpp — the right to drive one run, held by one process at a time.
//
//   store::Lease lease = store.acquire_lease(run);  // BusyError if a live runner holds it
//   while (running) { ...; lease.renew(); }         // at least every ttl/3
//   // destroyed (or release()d): the run is free for `taskloom resume`
//
// A lease is a row in the database, so it works across processes. It is live while its
// holder renews it within its ttl and, when the holder is on this host, while the holder's pid
// is alive (kill(pid, 0)). A holder killed with kill -9 therefore frees the run at once on its
// own host and after ttl elsewhere. Thread-safety: renew() and release() may be called from any
// thread, but not concurrently on one Lease object.
#pragma once

#include <chrono>
#include <memory>

#include "taskloom/store/records.hpp"

namespace taskloom::store {

namespace detail {
struct StoreState;
}

class Lease {
 public:
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  /// Releases (errors are swallowed; a lease left behind dies with its ttl).
  ~Lease();

  RunId run() const noexcept { return run_; }
  const LeaseHolder& holder() const noexcept { return holder_; }
  std::chrono::milliseconds ttl() const noexcept { return ttl_; }
  bool held() const noexcept { return state_ != nullptr; }

  /// Moves the heartbeat to now. Throws BusyError when another holder took the run over
  /// (this one missed its heartbeats), StorageError when the database fails.
  void renew();
  /// Gives the run up; idempotent. Only deletes the lease if this holder still has it.
  void release();

 private:
  friend class RunStore;
  Lease(std::shared_ptr<detail::StoreState> state, RunId run, LeaseHolder holder,
        std::chrono::milliseconds ttl);

  std::shared_ptr<detail::StoreState> state_;
  RunId run_ = 0;
  LeaseHolder holder_;
  std::chrono::milliseconds ttl_{0};
};

}  // namespace taskloom::store
