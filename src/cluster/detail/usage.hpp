// Private: per-tenant usage that decays with a half-life (fair-share history).
#pragma once

#include <cmath>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/detail/engine.hpp"

namespace taskloom::cluster::detail {

/// Usage in share-seconds per tenant, halving every `half_life` (0: never decays).
class DecayedUsage {
 public:
  explicit DecayedUsage(double half_life_s = 0) : half_life_s_(half_life_s) {}

  void add(std::size_t tenant, double amount, Duration now) {
    grow(tenant);
    decay_to(now);
    usage_[tenant] += amount;
    total_ += amount;
  }
  double usage(std::size_t tenant, Duration now) {
    grow(tenant);
    decay_to(now);
    return usage_[tenant];
  }
  double total(Duration now) {
    decay_to(now);
    return total_;
  }

 private:
  void grow(std::size_t tenant) {
    if (tenant >= usage_.size()) usage_.resize(tenant + 1, 0.0);
  }
  void decay_to(Duration now) {
    if (half_life_s_ <= 0 || now <= stamp_) return;
    double f = std::exp2(-std::chrono::duration<double>(now - stamp_).count() / half_life_s_);
    for (double& u : usage_) u *= f;
    total_ *= f;
    stamp_ = now;
  }
  double half_life_s_;
  std::vector<double> usage_;
  double total_ = 0;
  Duration stamp_{};
};

/// Dense tenant indices for a choice of key: "user", "group" or "partition", and each tenant's
/// fair-share weight: a partition's Partition::fair_share_weight when the tenant is the
/// partition (1 for jobs without one), 1 for users and groups (they share equally).
class TenantKey {
 public:
  explicit TenantKey(std::string by) : by_(std::move(by)) {}
  /// The partitions a job's Job::partition index refers to (Scheduler::partitions()).
  void attach(const std::vector<Partition>& partitions) { partitions_ = &partitions; }
  std::size_t operator()(const JobState& js) {
    // Cached per job: queue orders ask at every pass for every queued job, and a lookup by
    // name costs a string copy.
    if (js.index < by_job_.size() && by_job_[js.index] != kUnknown) return by_job_[js.index];
    if (js.index >= by_job_.size()) by_job_.resize(js.index + 1, kUnknown);
    return by_job_[js.index] = lookup(js);
  }

 private:
  static constexpr std::size_t kUnknown = ~std::size_t{0};
  std::size_t lookup(const JobState& js) {
    const Job& j = *js.job;
    const std::string& k = by_ == "group" ? j.group : by_ == "partition" ? j.partition : j.user;
    auto [it, fresh] = index_.emplace(k, index_.size());
    if (fresh) {
      double w = 1.0;
      if (by_ == "partition" && js.partition >= 0 && partitions_ != nullptr) {
        w = (*partitions_)[static_cast<std::size_t>(js.partition)].fair_share_weight;
      }
      weights_.push_back(w);
      total_weight_ += w;
    }
    return it->second;
  }

 public:
  std::size_t count() const noexcept { return index_.size(); }
  double weight(std::size_t tenant) const noexcept { return weights_[tenant]; }
  /// The sum of the weights of the tenants seen so far.
  double total_weight() const noexcept { return total_weight_; }
  /// The tenant's target share: its weight over the weights of the tenants seen so far.
  double target_share(std::size_t tenant) const noexcept {
    return total_weight_ > 0 ? weights_[tenant] / total_weight_ : 1.0;
  }

 private:
  std::string by_;
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<double> weights_;
  double total_weight_ = 0;
  const std::vector<Partition>* partitions_ = nullptr;
  std::vector<std::size_t> by_job_;  // per job index: its tenant, kUnknown until asked
};

}  // namespace taskloom::cluster::detail
