// Forecaster "accuracy": learns how well each user estimates. A job with a wall limit L is
// predicted to run max(L x r, t): r the mean share of their wall limits that the same user's
// last `window` jobs ran (key: user by default), t the mean of those jobs' runtimes. So a
// user who asks for ten times what their jobs need is predicted a tenth of the limit, however
// long this job is, but not less than what their latest jobs ran; a user whose limits are
// exact keeps them (traces without limits, to which the readers give the actual runtime, stay
// exact, where EASY++'s mean of runtimes would not). Capped at the wall limit; without
// history, the wall limit; jobs without a limit: t (default_runtime without history). Like
// every forecaster's, a prediction that is exceeded is raised (Forecaster::correct). Chosen
// against EASY++ on the shared traces (docs/cluster-simulation.md), window 1 the best of 1, 2
// and 4 there.
#include <deque>
#include <unordered_map>

#include "cluster/detail/forecast_key.hpp"

namespace taskloom::cluster::detail {
namespace {
class Accuracy final : public Forecaster {
 public:
  explicit Accuracy(const ParamReader& p)
      : window_(static_cast<std::size_t>(p.number_in("window", 1, 1e6))),
        fallback_(from_seconds(p.number_in("default_runtime", 1e-9, 1e12))),
        key_(p.text("key")) {}

  Duration predict(const Job& job) override {
    auto it = history_.find(key_(job));
    if (it == history_.end()) return capped(job, limit_or(job, fallback_));
    const History& h = it->second;
    if (job.requested_runtime > Duration::zero()) {
      if (h.ratios.empty()) return capped(job, job.requested_runtime);
      double x = std::chrono::duration<double>(job.requested_runtime).count() * mean(h.ratios);
      x = std::max(x, mean(h.runtimes));  // not shorter than the user's latest jobs ran
      return capped(job, from_seconds(x));
    }
    return capped(job, h.runtimes.empty() ? fallback_ : from_seconds(mean(h.runtimes)));
  }
  void observe(const Job& job, Duration ran) override {
    History& h = history_[key_(job)];
    const double x = std::chrono::duration<double>(ran).count();
    push(h.runtimes, x);
    if (job.requested_runtime > Duration::zero()) {
      const double limit = std::chrono::duration<double>(job.requested_runtime).count();
      push(h.ratios, std::min(1.0, x / limit));
    }
  }

 private:
  struct History {
    std::deque<double> ratios, runtimes;
  };
  void push(std::deque<double>& d, double x) const {
    d.push_back(x);
    if (d.size() > window_) d.pop_front();
  }
  static double mean(const std::deque<double>& d) {
    double sum = 0;
    for (double x : d) sum += x;
    return sum / static_cast<double>(d.size());
  }
  std::size_t window_;
  Duration fallback_;
  ForecastKey key_;
  std::unordered_map<std::string, History> history_;
};
}  // namespace

const PolicyEntry& policy_accuracy() {
  static const PolicyEntry e{
      PolicyKind::kForecaster,
      "accuracy",
      "max(wall limit x share of their limits the user's last jobs ran, their runtime)",
      {{"window", 1.0, "how many of the latest jobs are averaged"},
       {"default_runtime", 3600.0, "seconds assumed without history or wall limit"},
       {"key", std::string("user"),
        "what makes jobs similar: comma-separated user, application, shape"}},
      [](const ParamReader& p) { return std::make_unique<Accuracy>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
