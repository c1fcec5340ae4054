// A YAML document as a compact tree, built from yaml-cpp's parser events, with the checks of
// yaml_tree.hpp that yaml-cpp does not make.
#include "workflow/yaml_tree.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <istream>
#include <streambuf>

namespace taskloom::workflow::detail {

// --- YamlNode ---------------------------------------------------------------------------------

bool YamlNode::is_null() const noexcept {
  return tree_ && tree_->nodes_[index_].kind == YamlTree::Kind::kNull;
}
bool YamlNode::is_scalar() const noexcept {
  return tree_ && tree_->nodes_[index_].kind == YamlTree::Kind::kScalar;
}
bool YamlNode::is_sequence() const noexcept {
  return tree_ && tree_->nodes_[index_].kind == YamlTree::Kind::kSequence;
}
bool YamlNode::is_map() const noexcept {
  return tree_ && tree_->nodes_[index_].kind == YamlTree::Kind::kMap;
}

const std::string& YamlNode::scalar() const noexcept {
  static const std::string kEmpty;
  if (!is_scalar()) return kEmpty;
  return tree_->scalars_[tree_->nodes_[index_].first];
}

std::size_t YamlNode::size() const noexcept {
  if (is_sequence()) return tree_->nodes_[index_].count;
  if (is_map()) return tree_->nodes_[index_].count / 2;
  return 0;
}

YamlNode YamlNode::item(std::size_t i) const noexcept {
  if (!is_sequence() || i >= size()) return {};
  return {tree_, tree_->kids_[tree_->nodes_[index_].first + i]};
}
YamlNode YamlNode::key(std::size_t i) const noexcept {
  if (!is_map() || i >= size()) return {};
  return {tree_, tree_->kids_[tree_->nodes_[index_].first + 2 * i]};
}
YamlNode YamlNode::value(std::size_t i) const noexcept {
  if (!is_map() || i >= size()) return {};
  return {tree_, tree_->kids_[tree_->nodes_[index_].first + 2 * i + 1]};
}

int YamlNode::line() const noexcept {
  return tree_ ? tree_->nodes_[index_].line : 0;
}
int YamlNode::column() const noexcept {
  return tree_ ? tree_->nodes_[index_].column : 0;
}

namespace {

/// A get area over text that is not copied (YAML::Parser reads an istream).
class TextBuffer : public std::streambuf {
 public:
  explicit TextBuffer(std::string_view text) {
    char* begin = const_cast<char*>(text.data());  // read only: nothing is ever put back
    setg(begin, begin, begin + text.size());
  }
};

/// Thrown by the builder to stop the parser after a problem it added.
struct StopParsing {};

}  // namespace

// --- building ---------------------------------------------------------------------------------

class YamlTreeBuilder final : public YAML::EventHandler {
 public:
  YamlTreeBuilder(YamlTree& tree, std::string_view text, const std::string& file,
                  Problems& problems)
      : tree_(tree), text_(text), file_(file), problems_(problems) {
    tree_.nodes_.push_back({});  // index 0: the null root of an empty document
    // Typical workflows have a node per 8 to 40 bytes; growing from here costs little.
    tree_.nodes_.reserve(text.size() / 16 + 16);
    tree_.scalars_.reserve(text.size() / 24 + 16);
    tree_.kids_.reserve(text.size() / 16 + 16);
  }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add_child(add_node(YamlTree::Kind::kNull, mark, anchor));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const std::uint32_t target = anchor < anchors_.size() ? anchors_[anchor] : 0;
    const bool inside =
        std::any_of(stack_.begin(), stack_.end(), [&](const Open& o) { return o.node == target; });
    if (inside) {
      const std::string name = alias_name(mark);
      problems_.add(where(mark),
                    "the alias *" + name + " is inside the value it names (&" + name +
                        "), so that value would contain itself",
                    "alias a value that is complete before this point");
      throw StopParsing{};
    }
    add_child(target);
  }

  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    const std::uint32_t index = add_node(YamlTree::Kind::kScalar, mark, anchor);
    tree_.nodes_[index].first = static_cast<std::uint32_t>(tree_.scalars_.size());
    tree_.scalars_.push_back(value);
    add_child(index);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(YamlTree::Kind::kSequence, mark, anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(YamlTree::Kind::kMap, mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    std::uint32_t node;
    std::size_t first;  // where its children start in pending_
  };

  Where where(const YAML::Mark& mark) const { return {file_, mark.line + 1, mark.column + 1}; }

  std::uint32_t add_node(YamlTree::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    const auto index = static_cast<std::uint32_t>(tree_.nodes_.size());
    YamlTree::Node node;
    node.kind = kind;
    node.line = mark.line < 0 ? 0 : mark.line + 1;
    node.column = mark.line < 0 ? 0 : mark.column + 1;
    tree_.nodes_.push_back(node);
    if (anchor != 0) {
      if (anchors_.size() <= anchor) anchors_.resize(anchor + 1, 0);
      anchors_[anchor] = index;
    }
    return index;
  }

  void add_child(std::uint32_t index) {
    if (!stack_.empty()) {
      pending_.push_back(index);
    } else if (tree_.root_ == 0) {
      tree_.root_ = index;
    }
  }

  void open(YamlTree::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (stack_.size() >= kMaxDepth) {
      problems_.add(where(mark),
                    "the YAML nests deeper than " + std::to_string(kMaxDepth) + " levels here",
                    "a workflow needs a few levels; check for brackets or indentation that "
                    "never close");
      throw StopParsing{};
    }
    const std::uint32_t index = add_node(kind, mark, anchor);
    add_child(index);
    stack_.push_back({index, pending_.size()});
  }

  void close() {
    if (stack_.empty()) return;
    const Open o = stack_.back();
    stack_.pop_back();
    YamlTree::Node& node = tree_.nodes_[o.node];
    node.first = static_cast<std::uint32_t>(tree_.kids_.size());
    node.count = static_cast<std::uint32_t>(pending_.size() - o.first);
    tree_.kids_.insert(tree_.kids_.end(), pending_.begin() + static_cast<std::ptrdiff_t>(o.first),
                       pending_.end());
    pending_.resize(o.first);
  }

  std::string alias_name(const YAML::Mark& mark) const {
    std::size_t i = mark.pos < 0 ? text_.size() : static_cast<std::size_t>(mark.pos);
    if (i < text_.size() && text_[i] == '*') ++i;
    const std::size_t end = text_.find_first_of(" \t\r\n,[]{}", i);
    return std::string(text_.substr(i, end == std::string_view::npos ? end : end - i));
  }

  YamlTree& tree_;
  std::string_view text_;
  const std::string& file_;
  Problems& problems_;
  std::vector<Open> stack_;
  std::vector<std::uint32_t> pending_;  // children of the open collections, innermost last
  std::vector<std::uint32_t> anchors_;  // yaml-cpp's anchor number -> node
};

std::optional<YamlTree> read_yaml(std::string_view text, const std::string& file,
                                  Problems& problems) {
  // yaml-cpp skips a byte order mark but does not count it in positions: neither do we.
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  YamlTree tree;
  YamlTreeBuilder builder(tree, text, file, problems);
  TextBuffer buffer(text);
  std::istream in(&buffer);
  try {
    YAML::Parser parser(in);
    parser.HandleNextDocument(builder);
  } catch (const StopParsing&) {
    return std::nullopt;
  } catch (const YAML::Exception& e) {  // ParserException, DeepRecursion
    problems.add({file, e.mark.line + 1, e.mark.column + 1}, "malformed YAML: " + e.msg,
                 "fix the syntax at this position");
    return std::nullopt;
  }
  return tree;
}

}  // namespace taskloom::workflow::detail
