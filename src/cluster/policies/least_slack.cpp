// Queue order "least_slack": least slack first, slack = deadline - now - estimated runtime.
// At one instant every job shares `now`, so the order is that of deadline - estimate.
#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class LeastSlack final : public QueueOrder {
 public:
  double key(const JobState& job, Duration) override {
    if (!job.deadline) return kInf;
    return std::chrono::duration<double>(*job.deadline - job.estimate).count();
  }
};
}  // namespace

const PolicyEntry& policy_least_slack() {
  static const PolicyEntry e{
      PolicyKind::kQueue,
      "least_slack",
      "least slack first: deadline - now - estimated runtime (no deadline: last, by submit)",
      {},
      [](const ParamReader&) { return std::make_unique<LeastSlack>(); }};
  return e;
}
}  // namespace taskloom::cluster::detail
