// tests/cluster/readers_test_paths.hpp — where the readers' tests find their input files.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace taskloom::cluster::testing {

/// tests/data/cluster: excerpts and crafted files (see its README).
inline std::filesystem::path test_data(const char* name) {
  // Not __FILE__: a compiler cache (CCACHE_BASEDIR) makes it relative to the build folder.
  return std::filesystem::path(TASKLOOM_TEST_DATA) / "cluster" / name;
}

/// ../shared/data beside the repository (TASKLOOM_SHARED_DATA).
inline std::filesystem::path shared_data(const char* relative) {
#ifdef TASKLOOM_SHARED_DATA
  return std::filesystem::path(TASKLOOM_SHARED_DATA) / relative;
#else
  return std::filesystem::path("../shared/data") / relative;
#endif
}

/// Why a test of the shared data cannot run, or empty when `relative` is there. Users clone only
/// the repository, so these tests skip without ../shared; tests/data excerpts cover the same code.
inline std::string shared_data_missing(const char* relative) {
  const auto file = shared_data(relative);
  if (std::filesystem::exists(file)) return {};
  return "skipped: " + file.string() +
         " is absent (the shared data beside the repository); tests/data/cluster covers the "
         "same readers with excerpts";
}

}  // namespace taskloom::cluster::testing

/// Skips the current test when a file of the shared data is absent.
#define TASKLOOM_REQUIRE_SHARED_DATA(relative)                                               \
  do {                                                                                       \
    if (const std::string why = ::taskloom::cluster::testing::shared_data_missing(relative); \
        !why.empty())                                                                        \
      GTEST_SKIP() << why;                                                                   \
  } while (false)
