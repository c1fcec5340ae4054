#include "taskloom/graph/dot.hpp"

#include <charconv>
#include <vector>

#include "taskloom/core/error.hpp"
#include "taskloom/graph/algorithms.hpp"

namespace taskloom::graph {
namespace {

void append_number(std::string& out, std::size_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// Checks the options against `g`; returns one flag per node, set for highlighted nodes.
std::vector<bool> prepare(const Digraph& g, const ExportOptions& options, const char* caller) {
  const std::size_t n = g.node_count();
  if (!options.labels.empty() && options.labels.size() != n) {
    throw InvalidArgumentError(std::string(caller) + ": got " +
                               std::to_string(options.labels.size()) + " labels for a graph of " +
                               std::to_string(n) + " nodes — pass one label per node, or none");
  }
  std::vector<bool> highlighted(options.highlight.empty() ? 0 : n, false);
  for (const NodeIndex v : options.highlight) {
    if (v >= n) {
      throw InvalidArgumentError(std::string(caller) + ": highlighted node " + std::to_string(v) +
                                 " is not in the graph of " + std::to_string(n) +
                                 " nodes — highlight only existing nodes");
    }
    highlighted[v] = true;
  }
  return highlighted;
}

bool has_label(const ExportOptions& options, NodeIndex v) {
  return !options.labels.empty() && !options.labels[v].empty();
}

bool is_highlighted(const std::vector<bool>& highlighted, NodeIndex v) {
  return !highlighted.empty() && highlighted[v];
}

// Text for inside a DOT double-quoted string: `"` and `\` are escaped, a line break becomes
// DOT's centred line break `\n`, other control characters become spaces.
void append_dot_escaped(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') ++i;  // CR LF is one line break
        [[fallthrough]];
      case '\n':
        out += "\\n";
        break;
      default:
        out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
    }
  }
}

// Text for inside a Mermaid `["..."]` label. Mermaid has no backslash escapes; it takes entity
// codes (`#quot;`, `#35;`), so every character that could end the string, start an entity,
// be read as HTML or as Markdown is written as one. A line break becomes `<br>`.
void append_mermaid_escaped(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '"':
        out += "#quot;";
        break;
      case '#':
        out += "#35;";
        break;
      case '&':
        out += "#38;";
        break;
      case '*':
        out += "#42;";
        break;
      case '<':
        out += "#60;";
        break;
      case '>':
        out += "#62;";
        break;
      case '\\':
        out += "#92;";
        break;
      case '`':
        out += "#96;";
        break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        [[fallthrough]];
      case '\n':
        out += "<br>";
        break;
      default:
        out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
    }
  }
}

// A node's name in a cycle report: its label, or its index.
std::string display_name(const ExportOptions& options, NodeIndex v) {
  return has_label(options, v) ? options.labels[v] : std::to_string(v);
}

}  // namespace

std::string to_dot(const Digraph& g, const ExportOptions& options) {
  const std::vector<bool> highlighted = prepare(g, options, "to_dot");
  const auto n = static_cast<NodeIndex>(g.node_count());

  std::vector<std::vector<NodeIndex>> ranks;
  if (options.rank_by_wave) {
    const Analysis a = analyze(g);
    if (!a.cycle.empty()) {
      std::vector<std::string> path;
      path.reserve(a.cycle.size());
      for (const NodeIndex v : a.cycle) path.push_back(display_name(options, v));
      throw CycleError(std::move(path));
    }
    ranks = waves(a);
  }

  std::string out = "digraph \"";
  append_dot_escaped(out, options.name);
  out += "\" {\n";
  for (NodeIndex v = 0; v < n; ++v) {
    out += "  ";
    append_number(out, v);
    const bool label = has_label(options, v);
    const bool highlight = is_highlighted(highlighted, v);
    if (label || highlight) {
      out += " [";
      if (label) {
        out += "label=\"";
        append_dot_escaped(out, options.labels[v]);
        out += '"';
      }
      if (highlight) out += label ? ", color=\"red\", penwidth=3" : "color=\"red\", penwidth=3";
      out += ']';
    }
    out += ";\n";
  }
  for (const auto& wave : ranks) {
    out += "  {rank=same;";
    for (const NodeIndex v : wave) {
      out += ' ';
      append_number(out, v);
      out += ';';
    }
    out += "}\n";
  }
  for (NodeIndex u = 0; u < n; ++u) {
    for (const NodeIndex v : g.successors(u)) {
      out += "  ";
      append_number(out, u);
      out += " -> ";
      append_number(out, v);
      out += ";\n";
    }
  }
  out += "}\n";
  return out;
}

std::string to_mermaid(const Digraph& g, const ExportOptions& options) {
  const std::vector<bool> highlighted = prepare(g, options, "to_mermaid");
  const auto n = static_cast<NodeIndex>(g.node_count());

  std::string out = "flowchart TD\n";
  if (!options.name.empty()) {
    // A comment line: it ends at the line break, so the name must not contain one.
    out += "  %% ";
    for (const char c : options.name) out += c == '\n' || c == '\r' ? ' ' : c;
    out += '\n';
  }
  for (NodeIndex v = 0; v < n; ++v) {
    out += "  n";
    append_number(out, v);
    out += "[\"";
    if (has_label(options, v)) {
      append_mermaid_escaped(out, options.labels[v]);
    } else {
      append_number(out, v);
    }
    out += "\"]\n";
  }
  for (NodeIndex u = 0; u < n; ++u) {
    for (const NodeIndex v : g.successors(u)) {
      out += "  n";
      append_number(out, u);
      out += " --> n";
      append_number(out, v);
      out += '\n';
    }
  }
  if (!options.highlight.empty()) {
    out += "  classDef highlight stroke:#d00,stroke-width:3px\n  class ";
    bool first = true;
    for (NodeIndex v = 0; v < n; ++v) {
      if (!highlighted[v]) continue;
      if (!first) out += ',';
      out += 'n';
      append_number(out, v);
      first = false;
    }
    out += " highlight\n";
  }
  return out;
}

}  // namespace taskloom::graph
