#include "taskloom/core/error.hpp"

#include <gtest/gtest.h>

namespace taskloom {
namespace {

TEST(CycleError, MessageShowsClosedPath) {
  CycleError e({"a", "b", "c", "a"});
  EXPECT_EQ(e.code(), ErrorCode::kCycle);
  EXPECT_EQ(std::string(e.what()),
            "dependency cycle: a -> b -> c -> a — remove one of these dependencies");
}

TEST(UnknownDependencyError, SuggestsClosestId) {
  UnknownDependencyError e("parse", "fecth", {"fetch", "parse", "encode"});
  EXPECT_EQ(e.suggestion(), "fetch");
  EXPECT_EQ(std::string(e.what()),
            "task 'parse' depends on unknown task 'fecth' — did you mean 'fetch'?");
}

}  // namespace
}  // namespace taskloom
