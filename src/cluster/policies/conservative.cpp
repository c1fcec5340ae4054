// Backfill "conservative": every queued job holds a reservation, made in queue order on a
// per-node profile of free amounts over time (running jobs end when estimated; reservations
// occupy [start, start + estimate / slowest usable node's speed)). At every pass each job, in
// queue order, looks for its earliest start that disturbs no other reservation and moves
// there if that is not later than the one it holds (compression); a new job gets the earliest
// such start. A job whose reservation is now starts at once. So no reservation is ever
// delayed while estimates are upper bounds, which check_invariants verifies at every pass;
// nor by a node event, except those on a node that went down or drains (node_changed), nor
// by an arriving job, whatever its priority: it takes the earliest start that disturbs no
// reservation.
//
// Earliest start on one node: the runs of consecutive profile steps where the job fits give
// feasible start intervals [run start, run end - duration]; the earliest time covered by
// node_count nodes' intervals is found by a sweep. Cost per job: O(profile steps x log).
#include <algorithm>
#include <functional>
#include <span>

#include "cluster/detail/registry.hpp"
#include "cluster/detail/scheduler.hpp"

namespace taskloom::cluster::detail {
namespace {

constexpr Duration kForever = Duration::max();

double secs(Duration d) {
  return std::chrono::duration<double>(d).count();
}

// Free amounts of one node from `now` on: step i covers [t[i], t[i+1]), the last one forever.
struct Profile {
  std::vector<Duration> t;
  std::vector<double> f;  // dims per step

  void init(Duration now, std::span<const double> free) {
    t.assign(1, now);
    f.assign(free.begin(), free.end());
  }
  std::size_t locate(Duration time) const {
    auto it = std::upper_bound(t.begin(), t.end(), time);
    return it == t.begin() ? 0 : static_cast<std::size_t>(it - t.begin()) - 1;
  }
  // Makes `time` a step boundary; returns its step.
  std::size_t split(Duration time, std::size_t D) {
    std::size_t i = locate(time);
    if (t[i] == time || time < t[0]) return i;
    t.insert(t.begin() + static_cast<std::ptrdiff_t>(i + 1), time);
    std::vector<double> copy(f.begin() + static_cast<std::ptrdiff_t>(i * D),
                             f.begin() + static_cast<std::ptrdiff_t>((i + 1) * D));
    f.insert(f.begin() + static_cast<std::ptrdiff_t>((i + 1) * D), copy.begin(), copy.end());
    return i + 1;
  }
  // Adds sign x amount over [from, to).
  void add(Duration from, Duration to, std::span<const double> amount, double sign, std::size_t D) {
    if (from < t[0]) from = t[0];
    if (to != kForever && to <= from) return;
    std::size_t i = split(from, D);
    std::size_t end = to == kForever ? t.size() : split(to, D);
    for (std::size_t k = i; k < end; ++k) {
      for (std::size_t d = 0; d < D; ++d) f[k * D + d] += sign * amount[d];
    }
  }
  bool fits(std::size_t step, std::span<const double> req, std::size_t D) const {
    for (std::size_t d = 0; d < D; ++d) {
      if (!leq(req[d], f[step * D + d])) return false;
    }
    return true;
  }
  bool window_fits(Duration start, Duration dur, std::span<const double> req, std::size_t D) const {
    for (std::size_t i = locate(start); i < t.size() && t[i] < start + dur; ++i) {
      if (!fits(i, req, D)) return false;
    }
    return true;
  }
};

struct Reservation {
  Duration start{};
  Duration dur{};
  std::vector<NodeIdx> nodes;
};

class Conservative final : public Backfill {
 public:
  explicit Conservative(const ParamReader& p)
      : depth_(static_cast<std::size_t>(p.number_in("depth", 0, 1e12))) {}

  void reset() override {
    for (auto& r : res_) r.reset();
    epoch_ = ~std::uint64_t{0};
  }

  // A node that goes down or drains voids the reservations that use it: their jobs are planned
  // again (possibly later: that node is gone). The other reservations are kept — nothing they
  // use was taken away — and the next pass compresses them (the scheduler's plan epoch moved).
  // A node coming up only adds room: every reservation is kept and may move earlier. (Planning
  // everything again instead could move some reservation later, as list scheduling with more
  // room can: the first job takes an earlier slot that overlaps a later job's.)
  void node_changed(NodeIdx n, NodeState state) override {
    if (state == NodeState::kUp) return;
    for (JobIdx j : held_) {
      if (res_[j] &&
          std::find(res_[j]->nodes.begin(), res_[j]->nodes.end(), n) != res_[j]->nodes.end()) {
        res_[j].reset();
      }
    }
  }

  // A running job's nodes come back later than planned: the reservations on them may no
  // longer fit, so their jobs are planned again; the others still hold.
  void end_moved_later(const JobState& running) override {
    for (NodeIdx n : running.nodes) node_changed(n, NodeState::kDown);
  }

  void pass(Scheduler& s, Duration now) override {
    ClusterState& c = s.cluster();
    const std::size_t D = c.dims();
    if (res_.size() != s.job_count()) {
      res_.resize(s.job_count());
      is_held_.resize(s.job_count(), 0);
    }
    // Profiles: free now, plus what running jobs give back when they are expected to end.
    profiles_.resize(c.size());
    for (NodeIdx n = 0; n < c.size(); ++n) {
      if (c.state(n) != NodeState::kUp) continue;
      profiles_[n].init(now, c.free(n));
      for (JobIdx r : s.running_on(n)) {
        const JobState& rs = s.job(r);
        profiles_[n].add(s.projected_end(rs, now), kForever, rs.request, +1, D);
      }
    }
    // Existing reservations of jobs still queued.
    std::vector<JobIdx> keep;
    for (JobIdx j : held_) {
      if (!res_[j] || s.job(j).phase != Phase::kQueued) {
        res_[j].reset();
        is_held_[j] = 0;
        continue;
      }
      occupy(s, j, *res_[j], -1);
      keep.push_back(j);
    }
    held_ = std::move(keep);

    // Compress (re-plan every reservation) only when resources came back earlier than
    // planned; otherwise the plan is still as tight as it was and only new jobs are planned.
    const bool compress = s.plan_epoch() != epoch_;
    epoch_ = s.plan_epoch();
    std::size_t considered = 0;
    for (JobIdx j : s.queue()) {
      const JobState& js = s.job(j);
      if (js.phase != Phase::kQueued || !s.quota_allows(js)) continue;
      if (depth_ > 0 && ++considered > depth_) break;
      // Not a std::optional: GCC 12 then warns of a maybe-uninitialized vector.
      const bool has_old = res_[j].has_value();
      if (has_old && !compress && res_[j]->start > now) continue;
      Reservation old;
      if (has_old) old = *res_[j];
      if (has_old) {
        occupy(s, j, old, +1);
        // A reservation whose time passed without a pass (estimates that were not upper
        // bounds) now means "as soon as possible": its window starts now.
        old.start = std::max(old.start, now);
      }
      Reservation r;
      r.dur = s.run_time_worst(js);
      // Compressing, a start later than the one held is of no use while the held window still
      // fits: look no further than it first (the same answer when there is an earlier one).
      bool found = false;
      if (!has_old || compress) {
        const bool old_ok = has_old && window_ok(s, js, old);
        found = earliest(s, js, now, r, old_ok ? old.start : kForever);
        if (!found && old_ok) {
          r = old;
          found = true;
        }
      }
      if (has_old && (!found || r.start > old.start) && window_ok(s, js, old)) {
        r = old;
        found = true;
      }
      if (s.check_invariants() && s.plans_are_firm() && has_old &&
          (!found || r.start > old.start)) {
        s.violation("conservative backfilling delayed the reservation of " + js.job->id + " from " +
                    std::to_string(secs(old.start)) + " s to " +
                    (found ? std::to_string(secs(r.start)) + " s" : std::string("never")) + " at " +
                    std::to_string(secs(now)) + " s" + (compress ? " (compressing)" : ""));
      }
      if (!found) {
        res_[j].reset();
        continue;
      }
      if (r.start <= now) {
        // Starts now: let the placement policy choose among the nodes whose window is free.
        allowed_.assign(c.size(), 0);
        for (NodeIdx n = 0; n < c.size(); ++n) {
          if (c.state(n) == NodeState::kUp && profiles_[n].window_fits(now, r.dur, js.request, D))
            allowed_[n] = 1;
        }
        c.set_allowed(&allowed_);
        bool placed = s.place(js, nodes_);
        c.set_allowed(nullptr);
        if (!placed &&
            std::all_of(r.nodes.begin(), r.nodes.end(), [&](NodeIdx n) { return c.fits(js, n); })) {
          // The placement refused for a rule of its own (affinity's idle_gpu_only): the
          // planned nodes hold the job, and its reservation is honoured there.
          nodes_ = r.nodes;
          placed = true;
        }
        if (placed) {
          Reservation running{now, r.dur, nodes_};
          occupy(s, j, running, -1);
          res_[j].reset();
          s.start(j, nodes_, now);
          if (s.restart_pass()) return;
          continue;
        }
        // The plan says the window is free but the planned nodes are not: a running job
        // outlived its estimate (the profile counts it gone at its projected end). The job
        // keeps its reservation from now on and starts when the nodes really are free
        // (starting it there anyway overbooked the nodes).
      }
      occupy(s, j, r, -1);
      hold(j);
      res_[j] = std::move(r);
    }
    if (s.check_invariants()) check_plan(s);
    // A reservation whose start is not a projected end of a running job (that job ended
    // early) must still be honoured on time: wake the scheduler then.
    for (JobIdx j : held_) {
      if (res_[j] && res_[j]->start > now) s.request_wakeup(res_[j]->start);
    }
  }

 private:
  // Lists j among the jobs holding a reservation, once: a job can come up twice in one pass
  // (a requeued job's older queue entry), and a job that lost its reservation earlier in the
  // pass is still listed.
  void hold(JobIdx j) {
    if (is_held_[j]) return;
    is_held_[j] = 1;
    held_.push_back(j);
  }

  void occupy(const Scheduler& s, JobIdx j, const Reservation& r, double sign) {
    const std::size_t D = s.cluster().dims();
    for (NodeIdx n : r.nodes) {
      if (s.cluster().state(n) != NodeState::kUp) continue;
      profiles_[n].add(r.start, r.start + r.dur, s.job(j).request, sign, D);
    }
  }

  // No node is promised more than it has at any time of the plan.
  void check_plan(const Scheduler& s) const {
    const std::size_t D = s.cluster().dims();
    for (NodeIdx n = 0; n < s.cluster().size(); ++n) {
      if (s.cluster().state(n) != NodeState::kUp) continue;
      const Profile& p = profiles_[n];
      for (std::size_t k = 0; k < p.f.size(); ++k) {
        double cap = s.cluster().capacity(n)[k % D];
        if (p.f[k] < -1e-9 * std::max(1.0, cap)) {
          s.violation("conservative plan oversubscribes node " + s.cluster().id(n) + " in " +
                      s.cluster().dim_names()[k % D]);
        }
      }
    }
  }

  bool window_ok(const Scheduler& s, const JobState& js, const Reservation& r) const {
    for (NodeIdx n : r.nodes) {
      if (s.cluster().state(n) != NodeState::kUp) return false;
      if (!profiles_[n].window_fits(r.start, r.dur, js.request, s.cluster().dims())) return false;
    }
    return true;
  }

  // Earliest start for js on node_count nodes (lowest-indexed nodes on ties).
  // Starts after `bound` are not looked for (kForever: any start).
  bool earliest(const Scheduler& s, const JobState& js, Duration now, Reservation& r,
                Duration bound) {
    const ClusterState& c = s.cluster();
    const std::size_t D = c.dims();
    const std::vector<NodeIdx>& candidates = could_hold(s, js);
    // A sweep over the nodes' feasible start intervals in time order, opens before closes at
    // one time. Each node's intervals come in time order from a cursor over its profile, so
    // only the events up to the answer are generated (a heap holds each node's next event)
    // instead of every interval of every node being listed and sorted.
    if (cursors_.size() < c.size()) cursors_.resize(c.size());
    auto next_interval = [&](NodeIdx n) {  // the node's next interval: its open event
      Cursor& cu = cursors_[n];
      const Profile& p = profiles_[n];
      while (cu.step < p.t.size() && p.t[cu.step] <= bound) {
        std::size_t i = cu.step;
        if (!p.fits(i, js.request, D)) {
          ++cu.step;
          continue;
        }
        std::size_t k = i;
        while (k + 1 < p.t.size() && p.fits(k + 1, js.request, D)) ++k;
        cu.step = k + 1;
        const Duration a = std::max(p.t[i], now);
        if (k + 1 >= p.t.size()) {
          if (a <= bound) {
            cu.close = bound;
            sweep_.push_back({a, 0, n});
            std::push_heap(sweep_.begin(), sweep_.end(), std::greater<>());
            return;
          }
        } else if (p.t[k + 1] - r.dur >= a && a <= bound) {
          cu.close = std::min(p.t[k + 1] - r.dur, bound);
          sweep_.push_back({a, 0, n});
          std::push_heap(sweep_.begin(), sweep_.end(), std::greater<>());
          return;
        }
      }
    };
    sweep_.clear();
    for (NodeIdx n : candidates) {
      if (c.state(n) != NodeState::kUp) continue;
      cursors_[n].step = 0;
      next_interval(n);
    }
    std::uint32_t open = 0;
    while (!sweep_.empty()) {
      std::pop_heap(sweep_.begin(), sweep_.end(), std::greater<>());
      const Point pt = sweep_.back();
      sweep_.pop_back();
      if (pt.kind == 1) {
        --open;
        next_interval(pt.node);
        continue;
      }
      ++open;
      sweep_.push_back({cursors_[pt.node].close, 1, pt.node});
      std::push_heap(sweep_.begin(), sweep_.end(), std::greater<>());
      // Count once every interval opening at this time is in.
      if (sweep_.front().time == pt.time && sweep_.front().kind == 0) continue;
      if (open >= js.node_count) {
        r.start = pt.time;
        r.nodes.clear();
        for (NodeIdx n : candidates) {
          if (r.nodes.size() == js.node_count) break;
          if (c.state(n) == NodeState::kUp &&
              profiles_[n].window_fits(pt.time, r.dur, js.request, D))
            r.nodes.push_back(n);
        }
        if (r.nodes.size() == js.node_count) return true;
      }
    }
    return false;
  }

  struct Cursor {
    std::size_t step = 0;  // next profile step to look at
    Duration close{};      // the end of the interval last opened
  };
  std::vector<Cursor> cursors_;

  // The nodes that could ever hold the job (labels and capacity), in cluster order, per shape.
  const std::vector<NodeIdx>& could_hold(const Scheduler& s, const JobState& js) {
    if (js.shape >= could_hold_.size()) {
      could_hold_.resize(js.shape + 1);
      could_hold_known_.resize(js.shape + 1, 0);
    }
    if (!could_hold_known_[js.shape]) {
      for (NodeIdx n = 0; n < s.cluster().size(); ++n) {
        if (s.cluster().could_fit(js, n)) could_hold_[js.shape].push_back(n);
      }
      could_hold_known_[js.shape] = 1;
    }
    return could_hold_[js.shape];
  }

  struct Point {
    Duration time;
    int kind;  // 0: interval opens, 1: closes (closed intervals: opens sort first)
    NodeIdx node;
    bool operator<(const Point& o) const {
      if (time != o.time) return time < o.time;
      if (kind != o.kind) return kind < o.kind;
      return node < o.node;
    }
    bool operator>(const Point& o) const { return o < *this; }
  };

  std::size_t depth_;
  std::uint64_t epoch_ = ~std::uint64_t{0};
  std::vector<std::optional<Reservation>> res_;
  std::vector<JobIdx> held_;
  std::vector<char> is_held_;  // per job: listed in held_
  std::vector<Profile> profiles_;
  std::vector<Point> sweep_;
  std::vector<char> allowed_;
  std::vector<NodeIdx> nodes_;
  std::vector<std::vector<NodeIdx>> could_hold_;
  std::vector<char> could_hold_known_;
};
}  // namespace

const PolicyEntry& policy_conservative() {
  static const PolicyEntry e{
      PolicyKind::kBackfill,
      "conservative",
      "conservative backfilling: a reservation for every queued job",
      {{"depth", 0.0,
        "queued jobs given a reservation, in queue order (0: all; Slurm's bf_max_job_test)"}},
      [](const ParamReader& p) { return std::make_unique<Conservative>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
