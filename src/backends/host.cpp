// What this machine offers the attempts a LocalBackend runs.
#include <sched.h>
#include <unistd.h>

#include <thread>

#include "taskloom/backends/local.hpp"

namespace taskloom::backends {

Resources host_capacity() {
  Resources r;
  cpu_set_t set;
  CPU_ZERO(&set);
  int cpus = 0;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = static_cast<int>(std::thread::hardware_concurrency());
  r.set("cpu", cpus > 0 ? cpus : 1);
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    r.set("memory", static_cast<double>(pages) * static_cast<double>(page_size));
  }
  return r;
}

Resources LocalBackend::capacity() const {
  return host_capacity();
}

}  // namespace taskloom::backends
