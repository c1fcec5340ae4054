// Private: the history key of a job for the forecasters ("user,application,shape").
#pragma once

#include <sstream>
#include <string>

#include "taskloom/core/error.hpp"

#include "cluster/detail/registry.hpp"

namespace taskloom::cluster::detail {

class ForecastKey {
 public:
  /// `fields`: a comma-separated subset of user, application, shape.
  explicit ForecastKey(const std::string& fields) {
    std::stringstream in(fields);
    std::string f;
    while (std::getline(in, f, ',')) {
      if (f == "user") {
        user_ = true;
      } else if (f == "application") {
        app_ = true;
      } else if (f == "shape") {
        shape_ = true;
      } else {
        throw UnknownNameError("forecaster key field", f, {"application", "shape", "user"});
      }
    }
  }
  std::string operator()(const Job& j) const {
    std::string k;
    if (user_) k += j.user + '\x1f';
    if (app_) k += j.application + '\x1f';
    if (shape_) k += to_string(j.request) + 'x' + std::to_string(j.node_count);
    return k;
  }

 private:
  bool user_ = false, app_ = false, shape_ = false;
};

/// The wall limit, or `fallback` for a job without one.
inline Duration limit_or(const Job& j, Duration fallback) {
  return j.requested_runtime > Duration::zero() ? j.requested_runtime : fallback;
}

/// `d` capped at the job's wall limit and at least 1 ns.
inline Duration capped(const Job& j, Duration d) {
  if (j.requested_runtime > Duration::zero() && d > j.requested_runtime) d = j.requested_runtime;
  return d > Duration::zero() ? d : Duration{1};
}

inline Duration from_seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

}  // namespace taskloom::cluster::detail
