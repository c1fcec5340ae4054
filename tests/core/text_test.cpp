#include "taskloom/core/text.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace taskloom {
namespace {

TEST(EditDistance, KnownValues) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("fetch", "fetch"), 0u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
  EXPECT_EQ(edit_distance("fecth", "fetch"), 2u);  // a transposition is two edits
  EXPECT_EQ(edit_distance("render", "rendr"), 1u);
}

TEST(EditDistance, IsSymmetric) {
  EXPECT_EQ(edit_distance("encode", "decode"), edit_distance("decode", "encode"));
  EXPECT_EQ(edit_distance("a", "xyz"), edit_distance("xyz", "a"));
}

TEST(ClosestMatch, PicksNearestCandidate) {
  const std::vector<std::string> ids{"fetch", "parse", "encode"};
  EXPECT_EQ(closest_match("fecth", ids), "fetch");
  EXPECT_EQ(closest_match("pase", ids), "parse");
  EXPECT_EQ(closest_match("encode", ids), "encode");
}

TEST(ClosestMatch, TieGoesToFirstCandidate) {
  const std::vector<std::string> ids{"cat", "bat"};
  EXPECT_EQ(closest_match("hat", ids), "cat");
}

TEST(ClosestMatch, NothingCloseGivesEmpty) {
  const std::vector<std::string> ids{"fetch", "parse"};
  EXPECT_EQ(closest_match("render_frames", ids), "");
  EXPECT_EQ(closest_match("x", std::vector<std::string>{}), "");
}

TEST(ClosestMatch, LimitIsMaxOfTwoAndAThirdOfTheWord) {
  // Short word: up to 2 edits.
  EXPECT_EQ(closest_match("ab", std::vector<std::string>{"xy"}), "xy");
  EXPECT_EQ(closest_match("ab", std::vector<std::string>{"xyz"}), "");
  // 12 letters: up to 4 edits.
  EXPECT_EQ(closest_match("abcdefghijkl", std::vector<std::string>{"abcdefghWXYZ"}),
            "abcdefghWXYZ");
  EXPECT_EQ(closest_match("abcdefghijkl", std::vector<std::string>{"abcdefgVWXYZ"}), "");
}

TEST(ReadTail, TheLastBytesOfALargeFileAllOfASmallOneNothingOfAMissingOne) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("text_test_tail." + std::to_string(::getpid()));
  {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 1000; ++i) out << "line " << i << '\n';
  }
  EXPECT_EQ(read_tail(file, 9), "line 999\n");
  const std::string all = read_tail(file, 1 << 20);
  EXPECT_EQ(all.size(), std::filesystem::file_size(file));
  EXPECT_EQ(all.substr(0, 7), "line 0\n");
  std::filesystem::remove(file);
  EXPECT_EQ(read_tail(file, 100), "");
}

}  // namespace
}  // namespace taskloom
