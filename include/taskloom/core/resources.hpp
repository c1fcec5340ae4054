// taskloom/core/resources.hpp — named, non-negative resource quantities.
//
// A Resources value maps names ("cpu", "memory", "gpu", "license.arnold", anything) to amounts.
// Every layer spells the common pools one way: "cpu" (cores), "memory" (bytes), "gpu" (devices);
// readers of other formats map their spellings with canonical_resource_name().
// It serves both as a request (what a task needs) and as a capacity (what a pool offers).
//   Resources need{{"cpu", 2}, {"gpu", 1}};
//   Resources cap{{"cpu", 8}, {"gpu", 2}};
//   need.fits_within(cap) == true;  cap -= need;  cap.get("gpu") == 1
// Negative, NaN or infinite amounts and empty names throw InvalidArgumentError. Amounts of
// zero are dropped, so two values compare equal exactly when every amount is equal.
// Comparisons and subtraction allow a relative error of 1e-9, so taking back in parts what
// was given ({cpu 0.3} - {cpu 0.1} - {cpu 0.2}) succeeds and leaves nothing behind.
#pragma once

#include <array>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskloom {

class Resources {
 public:
  Resources() = default;
  Resources(std::initializer_list<std::pair<std::string, double>> amounts);

  /// Sets `name` to `amount` (0 removes it).
  void set(std::string_view name, double amount);
  /// The amount of `name`, 0 when absent.
  double get(std::string_view name) const noexcept;
  bool contains(std::string_view name) const noexcept;
  bool empty() const noexcept { return amounts_.empty(); }
  std::size_t size() const noexcept { return amounts_.size(); }

  /// Every amount here is <= the same name's amount in `capacity`.
  bool fits_within(const Resources& capacity) const noexcept;
  /// Names whose amount here exceeds `capacity` (empty when fits_within).
  std::vector<std::string> exceeding(const Resources& capacity) const;

  Resources& operator+=(const Resources& other);
  /// Throws InvalidArgumentError if the result would be negative for any name.
  Resources& operator-=(const Resources& other);

  /// Entries sorted by name.
  auto begin() const noexcept { return amounts_.begin(); }
  auto end() const noexcept { return amounts_.end(); }

  friend bool operator==(const Resources&, const Resources&) = default;

 private:
  std::vector<std::pair<std::string, double>> amounts_;  // sorted by name, amounts > 0
};

/// The pools every machine has without declaring them: "cpu" (cores) and "memory" (bytes).
inline constexpr std::array<std::string_view, 2> kHostResources{"cpu", "memory"};
bool is_host_resource(std::string_view name) noexcept;

/// The canonical name of a pool as other formats spell it: "mem", "ram" -> "memory"; "cpus",
/// "ncpus", "cores", "procs" -> "cpu"; "gpus", "ngpus" -> "gpu"; any other name unchanged.
std::string_view canonical_resource_name(std::string_view name) noexcept;

/// "cpu=2 gpu=1".
std::string to_string(const Resources& r);

}  // namespace taskloom
