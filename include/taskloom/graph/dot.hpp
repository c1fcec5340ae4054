// taskloom/graph/dot.hpp — Graphviz DOT and Mermaid export.
//
//   std::cout << graph::to_dot(g, {.name = "shot", .labels = names, .highlight = path});
// Labels are escaped; nodes without a label are named by index.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "taskloom/graph/digraph.hpp"

namespace taskloom::graph {

struct ExportOptions {
  std::string_view name = "taskloom";
  std::span<const std::string> labels;   ///< one per node, or empty
  std::span<const NodeIndex> highlight;  ///< nodes drawn emphasised (e.g. a critical path)
  bool rank_by_wave = false;             ///< DOT only: one `rank=same` group per wave
};

/// `digraph "name" { ... }`; edges u -> v in successor order.
std::string to_dot(const Digraph& g, const ExportOptions& options = {});
/// `flowchart TD` Mermaid text.
std::string to_mermaid(const Digraph& g, const ExportOptions& options = {});

}  // namespace taskloom::graph
