// Forecasters by hand: EWMA and quantile estimates, capping, keys, and the reported error.
#include <gtest/gtest.h>

#include "taskloom/cluster/scheduler.hpp"

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

// Peak usage per resource: `peak` comes filled with the request; the forecaster overwrites
// what it has a history of.
std::vector<double> peak_of(detail::Forecaster& f, const Job& j) {
  const std::vector<std::string> names{"cpu", "memory"};
  std::vector<double> peak{j.request.get("cpu"), j.request.get("memory")};
  f.predict_peak(j, names, peak);
  return peak;
}

Job with_mem(std::string id, double request, double used) {
  Job j = job(std::move(id), 0, 2, 10, 100);
  j.request.set("memory", request);
  if (used > 0) j.used.set("memory", used);
  return j;
}

TEST(ForecastEwma, PredictsPeakUsagePerResource) {
  // Peaks of similar jobs: 100, then 200 (alpha 0.5): 100, then 0.5 x 200 + 0.5 x 100 = 150.
  // cpu has no history: it keeps the request (2). A job without a peak changes nothing.
  auto f = forecaster("ewma", {{"alpha", 0.5}, {"key", std::string("user")}});
  EXPECT_EQ(peak_of(*f, with_mem("x", 1000, 0)), (std::vector<double>{2, 1000}));
  f->observe(with_mem("a", 1000, 100), sec(10));
  EXPECT_EQ(peak_of(*f, with_mem("x", 1000, 0)), (std::vector<double>{2, 100}));
  f->observe(with_mem("b", 1000, 200), sec(10));
  EXPECT_EQ(peak_of(*f, with_mem("x", 1000, 0)), (std::vector<double>{2, 150}));
  f->observe(with_mem("c", 1000, 0), sec(10));
  EXPECT_EQ(peak_of(*f, with_mem("x", 1000, 0)), (std::vector<double>{2, 150}));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(with_mem("x", 1000, 0))), 10);  // runtimes unchanged
}

TEST(ForecastQuantile, PeakIsANearestRankQuantileOfRecentPeaks) {
  // Window 3, q 0.5: peaks 300, 100, 200 -> sorted 100 200 300, rank ceil(1.5) = 2 -> 200;
  // a fourth, 50, drops 300: 50 100 200 -> 100. min_samples 2: one peak is not enough.
  auto f = forecaster(
      "quantile",
      {{"q", 0.5}, {"window", 3.0}, {"min_samples", 2.0}, {"key", std::string("application")}});
  f->observe(with_mem("a", 1000, 300), sec(10));
  EXPECT_EQ(peak_of(*f, with_mem("x", 1000, 0))[1], 1000);
  f->observe(with_mem("b", 1000, 100), sec(10));
  f->observe(with_mem("c", 1000, 200), sec(10));
  EXPECT_EQ(peak_of(*f, with_mem("x", 1000, 0))[1], 200);
  f->observe(with_mem("d", 1000, 50), sec(10));
  EXPECT_EQ(peak_of(*f, with_mem("x", 1000, 0))[1], 100);
}

TEST(ForecastRequested, PeakIsTheRequest) {
  auto f = forecaster("requested");
  f->observe(with_mem("a", 1000, 100), sec(10));
  EXPECT_EQ(peak_of(*f, with_mem("x", 1000, 0)), (std::vector<double>{2, 1000}));
}

TEST(ForecastError, PeakErrorReportedInTheMetrics) {
  // One node; a [0, 10) then b, submitted when a ends, [10, 20): similar jobs asking for 100
  // bytes of memory and using 50 and 60. "requested" predicts the request: errors 50 and 40,
  // relative 50/50 and 40/60. "ewma": a has no history (100, error 50), b gets a's 50 (error 10,
  // 10/60, an underestimate).
  std::vector<Node> nodes{node("n", 2)};
  nodes[0].capacity.set("memory", 100);
  Job a = with_mem("a", 100, 50), b = with_mem("b", 100, 60);
  b.submit_time = sec(10);
  SimulationOptions o = options("fcfs", "first_fit", "none");
  auto r = simulate(nodes, {}, {a, b}, o);
  ASSERT_EQ(r.metrics.forecast.peak.size(), 1u);
  const PeakForecastError& req = r.metrics.forecast.peak[0];
  EXPECT_EQ(req.resource, "memory");
  EXPECT_EQ(req.predictions, 2u);
  EXPECT_DOUBLE_EQ(req.mean_absolute_error, 45);
  EXPECT_DOUBLE_EQ(req.mean_relative_error, (1.0 + 40.0 / 60.0) / 2);
  EXPECT_EQ(req.underestimates, 0u);
  o.forecaster = {"ewma", {}};
  auto e = simulate(nodes, {}, {a, b}, o);
  ASSERT_EQ(e.metrics.forecast.peak.size(), 1u);
  EXPECT_DOUBLE_EQ(e.metrics.forecast.peak[0].mean_absolute_error, 30);
  EXPECT_DOUBLE_EQ(e.metrics.forecast.peak[0].mean_relative_error, (1.0 + 10.0 / 60.0) / 2);
  EXPECT_EQ(e.metrics.forecast.peak[0].underestimates, 1u);
  // Without any Job::used there is no peak error to report.
  auto none = simulate(nodes, {}, {with_mem("c", 100, 0)}, o);
  EXPECT_TRUE(none.metrics.forecast.peak.empty());
}

TEST(ForecastRequested, UsesTheDefaultWithoutALimit) {
  auto f = forecaster("requested", {{"default_runtime", 77.0}});
  Job j = job("j", 0, 1, 10, 0);
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 77);
}

}  // namespace
}  // namespace taskloom::cluster

namespace taskloom::cluster {
namespace {
using namespace testing;

TEST(ForecastRecent, MeanOfTheUsersLastTwoRuntimesCappedAtTheLimit) {
  // EASY++'s predictor: the same user's last two runtimes, whatever the job's shape.
  auto f = detail::make_policy<detail::Forecaster>(PolicyKind::kForecaster, {"recent", {}});
  Job j = job("j", 0, 1, 0, 1000);
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 1000);  // no history: the wall limit
  f->observe(j, sec(100));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 100);
  Job wide = job("w", 0, 8, 0, 1000, 2);  // same user, other shape
  f->observe(wide, sec(300));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 200);  // (100 + 300) / 2
  f->observe(j, sec(500));
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 400);  // (300 + 500) / 2: 100 left the window
  Job short_limit = job("s", 0, 1, 0, 250);
  EXPECT_DOUBLE_EQ(to_sec(f->predict(short_limit)), 250);  // capped at its limit
  Job other = job("o", 0, 1, 0, 700);
  other.user = "someone-else";
  EXPECT_DOUBLE_EQ(to_sec(f->predict(other)), 700);
}

TEST(ForecastAccuracy, TheLimitTimesTheShareTheUsersLastJobRanButNotLessThanItsRuntime) {
  auto f = detail::make_policy<detail::Forecaster>(PolicyKind::kForecaster, {"accuracy", {}});
  Job j = job("j", 0, 1, 0, 1000);
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 1000);  // no history: the wall limit
  f->observe(job("a", 0, 1, 0, 400), sec(100));   // ran a quarter of its limit
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 250);   // a quarter of 1,000
  Job small = job("s", 0, 1, 0, 200);
  EXPECT_DOUBLE_EQ(to_sec(f->predict(small)), 100);  // 50, but the last job ran 100
  Job unlimited = job("u", 0, 1, 0, 0);
  EXPECT_DOUBLE_EQ(to_sec(f->predict(unlimited)), 100);  // no limit: the last runtime
  f->observe(job("b", 0, 1, 0, 300), sec(300));          // an exact limit: window 1 forgets a
  EXPECT_DOUBLE_EQ(to_sec(f->predict(j)), 1000);
  auto two = detail::make_policy<detail::Forecaster>(PolicyKind::kForecaster,
                                                     {"accuracy", {{"window", 2.0}}});
  two->observe(job("a", 0, 1, 0, 400), sec(100));
  two->observe(job("b", 0, 1, 0, 300), sec(300));
  EXPECT_DOUBLE_EQ(to_sec(two->predict(j)), 625);  // (0.25 + 1) / 2 x 1,000
}

TEST(ForecastCorrection, RaisesAPredictionThatWasExceededByEasyPlusPlusSteps) {
  auto f = detail::make_policy<detail::Forecaster>(PolicyKind::kForecaster, {"recent", {}});
  Job j = job("j", 0, 1, 0, 1e6);
  EXPECT_DOUBLE_EQ(to_sec(f->correct(j, sec(100), 1)), 160);              // + 1 min
  EXPECT_DOUBLE_EQ(to_sec(f->correct(j, sec(160), 2)), 460);              // + 5 min
  EXPECT_DOUBLE_EQ(to_sec(f->correct(j, sec(460), 3)), 1360);             // + 15 min
  EXPECT_DOUBLE_EQ(to_sec(f->correct(j, sec(1000), 11)), 1000 + 360000);  // + 100 h
  EXPECT_DOUBLE_EQ(to_sec(f->correct(j, sec(1000), 40)), 1000 + 360000);  // and so on
}

// p (user u, 100 s) teaches the forecaster that u's jobs run 100 s; a (u, 1,000 s, limit
// 2,000 s) starts at 100 predicted to end at 200; b (4 cpus) is the head from 110, waiting for
// a. a outlives its forecast: at 200 it is raised to 260 (+1 min), at 260 to 560 (+5 min).
std::vector<Job> outlived_jobs(double c_submit) {
  Job p = job("p", 0, 2, 100, 2000);
  Job a = job("a", 100, 2, 1000, 2000);
  Job b = job("b", 110, 4, 10, 10);
  b.user = "v";
  Job c = job("c", c_submit, 2, 250, 250);
  c.user = "w";
  return {p, a, b, c};
}

SimulationOptions ewma_easy() {
  SimulationOptions o = options("fcfs", "first_fit", "easy");
  o.forecaster = {"ewma", {{"key", std::string("user")}}};
  return o;
}

TEST(ForecastCorrection, AJobPastItsForecastKeepsTheShadowAheadSoEasyBackfills) {
  // c (2 cpus, 250 s) arrives at 300: the shadow is a's corrected end, 560, so c backfills at
  // once and ends by it (projected to end "now", a left a shadow of 300: c waited for b).
  auto r = simulate({node("n0", 4)}, {}, outlived_jobs(300), ewma_easy());
  expect_schedule(r, {{"a", 100, {"n0"}}, {"c", 300, {"n0"}}, {"b", 1100, {"n0"}}});
}

TEST(ForecastCorrection, TheSchedulerPlansAgainWhenAForecastIsExceeded) {
  // c arrives at 150, when the shadow (200) leaves it no room. No job arrives or ends until
  // 1,100, but the pass due when a outlives its corrected end at 260 finds the new shadow, 560,
  // and backfills c then.
  auto r = simulate({node("n0", 4)}, {}, outlived_jobs(150), ewma_easy());
  expect_schedule(r, {{"a", 100, {"n0"}}, {"c", 260, {"n0"}}, {"b", 1100, {"n0"}}});
}

TEST(ForecastCorrection, TheLiveSchedulerRaisesTheForecastOfAJobPastIt) {
  // Live, nothing says when a will end: at 300 its forecast (200, then 260) was exceeded, so
  // c (250 s) backfills before b, as in the simulation.
  auto clock = std::make_shared<ManualClock>();
  ClusterScheduler s({node("n0", 4)}, {}, ewma_easy(), clock);
  auto jobs = outlived_jobs(300);
  s.submit(jobs[0]);
  ASSERT_EQ(s.schedule().launch.size(), 1u);
  clock->advance(sec(100));
  s.finished("p");
  s.submit(jobs[1]);
  ASSERT_EQ(s.schedule().launch.size(), 1u);
  clock->advance(sec(10));
  s.submit(jobs[2]);
  EXPECT_TRUE(s.schedule().launch.empty());
  clock->advance(sec(90));
  EXPECT_TRUE(s.schedule().launch.empty());  // 200: raised to 260
  clock->advance(sec(60));
  EXPECT_TRUE(s.schedule().launch.empty());  // 260: raised to 560
  clock->advance(sec(40));
  s.submit(jobs[3]);
  auto at300 = s.schedule().launch;
  ASSERT_EQ(at300.size(), 1u);
  EXPECT_EQ(at300[0].job, "c");
}

}  // namespace
}  // namespace taskloom::cluster
