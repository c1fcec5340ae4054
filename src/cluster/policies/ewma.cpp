// Forecaster "ewma": exponentially weighted moving average of the runtimes of similar jobs
// (same key), v <- alpha x runtime + (1 - alpha) x v, the first runtime starting it; times
// `factor`, capped at the wall limit. Without history: the wall limit (default_runtime).
#include <unordered_map>

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
    return capped(job, from_seconds(it->second * factor_));
  }
  void observe(const Job& job, Duration ran) override {
    double x = std::chrono::duration<double>(ran).count();
    auto [it, fresh] = history_.emplace(key_(job), x);
    if (!fresh) it->second = alpha_ * x + (1 - alpha_) * it->second;
  }

 private:
  double alpha_, factor_;
  Duration fallback_;
  ForecastKey key_;
  std::unordered_map<std::string, double> history_;
};
}  // namespace

const PolicyEntry& policy_ewma() {
  static const PolicyEntry e{
      PolicyKind::kForecaster,
      "ewma",
      "exponentially weighted moving average of similar jobs' runtimes",
      {{"alpha", 0.5, "weight of the newest runtime, in (0, 1]"},
       {"factor", 1.0, "multiplier on the average (safety margin)"},
       {"default_runtime", 3600.0, "seconds assumed without history or wall limit"},
       {"key", std::string("user,application,shape"),
        "what makes jobs similar: comma-separated user, application, shape"}},
      [](const ParamReader& p) { return std::make_unique<Ewma>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
