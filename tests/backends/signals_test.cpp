// The one spelling of a signal in the backends' messages, local and Slurm alike.
#include "backends/signals.hpp"

#include <gtest/gtest.h>
#include <signal.h>

namespace taskloom::backends {
namespace {

TEST(SignalName, AsAShellSpellsIt) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(SIGSEGV), "SIGSEGV");
}

TEST(SignalName, RealTimeSignalsAreCountedFromSigrtmin) {
  EXPECT_EQ(signal_name(SIGRTMIN), "SIGRTMIN");
  EXPECT_EQ(signal_name(SIGRTMIN + 2), "SIGRTMIN+2");
}

TEST(SignalName, ANumberThatNamesNoSignal) {
  EXPECT_EQ(signal_name(0), "signal");
  EXPECT_EQ(signal_name(1000), "signal");
}

}  // namespace
}  // namespace taskloom::backends
