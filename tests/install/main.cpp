// Proves that an installed taskloom works from another CMake project: a 3-task graph whose
// result travels from task to task. Exits non-zero when anything is off.
#include <cstdio>
#include <string>

#include <taskloom/taskloom.hpp>

int main() {
  using namespace taskloom;
  runtime::Executor executor(2);
  runtime::TaskGraph graph;
  graph.add("a", [] { return 20; });
  graph.add("b", [](runtime::TaskContext& ctx) { return ctx.result<int>("a") + 1; },
            {.after = {"a"}});
  graph.add("c", [](runtime::TaskContext& ctx) { return ctx.result<int>("b") * 2; },
            {.after = {"b"}});

  runtime::Run run = executor.run(graph);
  const runtime::RunReport& report = run.report();
  if (!report.ok()) {
    std::fprintf(stderr, "consumer: run failed\n%s", report.summary().c_str());
    return 1;
  }
  const int c = report.task("c").result_as<int>();
  if (c != 42) {
    std::fprintf(stderr, "consumer: expected c == 42, got %d\n", c);
    return 1;
  }
  std::printf("consumer: ok (c = %d, %zu tasks)\n", c, report.tasks.size());
  return 0;
}
