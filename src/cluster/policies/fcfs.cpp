// Queue order "fcfs": first come, first served (by submit time, then input order).
#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class Fcfs final : public QueueOrder {
 public:
  double key(const JobState& job, Duration) override {
    return std::chrono::duration<double>(job.submit).count();
  }
};
}  // namespace

const PolicyEntry& policy_fcfs() {
  static const PolicyEntry e{
      PolicyKind::kQueue, "fcfs", "first come, first served", {}, [](const ParamReader&) {
        return std::make_unique<Fcfs>();
      }};
  return e;
}
}  // namespace taskloom::cluster::detail
