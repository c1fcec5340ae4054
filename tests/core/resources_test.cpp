#include "taskloom/core/resources.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "taskloom/core/error.hpp"

namespace taskloom {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(Resources, SetThenGet) {
  Resources r;
  r.set("cpu", 2);
  r.set("license.arnold", 1);
  EXPECT_EQ(r.get("cpu"), 2);
  EXPECT_EQ(r.get("license.arnold"), 1);
  EXPECT_TRUE(r.contains("cpu"));
  EXPECT_EQ(r.size(), 2u);
  r.set("cpu", 4);
  EXPECT_EQ(r.get("cpu"), 4);
  EXPECT_EQ(r.size(), 2u);
}

TEST(Resources, AbsentNameReadsZero) {
  const Resources r{{"cpu", 2}};
  EXPECT_EQ(r.get("gpu"), 0);
  EXPECT_FALSE(r.contains("gpu"));
}

TEST(Resources, SettingZeroRemovesTheEntry) {
  Resources r{{"cpu", 2}, {"gpu", 1}};
  r.set("gpu", 0);
  EXPECT_FALSE(r.contains("gpu"));
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r, (Resources{{"cpu", 2}}));
  const Resources zero_only{{"mem", 0}};
  EXPECT_TRUE(zero_only.empty());
  EXPECT_EQ(zero_only, Resources{});
}

TEST(Resources, EntriesIterateSortedByName) {
  const Resources r{{"mem", 8}, {"cpu", 2}, {"gpu", 1}};
  std::vector<std::string> names;
  for (const auto& [name, amount] : r) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("cpu", "gpu", "mem"));
}

TEST(Resources, NegativeAmountIsRejected) {
  Resources r;
  EXPECT_THROW(r.set("cpu", -1), InvalidArgumentError);
  EXPECT_THROW((Resources{{"cpu", -0.5}}), InvalidArgumentError);
  EXPECT_TRUE(r.empty());
}

TEST(Resources, NanAndInfinityAreRejected) {
  Resources r;
  EXPECT_THROW(r.set("cpu", std::numeric_limits<double>::quiet_NaN()), InvalidArgumentError);
  EXPECT_THROW(r.set("cpu", std::numeric_limits<double>::infinity()), InvalidArgumentError);
  EXPECT_TRUE(r.empty());
}

TEST(Resources, EmptyNameIsRejected) {
  Resources r;
  EXPECT_THROW(r.set("", 1), InvalidArgumentError);
}

TEST(Resources, RejectionMessageNamesResourceAndAmount) {
  try {
    Resources r{{"gpu", -3}};
    FAIL() << "no exception";
  } catch (const InvalidArgumentError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'gpu'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("-3"), std::string::npos) << msg;
  }
}

TEST(Resources, FitsWithinComparesEveryName) {
  const Resources cap{{"cpu", 8}, {"gpu", 2}};
  EXPECT_TRUE((Resources{{"cpu", 2}, {"gpu", 1}}).fits_within(cap));
  EXPECT_TRUE((Resources{{"cpu", 8}, {"gpu", 2}}).fits_within(cap));  // equal fits
  EXPECT_TRUE(Resources{}.fits_within(cap));
  EXPECT_FALSE((Resources{{"cpu", 9}}).fits_within(cap));
  EXPECT_FALSE((Resources{{"cpu", 1}, {"mem", 1}}).fits_within(cap));  // name cap lacks
}

TEST(Resources, ExceedingListsOnlyNamesOverCapacity) {
  const Resources cap{{"cpu", 8}, {"gpu", 2}};
  const Resources need{{"cpu", 9}, {"gpu", 2}, {"mem", 4}};
  EXPECT_THAT(need.exceeding(cap), ElementsAre("cpu", "mem"));
  EXPECT_THAT((Resources{{"cpu", 1}}).exceeding(cap), IsEmpty());
}

TEST(Resources, PlusEqualsAddsPerName) {
  Resources r{{"cpu", 2}};
  r += Resources{{"cpu", 1}, {"gpu", 1}};
  EXPECT_EQ(r, (Resources{{"cpu", 3}, {"gpu", 1}}));
}

TEST(Resources, MinusEqualsSubtractsAndDropsZeros) {
  Resources cap{{"cpu", 8}, {"gpu", 2}};
  cap -= Resources{{"cpu", 2}, {"gpu", 2}};
  EXPECT_EQ(cap.get("cpu"), 6);
  EXPECT_FALSE(cap.contains("gpu"));
  EXPECT_EQ(cap, (Resources{{"cpu", 6}}));
}

TEST(Resources, MinusEqualsUnderflowThrowsAndLeavesValueUnchanged) {
  Resources cap{{"cpu", 8}, {"gpu", 1}};
  const Resources before = cap;
  // cpu alone would succeed; gpu underflows, so nothing may be taken.
  EXPECT_THROW((cap -= Resources{{"cpu", 2}, {"gpu", 2}}), InvalidArgumentError);
  EXPECT_EQ(cap, before);
  EXPECT_THROW((cap -= Resources{{"mem", 1}}), InvalidArgumentError);  // absent name is 0
  EXPECT_EQ(cap, before);
}

TEST(Resources, TakingBackFractionsInPartsLeavesNothing) {
  Resources pool{{"cpu", 0.3}};
  pool -= Resources{{"cpu", 0.1}};
  pool -= Resources{{"cpu", 0.2}};  // 0.3 - 0.1 is 0.19999999999999998 in binary
  EXPECT_TRUE(pool.empty());
  EXPECT_TRUE(
      (Resources{{"cpu", 0.1}} += Resources{{"cpu", 0.2}}).fits_within(Resources{{"cpu", 0.3}}));
}

TEST(Resources, ToleranceIsRelativeNotAbsolute) {
  Resources pool{{"mem", 1e12}};
  const Resources too_much{{"mem", 1e12 + 1e6}};
  EXPECT_THROW(pool -= too_much, InvalidArgumentError);
  EXPECT_FALSE(Resources({{"gpu", 1.001}}).fits_within(Resources{{"gpu", 1}}));
}

TEST(Resources, ToStringListsSortedNameEqualsAmount) {
  EXPECT_EQ(to_string(Resources{{"gpu", 1}, {"cpu", 2}}), "cpu=2 gpu=1");
  EXPECT_EQ(to_string(Resources{{"cpu", 0.5}}), "cpu=0.5");
  EXPECT_EQ(to_string(Resources{}), "");
}

}  // namespace
}  // namespace taskloom
