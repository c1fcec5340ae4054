// Queue order "multifactor": Slurm's priority/multifactor. A job's priority is
//   weight_age       * min(1, (now - eligible) / max_age)
// + weight_fairshare * 2^(-U/S)      U: its tenant's decayed usage / all decayed usage,
//                                    S: the tenant's target share, its weight over the
//                                    weights of the tenants seen so far (tenant = user, group
//                                    or partition; a partition's weight is its
//                                    fair_share_weight, users and groups weigh 1)
// + weight_jobsize   * size          size: the job's share of the cluster's cpus
//                                    (1 - size with favor_small = 1)
// + weight_partition * partition priority / the largest partition priority
// + weight_qos       * clamp(job priority / 1000, -1, 1)
// and the highest priority runs first. Usage is the job's dominant share x seconds run,
// counted when it stops, halving every half_life seconds.
#include <algorithm>

#include "cluster/detail/registry.hpp"
#include "cluster/detail/scheduler.hpp"
#include "cluster/detail/usage.hpp"

namespace taskloom::cluster::detail {
namespace {
class Multifactor final : public QueueOrder {
 public:
  explicit Multifactor(const ParamReader& p)
      : w_age_(p.number_in("weight_age", 0, 1e9)),
        w_fs_(p.number_in("weight_fairshare", 0, 1e9)),
        w_size_(p.number_in("weight_jobsize", 0, 1e9)),
        w_part_(p.number_in("weight_partition", 0, 1e9)),
        w_qos_(p.number_in("weight_qos", 0, 1e9)),
        max_age_s_(p.number_in("max_age", 1e-9, 1e12)),
        favor_small_(p.number_in("favor_small", 0, 1) != 0),
        usage_(p.number_in("half_life", 0, 1e12)),
        tenants_(p.choice("tenant", {"user", "group", "partition"})) {}

  bool dynamic() const noexcept override { return true; }

  void attach(const Scheduler& s) override {
    for (const Partition& p : s.partitions()) max_part_ = std::max(max_part_, p.priority);
    partitions_ = &s.partitions();
    tenants_.attach(s.partitions());
  }

  double key(const JobState& job, Duration now) override {
    double age = std::chrono::duration<double>(now - job.eligible).count() / max_age_s_;
    age = std::clamp(age, 0.0, 1.0);
    std::size_t t = tenants_(job);
    double fs = fair_share(t, now);
    double size = favor_small_ ? 1.0 - job.size_share : job.size_share;
    double part = 0;
    if (job.partition >= 0 && max_part_ > 0) {
      part = static_cast<double>((*partitions_)[static_cast<std::size_t>(job.partition)].priority) /
             max_part_;
    }
    double qos = std::clamp(job.priority / 1000.0, -1.0, 1.0);
    return -(w_age_ * age + w_fs_ * fs + w_size_ * size + w_part_ * part + w_qos_ * qos);
  }

  void on_stop(const JobState& job, Duration start, Duration now) override {
    ++version_;
    usage_.add(tenants_(job),
               job.dominant_share * std::chrono::duration<double>(now - start).count(), now);
  }

 private:
  // The tenant's fair-share factor, computed once per tenant while no usage is added, the time
  // stays and no tenant appears (the queue asks for every queued job at every pass).
  double fair_share(std::size_t t, Duration now) {
    if (t >= memo_.size()) memo_.resize(t + 1);
    Memo& m = memo_[t];
    if (m.version == version_ && m.now == now && m.tenants == tenants_.count()) return m.fs;
    double total = usage_.total(now);
    double u = total > 0 ? usage_.usage(t, now) / total : 0.0;
    m = {version_, now, tenants_.count(), std::exp2(-u / tenants_.target_share(t))};
    return m.fs;
  }
  struct Memo {
    std::uint64_t version = ~std::uint64_t{0};
    Duration now{};
    std::size_t tenants = 0;  // target shares change as tenants appear
    double fs = 0;
  };
  std::vector<Memo> memo_;
  std::uint64_t version_ = 0;
  double w_age_, w_fs_, w_size_, w_part_, w_qos_, max_age_s_;
  bool favor_small_;
  DecayedUsage usage_;
  TenantKey tenants_;
  int max_part_ = 0;
  const std::vector<Partition>* partitions_ = nullptr;
};
}  // namespace

const PolicyEntry& policy_multifactor() {
  static const PolicyEntry e{
      PolicyKind::kQueue,
      "multifactor",
      "Slurm-like priority/multifactor: weighted age, fair share, size, partition, QOS",
      {{"weight_age", 1000.0, "weight of the age factor"},
       {"weight_fairshare", 1000.0, "weight of the fair-share factor 2^(-usage/target share)"},
       {"weight_jobsize", 0.0, "weight of the job-size factor"},
       {"weight_partition", 1000.0, "weight of the partition priority factor"},
       {"weight_qos", 1000.0, "weight of the job's own priority (/1000)"},
       {"max_age", 604800.0, "seconds of waiting at which the age factor reaches 1"},
       {"half_life", 604800.0, "seconds in which past usage halves (0: no decay)"},
       {"favor_small", 0.0, "1: smaller jobs get the larger size factor"},
       {"tenant", std::string("user"),
        "who shares: user, group (equal shares) or partition (shares by fair_share_weight)"}},
      [](const ParamReader& p) { return std::make_unique<Multifactor>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
