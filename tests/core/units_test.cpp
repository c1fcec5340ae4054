// Contract tests of the one units module: every spelling of a size and a duration the layers
// accept, and the formats reports print.
#include "taskloom/core/units.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace std::chrono_literals;
using taskloom::Duration;
using namespace taskloom::units;

TEST(Units, DurationsInEveryUnitAndCombination) {
  EXPECT_EQ(parse_duration("90s"), Duration(90s));
  EXPECT_EQ(parse_duration("5m"), Duration(5min));
  EXPECT_EQ(parse_duration("5min"), Duration(5min));
  EXPECT_EQ(parse_duration("1h30m"), Duration(90min));
  EXPECT_EQ(parse_duration("1h 30m"), Duration(90min));
  EXPECT_EQ(parse_duration("250ms"), Duration(250ms));
  EXPECT_EQ(parse_duration("40us"), Duration(40us));
  EXPECT_EQ(parse_duration("2d"), Duration(48h));
  EXPECT_EQ(parse_duration("1.5h"), Duration(90min));
  EXPECT_EQ(parse_duration(" 45 "), Duration(45s));
  EXPECT_EQ(parse_duration("0.25"), Duration(250ms));
  EXPECT_EQ(parse_duration("0"), Duration(0));
}

TEST(Units, MalformedDurationsAreRefused) {
  for (const char* bad :
       {"", "s", "-5s", "5x", "5 s s", "1e10", "abc", "5m-3s", "99999999999h", "1h30", "1.2.3s"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
  }
}

TEST(Units, SizesWithAndWithoutSpacesAndBinaryPrefixes) {
  EXPECT_EQ(parse_size("4G"), 4e9);
  EXPECT_EQ(parse_size("4 GB"), 4e9);
  EXPECT_EQ(parse_size("4GB"), 4e9);
  EXPECT_EQ(parse_size("4g"), 4e9);
  EXPECT_EQ(parse_size("64 GB"), 64e9);
  EXPECT_EQ(parse_size("4GiB"), 4.0 * (1ull << 30));
  EXPECT_EQ(parse_size("1.5 GiB"), 1.5 * (1ull << 30));
  EXPECT_EQ(parse_size("2Mi"), 2.0 * (1 << 20));
  EXPECT_EQ(parse_size("512M"), 512e6);
  EXPECT_EQ(parse_size("1EB"), 1e18);
  EXPECT_EQ(parse_size("100B"), 100);
  EXPECT_EQ(parse_size("4096"), 4096);
  EXPECT_EQ(parse_size("1e3"), 1000);
}

TEST(Units, SizesAsClusterFilesWriteThem) {
  // The spellings the cluster reader's own parser took before it used this one.
  EXPECT_EQ(parse_size("128GiB"), 128.0 * (1ull << 30));
  EXPECT_EQ(parse_size("512KiB"), 512.0 * 1024);
  EXPECT_EQ(parse_size("1 TiB"), 1.0 * (1ull << 40));
  EXPECT_EQ(parse_size("2.5e9"), 2.5e9);
  EXPECT_EQ(parse_size("64 KB"), 64e3);
  EXPECT_EQ(parse_size("1PiB"), 1.0 * (1ull << 50));
  EXPECT_EQ(parse_size("1EiB"), 1.0 * (1ull << 60));
  EXPECT_EQ(parse_size(format_size(1500)), 1500);  // "1.5 kB": SI's lower-case k
}

TEST(Units, MalformedSizesAreRefused) {
  for (const char* bad : {"", "G", "-4G", "4X", "4GG", "4 G B", "four", "4Gi B", "1e999", "4Gb"}) {
    EXPECT_EQ(parse_size(bad), std::nullopt) << bad;
  }
}

TEST(Units, DurationsAreFormattedForPeople) {
  EXPECT_EQ(format_duration(Duration(0)), "0s");
  EXPECT_EQ(format_duration(40us), "40us");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(12s), "12s");
  EXPECT_EQ(format_duration(125s), "2m05s");
  EXPECT_EQ(format_duration(62min), "1h02m");
  EXPECT_EQ(format_duration(76h), "3d04h");
  EXPECT_EQ(format_duration(-2s), "-2.0s");
}

TEST(Units, LimitsAreFormattedAsWritten) {
  EXPECT_EQ(format_limit(10min), "10m");
  EXPECT_EQ(format_limit(2h), "2h");
  EXPECT_EQ(format_limit(48h), "2d");
  EXPECT_EQ(format_limit(5s), "5s");
  EXPECT_EQ(format_limit(200ms), "200ms");
  EXPECT_EQ(format_limit(1500ms), "1.5s");
  EXPECT_EQ(format_limit(90s), "90s");
  EXPECT_EQ(format_limit(1500us), "1.5ms");  // not "0.0015s"
  EXPECT_EQ(format_limit(2500ns), "2.5us");
  EXPECT_EQ(format_limit(3661500ms), "3661.5s");    // not "3662s"
  EXPECT_EQ(format_limit(12345500ms), "12345.5s");  // not "1.235e+04s"
}

TEST(Units, FormattedDurationsAndLimitsParseBack) {
  for (Duration d : {Duration(10min), Duration(2h), Duration(1500ms), Duration(40us),
                     Duration(1500us), Duration(12345500ms)}) {
    EXPECT_EQ(parse_duration(format_limit(d)), d) << format_limit(d);
  }
}

TEST(Units, SizesAreFormattedWithSiPrefixes) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(1500), "1.5 kB");
  EXPECT_EQ(format_size(4e9), "4 GB");
  EXPECT_EQ(format_size(12.5e9), "12.5 GB");
  EXPECT_EQ(format_size(1.23e12), "1.2 TB");
  EXPECT_EQ(parse_size(format_size(4e9)), 4e9);
}

}  // namespace
