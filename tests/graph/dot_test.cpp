#include "taskloom/graph/dot.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "taskloom/core/error.hpp"

namespace taskloom::graph {
namespace {

const std::vector<Edge> kChain{{0, 1}, {1, 2}};
const std::vector<Edge> kDiamond{{0, 1}, {0, 2}, {1, 3}, {2, 3}};

TEST(ToDot, NodesWithoutLabelsAreNamedByIndex) {
  EXPECT_EQ(to_dot(Digraph(3, kChain)),
            "digraph \"taskloom\" {\n"
            "  0;\n"
            "  1;\n"
            "  2;\n"
            "  0 -> 1;\n"
            "  1 -> 2;\n"
            "}\n");
}

TEST(ToDot, EmptyGraph) {
  EXPECT_EQ(to_dot(Digraph{}), "digraph \"taskloom\" {\n}\n");
}

TEST(ToDot, IsolatedNodesAreDeclared) {
  EXPECT_EQ(to_dot(Digraph(2, {})), "digraph \"taskloom\" {\n  0;\n  1;\n}\n");
}

TEST(ToDot, EdgesInSuccessorOrder) {
  const std::vector<Edge> edges{{1, 0}, {0, 2}, {0, 1}, {0, 1}};
  EXPECT_EQ(to_dot(Digraph(3, edges)),
            "digraph \"taskloom\" {\n  0;\n  1;\n  2;\n"
            "  0 -> 2;\n  0 -> 1;\n  0 -> 1;\n  1 -> 0;\n}\n");
}

TEST(ToDot, LabelsNameAndHighlight) {
  const std::vector<std::string> labels{"fetch", "parse", "encode"};
  const std::vector<NodeIndex> path{0, 2};
  EXPECT_EQ(to_dot(Digraph(3, kChain), {.name = "shot", .labels = labels, .highlight = path}),
            "digraph \"shot\" {\n"
            "  0 [label=\"fetch\", color=\"red\", penwidth=3];\n"
            "  1 [label=\"parse\"];\n"
            "  2 [label=\"encode\", color=\"red\", penwidth=3];\n"
            "  0 -> 1;\n"
            "  1 -> 2;\n"
            "}\n");
}

TEST(ToDot, EmptyLabelFallsBackToIndex) {
  const std::vector<std::string> labels{"fetch", "", "encode"};
  const std::vector<NodeIndex> path{1};
  EXPECT_EQ(to_dot(Digraph(3, kChain), {.labels = labels, .highlight = path}),
            "digraph \"taskloom\" {\n"
            "  0 [label=\"fetch\"];\n"
            "  1 [color=\"red\", penwidth=3];\n"
            "  2 [label=\"encode\"];\n"
            "  0 -> 1;\n"
            "  1 -> 2;\n"
            "}\n");
}

TEST(ToDot, EscapesQuotesBackslashesAndLineBreaks) {
  const std::vector<std::string> labels{"say \"hi\"", "C:\\out\\", "two\nlines\r\nthree\ttab"};
  const std::string dot = to_dot(Digraph(3, {}), {.name = "a \"b\"", .labels = labels});
  EXPECT_EQ(dot,
            "digraph \"a \\\"b\\\"\" {\n"
            "  0 [label=\"say \\\"hi\\\"\"];\n"
            "  1 [label=\"C:\\\\out\\\\\"];\n"
            "  2 [label=\"two\\nlines\\nthree tab\"];\n"
            "}\n");
}

TEST(ToDot, RankByWaveGroupsEachWave) {
  EXPECT_EQ(to_dot(Digraph(4, kDiamond), {.rank_by_wave = true}),
            "digraph \"taskloom\" {\n"
            "  0;\n  1;\n  2;\n  3;\n"
            "  {rank=same; 0;}\n"
            "  {rank=same; 1; 2;}\n"
            "  {rank=same; 3;}\n"
            "  0 -> 1;\n  0 -> 2;\n  1 -> 3;\n  2 -> 3;\n"
            "}\n");
}

TEST(ToDot, RankByWaveOnCycleThrowsCycleErrorWithLabels) {
  const std::vector<Edge> edges{{0, 1}, {1, 2}, {2, 1}};
  const std::vector<std::string> labels{"fetch", "parse", ""};
  try {
    to_dot(Digraph(3, edges), {.labels = labels, .rank_by_wave = true});
    FAIL() << "no exception";
  } catch (const CycleError& e) {
    EXPECT_EQ(e.path(), (std::vector<std::string>{"parse", "2", "parse"}));
  }
  // Without waves a cyclic graph is drawn as it is.
  EXPECT_NE(to_dot(Digraph(3, edges)).find("  2 -> 1;\n"), std::string::npos);
}

TEST(ToDot, LabelCountMismatchThrows) {
  const std::vector<std::string> labels{"only one"};
  EXPECT_THROW(to_dot(Digraph(3, kChain), {.labels = labels}), InvalidArgumentError);
}

TEST(ToDot, HighlightOutOfRangeThrows) {
  const std::vector<NodeIndex> path{3};
  EXPECT_THROW(to_dot(Digraph(3, kChain), {.highlight = path}), InvalidArgumentError);
}

TEST(ToMermaid, NodesWithoutLabelsAreNamedByIndex) {
  EXPECT_EQ(to_mermaid(Digraph(3, kChain)),
            "flowchart TD\n"
            "  %% taskloom\n"
            "  n0[\"0\"]\n"
            "  n1[\"1\"]\n"
            "  n2[\"2\"]\n"
            "  n0 --> n1\n"
            "  n1 --> n2\n");
}

TEST(ToMermaid, EmptyGraphAndNoName) {
  EXPECT_EQ(to_mermaid(Digraph{}, {.name = ""}), "flowchart TD\n");
}

TEST(ToMermaid, LabelsAndHighlightClass) {
  const std::vector<std::string> labels{"fetch", "parse", "encode"};
  const std::vector<NodeIndex> path{2, 0, 2};
  EXPECT_EQ(to_mermaid(Digraph(3, kChain), {.name = "shot", .labels = labels, .highlight = path}),
            "flowchart TD\n"
            "  %% shot\n"
            "  n0[\"fetch\"]\n"
            "  n1[\"parse\"]\n"
            "  n2[\"encode\"]\n"
            "  n0 --> n1\n"
            "  n1 --> n2\n"
            "  classDef highlight stroke:#d00,stroke-width:3px\n"
            "  class n0,n2 highlight\n");
}

TEST(ToMermaid, EscapesWithEntityCodes) {
  const std::vector<std::string> labels{"say \"hi\" & <b>", "C:\\out #1", "*bold* `code`\nnext"};
  EXPECT_EQ(to_mermaid(Digraph(3, {}), {.name = "two\nlines", .labels = labels}),
            "flowchart TD\n"
            "  %% two lines\n"
            "  n0[\"say #quot;hi#quot; #38; #60;b#62;\"]\n"
            "  n1[\"C:#92;out #35;1\"]\n"
            "  n2[\"#42;bold#42; #96;code#96;<br>next\"]\n");
}

TEST(ToMermaid, IgnoresRankByWave) {
  const Digraph g(4, kDiamond);
  EXPECT_EQ(to_mermaid(g, {.rank_by_wave = true}), to_mermaid(g));
}

TEST(ToMermaid, InvalidOptionsThrow) {
  const std::vector<std::string> labels{"a", "b"};
  const std::vector<NodeIndex> path{9};
  EXPECT_THROW(to_mermaid(Digraph(3, kChain), {.labels = labels}), InvalidArgumentError);
  EXPECT_THROW(to_mermaid(Digraph(3, kChain), {.highlight = path}), InvalidArgumentError);
}

}  // namespace
}  // namespace taskloom::graph
