// Resource admission: see runtime/detail/resource_admission.hpp for the rule and its bound.
#include "runtime/detail/resource_admission.hpp"

#include <time.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <limits>

#include "taskloom/core/error.hpp"

namespace taskloom::runtime::detail {

namespace {

constexpr double kRelativeTolerance = 1e-9;

bool known(Duration d) noexcept {
  return d > Duration::zero() && d != Duration::max();
}

double seconds_between(TimePoint a, TimePoint b) noexcept {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

ResourceAdmission::ResourceAdmission(const Resources& capacities, const Clock& clock)
    : ResourceAdmission(capacities, clock, Options{}) {}

ResourceAdmission::ResourceAdmission(const Resources& capacities, const Clock& clock,
                                     Options options)
    : clock_(clock),
      coarse_(dynamic_cast<const SteadyClock*>(&clock) != nullptr),
      options_(options) {
  for (const auto& [name, amount] : capacities) {  // sorted by name
    names_.push_back(name);
    capacity_.push_back(amount);
    epsilon_.push_back(amount * kRelativeTolerance);
  }
  free_ = capacity_;
  peak_.assign(capacity_.size(), 0.0);
  area_.assign(capacity_.size(), 0.0);
  scratch_.extra.assign(capacity_.size(), 0.0);
  if (options_.backfill_depth == 0) options_.backfill_depth = 1;
}

ResourceAdmission::~ResourceAdmission() = default;

namespace {

/// `amount` of `pool` for `task`, within `capacity` (-1: no such pool) up to the tolerance;
/// throws ResourceRequestError otherwise.
double checked_amount(std::string_view task, const std::string& pool, double amount,
                      double capacity) {
  if (capacity < 0 || amount > capacity + capacity * kRelativeTolerance) {
    throw ResourceRequestError(std::string(task), pool, amount, capacity);
  }
  return std::min(amount, capacity);
}

}  // namespace

void ResourceAdmission::check(std::string_view task, const Resources& needs,
                              const Resources& capacities) {
  for (const auto& [name, amount] : needs) {
    checked_amount(task, name, amount, capacities.contains(name) ? capacities.get(name) : -1);
  }
}

Request ResourceAdmission::compile(std::string_view task, const Resources& needs) const {
  std::vector<Request::Entry> entries;
  entries.reserve(needs.size());
  for (const auto& [name, amount] : needs) {
    const auto it = std::lower_bound(names_.begin(), names_.end(), name);
    const bool exists = it != names_.end() && *it == name;
    const auto pool = static_cast<std::uint32_t>(it - names_.begin());
    entries.push_back({pool, checked_amount(task, name, amount, exists ? capacity_[pool] : -1)});
  }
  Request r;
  r.size_ = static_cast<std::uint32_t>(entries.size());
  if (entries.size() <= Request::kInline) {
    std::copy(entries.begin(), entries.end(), r.inline_.begin());
  } else {
    std::shared_ptr<Request::Entry[]> heap(new Request::Entry[entries.size()]);
    std::copy(entries.begin(), entries.end(), heap.get());
    r.heap_ = std::move(heap);
  }
  return r;
}

bool ResourceAdmission::fits_locked(const Request& r) const noexcept {
  for (const Request::Entry& e : r.entries()) {
    if (e.amount > free_[e.pool] + epsilon_[e.pool]) return false;
  }
  return true;
}

void ResourceAdmission::account_locked(TimePoint now) {
  if (!started_) {
    started_ = true;
    window_start_ = last_change_ = now;
    return;
  }
  if (now <= last_change_) return;
  const double dt = seconds_between(last_change_, now);
  for (std::size_t p = 0; p < free_.size(); ++p) area_[p] += (capacity_[p] - free_[p]) * dt;
  last_change_ = now;
}

Grant ResourceAdmission::hold_locked(const Request& r, Duration expected, TimePoint now) {
  account_locked(now);
  for (const Request::Entry& e : r.entries()) {
    free_[e.pool] = std::max(0.0, free_[e.pool] - e.amount);
    peak_[e.pool] = std::max(peak_[e.pool], capacity_[e.pool] - free_[e.pool]);
  }
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(holders_.size());
    holders_.emplace_back();
  }
  Holder& h = holders_[slot];
  h.request = r;
  h.start = now;
  h.expected = known(expected) ? expected : Duration::zero();
  h.live = true;
  ++live_holders_;
  return Grant{slot, h.generation};
}

void ResourceAdmission::reserve_locked(const Request& head, TimePoint now, Reservation& out) {
  // Free amounts as holders with a known duration end, earliest first (an overrunning holder
  // is taken to end now); the shadow time is the first end at which the head fits.
  std::vector<double>& avail = out.extra;
  avail = free_;
  ends_.clear();
  for (std::uint32_t slot = 0; slot < holders_.size(); ++slot) {
    const Holder& h = holders_[slot];
    if (h.live && h.expected != Duration::zero()) {
      ends_.emplace_back(std::max(now, h.start + h.expected), slot);
    }
  }
  std::sort(ends_.begin(), ends_.end());
  const auto fits_avail = [&] {
    for (const Request::Entry& e : head.entries()) {
      if (e.amount > avail[e.pool] + epsilon_[e.pool]) return false;
    }
    return true;
  };
  out.finite = false;
  for (std::size_t i = 0; i < ends_.size(); ++i) {
    for (const Request::Entry& e : holders_[ends_[i].second].request.entries()) {
      avail[e.pool] += e.amount;
    }
    // Holders ending at the same instant free their amounts together.
    if (i + 1 < ends_.size() && ends_[i + 1].first == ends_[i].first) continue;
    if (fits_avail()) {
      out.finite = true;
      out.shadow = ends_[i].first;
      break;
    }
  }
  // Extra: what is left at the shadow time once the head has its share (with no finite
  // shadow time, what the known holders would leave, never below zero).
  for (const Request::Entry& e : head.entries()) avail[e.pool] -= e.amount;
  for (std::size_t p = 0; p < avail.size(); ++p) {
    avail[p] = std::min(std::max(0.0, avail[p]), capacity_[p]);
  }
}

bool ResourceAdmission::may_backfill_locked(const Request& r, Duration expected, TimePoint now,
                                            Reservation& res) const {
  if (res.finite && known(expected) && expected <= res.shadow - now) return true;
  for (const Request::Entry& e : r.entries()) {
    if (e.amount > res.extra[e.pool] + epsilon_[e.pool]) return false;
  }
  for (const Request::Entry& e : r.entries()) {
    res.extra[e.pool] = std::max(0.0, res.extra[e.pool] - e.amount);
  }
  return true;
}

TimePoint ResourceAdmission::time_now() const noexcept {
  if (!coarse_) return clock_.now();
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // the steady clock's base, at tick resolution
  return TimePoint(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

std::optional<Grant> ResourceAdmission::try_acquire(const Request& request, AdmissionKey key,
                                                    Duration expected,
                                                    const AdmissionPayload& payload) {
  return acquire(request, key, expected, &payload);
}

std::optional<Grant> ResourceAdmission::try_acquire_now(const Request& request, AdmissionKey key,
                                                        Duration expected) {
  return acquire(request, key, expected, nullptr);
}

std::optional<Grant> ResourceAdmission::acquire(const Request& request, AdmissionKey key,
                                                Duration expected,
                                                const AdmissionPayload* payload) {
  if (request.empty()) return Grant{};
  std::lock_guard lock(mutex_);
  const TimePoint now = time_now();
  bool admit = fits_locked(request);
  // Ranked behind the head (ties go to those who came first): it must not delay the head.
  if (admit && !waiters_.empty() && waiters_.begin()->first.key >= key) {
    reserve_locked(waiters_.begin()->second.request, now, scratch_);
    admit = may_backfill_locked(request, expected, now, scratch_);
  }
  if (admit) return hold_locked(request, expected, now);
  if (payload != nullptr)
    waiters_.emplace(Rank{key, next_seq_++}, Waiter{request, expected, *payload});
  return std::nullopt;
}

void ResourceAdmission::admit_waiters_locked(TimePoint now, std::vector<Admitted>& admitted) {
  bool reserved = false;
  std::size_t examined = 0;
  for (auto it = waiters_.begin(); it != waiters_.end() && examined < options_.backfill_depth;
       ++examined) {
    Waiter& w = it->second;
    if (!fits_locked(w.request)) {
      if (!reserved) {
        reserve_locked(w.request, now, scratch_);
        reserved = true;
      }
      ++it;
      continue;
    }
    if (reserved && !may_backfill_locked(w.request, w.expected, now, scratch_)) {
      ++it;
      continue;
    }
    admitted.push_back({w.payload, hold_locked(w.request, w.expected, now)});
    it = waiters_.erase(it);
  }
}

void ResourceAdmission::release(Grant grant, std::vector<Admitted>& admitted) {
  if (grant.null()) return;
  std::lock_guard lock(mutex_);
  assert(grant.slot < holders_.size());
  Holder& h = holders_[grant.slot];
  assert(h.live && h.generation == grant.generation);
  if (!h.live || h.generation != grant.generation) return;  // double release: ignore
  const TimePoint now = time_now();
  account_locked(now);
  for (const Request::Entry& e : h.request.entries()) {
    free_[e.pool] = std::min(capacity_[e.pool], free_[e.pool] + e.amount);
  }
  h.live = false;
  ++h.generation;
  h.request = Request{};
  free_slots_.push_back(grant.slot);
  --live_holders_;
  if (!waiters_.empty()) admit_waiters_locked(now, admitted);
}

std::size_t ResourceAdmission::remove_waiters_if(
    const std::function<bool(const AdmissionPayload&)>& pred,
    std::vector<AdmissionPayload>& removed, std::vector<Admitted>& admitted) {
  std::lock_guard lock(mutex_);
  std::size_t count = 0;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (pred(it->second.payload)) {
      removed.push_back(it->second.payload);
      it = waiters_.erase(it);
      ++count;
    } else {
      ++it;
    }
  }
  if (count > 0 && !waiters_.empty()) admit_waiters_locked(time_now(), admitted);
  return count;
}

std::vector<PoolUsage> ResourceAdmission::usage() const {
  std::lock_guard lock(mutex_);
  std::vector<PoolUsage> out;
  out.reserve(names_.size());
  const TimePoint now = std::max(time_now(), last_change_);
  const double window = started_ ? seconds_between(window_start_, now) : 0.0;
  const double tail = started_ ? seconds_between(last_change_, now) : 0.0;
  for (std::size_t p = 0; p < names_.size(); ++p) {
    const double in_use = capacity_[p] - free_[p];
    double average = 0;
    if (window > 0) {
      average = (area_[p] + in_use * tail) / window;
    } else if (started_) {
      average = in_use;  // an empty window: the instantaneous amount
    }
    out.push_back({names_[p], capacity_[p], peak_[p], average});
  }
  return out;
}

std::size_t ResourceAdmission::waiting() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

std::size_t ResourceAdmission::holding() const {
  std::lock_guard lock(mutex_);
  return live_holders_;
}

double ResourceAdmission::available(std::string_view name) const {
  const auto it = std::lower_bound(names_.begin(), names_.end(), name);
  if (it == names_.end() || *it != name) return 0;
  std::lock_guard lock(mutex_);
  return free_[static_cast<std::size_t>(it - names_.begin())];
}

}  // namespace taskloom::runtime::detail
