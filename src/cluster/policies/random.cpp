// Placement "random": node_count nodes drawn uniformly among those where the job fits, from a
// generator seeded with SimulationOptions::seed (a baseline for comparisons; the same seed
// gives the same schedule).
#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {
namespace {
class RandomPlacement final : public Placement {
 public:
  explicit RandomPlacement(std::uint64_t seed)
      : state_(seed * 0x9e3779b97f4a7c15ULL + 0x2545f491) {}

  bool place(const JobState& job, const ClusterState& c, std::vector<NodeIdx>& out) override {
    fitting_.clear();
    for (NodeIdx n = 0; n < c.size(); ++n) {
      if (c.fits(job, n)) fitting_.push_back(n);
    }
    if (fitting_.size() < job.node_count) return false;
    // Partial Fisher-Yates: the first node_count entries become a uniform sample.
    for (std::uint32_t i = 0; i < job.node_count; ++i) {
      std::size_t span = fitting_.size() - i;
      std::size_t k = i + static_cast<std::size_t>(next() % span);
      std::swap(fitting_[i], fitting_[k]);
      out.push_back(fitting_[i]);
    }
    return true;
  }
  bool pure() const noexcept override { return false; }  // each call draws numbers

 private:
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
  std::vector<NodeIdx> fitting_;
};
}  // namespace

const PolicyEntry& policy_random() {
  static const PolicyEntry e{
      PolicyKind::kPlacement,
      "random",
      "uniformly random nodes among those that fit, seeded by the simulation's seed",
      {},
      [](const ParamReader& p) { return std::make_unique<RandomPlacement>(p.seed()); }};
  return e;
}
}  // namespace taskloom::cluster::detail
