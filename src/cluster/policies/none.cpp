// Backfill "none": strict queue order — jobs start in order until the first that does not fit;
// everything behind it waits. Jobs held by their partition's quota are passed over.
#include "cluster/detail/registry.hpp"
#include "cluster/detail/scheduler.hpp"

namespace taskloom::cluster::detail {
namespace {
class NoBackfill final : public Backfill {
 public:
  void pass(Scheduler& s, Duration now) override {
    for (JobIdx j : s.queue()) {
      const JobState& js = s.job(j);
      if (js.phase != Phase::kQueued || !s.quota_allows(js)) continue;
      if (!s.place(js, nodes_)) return;
      s.start(j, nodes_, now);
      if (s.restart_pass()) return;
    }
  }

 private:
  std::vector<NodeIdx> nodes_;
};
}  // namespace

const PolicyEntry& policy_none() {
  static const PolicyEntry e{PolicyKind::kBackfill,
                             "none",
                             "no backfilling: start in queue order, stop at the first blocked job",
                             {},
                             [](const ParamReader&) { return std::make_unique<NoBackfill>(); }};
  return e;
}
}  // namespace taskloom::cluster::detail
