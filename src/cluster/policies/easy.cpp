// Backfill "easy": EASY backfilling (Lifka's, as in Slurm's sched/backfill with one
// reservation). Jobs start in queue order; the first one that does not fit gets a reservation:
// for each node that could hold it, the earliest time it fits there if running jobs end when
// estimated (the forecaster's estimate, or the wall limit); the shadow time is the node_count-th
// earliest of these, and the reserved nodes are the node_count nodes that become free latest up
// to the shadow (so nodes free now stay free for long backfill jobs whenever the head does not
// need them: the "extra nodes" of EASY). A later job may start now (backfill) if it fits and
//   - is estimated to end by the shadow time, or
//   - leaves, on every reserved node it uses, enough for the head job at the shadow time.
// So the head's reservation is never delayed (when estimates are upper bounds), which is
// checked at every pass with check_invariants. A job that cannot be reserved at all (its
// nodes are down) does not block the queue.
//
// With order=shortest the jobs behind the head are tried shortest estimate first, as EASY++
// (Tsafrir et al. 2007) does; with the "recent" forecaster that is EASY++.
//
// Cost per pass: O(queue) cheap steps. A job whose shape is known not to fit (it failed in
// this pass, or failed in an earlier one and nothing was released since) is passed over by
// its shape alone; a job that cannot end by the shadow even on the fastest node is only tried
// under the spare limit. The head's earliest time on each node is kept between passes and
// recomputed only on the nodes whose running jobs changed.
#include <algorithm>
#include <functional>

#include "cluster/detail/registry.hpp"
#include "cluster/detail/scheduler.hpp"

namespace taskloom::cluster::detail {
namespace {
class Easy final : public Backfill {
 public:
  explicit Easy(const ParamReader& p)
      : max_candidates_(static_cast<std::size_t>(p.number_in("max_candidates", 0, 1e12))),
        shortest_first_(p.choice("order", {"queue", "shortest"}) == "shortest") {}

  void reset() override {
    prev_head_.reset();
    node_times_.clear();
  }

  void pass(Scheduler& s, Duration now) override {
    ClusterState& c = s.cluster();
    const std::size_t D = c.dims();
    if (limit_.size() != c.size() * D) limit_.assign(c.size() * D, kInf);
    if (failed_now_.size() < s.shape_count()) {
      failed_now_.resize(s.shape_count(), 0);
      failed_limited_.resize(s.shape_count(), 0);
    }
    ++stamp_;
    bool have_head = false;
    bool started_ahead = false;  // a job before the head in queue order started (not a backfill)
    JobIdx head = 0;
    std::size_t tested = 0;
    const bool pure = s.placement_is_pure();
    // One job behind the head: starts it now if it may backfill. True: the pass must end.
    auto backfill = [&](JobIdx j) {
      const JobState& js = s.job(j);
      if (js.phase != Phase::kQueued || !s.quota_allows(js)) return false;
      if (failed_now_[js.shape] == stamp_) return false;
      // A job that cannot end by the shadow even on the fastest node can only start within the
      // spare; with a pure placement policy the unlimited attempt is skipped (its answer could
      // not start the job).
      if (!pure || now + s.run_time_best(js) <= shadow_) {
        if (!s.place(js, nodes_)) {
          failed_now_[js.shape] = stamp_;
          return false;
        }
        if (now + s.run_time_on(js, nodes_) <= shadow_) {
          s.start(j, nodes_, now);
          return s.restart_pass();
        }
      }
      if (failed_limited_[js.shape] == stamp_) return false;
      c.set_limit(&limit_);
      bool ok = s.place(js, nodes_);
      c.set_limit(nullptr);
      if (!ok) {
        failed_limited_[js.shape] = stamp_;
        return false;
      }
      for (NodeIdx n : nodes_) {
        for (std::size_t d = 0; d < D; ++d) limit_[n * D + d] -= js.request[d];
      }
      s.start(j, nodes_, now);
      return s.restart_pass();
    };
    const std::span<const JobIdx> queue = s.queue();
    for (std::size_t qi = 0; qi < queue.size(); ++qi) {
      const JobIdx j = queue[qi];
      if (have_head && shortest_first_) {
        // EASY++: the jobs behind the head are tried shortest estimate first (ties: queue
        // order), the first max_candidates of them in queue order.
        order_.clear();
        for (std::size_t k = qi; k < queue.size(); ++k) {
          const JobState& ks = s.job(queue[k]);
          if (ks.phase != Phase::kQueued || failed_now_[ks.shape] == stamp_ ||
              s.known_unfit(ks.shape))
            continue;
          if (max_candidates_ > 0 && order_.size() == max_candidates_) break;
          order_.emplace_back(ks.estimate, queue[k]);
        }
        std::stable_sort(order_.begin(), order_.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [estimate, k] : order_) {
          if (backfill(k)) break;
        }
        break;
      }
      if (have_head && max_candidates_ == 0) {
        // Behind the head: a shape that cannot be placed is passed over without reading the job.
        const std::uint32_t shape = s.shape(j);
        if (failed_now_[shape] == stamp_) continue;
        if (s.known_unfit(shape)) {
          failed_now_[shape] = stamp_;
          continue;
        }
      }
      const JobState& js = s.job(j);
      if (js.phase != Phase::kQueued || !s.quota_allows(js)) continue;
      if (!have_head) {
        if (failed_now_[js.shape] != stamp_ && s.place(js, nodes_)) {
          started_ahead = true;
          s.start(j, nodes_, now);
          if (s.restart_pass()) break;
          continue;
        }
        failed_now_[js.shape] = stamp_;
        auto shadow = reserve(s, js, now, true);
        if (!shadow) continue;  // can never be reserved now: does not block
        have_head = true;
        head = j;
        shadow_ = *shadow;
        // Across passes the head's shadow may only move later when something ahead of it in
        // queue order started (a job that became ready, or left its quota hold), or when the
        // last shadow was that pass's own time: the head fitted by resources but the placement
        // policy refused the nodes for a rule of its own (affinity's idle_gpu_only), which no
        // reservation can hold.
        if (s.check_invariants() && s.plans_are_firm() && s.queue_is_static() && prev_head_ &&
            *prev_head_ == head && !started_ahead && prev_shadow_ > prev_now_ &&
            shadow_ > prev_shadow_) {
          s.violation("EASY delayed the reservation of head job " + js.job->id);
        }
        continue;
      }
      if (max_candidates_ > 0 && ++tested > max_candidates_) break;
      if (backfill(j)) break;
    }
    if (have_head) {
      if (s.check_invariants() && s.plans_are_firm()) {
        auto again = reserve(s, s.job(head), now, false);
        if (!again || *again > shadow_) {
          s.violation("EASY backfilling delayed the reservation of head job " +
                      s.job(head).job->id);
        }
      }
      for (NodeIdx n : reserved_) std::fill_n(limit_.begin() + n * D, D, kInf);
      reserved_.clear();
      prev_head_ = head;
      prev_shadow_ = shadow_;
      prev_now_ = now;
    } else {
      prev_head_.reset();
    }
  }

 private:
  // The earliest time `js` fits on node n if the running jobs end at their projected ends,
  // kept per node: it depends only on the node's running jobs and free amounts (its version),
  // on the job's shape and, through projected_end's "never before now", on `now` while some
  // running job is past its estimate.
  struct NodeTime {
    std::uint64_t version = ~std::uint64_t{0};
    JobIdx job = 0;
    std::uint32_t shape = 0;
    bool fits_now = false, found = false;
    Duration time{};
    Duration min_end{};  // earliest estimated end of the node's running jobs (unclamped)
  };

  bool node_time(const Scheduler& s, const JobState& js, NodeIdx n, Duration now, Duration& t) {
    const ClusterState& c = s.cluster();
    NodeTime& e = node_times_[n];
    if (e.version == c.version(n) && e.job == js.index && e.shape == js.shape &&
        (e.fits_now || now < e.min_end)) {
      t = e.fits_now ? now : e.time;
      return e.fits_now || e.found;
    }
    e.version = c.version(n);
    e.job = js.index;
    e.shape = js.shape;
    e.fits_now = c.fits(js, n);
    e.found = false;
    if (e.fits_now) {
      t = now;
      return true;
    }
    const std::size_t D = c.dims();
    ends_.clear();
    e.min_end = Duration::max();
    for (JobIdx r : s.running_on(n)) {
      e.min_end = std::min(e.min_end, s.job(r).expected_end);
      ends_.emplace_back(s.projected_end(s.job(r), now), r);
    }
    std::sort(ends_.begin(), ends_.end());
    auto fr = c.free(n);
    std::copy(fr.begin(), fr.end(), acc_.begin());
    for (const auto& [end, r] : ends_) {
      const auto req = s.job(r).request;
      for (std::size_t d = 0; d < D; ++d) acc_[d] += req[d];
      bool fits = true;
      for (std::size_t d = 0; d < D && fits; ++d) fits = leq(js.request[d], acc_[d]);
      if (fits) {
        e.found = true;
        e.time = end;
        break;
      }
    }
    t = e.time;
    return e.found;
  }

  // The head's shadow time and reserved nodes (with `set_limits`, their spare amounts at the
  // shadow time go into limit_). Empty when fewer than node_count nodes could ever hold it.
  std::optional<Duration> reserve(const Scheduler& s, const JobState& js, Duration now,
                                  bool set_limits) {
    const ClusterState& c = s.cluster();
    const std::size_t D = c.dims();
    times_.clear();
    acc_.resize(D);
    if (node_times_.size() != c.size()) node_times_.assign(c.size(), {});
    // The nodes that could ever hold the head (labels and capacity), for its shape.
    if (!candidates_shape_ || *candidates_shape_ != js.shape) {
      candidates_.clear();
      for (NodeIdx n = 0; n < c.size(); ++n) {
        if (c.could_fit(js, n)) candidates_.push_back(n);
      }
      candidates_shape_ = js.shape;
    }
    for (NodeIdx n : candidates_) {
      if (c.state(n) != NodeState::kUp) continue;
      Duration t{};
      if (node_time(s, js, n, now, t)) times_.emplace_back(t, n);
    }
    if (times_.size() < js.node_count) return std::nullopt;
    auto kth = times_.begin() + (js.node_count - 1);
    std::nth_element(times_.begin(), kth, times_.end());
    Duration shadow = kth->first;
    if (!set_limits) return shadow;
    // The reserved nodes: of those where the head fits by the shadow, the node_count that
    // become free latest (ties: the later in cluster order). The nodes free sooner — free now,
    // above all — stay unreserved, so jobs running past the shadow may backfill onto them.
    auto upto = std::partition(times_.begin(), times_.end(),
                               [shadow](const auto& tn) { return tn.first <= shadow; });
    std::sort(times_.begin(), upto, std::greater<>());
    reserved_.clear();
    for (auto it = times_.begin(); it != times_.begin() + js.node_count; ++it) {
      NodeIdx n = it->second;
      reserved_.push_back(n);
      auto fr = c.free(n);
      std::copy(fr.begin(), fr.end(), acc_.begin());
      for (JobIdx r : s.running_on(n)) {
        if (s.projected_end(s.job(r), now) <= shadow) {
          for (std::size_t d = 0; d < D; ++d) acc_[d] += s.job(r).request[d];
        }
      }
      for (std::size_t d = 0; d < D; ++d) limit_[n * D + d] = acc_[d] - js.request[d];
    }
    return shadow;
  }

  std::size_t max_candidates_;
  bool shortest_first_;
  std::vector<std::pair<Duration, JobIdx>> order_;
  std::vector<double> limit_, acc_;
  std::vector<std::uint64_t> failed_now_, failed_limited_;
  std::uint64_t stamp_ = 0;
  std::vector<NodeIdx> nodes_, reserved_, candidates_;
  std::optional<std::uint32_t> candidates_shape_;
  std::vector<NodeTime> node_times_;
  std::vector<std::pair<Duration, NodeIdx>> times_;
  std::vector<std::pair<Duration, JobIdx>> ends_;
  Duration shadow_{}, prev_shadow_{}, prev_now_{};
  std::optional<JobIdx> prev_head_;
};
}  // namespace

const PolicyEntry& policy_easy() {
  static const PolicyEntry e{
      PolicyKind::kBackfill,
      "easy",
      "EASY backfilling: a reservation for the first blocked job only",
      {{"max_candidates", 0.0, "jobs behind the head tried per pass (0: all)"},
       {"order", std::string("queue"),
        "order in which jobs behind the head are tried: queue, or shortest (estimate) first "
        "as EASY++ does"}},
      [](const ParamReader& p) { return std::make_unique<Easy>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
