// Placement "first_fit": the first nodes, in cluster order, on which the job fits.
#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class FirstFit final : public Placement {
 public:
  bool place(const JobState& job, const ClusterState& c, std::vector<NodeIdx>& out) override {
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
