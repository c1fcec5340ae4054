// Forecasters by hand: EWMA and quantile estimates, capping, keys, and the reported error.
#include <gtest/gtest.h>

#include "cluster/detail/registry.hpp"
#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

std::unique_ptr<detail::Forecaster> forecaster(std::string name, PolicyParams params = {}) {
  return detail::make_policy<detail::Forecaster>(PolicyKind::kForecaster,
                                                 {std::move(name), std::move(params)});
}

TEST(ForecastEwma, AveragesWithWeightAlpha) {
  auto f = forecaster("ewma", {{"alpha", 0.5}});
  Job j = job("j", 0, 1, 0, 1000);
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 1000);  // no history: the wall limit
  f->observe(j, sec(100));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 100);  // first runtime starts the average
  f->observe(j, sec(200));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 150);  // 0.5 x 200 + 0.5 x 100
  f->observe(j, sec(50));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 100);  // 0.5 x 50 + 0.5 x 150
}

TEST(ForecastEwma, CappedAtTheWallLimitAndKeyedBySimilarJobs) {
  auto f = forecaster("ewma", {{"alpha", 1.0}, {"key", std::string("user")}});
  Job j = job("j", 0, 1, 0, 60);
  f->observe(j, sec(100));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 60);  // 100 capped at the 60 s limit
  Job other = job("o", 0, 1, 0, 1000);
  other.user = "someone-else";
  EXPECT_DOUBLE_EQ(to_sec(f->predict(other)), 1000);  // no history for that user
}

TEST(ForecastQuantile, NearestRankOfTheRecentWindow) {
  auto median = forecaster("quantile", {{"q", 0.5}, {"window", 4.0}});
  auto p90 = forecaster("quantile", {{"q", 0.9}, {"window", 4.0}});
  Job j = job("j", 0, 1, 0, 1000);
  for (double s : {10.0, 40.0, 20.0, 30.0}) {
    median->observe(j, sec(s));
    p90->observe(j, sec(s));
  }
  // sorted 10 20 30 40: q 0.5 -> rank ceil(2) = 2 -> 20; q 0.9 -> rank ceil(3.6) = 4 -> 40.
  EXPECT_DOUBLE_EQ(to_sec(median->predict(j)), 20);
  EXPECT_DOUBLE_EQ(to_sec(p90->predict(j)), 40);
  median->observe(j, sec(50));  // window drops 10: 20 30 40 50 -> 30
  EXPECT_DOUBLE_EQ(to_sec(median->predict(j)), 30);
}

TEST(ForecastQuantile, WaitsForMinSamples) {
  auto f = forecaster("quantile", {{"min_samples", 2.0}});
  Job j = job("j", 0, 1, 0, 500);
  f->observe(j, sec(10));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 500);
  f->observe(j, sec(20));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 20);
}

TEST(ForecastError, ReportedInTheMetrics) {
  // Two similar jobs one after the other. a: estimate 100 (its limit), runs 50.
  // b: estimate 50 (a's runtime, ewma), runs 60.
  // MAE (50 + 10) / 2 = 30; relative (50/50 + 10/60) / 2; one underestimate.
  SimulationOptions o = options("fcfs", "first_fit", "easy");
  o.forecaster = {"ewma", {}};
  auto r = simulate({node("n", 1)}, {}, {job("a", 0, 1, 50, 100), job("b", 60, 1, 60, 100)}, o);
  EXPECT_EQ(r.metrics.forecast.predictions, 2u);
  EXPECT_DOUBLE_EQ(r.metrics.forecast.mean_absolute_error_s, 30);
  EXPECT_DOUBLE_EQ(r.metrics.forecast.mean_relative_error, (1.0 + 10.0 / 60.0) / 2);
  EXPECT_EQ(r.metrics.forecast.underestimates, 1u);
}

TEST(ForecastRequested, UsesTheDefaultWithoutALimit) {
  auto f = forecaster("requested", {{"default_runtime", 77.0}});
  Job j = job("j", 0, 1, 10, 0);
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 77);
}

}  // namespace
}  // namespace taskloom::cluster
