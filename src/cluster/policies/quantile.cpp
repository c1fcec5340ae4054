// Forecaster "quantile": the q-quantile (nearest rank: the ceil(q x n)-th smallest) of the
// last `window` runtimes of similar jobs, capped at the wall limit. With fewer than
// min_samples runtimes: the wall limit (default_runtime). Peak usage likewise, per resource:
// the q-quantile of the last `window` peaks (Job::used) of similar jobs that reported one;
// with fewer than min_samples of them, the request.
#include <algorithm>
#include <cmath>
#include <deque>
#include <unordered_map>
#include <utility>
#include <vector>

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
    if (it == history_.end() || it->second.runtimes.size() < min_samples_)
      return capped(job, limit_or(job, fallback_));
    return capped(job, from_seconds(quantile(it->second.runtimes)));
  }
  void predict_peak(const Job& job, std::span<const std::string> names,
                    std::span<double> peak) override {
    auto it = history_.find(key_(job));
    if (it == history_.end()) return;
    for (const auto& [name, values] : it->second.peaks) {
      if (values.size() < min_samples_) continue;
      auto d = std::lower_bound(names.begin(), names.end(), name);
      if (d != names.end() && *d == name) {
        peak[static_cast<std::size_t>(d - names.begin())] = quantile(values);
      }
    }
  }
  void observe(const Job& job, Duration ran) override {
    History& h = history_[key_(job)];
    push(h.runtimes, std::chrono::duration<double>(ran).count());
    for (const auto& [name, amount] : job.used) {
      auto p = std::find_if(h.peaks.begin(), h.peaks.end(),
                            [&](const auto& e) { return e.first == name; });
      if (p == h.peaks.end()) p = h.peaks.insert(h.peaks.end(), {name, {}});
      push(p->second, amount);
    }
  }

 private:
  struct History {
    std::deque<double> runtimes;
    std::vector<std::pair<std::string, std::deque<double>>> peaks;  // per resource
  };
  void push(std::deque<double>& values, double x) const {
    values.push_back(x);
    if (values.size() > window_) values.pop_front();
  }
  double quantile(const std::deque<double>& values) {
    sorted_.assign(values.begin(), values.end());
    std::sort(sorted_.begin(), sorted_.end());
    auto rank = static_cast<std::size_t>(std::ceil(q_ * static_cast<double>(sorted_.size())));
    rank = std::clamp<std::size_t>(rank, 1, sorted_.size());
    return sorted_[rank - 1];
  }
  double q_;
  std::size_t window_, min_samples_;
  Duration fallback_;
  ForecastKey key_;
  std::unordered_map<std::string, History> history_;
  std::vector<double> sorted_;
};
}  // namespace

const PolicyEntry& policy_quantile() {
  static const PolicyEntry e{
      PolicyKind::kForecaster,
      "quantile",
      "a quantile of the recent runtimes and peak usage of similar jobs",
      {{"q", 0.9, "the quantile, in [0, 1]"},
       {"window", 20.0, "how many recent runtimes (and peaks) per key are kept"},
       {"min_samples", 1.0, "runtimes (peaks) needed before the history is trusted"},
       {"default_runtime", 3600.0, "seconds assumed without history or wall limit"},
       {"key", std::string("user,application,shape"),
        "what makes jobs similar: comma-separated user, application, shape"}},
      [](const ParamReader& p) { return std::make_unique<Quantile>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
