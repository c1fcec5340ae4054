// Placement "affinity": label affinity and node specialization. Every node where the job fits
// gets a score
//   weight_preference x (number of the job's preferred labels the node has)
// - gpu_penalty        when a job without GPUs would sit on a GPU node
// and the highest scores win (ties: least free dominant resource, then cluster order). With
// idle_gpu_only = 1 a job without GPUs may use a GPU node only while that node runs nothing.
// GPU jobs only fit GPU nodes anyway (they ask for "gpu" or require the label).
#include <algorithm>
#include <bit>

#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class Affinity final : public Placement {
 public:
  explicit Affinity(const ParamReader& p)
      : w_pref_(p.number_in("weight_preference", 0, 1e9)),
        gpu_penalty_(p.number_in("gpu_penalty", 0, 1e9)),
        idle_gpu_only_(p.number_in("idle_gpu_only", 0, 1) != 0) {}

  bool place(const JobState& job, const ClusterState& c, std::vector<NodeIdx>& out) override {
    scored_.clear();
    const bool gpu_job = c.is_gpu_job(job);
    const std::size_t d = job.dominant_dim;
    for (NodeIdx n = 0; n < c.size(); ++n) {
      if (!c.fits(job, n)) continue;
      double score = w_pref_ * std::popcount(job.preferred_labels & c.labels(n));
      if (!gpu_job && c.is_gpu_node(n)) {
        if (idle_gpu_only_ && c.running(n) > 0) continue;
        score -= gpu_penalty_;
      }
      scored_.push_back({score, d < c.dims() ? c.free(n)[d] : 0.0, n});
    }
    if (scored_.size() < job.node_count) return false;
    auto better = [](const Scored& a, const Scored& b) {
      if (a.score != b.score) return a.score > b.score;
      if (a.free != b.free) return a.free < b.free;
      return a.node < b.node;
    };
    std::partial_sort(scored_.begin(), scored_.begin() + job.node_count, scored_.end(), better);
    for (std::uint32_t i = 0; i < job.node_count; ++i) out.push_back(scored_[i].node);
    return true;
  }

 private:
  struct Scored {
    double score, free;
    NodeIdx node;
  };
  double w_pref_, gpu_penalty_;
  bool idle_gpu_only_;
  std::vector<Scored> scored_;
};
}  // namespace

const PolicyEntry& policy_affinity() {
  static const PolicyEntry e{
      PolicyKind::kPlacement,
      "affinity",
      "preferred labels and specialization: GPU nodes kept for GPU jobs",
      {{"weight_preference", 10.0, "score per preferred label the node has"},
       {"gpu_penalty", 100.0, "score taken off a GPU node for a job without GPUs"},
       {"idle_gpu_only", 1.0, "1: a job without GPUs uses a GPU node only when it is idle"}},
      [](const ParamReader& p) { return std::make_unique<Affinity>(p); }};
  return e;
}
}  // namespace taskloom::cluster::detail
