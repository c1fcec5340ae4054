#include "taskloom/core/priority.hpp"

#include <gtest/gtest.h>

#include "taskloom/core/error.hpp"

namespace taskloom {
namespace {

TEST(Priority, DefaultIsNormal) {
  EXPECT_EQ(Priority{}, Priority::kNormal);
  EXPECT_EQ(Priority{}.value(), 0);
}

TEST(Priority, NamedLevelsHaveDocumentedValues) {
  EXPECT_EQ(Priority::kLowest.value(), -2);
  EXPECT_EQ(Priority::kLow.value(), -1);
  EXPECT_EQ(Priority::kNormal.value(), 0);
  EXPECT_EQ(Priority::kHigh.value(), 1);
  EXPECT_EQ(Priority::kHighest.value(), 2);
}

TEST(Priority, ClassesSitApartFromTheLevels) {
  EXPECT_EQ(Priority::kBackground.value(), -500);
  EXPECT_EQ(Priority::kUrgent.value(), 500);
  EXPECT_EQ(Priority::kInteractive.value(), 900);
  EXPECT_LT(Priority::kBackground, Priority::kLowest);
  EXPECT_GT(Priority::kUrgent, Priority::kHighest);
  EXPECT_GT(Priority::kInteractive, Priority::kUrgent);
  EXPECT_EQ(parse_priority("interactive"), Priority::kInteractive);
  EXPECT_EQ(parse_priority("background"), Priority::kBackground);
  EXPECT_EQ(to_string(Priority::kUrgent), "urgent");
}

TEST(Priority, LargerValueComparesGreater) {
  EXPECT_LT(Priority::kLow, Priority::kNormal);
  EXPECT_GT(Priority{7}, Priority::kHighest);
  EXPECT_EQ(Priority{1}, Priority::kHigh);
}

TEST(Priority, AcceptsBoundsOfRange) {
  EXPECT_EQ(Priority{Priority::kMin}.value(), -1000);
  EXPECT_EQ(Priority{Priority::kMax}.value(), 1000);
}

TEST(Priority, OutOfRangeThrowsInvalidArgumentNamingValueAndRange) {
  EXPECT_THROW(Priority{Priority::kMax + 1}, InvalidArgumentError);
  EXPECT_THROW(Priority{Priority::kMin - 1}, InvalidArgumentError);
  try {
    Priority p{5000};
    FAIL() << "no exception, got " << p.value();
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("5000"), std::string::npos) << msg;
    EXPECT_NE(msg.find("-1000..1000"), std::string::npos) << msg;
  }
}

TEST(Priority, ToStringNamesLevelsAndPrintsOtherValues) {
  EXPECT_EQ(to_string(Priority::kLowest), "lowest");
  EXPECT_EQ(to_string(Priority::kLow), "low");
  EXPECT_EQ(to_string(Priority::kNormal), "normal");
  EXPECT_EQ(to_string(Priority::kHigh), "high");
  EXPECT_EQ(to_string(Priority::kHighest), "highest");
  EXPECT_EQ(to_string(Priority{7}), "7");
  EXPECT_EQ(to_string(Priority{-300}), "-300");
}

TEST(Priority, ParseAcceptsNamesAndIntegersInRange) {
  EXPECT_EQ(parse_priority("low"), Priority::kLow);
  EXPECT_EQ(parse_priority("highest"), Priority::kHighest);
  EXPECT_EQ(parse_priority("42"), Priority{42});
  EXPECT_EQ(parse_priority("-2"), Priority::kLowest);
  EXPECT_EQ(parse_priority("1000"), Priority{1000});
  EXPECT_EQ(parse_priority("-1000"), Priority{-1000});
}

TEST(Priority, ParseRejectsEverythingElse) {
  EXPECT_EQ(parse_priority(""), std::nullopt);
  EXPECT_EQ(parse_priority("critical"), std::nullopt);
  EXPECT_EQ(parse_priority("High"), std::nullopt);  // names are case-sensitive
  EXPECT_EQ(parse_priority("1001"), std::nullopt);
  EXPECT_EQ(parse_priority("-1001"), std::nullopt);
  EXPECT_EQ(parse_priority("12abc"), std::nullopt);
  EXPECT_EQ(parse_priority(" 1"), std::nullopt);
  EXPECT_EQ(parse_priority("99999999999999999999"), std::nullopt);
}

TEST(Priority, ToStringRoundTripsThroughParse) {
  for (int v = Priority::kMin; v <= Priority::kMax; v += 37) {
    EXPECT_EQ(parse_priority(to_string(Priority{v})), Priority{v});
  }
  EXPECT_EQ(parse_priority(to_string(Priority::kHigh)), Priority::kHigh);
}

}  // namespace
}  // namespace taskloom
