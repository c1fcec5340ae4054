// Seeded synthetic clusters and workloads (splitmix64; no std distributions, so the output is
// the same on every platform).
#include "taskloom/cluster/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace taskloom::cluster {
namespace {
class SplitMix {
 public:
  explicit SplitMix(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  std::uint64_t s_;
};

/// "<prefix><n>", appended in two steps: GCC 12 at -O3 warns falsely (-Wrestrict) on
/// "x" + std::to_string(n).
std::string numbered(const char* prefix, std::uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

Duration seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}
}  // namespace

std::vector<Node> synthetic_nodes(const SyntheticClusterOptions& o) {
  std::vector<Node> nodes(o.nodes);
  auto gpu_nodes =
      static_cast<std::size_t>(std::llround(o.gpu_fraction * static_cast<double>(o.nodes)));
  for (std::size_t i = 0; i < o.nodes; ++i) {
    Node& n = nodes[i];
    n.id = numbered("n", i);
    n.capacity = {{"cpu", o.cpus}, {"memory", o.memory}};
    n.power = {.idle_watts = 100, .busy_watts = 350};
    if (i < gpu_nodes) {
      n.capacity.set("gpu", o.gpus);
      n.labels = {"gpu"};
      n.power = {.idle_watts = 150, .busy_watts = 900};
    }
  }
  return nodes;
}

std::vector<Job> synthetic_jobs(const SyntheticWorkloadOptions& o) {
  SplitMix rng(o.seed * 0x2545f4914f6cdd1dULL + 1);
  std::vector<Job> jobs(o.jobs);
  double t = 0;
  for (std::size_t i = 0; i < o.jobs; ++i) {
    Job& j = jobs[i];
    j.id = numbered("j", i);
    j.user = numbered("u", rng.next() % std::max<std::size_t>(o.users, 1));
    j.application = numbered("app", rng.next() % 4);
    // Mostly small requests, some whole nodes: cpus = 2^k up to the node size.
    int max_pow = static_cast<int>(std::floor(std::log2(std::max(o.cpus_per_node, 1.0))));
    double cpus =
        std::min(o.cpus_per_node, std::exp2(static_cast<double>(rng.next() % (max_pow + 1))));
    double memory = std::max(1.0, std::floor(o.memory_per_node * (0.05 + 0.9 * rng.uniform()) *
                                             cpus / std::max(o.cpus_per_node, 1.0)));
    j.request = {{"cpu", cpus}, {"memory", memory}};
    j.node_count = 1;
    if (o.max_nodes > 1 && rng.uniform() < 0.1) {
      j.node_count = 2 + static_cast<std::uint32_t>(rng.next() % (o.max_nodes - 1));
    }
    if (o.gpu_fraction > 0 && rng.uniform() < o.gpu_fraction) {
      j.request.set("gpu", 1);
      j.constraints = {"gpu"};
    }
    // Runtimes spread over two orders of magnitude around the mean; users over-ask 1-5x.
    double run = o.mean_runtime_s * std::exp2(4.0 * rng.uniform() - 2.5);
    j.actual_runtime = seconds(std::max(1.0, std::round(run)));
    j.requested_runtime = seconds(std::round(std::max(1.0, run) * (1.0 + 4.0 * rng.uniform())) + 1);
    if (!o.all_at_zero) t += -o.mean_interarrival_s * std::log(1.0 - rng.uniform());
    j.submit_time = seconds(std::round(t));
    j.priority = Priority(static_cast<int>(rng.next() % 3) - 1);
  }
  return jobs;
}

}  // namespace taskloom::cluster
