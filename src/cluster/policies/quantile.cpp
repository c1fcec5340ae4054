// Forecaster "quantile": the q-quantile (nearest rank: the ceil(q x n)-th smallest) of the
// last `window` runtimes of similar jobs, capped at the wall limit. With fewer than
// min_samples runtimes: the wall limit (default_runtime).
#include <algorithm>
#include <cmath>
#include <deque>
#include <unordered_map>

#include "cluster/detail/forecast_key.hpp"

namespace taskloom::cluster::detail {
namespace {
class Quantile final : public Forecaster {
 public:
  explicit Quantile(const ParamReader& p)
      : q_(p.number_in("q", 0, 1)),
        window_(static_cast<std::size_t>(p.number_in("window", 1, 1e6))),
        min_samples_(static_cast<std::size_t>(p.number_in("min_samples", 1, 1e6))),
        fallback_(from_seconds(p.number_in("default_runtime", 1e-9, 1e12))),
        key_(p.text("key")) {}

  Duration predict(const Job& job) override {
    auto it = history_.find(key_(job));
    if (it == history_.end() || it->second.size() < min_samples_)
      return capped(job, limit_or(job, fallback_));
    sorted_.assign(it->second.begin(), it->second.end());
    std::sort(sorted_.begin(), sorted_.end());
    auto rank = static_cast<std::size_t>(std::ceil(q_ * static_cast<double>(sorted_.size())));
    rank = std::clamp<std::size_t>(rank, 1, sorted_.size());
    return capped(job, from_seconds(sorted_[rank - 1]));
  }
  void observe(const Job& job, Duration ran) override {
    auto& h = history_[key_(job)];
    h.push_back(std::chrono::duration<double>(ran).count());
    if (h.size() > window_) h.pop_front();
  }

 private:
  double q_;
  std::size_t window_, min_samples_;
  Duration fallback_;
  ForecastKey key_;
  std::unordered_map<std::string, std::deque<double>> history_;
  std::vector<double> sorted_;
};
}  // namespace

const PolicyEntry& policy_quantile() {
  static const PolicyEntry e{
      PolicyKind::kForecaster,
      "quantile",
      "a quantile of the recent runtimes of similar jobs",
      {{"q", 0.9, "the quantile, in [0, 1]"},
       {"window", 20.0, "how many recent runtimes per key are kept"},
       {"min_samples", 1.0, "runtimes needed before the history is trusted"},
       {"default_runtime", 3600.0, "seconds assumed without history or wall limit"},
       {"key", std::string("user,application,shape"),
        "what makes jobs similar: comma-separated user, application, shape"}},
      [](const ParamReader& p) { return std::make_unique<Quantile>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
