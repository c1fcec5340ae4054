// Forecasts from history, and the list schedule that predicts a run's wall time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <taskloom/backends/local.hpp>
#include <taskloom/runner/forecast.hpp>
#include <taskloom/runner/journal.hpp>
#include <taskloom/runner/workflow_run.hpp>
#include <taskloom/store/run_store.hpp>
#include <taskloom/workflow/workflow.hpp>

namespace taskloom::runner {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

workflow::Workflow shot() {
  return workflow::parse_workflow(R"(name: shot
resources: {cpu: 2}
tasks:
  - id: prep
    run: "true"
  - id: render-{f}
    matrix: {f: "1-4"}
    run: "true"
    after: prep
  - id: encode
    run: "true"
    after: render
)",
                                  "/flows/shot.yaml");
}

TEST(Forecasts, TheMedianOfTheLastFiveSuccessesAndTheGroupsForANewTask) {
  const workflow::Workflow wf = shot();
  // Newest first: an outlier (60 s) and runs older than the last five do not move it.
  const Forecasts f(
      wf,
      {{"prep",
        {seconds(2), seconds(60), seconds(3), seconds(2), seconds(4), seconds(500), seconds(500)}},
       {"render-1", {seconds(10)}},
       {"render-2", {seconds(20)}},
       {"render-3", {seconds(30), seconds(40)}}});
  EXPECT_EQ(f.of(wf.tasks[0]), Duration(seconds(3)));
  EXPECT_EQ(f.of(wf.tasks[3]), Duration(seconds(35)));  // even count: between the middle two
  // render-4 never ran: its group's median (10, 20, 35 -> 20).
  EXPECT_EQ(f.of(wf.tasks[4]), Duration(seconds(20)));
  EXPECT_FALSE(f.of(wf.tasks[5]).has_value());  // encode: no history, no group to go by
}

TEST(Forecasts, ThePredictionIsTheListScheduleOnTheCapacity) {
  const workflow::Workflow wf = shot();
  const Forecasts f(wf, {{"prep", {seconds(1)}},
                         {"render-1", {seconds(4)}},
                         {"render-2", {seconds(4)}},
                         {"render-3", {seconds(2)}},
                         {"render-4", {seconds(2)}},
                         {"encode", {seconds(1)}}});
  Resources two;
  two.set("cpu", 2);
  // prep 0-1; renders by longest path first, two at a time: 1-5 and 1-5, then 5-7 and 5-7;
  // encode 7-8.
  const Prediction p = predict(wf, two, f);
  EXPECT_EQ(p.wall, Duration(seconds(8)));
  EXPECT_EQ(p.critical_path, Duration(seconds(6)));  // prep, a 4 s render, encode
  EXPECT_EQ(p.forecast, 6u);
  EXPECT_EQ(p.unknown, 0u);
  Resources one;
  one.set("cpu", 1);
  EXPECT_EQ(predict(wf, one, f).wall, Duration(seconds(14)));  // one at a time: the sum
}

TEST(Forecasts, ASecondRunHasAnEtaFromTheFirstRunsTimes) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("taskloom-eta-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const workflow::Workflow wf = workflow::parse_workflow(
      "name: eta\ntasks:\n  - {id: nap, run: sleep 0.4}\n", dir / "eta.yaml");
  store::RunStore db = store::RunStore::open(dir / "taskloom.db");
  backends::LocalBackend local;
  RunnerOptions options;
  options.log_dir = dir / "logs";
  {
    const store::RunId first = db.create_run(new_run_of(wf));
    store::Lease lease = db.acquire_lease(first);
    auto journal = store_journal(db, lease);
    ASSERT_EQ(run_workflow(wf, *journal, local, options).status, store::RunStatus::kSucceeded);
    lease.release();
  }
  const store::RunId second = db.create_run(new_run_of(wf));
  store::Lease lease = db.acquire_lease(second);
  auto journal = store_journal(db, lease);
  WorkflowRun run(wf, *journal, local, options);
  RunProgress p = run.progress();
  for (int i = 0; i < 400 && p.running == 0 && p.done() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    p = run.progress();
  }
  ASSERT_TRUE(p.eta.has_value()) << "no ETA although the task ran before";
  EXPECT_EQ(p.without_forecast, 0u);
  // At most the recorded time (at least the sleep), less what the attempt has run already.
  const Duration recorded =
      *Forecasts(wf, db.recent_durations(new_run_of(wf).workflow_path, kHistory)).of(wf.tasks[0]);
  EXPECT_GE(recorded, std::chrono::milliseconds(400));
  EXPECT_LE(*p.eta, recorded);
  EXPECT_EQ(run.finish().status, store::RunStatus::kSucceeded);
  lease.release();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace taskloom::runner
