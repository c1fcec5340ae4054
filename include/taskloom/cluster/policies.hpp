// taskloom/cluster/policies.hpp — choosing the cluster scheduler's policies by name.
//
// The scheduler is assembled from four kinds of small policies, each chosen by name and given
// its own parameters (a map of name -> number or text) which it validates itself:
//   queue order   fcfs, multifactor, drf, edf, least_slack
//   placement     first_fit, best_fit, worst_fit, affinity, energy, random
//   backfill      none, easy, conservative
//   forecaster    requested, ewma, quantile
//   PolicyChoice q = parse_policy_choice("multifactor:weight_age=1000,max_age=86400");
//   policy_names(PolicyKind::kPlacement);   // {"affinity", "best_fit", ...}
// An unknown policy or parameter name throws UnknownNameError listing the valid ones; a value
// of the wrong type or out of range throws InvalidArgumentError. docs/cluster.md lists every
// policy with its parameters; describe_policies() prints the same for --help.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace taskloom::cluster {

enum class PolicyKind { kQueue, kPlacement, kBackfill, kForecaster };

/// "queue policy", "placement policy", "backfill policy", "forecaster".
std::string_view to_string(PolicyKind kind) noexcept;

/// A parameter value: a number or a word.
using ParamValue = std::variant<double, std::string>;
using PolicyParams = std::map<std::string, ParamValue, std::less<>>;

struct PolicyChoice {
  std::string name;
  PolicyParams params;
};

/// "name" or "name:key=value,key=value"; values that parse as numbers become numbers.
/// Throws InvalidArgumentError on a malformed text (the name is not checked here).
PolicyChoice parse_policy_choice(std::string_view text);

/// Registered names of one kind, sorted.
std::vector<std::string> policy_names(PolicyKind kind);

/// One line per policy: kind, name, what it does, and its parameters with defaults.
std::string describe_policies();

/// Throws UnknownNameError (listing the valid names) unless `choice` names a registered policy
/// of `kind` and every parameter is one it accepts with a value of the right type.
void validate_policy_choice(PolicyKind kind, const PolicyChoice& choice);

}  // namespace taskloom::cluster
