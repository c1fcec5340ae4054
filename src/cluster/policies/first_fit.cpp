// Placement "first_fit": the first nodes, in cluster order, on which the job fits. Nodes without
// enough of the job's dominant resource are skipped through the cluster's tree of free
// maxima, so a decision costs O(log nodes) per node skipped in a row, not one check per node.
#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class FirstFit final : public Placement {
 public:
  bool place(const JobState& job, const ClusterState& c, std::vector<NodeIdx>& out) override {
    const std::size_t d = job.dominant_dim;
    if (d < c.dims()) {
      const double need = job.request[d];
      for (NodeIdx n = c.next_with_free(d, need, 0); n < c.size();
           n = c.next_with_free(d, need, n + 1)) {
        if (c.fits(job, n)) {
          out.push_back(n);
          if (out.size() == job.node_count) return true;
        }
      }
      return false;
    }
    for (NodeIdx n = 0; n < c.size(); ++n) {
      if (c.fits(job, n)) {
        out.push_back(n);
        if (out.size() == job.node_count) return true;
      }
    }
    return false;
  }
};
}  // namespace

const PolicyEntry& policy_first_fit() {
  static const PolicyEntry e{PolicyKind::kPlacement,
                             "first_fit",
                             "the first nodes in cluster order where the job fits",
                             {},
                             [](const ParamReader&) { return std::make_unique<FirstFit>(); }};
  return e;
}
}  // namespace taskloom::cluster::detail
