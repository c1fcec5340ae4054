// Private: the table of policies and the parameter reader each policy validates with.
//
// Adding a policy: write src/cluster/policies/<name>.cpp defining
//   const PolicyEntry& policy_<name>() { static const PolicyEntry e{...}; return e; }
// and add the one line TASKLOOM_POLICY(<name>) to src/cluster/policies/policies.def.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "taskloom/cluster/policies.hpp"

#include "cluster/detail/engine.hpp"

namespace taskloom::cluster::detail {

struct ParamSpec {
  std::string name;
  ParamValue default_value;
  std::string help;
};

/// A policy's parameters: what the user gave, checked against the policy's specs.
class ParamReader {
 public:
  /// Throws UnknownNameError for a parameter not in `specs`, InvalidArgumentError for a value
  /// of the wrong type.
  ParamReader(std::string policy, const std::vector<ParamSpec>& specs, const PolicyParams& given,
              std::uint64_t seed = 0);
  /// The simulation's seed, for policies that draw random numbers.
  std::uint64_t seed() const noexcept { return seed_; }
  double number(std::string_view name) const;
  /// number() checked to lie in [lo, hi].
  double number_in(std::string_view name, double lo, double hi) const;
  std::string text(std::string_view name) const;
  /// text() checked to be one of `allowed`.
  std::string choice(std::string_view name, const std::vector<std::string>& allowed) const;

 private:
  const ParamValue& value(std::string_view name) const;
  std::string policy_;
  const std::vector<ParamSpec>& specs_;
  const PolicyParams& given_;
  std::uint64_t seed_;
};

struct PolicyEntry {
  PolicyKind kind;
  std::string name;
  std::string help;
  std::vector<ParamSpec> params;
  std::function<std::unique_ptr<Policy>(const ParamReader&)> make;
};

/// Throws UnknownNameError listing the names of `kind`.
const PolicyEntry& find_policy(PolicyKind kind, std::string_view name);
const std::vector<const PolicyEntry*>& all_policies();

/// Builds the policy, validating its parameters.
template <class P>
std::unique_ptr<P> make_policy(PolicyKind kind, const PolicyChoice& choice,
                               std::uint64_t seed = 0) {
  const PolicyEntry& e = find_policy(kind, choice.name);
  ParamReader reader(std::string(to_string(kind)) + " " + e.name, e.params, choice.params, seed);
  std::unique_ptr<Policy> p = e.make(reader);
  auto* typed = dynamic_cast<P*>(p.get());
  if (typed == nullptr) throw std::logic_error("policy " + e.name + " has the wrong kind");
  p.release();
  return std::unique_ptr<P>(typed);
}

}  // namespace taskloom::cluster::detail
