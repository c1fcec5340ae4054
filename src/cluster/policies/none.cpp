// Backfill "none": strict queue order — jobs start in order until the first that does not fit;
// everything behind it waits. Jobs held by their partition's quota are passed over.
#include <algorithm>

#include "cluster/detail/registry.hpp"
#include "cluster/detail/scheduler.hpp"

namespace taskloom::cluster::detail {
namespace {
class NoBackfill final : public Backfill {
 public:
  // Only the head of the queue matters: with a dynamic queue order, the scheduler sorts just
  // the first prefix_ jobs; when all of them start (or wait for their quota) the prefix grows
  // and the pass runs again, so the decisions are those of a fully sorted queue.
  std::size_t ordered_prefix() const noexcept override { return prefix_; }

  void pass(Scheduler& s, Duration now) override {
    const auto queue = s.queue();
    const std::size_t n = s.queue_is_static() ? queue.size() : std::min(prefix_, queue.size());
    for (std::size_t i = 0; i < n; ++i) {
      const JobIdx j = queue[i];
      const JobState& js = s.job(j);
      if (js.phase != Phase::kQueued || !s.quota_allows(js)) continue;
      if (!s.place(js, nodes_)) {
        prefix_ = kPrefix;
        return;
      }
      s.start(j, nodes_, now);
      if (s.restart_pass()) {
        prefix_ = kPrefix;
        return;
      }
    }
    if (n < queue.size()) {
      prefix_ *= 4;  // every job read started or waits for its quota: read further
      s.request_restart();
    } else {
      prefix_ = kPrefix;
    }
  }

 private:
  static constexpr std::size_t kPrefix = 16;
  std::size_t prefix_ = kPrefix;
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
