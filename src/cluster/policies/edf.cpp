// Queue order "edf": earliest deadline first; jobs without a deadline follow, in submit order.
#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class Edf final : public QueueOrder {
 public:
  double key(const JobState& job, Duration) override {
    if (!job.deadline) return kInf;
    return std::chrono::duration<double>(*job.deadline).count();
  }
};
}  // namespace

const PolicyEntry& policy_edf() {
  static const PolicyEntry e{PolicyKind::kQueue,
                             "edf",
                             "earliest deadline first (no deadline: last, by submit)",
                             {},
                             [](const ParamReader&) { return std::make_unique<Edf>(); }};
  return e;
}
}  // namespace taskloom::cluster::detail
