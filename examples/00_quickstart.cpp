// examples/00_quickstart.cpp — four named tasks, a typed result passed along, a run report.
#include <iostream>
#include <string>

#include <taskloom/taskloom.hpp>

using namespace taskloom;

int main() {
  runtime::Executor executor;  // one worker per hardware thread
  runtime::TaskGraph graph;
  graph.add("fetch", [] { return std::string("taskloom"); });
  graph.add("count",
            [](runtime::TaskContext& ctx) { return ctx.result<std::string>("fetch").size(); },
            {.after = {"fetch"}});
  graph.add("shout",
            [](runtime::TaskContext& ctx) { return ctx.result<std::string>("fetch") + "!"; },
            {.after = {"fetch"}});
  graph.add("print",
            [](runtime::TaskContext& ctx) {
              std::cout << ctx.result<std::string>("shout") << " has "
                        << ctx.result<std::size_t>("count") << " letters\n";
            },
            {.after = {"count", "shout"}});

  runtime::Run run = executor.run(graph);  // starts at once; report() waits for the end
  std::cout << run.report().summary();
  return run.report().ok() ? 0 : 1;
}
