// Forecaster "requested": the job's own wall limit (default_runtime when it has none).
#include "cluster/detail/forecast_key.hpp"

namespace taskloom::cluster::detail {
namespace {
class Requested final : public Forecaster {
 public:
  explicit Requested(const ParamReader& p)
      : fallback_(from_seconds(p.number_in("default_runtime", 1e-9, 1e12))) {}
  Duration predict(const Job& job) override { return capped(job, limit_or(job, fallback_)); }
  void observe(const Job&, Duration) override {}

 private:
  Duration fallback_;
};
}  // namespace

const PolicyEntry& policy_requested() {
  static const PolicyEntry e{
      PolicyKind::kForecaster,
      "requested",
      "the user's requested runtime (wall limit)",
      {{"default_runtime", 3600.0, "seconds assumed for a job without a wall limit"}},
      [](const ParamReader& p) { return std::make_unique<Requested>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
