// Child process of the crash tests: `store_crash_writer DB RUN TASKS [background]` opens the
// store (Durability::kBackground with the fourth argument, else the default) and
// records transitions in a loop until it is killed. Iteration i (1, 2, ...) is one atomic store
// call that appends exactly one event, on task t((i / 4) % TASKS): i % 4 == 0 ready (detail
// "i"), 1 begins an attempt (stdout path "i"), 2 finishes it as failed (message "i"), 3 pending
// (detail "i"). After each call returns, "i\n" goes to stdout: what the store acknowledged.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "taskloom/store/run_store.hpp"

int main(int argc, char** argv) {
  using namespace taskloom;
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: store_crash_writer DB RUN TASKS [background]\n");
    return 2;
  }
  try {
    const store::Durability durability =
        argc == 5 ? store::Durability::kBackground : store::StoreOptions{}.durability;
    auto store = store::RunStore::open(argv[1], {.durability = durability});
    const store::RunId run = std::atoll(argv[2]);
    const int tasks = std::atoi(argv[3]);
    std::vector<int> attempts(static_cast<std::size_t>(tasks), 0);
    for (long i = 1;; ++i) {
      const int k = static_cast<int>((i / 4) % tasks);  // one task per block of four
      const std::string task = "t" + std::to_string(k);
      const std::string detail = std::to_string(i);
      int& n = attempts[static_cast<std::size_t>(k)];
      switch (i % 4) {
        case 0:
          store.set_task_status(run, task, TaskStatus::kReady, detail);
          break;
        case 1:
          store.begin_attempt(run, task, ++n, {.pid = getpid(), .stdout_path = detail});
          break;
        case 2:
          store.finish_attempt(
              run, task, n,
              {.status = store::AttemptStatus::kFailed, .exit_code = 1, .message = detail},
              TaskStatus::kReady);
          break;
        default:
          store.set_task_status(run, task, TaskStatus::kPending, detail);
          break;
      }
      const std::string line = detail + "\n";
      if (write(STDOUT_FILENO, line.data(), line.size()) < 0) return 3;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_crash_writer: %s\n", e.what());
    return 1;
  }
}
