// The policy table, parameter validation and the public policy-name functions.
#include "cluster/detail/registry.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "taskloom/core/error.hpp"

namespace taskloom::cluster {
namespace detail {

#define TASKLOOM_POLICY(id) const PolicyEntry& policy_##id();
#include "cluster/policies/policies.def"
#undef TASKLOOM_POLICY

const std::vector<const PolicyEntry*>& all_policies() {
  static const std::vector<const PolicyEntry*> table{
#define TASKLOOM_POLICY(id) &policy_##id(),
#include "cluster/policies/policies.def"
#undef TASKLOOM_POLICY
  };
  return table;
}

const PolicyEntry& find_policy(PolicyKind kind, std::string_view name) {
  for (const PolicyEntry* e : all_policies()) {
    if (e->kind == kind && e->name == name) return *e;
  }
  throw UnknownNameError(std::string(to_string(kind)), std::string(name), policy_names(kind));
}

namespace {
std::string value_text(const ParamValue& v) {
  if (const double* d = std::get_if<double>(&v)) {
    std::ostringstream out;
    out << *d;
    return out.str();
  }
  return std::get<std::string>(v);
}
}  // namespace

ParamReader::ParamReader(std::string policy, const std::vector<ParamSpec>& specs,
                         const PolicyParams& given, std::uint64_t seed)
    : policy_(std::move(policy)), specs_(specs), given_(given), seed_(seed) {
  for (const auto& [name, v] : given_) {
    auto it = std::find_if(specs_.begin(), specs_.end(),
                           [&](const ParamSpec& s) { return s.name == name; });
    if (it == specs_.end()) {
      std::vector<std::string> known;
      for (const ParamSpec& s : specs_) known.push_back(s.name);
      throw UnknownNameError("parameter of " + policy_, name, known);
    }
    if (v.index() != it->default_value.index()) {
      throw InvalidArgumentError(policy_ + ": parameter '" + name + "' takes " +
                                 (it->default_value.index() == 0 ? "a number" : "a word") +
                                 ", not '" + value_text(v) + "'");
    }
  }
}

const ParamValue& ParamReader::value(std::string_view name) const {
  if (auto it = given_.find(name); it != given_.end()) return it->second;
  for (const ParamSpec& s : specs_) {
    if (s.name == name) return s.default_value;
  }
  throw std::logic_error(policy_ + " reads undeclared parameter " + std::string(name));
}

double ParamReader::number(std::string_view name) const {
  return std::get<double>(value(name));
}

double ParamReader::number_in(std::string_view name, double lo, double hi) const {
  double v = number(name);
  if (!(v >= lo && v <= hi)) {
    std::ostringstream out;
    out << policy_ << ": parameter '" << name << "' = " << v << " is outside [" << lo << ", " << hi
        << "]";
    throw InvalidArgumentError(out.str());
  }
  return v;
}

std::string ParamReader::text(std::string_view name) const {
  return std::get<std::string>(value(name));
}

std::string ParamReader::choice(std::string_view name,
                                const std::vector<std::string>& allowed) const {
  std::string v = text(name);
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    throw UnknownNameError("value of " + policy_ + " parameter " + std::string(name), v, allowed);
  }
  return v;
}

}  // namespace detail

std::string_view to_string(PolicyKind kind) noexcept {
  switch (kind) {
    case PolicyKind::kQueue:
      return "queue policy";
    case PolicyKind::kPlacement:
      return "placement policy";
    case PolicyKind::kBackfill:
      return "backfill policy";
    case PolicyKind::kForecaster:
      return "forecaster";
  }
  return "policy";
}

std::vector<std::string> policy_names(PolicyKind kind) {
  std::vector<std::string> names;
  for (const detail::PolicyEntry* e : detail::all_policies()) {
    if (e->kind == kind) names.push_back(e->name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string describe_policies() {
  std::ostringstream out;
  for (PolicyKind k : {PolicyKind::kQueue, PolicyKind::kPlacement, PolicyKind::kBackfill,
                       PolicyKind::kForecaster}) {
    out << to_string(k) << ":\n";
    for (const detail::PolicyEntry* e : detail::all_policies()) {
      if (e->kind != k) continue;
      out << "  " << e->name << " — " << e->help << "\n";
      for (const detail::ParamSpec& p : e->params) {
        out << "      " << p.name << " = " << detail::value_text(p.default_value) << "  " << p.help
            << "\n";
      }
    }
  }
  return out.str();
}

void validate_policy_choice(PolicyKind kind, const PolicyChoice& choice) {
  const detail::PolicyEntry& e = detail::find_policy(kind, choice.name);
  detail::ParamReader reader(std::string(to_string(kind)) + " " + e.name, e.params, choice.params);
  (void)e.make(reader);  // policies check ranges when built
}

PolicyChoice parse_policy_choice(std::string_view text) {
  PolicyChoice c;
  std::size_t colon = text.find(':');
  c.name = std::string(text.substr(0, colon));
  if (c.name.empty())
    throw InvalidArgumentError("empty policy name in '" + std::string(text) + "'");
  if (colon == std::string_view::npos) return c;
  std::string_view rest = text.substr(colon + 1);
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      throw InvalidArgumentError("policy parameter '" + std::string(item) + "' in '" +
                                 std::string(text) + "' is not key=value");
    }
    std::string key(item.substr(0, eq));
    std::string_view val = item.substr(eq + 1);
    double number = 0;
    auto [ptr, ec] = std::from_chars(val.data(), val.data() + val.size(), number);
    if (ec == std::errc() && ptr == val.data() + val.size() && !val.empty()) {
      c.params[key] = number;
    } else {
      c.params[key] = std::string(val);
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return c;
}

}  // namespace taskloom::cluster
