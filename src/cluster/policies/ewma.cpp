// Forecaster "ewma": exponentially weighted moving average of the runtimes of similar jobs
// (same key), v <- alpha x runtime + (1 - alpha) x v, the first runtime starting it; times
// `factor`, capped at the wall limit. Without history: the wall limit (default_runtime).
// Peak usage likewise, per resource: the same average over the peaks (Job::used) of the
// similar jobs that reported one; without history of a resource, its request.
#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster/detail/forecast_key.hpp"

namespace taskloom::cluster::detail {
namespace {
class Ewma final : public Forecaster {
 public:
  explicit Ewma(const ParamReader& p)
      : alpha_(p.number_in("alpha", 1e-9, 1)),
        factor_(p.number_in("factor", 1e-9, 1e9)),
        fallback_(from_seconds(p.number_in("default_runtime", 1e-9, 1e12))),
        key_(p.text("key")) {}

  Duration predict(const Job& job) override {
    auto it = history_.find(key_(job));
    if (it == history_.end()) return capped(job, limit_or(job, fallback_));
    return capped(job, from_seconds(it->second.runtime * factor_));
  }
  void predict_peak(const Job& job, std::span<const std::string> names,
                    std::span<double> peak) override {
    auto it = history_.find(key_(job));
    if (it == history_.end()) return;
    for (const auto& [name, value] : it->second.peak) {
      auto d = std::lower_bound(names.begin(), names.end(), name);
      if (d != names.end() && *d == name) peak[static_cast<std::size_t>(d - names.begin())] = value;
    }
  }
  void observe(const Job& job, Duration ran) override {
    double x = std::chrono::duration<double>(ran).count();
    auto [it, fresh] = history_.try_emplace(key_(job));
    History& h = it->second;
    h.runtime = fresh ? x : alpha_ * x + (1 - alpha_) * h.runtime;
    for (const auto& [name, amount] : job.used) {
      auto p = std::find_if(h.peak.begin(), h.peak.end(),
                            [&](const auto& e) { return e.first == name; });
      if (p == h.peak.end()) {
        h.peak.emplace_back(name, amount);
      } else {
        p->second = alpha_ * amount + (1 - alpha_) * p->second;
      }
    }
  }

 private:
  struct History {
    double runtime = 0;
    std::vector<std::pair<std::string, double>> peak;  // per resource
  };
  double alpha_, factor_;
  Duration fallback_;
  ForecastKey key_;
  std::unordered_map<std::string, History> history_;
};
}  // namespace

const PolicyEntry& policy_ewma() {
  static const PolicyEntry e{
      PolicyKind::kForecaster,
      "ewma",
      "exponentially weighted moving average of similar jobs' runtimes and peak usage",
      {{"alpha", 0.5, "weight of the newest runtime (and peak), in (0, 1]"},
       {"factor", 1.0, "multiplier on the runtime average (safety margin)"},
       {"default_runtime", 3600.0, "seconds assumed without history or wall limit"},
       {"key", std::string("user,application,shape"),
        "what makes jobs similar: comma-separated user, application, shape"}},
      [](const ParamReader& p) { return std::make_unique<Ewma>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
