// tests/cluster/readers_test_paths.hpp — where the readers' tests find their input files.
#pragma once

#include <filesystem>

namespace taskloom::cluster::testing {

/// tests/data/cluster: excerpts and crafted files (see its README).
inline std::filesystem::path test_data(const char* name) {
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "cluster" / name;
}

/// ../shared/data beside the repository (TASKLOOM_SHARED_DATA).
inline std::filesystem::path shared_data(const char* relative) {
#ifdef TASKLOOM_SHARED_DATA
  return std::filesystem::path(TASKLOOM_SHARED_DATA) / relative;
#else
  return std::filesystem::path("../shared/data") / relative;
#endif
}

}  // namespace taskloom::cluster::testing
