// Placement "worst_fit": spreading — the nodes with the most free amount of the job's dominant
// resource (ties: cluster order).
#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class WorstFit final : public Placement {
 public:
  bool place(const JobState& job, const ClusterState& c, std::vector<NodeIdx>& out) override {
    const std::size_t d = job.dominant_dim;
    if (d >= c.dims()) return false;
    const auto& index = c.by_free(d);
    double need = job.request[d];
    // Walk from the largest free amount down; among equal amounts keep cluster order.
    auto it = index.end();
    while (it != index.begin()) {
      auto group_end = it;
      --it;
      double amount = it->first;
      if (!leq(need, amount)) break;
      auto group_begin = index.lower_bound({amount, 0});
      for (auto g = group_begin; g != group_end; ++g) {
        if (c.fits(job, g->second)) {
          out.push_back(g->second);
          if (out.size() == job.node_count) return true;
        }
      }
      it = group_begin;
    }
    return false;
  }
  bool uses_free_index() const noexcept override { return true; }
};
}  // namespace

const PolicyEntry& policy_worst_fit() {
  static const PolicyEntry e{
      PolicyKind::kPlacement,
      "worst_fit",
      "spreading: the nodes with the most free amount of the job's dominant resource",
      {},
      [](const ParamReader&) { return std::make_unique<WorstFit>(); }};
  return e;
}
}  // namespace taskloom::cluster::detail
