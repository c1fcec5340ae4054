// Placement "energy": the nodes that add the fewest joules for the job's estimated run:
//   (busy_watts - idle_watts) x cpu share of the node x estimate / speed
// + idle_watts x estimate / speed   when the node runs nothing now and count_idle = 1
//   (waking an idle node costs its idle draw, so busy nodes are packed first)
// ties: cluster order.
#include <algorithm>

#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class Energy final : public Placement {
 public:
  explicit Energy(const ParamReader& p) : count_idle_(p.number_in("count_idle", 0, 1) != 0) {}

  bool place(const JobState& job, const ClusterState& c, std::vector<NodeIdx>& out) override {
    scored_.clear();
    const double est = std::chrono::duration<double>(job.estimate).count();
    const std::size_t cd = c.cpu_dim();
    for (NodeIdx n = 0; n < c.size(); ++n) {
      if (!c.fits(job, n)) continue;
      double share = 1.0;
      if (cd != kNoDim) {
        double cap = c.capacity(n)[cd];
        share = cap > 0 ? job.request[cd] / cap : 0.0;
      }
      const PowerProfile& pw = c.power(n);
      double run = est / c.speed(n);
      double joules = (pw.busy_watts - pw.idle_watts) * share * run;
      if (count_idle_ && c.running(n) == 0) joules += pw.idle_watts * run;
      scored_.emplace_back(joules, n);
    }
    if (scored_.size() < job.node_count) return false;
    std::partial_sort(scored_.begin(), scored_.begin() + job.node_count, scored_.end());
    for (std::uint32_t i = 0; i < job.node_count; ++i) out.push_back(scored_[i].second);
    return true;
  }

 private:
  bool count_idle_;
  std::vector<std::pair<double, NodeIdx>> scored_;
};
}  // namespace

const PolicyEntry& policy_energy() {
  static const PolicyEntry e{
      PolicyKind::kPlacement,
      "energy",
      "fewest added joules for the job's estimated run (packs busy nodes first)",
      {{"count_idle", 1.0, "1: starting on an idle node also costs its idle watts"}},
      [](const ParamReader& p) { return std::make_unique<Energy>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
