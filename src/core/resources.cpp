#include "taskloom/core/resources.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "taskloom/core/error.hpp"

namespace taskloom {
namespace {

void check_amount(std::string_view name, double amount) {
  if (name.empty()) {
    throw InvalidArgumentError("resource name is empty — name it, e.g. \"cpu\" or \"gpu\"");
  }
  if (!std::isfinite(amount) || amount < 0) {
    std::ostringstream msg;
    msg << "resource '" << name << "' has amount " << amount
        << " — amounts must be finite and >= 0";
    throw InvalidArgumentError(msg.str());
  }
}

/// Amounts are sums of user-given decimals (0.1 + 0.2 != 0.3 in binary): compare them with a
/// relative tolerance so that taking back exactly what was given never fails or leaves dust.
double tolerance(double a, double b) noexcept {
  return 1e-9 * std::max({1.0, a, b});
}

}  // namespace

Resources::Resources(std::initializer_list<std::pair<std::string, double>> amounts) {
  for (const auto& [name, amount] : amounts) set(name, amount);
}

void Resources::set(std::string_view name, double amount) {
  check_amount(name, amount);
  auto it = std::lower_bound(amounts_.begin(), amounts_.end(), name,
                             [](const auto& entry, std::string_view n) { return entry.first < n; });
  const bool present = it != amounts_.end() && it->first == name;
  if (amount == 0) {
    if (present) amounts_.erase(it);
  } else if (present) {
    it->second = amount;
  } else {
    amounts_.insert(it, {std::string(name), amount});
  }
}

double Resources::get(std::string_view name) const noexcept {
  auto it = std::lower_bound(amounts_.begin(), amounts_.end(), name,
                             [](const auto& entry, std::string_view n) { return entry.first < n; });
  return it != amounts_.end() && it->first == name ? it->second : 0.0;
}

bool Resources::contains(std::string_view name) const noexcept {
  return get(name) > 0;
}

bool Resources::fits_within(const Resources& capacity) const noexcept {
  return std::all_of(amounts_.begin(), amounts_.end(), [&](const auto& entry) {
    const double cap = capacity.get(entry.first);
    return entry.second <= cap + tolerance(entry.second, cap);
  });
}

std::vector<std::string> Resources::exceeding(const Resources& capacity) const {
  std::vector<std::string> names;
  for (const auto& [name, amount] : amounts_) {
    const double cap = capacity.get(name);
    if (amount > cap + tolerance(amount, cap)) names.push_back(name);
  }
  return names;
}

Resources& Resources::operator+=(const Resources& other) {
  for (const auto& [name, amount] : other.amounts_) set(name, get(name) + amount);
  return *this;
}

Resources& Resources::operator-=(const Resources& other) {
  for (const auto& [name, amount] : other.amounts_) {
    if (amount > get(name) + tolerance(amount, get(name))) {
      std::ostringstream msg;
      msg << "cannot take " << amount << " of resource '" << name << "' from " << get(name)
          << " — the result would be negative";
      throw InvalidArgumentError(msg.str());
    }
  }
  for (const auto& [name, amount] : other.amounts_) {
    const double left = get(name) - amount;
    set(name, left > tolerance(get(name), amount) ? left : 0.0);
  }
  return *this;
}

std::string to_string(const Resources& r) {
  std::ostringstream out;
  bool first = true;
  for (const auto& [name, amount] : r) {
    if (!first) out << ' ';
    out << name << '=' << amount;
    first = false;
  }
  return out.str();
}

bool is_host_resource(std::string_view name) noexcept {
  return std::find(kHostResources.begin(), kHostResources.end(), name) != kHostResources.end();
}

std::string_view canonical_resource_name(std::string_view name) noexcept {
  static constexpr std::pair<std::string_view, std::string_view> kSpellings[] = {
      {"mem", "memory"}, {"ram", "memory"}, {"cpus", "cpu"}, {"ncpus", "cpu"},
      {"cores", "cpu"},  {"procs", "cpu"},  {"gpus", "gpu"}, {"ngpus", "gpu"},
  };
  for (const auto& [spelling, canonical] : kSpellings) {
    if (name == spelling) return canonical;
  }
  return name;
}

}  // namespace taskloom
