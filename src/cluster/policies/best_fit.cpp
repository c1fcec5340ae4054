// Placement "best_fit": bin packing on the job's dominant resource — the nodes with the least
// free amount of it that still fit the job (ties: cluster order). Uses the cluster's index of
// nodes by free amount, so a decision costs O(log nodes + nodes skipped).
#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class BestFit final : public Placement {
 public:
  bool place(const JobState& job, const ClusterState& c, std::vector<NodeIdx>& out) override {
    const std::size_t d = job.dominant_dim;
    if (d >= c.dims()) return false;
    const auto& index = c.by_free(d);
    double need = job.request[d];
    double low = need - 1e-9 * (need > 1.0 ? need : 1.0);
    for (auto it = index.lower_bound({low, 0}); it != index.end(); ++it) {
      if (c.fits(job, it->second)) {
        out.push_back(it->second);
        if (out.size() == job.node_count) return true;
      }
    }
    return false;
  }
  bool uses_free_index() const noexcept override { return true; }
};
}  // namespace

const PolicyEntry& policy_best_fit() {
  static const PolicyEntry e{
      PolicyKind::kPlacement,
      "best_fit",
      "bin packing: the nodes with the least free amount of the job's dominant resource",
      {},
      [](const ParamReader&) { return std::make_unique<BestFit>(); }};
  return e;
}
}  // namespace taskloom::cluster::detail
