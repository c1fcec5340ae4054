// examples/02_dynamic_tasks.cpp — tasks that spawn tasks, a cancelled run, a timeout.
//
// 1. Dynamic tasking: "sum" splits its range into children with ctx.spawn() and waits on their
//    futures; while it waits, its worker runs other ready work (the children included).
// 2. Cancellation: Run::cancel() stops starting tasks and fires the stop token of the running
//    ones; tasks look at it cooperatively (ctx.stop_requested()).
// 3. Timeout: an attempt that outlives TaskOptions::timeout has its stop token fired and ends
//    timed_out; its dependents are skipped and name it.
// Exits non-zero if any of these does not behave as described.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <taskloom/taskloom.hpp>

using namespace taskloom;
using namespace std::chrono_literals;

namespace {

// Sleeps in small steps for up to `limit`, returning early once the task is asked to stop.
void work_until_stopped(runtime::TaskContext& ctx, Duration limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ctx.stop_requested() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
}

bool check(bool condition, const std::string& what) {
  std::cout << (condition ? "  ok:   " : "  FAIL: ") << what << "\n";
  return condition;
}

bool dynamic_tasking(runtime::Executor& executor) {
  std::cout << "1. dynamic tasking\n";
  constexpr std::uint64_t kN = 10'000'000;
  constexpr std::uint64_t kChildren = 16;
  runtime::TaskGraph graph;
  graph.add("sum", [](runtime::TaskContext& ctx) {
    std::vector<runtime::Future<std::uint64_t>> children;
    for (std::uint64_t c = 0; c < kChildren; ++c) {
      children.push_back(ctx.spawn([c] {
        std::uint64_t s = 0;
        for (std::uint64_t i = c * kN / kChildren; i < (c + 1) * kN / kChildren; ++i) s += i;
        return s;
      }));
    }
    std::uint64_t total = 0;
    for (auto& child : children) total += child.get();  // the worker keeps working meanwhile
    return total;
  });
  graph.add("check", [](runtime::TaskContext& ctx) { return ctx.result<std::uint64_t>("sum") * 2; },
            {.after = {"sum"}});
  runtime::Run run = executor.run(graph);
  const runtime::RunReport& report = run.report();
  std::cout << "  sum of 0.." << kN - 1 << " by " << kChildren
            << " spawned children: " << report.task("sum").result_as<std::uint64_t>() << "\n";
  return check(report.ok(), "the run succeeded") &
         check(report.task("check").result_as<std::uint64_t>() == kN * (kN - 1),
               "the children's sums add up to n(n-1)/2");
}

bool cancellation(runtime::Executor& executor) {
  std::cout << "2. cancellation\n";
  runtime::TaskGraph graph;
  std::vector<std::string> stages;
  for (int i = 0; i < 8; ++i) {
    stages.push_back("simulate_" + std::to_string(i));
    graph.add(stages.back(), [](runtime::TaskContext& ctx) { work_until_stopped(ctx, 5s); });
  }
  graph.add("gather", [] {}, {.after = stages});

  const auto started = std::chrono::steady_clock::now();
  runtime::Run run = executor.run(graph);
  std::this_thread::sleep_for(50ms);
  run.cancel();
  const runtime::RunReport& report = run.report();
  const auto took = std::chrono::steady_clock::now() - started;
  std::cout << "  after cancel(): " << report.succeeded << " succeeded, " << report.cancelled
            << " cancelled, " << report.skipped << " skipped, in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  for (const runtime::TaskReport& task : report.tasks) {
    std::cout << "    " << task.id << ": " << to_string(task.status) << "\n";
  }
  return check(run.cancelled(), "the run says it was cancelled") &
         check(report.cancelled > 0 && report.succeeded == 0, "the running tasks ended cancelled") &
         check(report.task("gather").status != TaskStatus::kSucceeded, "gather did not run") &
         check(took < 2s, "cancellation was prompt (the tasks would have run 5 s)");
}

bool timeout(runtime::Executor& executor) {
  std::cout << "3. timeout\n";
  runtime::TaskGraph graph;
  graph.add("slow_solver", [](runtime::TaskContext& ctx) { work_until_stopped(ctx, 5s); },
            {.timeout = 100ms});
  graph.add("write_results", [] {}, {.after = {"slow_solver"}});
  graph.add("independent", [] { return 7; });
  runtime::Run run = executor.run(graph);
  const runtime::RunReport& report = run.report();
  const runtime::TaskReport& slow = report.task("slow_solver");
  const runtime::TaskReport& skipped = report.task("write_results");
  std::cout << "  slow_solver: " << to_string(slow.status) << " (" << slow.error << ")\n"
            << "  write_results: " << to_string(skipped.status) << " because '"
            << skipped.skipped_because << "' did not succeed\n";
  return check(slow.status == TaskStatus::kTimedOut, "slow_solver timed out") &
         check(skipped.status == TaskStatus::kSkipped && skipped.skipped_because == "slow_solver",
               "its dependent was skipped and names it") &
         check(report.task("independent").status == TaskStatus::kSucceeded,
               "the independent branch went on");
}

}  // namespace

int main() {
  runtime::Executor executor(4);
  const bool ok = dynamic_tasking(executor) & cancellation(executor) & timeout(executor);
  std::cout << (ok ? "all three behaved as described\n" : "something did not behave\n");
  return ok ? 0 : 1;
}
