// Forecaster "recent": the runtime predictor of EASY++ (Tsafrir, Etsion and Feitelson,
// "Backfilling using system-generated predictions rather than user runtime estimates", IEEE
// TPDS 18(6), 2007): a job is predicted to run the mean of the last `window` runtimes of the
// same user's jobs (key: user by default), capped at its wall limit; without history, the
// wall limit. Jobs are never killed at the prediction (the wall limit still holds), and a job
// that outlives its prediction has it raised (Forecaster::correct), as EASY++ does. Used with
// `easy:order=shortest` it is EASY++; docs/cluster-simulation.md compares the two.
#include <deque>
#include <unordered_map>

#include "cluster/detail/forecast_key.hpp"

namespace taskloom::cluster::detail {
namespace {
class Recent final : public Forecaster {
 public:
  explicit Recent(const ParamReader& p)
      : window_(static_cast<std::size_t>(p.number_in("window", 1, 1e6))),
        fallback_(from_seconds(p.number_in("default_runtime", 1e-9, 1e12))),
        key_(p.text("key")) {}

  Duration predict(const Job& job) override {
    auto it = history_.find(key_(job));
    if (it == history_.end() || it->second.empty()) return capped(job, limit_or(job, fallback_));
    double sum = 0;
    for (double x : it->second) sum += x;
    return capped(job, from_seconds(sum / static_cast<double>(it->second.size())));
  }
  void observe(const Job& job, Duration ran) override {
    std::deque<double>& h = history_[key_(job)];
    h.push_back(std::chrono::duration<double>(ran).count());
    if (h.size() > window_) h.pop_front();
  }

 private:
  std::size_t window_;
  Duration fallback_;
  ForecastKey key_;
  std::unordered_map<std::string, std::deque<double>> history_;
};
}  // namespace

const PolicyEntry& policy_recent() {
  static const PolicyEntry e{
      PolicyKind::kForecaster,
      "recent",
      "EASY++'s predictor: mean of the same user's last runtimes, capped at the wall limit",
      {{"window", 2.0, "how many of the latest runtimes are averaged"},
       {"default_runtime", 3600.0, "seconds assumed without history or wall limit"},
       {"key", std::string("user"),
        "what makes jobs similar: comma-separated user, application, shape"}},
      [](const ParamReader& p) { return std::make_unique<Recent>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
