// src/workflow/yaml_tree.hpp — one YAML document as a compact, read-only tree (private).
//
// parse.cpp reads workflow files through this instead of YAML::Node. yaml-cpp's parser still
// does the scanning, but its events are kept here in a few bytes per node (a node of
// YAML::Load costs hundreds of bytes and a shared pointer per copy), and an alias is the index
// of the node it names, so a node's identity is a number (merged mappings are remembered by it).
//
// read_yaml() refuses, as Problems in taskloom's words with the fix, what yaml-cpp would word in
// its own terms or would accept although the file is broken (limits in load_state.hpp):
//   - a file that is not UTF-8 text (a NUL byte, an invalid byte sequence, a UTF-16/32 mark);
//   - nesting deeper than kMaxDepth levels, and an alias inside the node it names (a loop);
//   - a quoted value left open on its line that runs on over lines looking like keys or list
//     items (yaml-cpp takes them as text of the value, even up to the end of the file);
//   - a tab in indentation, and every other syntax error of yaml-cpp (yaml_errors.cpp).
//
//   Problems problems;
//   if (auto tree = read_yaml(text, "flow.yaml", problems)) {
//     for (YamlNode task : tree->root().items()) { ... task.is_map() ... }
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "workflow/load_state.hpp"

namespace taskloom::workflow::detail {

class YamlTree;

/// A node of a YamlTree, or no node (`!node`). Cheap to copy; valid while its tree lives.
class YamlNode {
 public:
  YamlNode() = default;

  explicit operator bool() const noexcept { return tree_ != nullptr; }
  bool is_null() const noexcept;
  bool is_scalar() const noexcept;
  bool is_sequence() const noexcept;
  bool is_map() const noexcept;
  /// The text of a scalar; empty for anything else.
  const std::string& scalar() const noexcept;
  /// Items of a sequence, key/value pairs of a mapping, 0 otherwise.
  std::size_t size() const noexcept;
  YamlNode item(std::size_t i) const noexcept;   ///< of a sequence
  YamlNode key(std::size_t i) const noexcept;    ///< of a mapping
  YamlNode value(std::size_t i) const noexcept;  ///< of a mapping
  /// 1-based position of the node's first character; 0 for no node.
  int line() const noexcept;
  int column() const noexcept;
  /// The same for every alias of one node.
  std::uint32_t id() const noexcept { return index_; }

  /// `for (YamlNode item : node.items())` over a sequence (nothing for other nodes).
  class Items;
  Items items() const;

 private:
  friend class YamlTree;
  YamlNode(const YamlTree* tree, std::uint32_t index) : tree_(tree), index_(index) {}

  const YamlTree* tree_ = nullptr;
  std::uint32_t index_ = 0;
};

class YamlNode::Items {
 public:
  class iterator {
   public:
    iterator(const YamlNode* node, std::size_t i) : node_(node), i_(i) {}
    YamlNode operator*() const { return node_->item(i_); }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const iterator& o) const { return i_ != o.i_; }

   private:
    const YamlNode* node_;
    std::size_t i_;
  };
  explicit Items(YamlNode node) : node_(node) {}
  iterator begin() const { return {&node_, 0}; }
  iterator end() const { return {&node_, node_.is_sequence() ? node_.size() : 0}; }

 private:
  YamlNode node_;
};

inline YamlNode::Items YamlNode::items() const {
  return Items(*this);
}

class YamlTree {
 public:
  /// The document's top node; a null node for an empty document.
  YamlNode root() const noexcept { return {this, root_}; }
  /// The node whose id() is `id`.
  YamlNode node(std::uint32_t id) const noexcept { return {this, id}; }

 private:
  friend class YamlNode;
  friend class YamlTreeBuilder;

  enum class Kind : std::uint8_t { kNull, kScalar, kSequence, kMap };
  struct Node {
    Kind kind = Kind::kNull;
    int line = 0, column = 0;  // 1-based
    // A scalar: its index in scalars_. A collection: its children at kids_[first, first+count)
    // (a mapping's as key, value, key, value, ...).
    std::uint32_t first = 0, count = 0;
  };

  std::vector<Node> nodes_;
  std::vector<std::string> scalars_;
  std::vector<std::uint32_t> kids_;
  std::uint32_t root_ = 0;
};

/// The first document of `text` (its file shown as `file`), or nullopt after adding to
/// `problems` why it cannot be read.
std::optional<YamlTree> read_yaml(std::string_view text, const std::string& file,
                                  Problems& problems);

// --- yaml_errors.cpp --------------------------------------------------------------------------

/// A collection still open where yaml-cpp stopped, for errors about unclosed brackets.
struct OpenCollection {
  bool is_map = false, is_flow = false;
  int line = 0, column = 0;  // 1-based
};

/// yaml-cpp's message `msg` for an error at `line`:`column` (1-based) of `text`, said in
/// taskloom's words with the fix; `open` is the innermost collection not yet closed, if any.
struct YamlSyntaxError {
  int line = 0, column = 0;
  std::string message, fix;
};
YamlSyntaxError translate_yaml_error(std::string_view msg, int line, int column,
                                     std::string_view text,
                                     const std::optional<OpenCollection>& open);

}  // namespace taskloom::workflow::detail
