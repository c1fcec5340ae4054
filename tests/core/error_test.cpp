#include "taskloom/core/error.hpp"

#include <gtest/gtest.h>

namespace taskloom {
namespace {

TEST(ErrorCode, Names) {
  EXPECT_EQ(to_string(ErrorCode::kInvalidArgument), "invalid_argument");
  EXPECT_EQ(to_string(ErrorCode::kInvalidState), "invalid_state");
  EXPECT_EQ(to_string(ErrorCode::kCycle), "cycle");
  EXPECT_EQ(to_string(ErrorCode::kUnknownDependency), "unknown_dependency");
  EXPECT_EQ(to_string(ErrorCode::kDuplicateId), "duplicate_id");
  EXPECT_EQ(to_string(ErrorCode::kTypeMismatch), "type_mismatch");
}

TEST(Error, EachTypeCarriesItsCodeAndMessage) {
  EXPECT_EQ(InvalidArgumentError("bad").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(InvalidStateError("late").code(), ErrorCode::kInvalidState);
  EXPECT_EQ(TypeMismatchError("int").code(), ErrorCode::kTypeMismatch);
  EXPECT_EQ(std::string(InvalidArgumentError("bad value").what()), "bad value");
}

TEST(Error, CatchableThroughBaseWithCode) {
  try {
    throw DuplicateIdError("render");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDuplicateId);
    return;
  }
  FAIL() << "not caught as taskloom::Error";
}

TEST(CycleError, MessageShowsClosedPath) {
  CycleError e({"a", "b", "c", "a"});
  EXPECT_EQ(e.code(), ErrorCode::kCycle);
  EXPECT_EQ(std::string(e.what()),
            "dependency cycle: a -> b -> c -> a — remove one of these dependencies");
  EXPECT_EQ(e.path(), (std::vector<std::string>{"a", "b", "c", "a"}));
}

TEST(CycleError, SelfLoopPath) {
  CycleError e({"a", "a"});
  EXPECT_EQ(std::string(e.what()), "dependency cycle: a -> a — remove one of these dependencies");
}

TEST(UnknownDependencyError, SuggestsClosestId) {
  UnknownDependencyError e("parse", "fecth", {"fetch", "parse", "encode"});
  EXPECT_EQ(e.code(), ErrorCode::kUnknownDependency);
  EXPECT_EQ(e.suggestion(), "fetch");
  EXPECT_EQ(e.task(), "parse");
  EXPECT_EQ(e.missing(), "fecth");
  EXPECT_EQ(e.known().size(), 3u);
  EXPECT_EQ(std::string(e.what()),
            "task 'parse' depends on unknown task 'fecth' — did you mean 'fetch'?");
}

TEST(UnknownDependencyError, NoSuggestionWhenNothingIsClose) {
  UnknownDependencyError e("parse", "download_assets", {"fetch", "encode"});
  EXPECT_EQ(e.suggestion(), "");
  EXPECT_EQ(std::string(e.what()),
            "task 'parse' depends on unknown task 'download_assets' — add a task with that id or "
            "remove the dependency");
}

TEST(DuplicateIdError, NamesTheId) {
  DuplicateIdError e("encode");
  EXPECT_EQ(e.code(), ErrorCode::kDuplicateId);
  EXPECT_EQ(e.id(), "encode");
  EXPECT_EQ(std::string(e.what()),
            "duplicate task id 'encode' — every task in a graph needs a unique id");
}

TEST(ResourceRequestError, NamesTaskPoolRequestAndCapacity) {
  ResourceRequestError e("render", "gpu", 3, 2);
  EXPECT_EQ(e.code(), ErrorCode::kResourceRequest);
  EXPECT_EQ(e.task(), "render");
  EXPECT_EQ(e.pool(), "gpu");
  EXPECT_EQ(std::string(e.what()),
            "task 'render' needs 3 of 'gpu' but the pool's capacity is 2 — lower the request or "
            "raise the capacity");
  ResourceRequestError unknown("render", "license.arnold", 1.5, -1);
  EXPECT_EQ(std::string(unknown.what()),
            "task 'render' needs 1.5 of unknown resource 'license.arnold' — declare a pool named "
            "'license.arnold' or remove it from the task's needs");
  ResourceRequestError memory("render", "memory", 8e9, 4e9);  // bytes, shown as sizes
  EXPECT_EQ(std::string(memory.what()),
            "task 'render' needs 8 GB of 'memory' but the pool's capacity is 4 GB — lower the "
            "request or raise the capacity");
}

TEST(InputError, OneLinePerDiagnosticLocatedLikeACompiler) {
  InputError e({{"shot.yaml", 12, 5, "unknown key 'afterr'", "did you mean 'after'?"},
                {"shot.yaml", 0, 0, "no tasks", ""}});
  EXPECT_EQ(e.code(), ErrorCode::kBadInput);
  ASSERT_EQ(e.diagnostics().size(), 2u);
  EXPECT_EQ(std::string(e.what()),
            "shot.yaml:12:5: unknown key 'afterr' — did you mean 'after'?\nshot.yaml: no tasks");
}

TEST(UnknownNameError, ListsKnownNamesAndSuggests) {
  UnknownNameError e("queue policy", "fcsf", {"fcfs", "multifactor"});
  EXPECT_EQ(e.code(), ErrorCode::kUnknownName);
  EXPECT_EQ(e.suggestion(), "fcfs");
  EXPECT_EQ(std::string(e.what()),
            "unknown queue policy 'fcsf' — did you mean 'fcfs'? (known: fcfs, multifactor)");
}

}  // namespace
}  // namespace taskloom
