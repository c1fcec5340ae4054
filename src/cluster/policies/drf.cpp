// Queue order "drf": dominant resource fairness. The tenant with the smallest dominant share
// goes first:
//   share(t) = (max over resources of t's running allocation / cluster total
//               + decayed past usage / (half_life / ln 2)) / weight(t)
// where past usage is dominant share x seconds, halving every half_life seconds (0: no
// history, pure DRF on current allocations) and weight(t) is the tenant's fair-share weight:
// with tenant = partition, the partition's fair_share_weight (weighted DRF: a partition of
// weight 3 is served until its dominant share is 3 times another's); users and groups weigh
// 1. Within a tenant: submit order.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "cluster/detail/registry.hpp"
#include "cluster/detail/scheduler.hpp"
#include "cluster/detail/usage.hpp"

namespace taskloom::cluster::detail {
namespace {
class Drf final : public QueueOrder {
 public:
  explicit Drf(const ParamReader& p)
      : half_life_s_(p.number_in("half_life", 0, 1e12)),
        usage_(half_life_s_),
        tenants_(p.choice("tenant", {"user", "group", "partition"})) {}

  bool dynamic() const noexcept override { return true; }
  bool reorder_after_start() const noexcept override { return true; }

  void attach(const Scheduler& s) override {
    total_.assign(s.cluster().total().begin(), s.cluster().total().end());
    tenants_.attach(s.partitions());
  }

  double key(const JobState& job, Duration now) override {
    std::size_t t = tenants_(job);
    grow(t);
    // The key is the tenant's: computed once per tenant while nothing starts or stops and the
    // time stays (the queue asks for every queued job at every pass).
    Memo& m = memo_[t];
    if (m.version == version_ && m.now == now) return m.key;
    m = {version_, now, tenant_key(t, now)};
    return m.key;
  }

  void on_start(const JobState& job, Duration) override {
    ++version_;
    std::size_t t = tenants_(job);
    grow(t);
    for (std::size_t d = 0; d < total_.size(); ++d) alloc_[t][d] += job.request[d] * job.node_count;
  }

  void on_stop(const JobState& job, Duration start, Duration now) override {
    ++version_;
    std::size_t t = tenants_(job);
    grow(t);
    for (std::size_t d = 0; d < total_.size(); ++d) {
      alloc_[t][d] = std::max(0.0, alloc_[t][d] - job.request[d] * job.node_count);
    }
    usage_.add(t, job.dominant_share * std::chrono::duration<double>(now - start).count(), now);
  }

 private:
  struct Memo {
    std::uint64_t version = ~std::uint64_t{0};
    Duration now{};
    double key = 0;
  };
  double tenant_key(std::size_t t, Duration now) {
    double dominant = 0;
    for (std::size_t d = 0; d < total_.size(); ++d) {
      if (total_[d] > 0) dominant = std::max(dominant, alloc_[t][d] / total_[d]);
    }
    double past = half_life_s_ > 0 ? usage_.usage(t, now) / (half_life_s_ / std::numbers::ln2) : 0;
    return (dominant + past) / tenants_.weight(t);
  }
  void grow(std::size_t t) {
    if (t >= alloc_.size()) {
      alloc_.resize(t + 1, std::vector<double>(total_.size(), 0.0));
      memo_.resize(t + 1);
    }
  }
  double half_life_s_;
  DecayedUsage usage_;
  TenantKey tenants_;
  std::vector<double> total_;
  std::vector<std::vector<double>> alloc_;
  std::vector<Memo> memo_;  // per tenant
  std::uint64_t version_ = 0;
};
}  // namespace

const PolicyEntry& policy_drf() {
  static const PolicyEntry e{
      PolicyKind::kQueue,
      "drf",
      "dominant resource fairness over running allocations plus decayed past usage",
      {{"half_life", 0.0, "seconds in which past usage halves (0: current allocations only)"},
       {"tenant", std::string("user"),
        "who shares: user, group (equal weights) or partition (weighted by fair_share_weight)"}},
      [](const ParamReader& p) { return std::make_unique<Drf>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
