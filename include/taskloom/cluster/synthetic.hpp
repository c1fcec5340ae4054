// taskloom/cluster/synthetic.hpp — seeded synthetic clusters and workloads for tests and
// benchmarks.
//   auto nodes = synthetic_nodes({.nodes = 10000});
//   auto jobs = synthetic_jobs({.jobs = 100000, .seed = 7});
// The same options give the same output on every platform (own PRNG, no std distributions).
#pragma once

#include <cstdint>

#include "taskloom/cluster/model.hpp"

namespace taskloom::cluster {

struct SyntheticClusterOptions {
  std::size_t nodes = 16;
  double cpus = 32;           ///< per node
  double memory = 128e9;      ///< per node, bytes
  double gpu_fraction = 0.0;  ///< share of nodes with `gpus` GPUs and label "gpu"
  double gpus = 4;
};

struct SyntheticWorkloadOptions {
  std::size_t jobs = 1000;
  std::uint64_t seed = 1;
  double cpus_per_node = 32;        ///< requests are drawn up to this many cpus
  double memory_per_node = 128e9;   ///< and this much memory (bytes)
  std::uint32_t max_nodes = 4;      ///< node_count in 1..max_nodes (mostly 1)
  double mean_interarrival_s = 30;  ///< exponential inter-arrival times
  double mean_runtime_s = 600;      ///< log-uniform-ish actual runtimes
  double gpu_fraction = 0.0;        ///< share of jobs asking for a GPU (constraint "gpu")
  std::size_t users = 8;
  bool all_at_zero = false;  ///< every job submitted at time 0 (a queue snapshot)
};

std::vector<Node> synthetic_nodes(const SyntheticClusterOptions& options);
std::vector<Job> synthetic_jobs(const SyntheticWorkloadOptions& options);

}  // namespace taskloom::cluster
