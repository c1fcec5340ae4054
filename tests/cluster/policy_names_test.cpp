// Policy names and parameters: unknown names list the valid ones; parameters are validated.
#include <gtest/gtest.h>

#include <algorithm>

#include "taskloom/cluster/policies.hpp"
#include "taskloom/core/error.hpp"

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

TEST(PolicyNames, EveryKindListsItsPolicies) {
  EXPECT_EQ(policy_names(PolicyKind::kQueue),
            (std::vector<std::string>{"drf", "edf", "fcfs", "least_slack", "multifactor"}));
  EXPECT_EQ(policy_names(PolicyKind::kPlacement),
            (std::vector<std::string>{"affinity", "best_fit", "energy", "first_fit", "random",
                                      "worst_fit"}));
  EXPECT_EQ(policy_names(PolicyKind::kBackfill),
            (std::vector<std::string>{"conservative", "easy", "none"}));
  EXPECT_EQ(policy_names(PolicyKind::kForecaster),
            (std::vector<std::string>{"accuracy", "ewma", "quantile", "recent", "requested"}));
  EXPECT_NE(describe_policies().find("max_age"), std::string::npos);
}

TEST(PolicyNames, AnUnknownPolicyNameListsTheValidOnes) {
  SimulationOptions o;
  o.queue = {"fifo", {}};
  try {
    simulate({node("n", 1)}, {}, {job("j", 0, 1, 1)}, o);
    FAIL() << "no error";
  } catch (const UnknownNameError& e) {
    EXPECT_EQ(e.kind(), "queue policy");
    EXPECT_EQ(e.name(), "fifo");
    EXPECT_EQ(e.known(), policy_names(PolicyKind::kQueue));
    EXPECT_EQ(e.suggestion(), "fcfs");
  }
  o = {};
  o.backfill = {"easyy", {}};
  EXPECT_THROW(simulate({node("n", 1)}, {}, {}, o), UnknownNameError);
}

TEST(PolicyParams, UnknownParameterListsTheAcceptedOnes) {
  try {
    validate_policy_choice(PolicyKind::kQueue, {"multifactor", {{"weight_agee", 1.0}}});
    FAIL() << "no error";
  } catch (const UnknownNameError& e) {
    EXPECT_EQ(e.name(), "weight_agee");
    EXPECT_NE(std::find(e.known().begin(), e.known().end(), "weight_age"), e.known().end());
    EXPECT_EQ(e.suggestion(), "weight_age");
  }
}

TEST(PolicyParams, WrongTypeAndOutOfRangeValuesAreRejected) {
  EXPECT_THROW(
      validate_policy_choice(PolicyKind::kForecaster, {"ewma", {{"alpha", std::string("x")}}}),
      InvalidArgumentError);
  EXPECT_THROW(validate_policy_choice(PolicyKind::kForecaster, {"ewma", {{"alpha", 2.0}}}),
               InvalidArgumentError);
  EXPECT_THROW(validate_policy_choice(PolicyKind::kQueue, {"drf", {{"tenant", std::string("x")}}}),
               UnknownNameError);
  EXPECT_NO_THROW(
      validate_policy_choice(PolicyKind::kBackfill, {"easy", {{"max_candidates", 10.0}}}));
}

TEST(PolicyParams, ParsedFromText) {
  PolicyChoice c = parse_policy_choice("multifactor:weight_age=10,max_age=3600,tenant=group");
  EXPECT_EQ(c.name, "multifactor");
  EXPECT_EQ(std::get<double>(c.params.at("weight_age")), 10);
  EXPECT_EQ(std::get<double>(c.params.at("max_age")), 3600);
  EXPECT_EQ(std::get<std::string>(c.params.at("tenant")), "group");
  EXPECT_EQ(parse_policy_choice("fcfs").params.size(), 0u);
  EXPECT_THROW(parse_policy_choice("easy:depth"), InvalidArgumentError);
  EXPECT_THROW(parse_policy_choice(":x=1"), InvalidArgumentError);
}

}  // namespace
}  // namespace taskloom::cluster
