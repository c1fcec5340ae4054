// tests/slurm/slurm_fixture.hpp — what the Slurm tests share: the fixture that checks the
// one-host cluster of scripts/slurm-local.sh is up (scripts/test-slurm.sh starts it and exports
// SLURM_CONF), and Slurm's own tools to check what Slurm has.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

namespace taskloom::slurm_test {

/// Output of a shell command line (Slurm's own tools, for checking what Slurm has).
inline std::string shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* conf = std::getenv("SLURM_CONF");
    ASSERT_TRUE(conf != nullptr && std::filesystem::exists(conf))
        << "no Slurm to test against: run scripts/test-slurm.sh (it starts the one-host cluster of "
           "scripts/slurm-local.sh and exports SLURM_CONF)";
    ASSERT_THAT(shell("sinfo -h -o '%D %t' 2>&1"), ::testing::HasSubstr("idle"))
        << "the local cluster's nodes are not idle";
  }
  /// Jobs Slurm still has queued or running whose comment names `key`.
  static int live_jobs_of(const std::string& key) {
    std::istringstream lines(shell("squeue -h -t PENDING,RUNNING,COMPLETING -o '%i|%k'"));
    int n = 0;
    for (std::string line; std::getline(lines, line);) n += line.find(key) != std::string::npos;
    return n;
  }
};

}  // namespace taskloom::slurm_test
