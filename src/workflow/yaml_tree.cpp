// A YAML document as a compact tree, built from yaml-cpp's parser events, with the checks of
// yaml_tree.hpp that yaml-cpp does not make (or words in its own terms).
#include "workflow/yaml_tree.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstring>
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

// --- the text itself --------------------------------------------------------------------------

int line_of(std::string_view text, std::size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
}

int column_of(std::string_view text, std::size_t pos) {
  const std::size_t start = text.rfind('\n', pos == 0 ? 0 : pos - 1);
  return static_cast<int>(pos - (start == std::string_view::npos || pos == 0 ? 0 : start + 1)) + 1;
}

/// The length of the valid UTF-8 sequence at `s[i]`, or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size() || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

/// False (and a problem) unless `text` is UTF-8 text: YAML is text, and a binary file fed to
/// yaml-cpp fails at an escape or a token it happens to meet, far from the reason.
bool is_text(std::string_view text, const std::string& file, Problems& problems) {
  if (text.starts_with("\xFF\xFE") || text.starts_with("\xFE\xFF") ||
      text.starts_with(std::string_view("\0\0\xFE\xFF", 4))) {
    problems.add({file, 0, 0}, "this file is UTF-16 or UTF-32 text", "save it as UTF-8");
    return false;
  }
  if (const void* nul = std::memchr(text.data(), '\0', text.size())) {
    const std::size_t pos = static_cast<const char*>(nul) - text.data();
    problems.add(
        {file, 0, 0},
        "this is not a text file (a NUL byte at line " + std::to_string(line_of(text, pos)) + ")",
        "name the YAML workflow file");
    return false;
  }
  std::size_t i = 0;
  while (i < text.size()) {
    // Eight ASCII bytes at a time: the common case.
    if (i + 8 <= text.size()) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(text, i);
    if (n == 0) {
      static const char kHex[] = "0123456789ABCDEF";
      const auto c = static_cast<unsigned char>(text[i]);
      problems.add({file, line_of(text, i), column_of(text, i)},
                   std::string("the file is not UTF-8 text here (a byte 0x") + kHex[c >> 4] +
                       kHex[c & 15] + ")",
                   "save the file as UTF-8");
      return false;
    }
    i += n;
  }
  return true;
}

/// A line that, inside a quoted value, looks like YAML structure: a list item ("- ...") or a
/// key ("name:" followed by a space or the end of the line).
bool looks_like_structure(std::string_view rest) {
  if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);
  if (rest == "-" || rest.starts_with("- ")) return true;
  if (rest.empty() || !(std::isalnum(static_cast<unsigned char>(rest[0])) || rest[0] == '_')) {
    return false;
  }
  std::size_t i = 0;
  while (i < rest.size() && is_id_char(rest[i])) ++i;
  return i < rest.size() && rest[i] == ':' && (i + 1 == rest.size() || rest[i + 1] == ' ');
}

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

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    const std::uint32_t index = add_node(YamlTree::Kind::kScalar, mark, anchor);
    tree_.nodes_[index].first = static_cast<std::uint32_t>(tree_.scalars_.size());
    tree_.scalars_.push_back(value);
    if (tag == "!") check_quoted(mark);  // "!": a quoted (or block) scalar
    add_child(index);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override {
    open(YamlTree::Kind::kSequence, mark, anchor, style);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override {
    open(YamlTree::Kind::kMap, mark, anchor, style);
  }
  void OnMapEnd() override { close(); }

  std::optional<OpenCollection> innermost_open() const {
    if (stack_.empty()) return std::nullopt;
    const YamlTree::Node& n = tree_.nodes_[stack_.back().node];
    return OpenCollection{n.kind == YamlTree::Kind::kMap, stack_.back().flow, n.line, n.column};
  }

 private:
  struct Open {
    std::uint32_t node;
    bool flow;
    int block_column;   // 0-based column of the innermost block collection (-1: none)
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

  void open(YamlTree::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor,
            YAML::EmitterStyle::value style) {
    if (stack_.size() >= kMaxDepth) {
      problems_.add(where(mark),
                    "the YAML nests deeper than " + std::to_string(kMaxDepth) + " levels here",
                    "a workflow needs a few levels; check for brackets or indentation that "
                    "never close");
      throw StopParsing{};
    }
    const std::uint32_t index = add_node(kind, mark, anchor);
    add_child(index);
    const bool flow = style == YAML::EmitterStyle::Flow;
    const int outer = stack_.empty() ? -1 : stack_.back().block_column;
    stack_.push_back({index, flow, flow ? outer : mark.column, pending_.size()});
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

  // A quoted scalar runs on until its closing quote, over as many lines as it takes; yaml-cpp
  // even ends one at the end of the file. A quote left open by mistake therefore swallows the
  // lines after it, which then look like keys or list items at the indentation of the
  // collection the value is in (or less). A multi-line quoted value whose lines are indented
  // further, or do not look like structure, is left alone.
  void check_quoted(const YAML::Mark& mark) {
    if (mark.pos < 0 || static_cast<std::size_t>(mark.pos) >= text_.size()) return;
    const std::size_t open = static_cast<std::size_t>(mark.pos);
    const char quote = text_[open];
    if (quote != '"' && quote != '\'') return;  // a block scalar (| or >)
    const int block_column = stack_.empty() ? -1 : stack_.back().block_column;
    int line = mark.line + 1;
    for (std::size_t i = open + 1; i < text_.size(); ++i) {
      const char c = text_[i];
      if (quote == '"' && c == '\\') {
        if (i + 1 < text_.size() && text_[i + 1] != '\n') ++i;
        continue;
      }
      if (c == quote) {
        if (quote == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') {
          ++i;
          continue;
        }
        return;  // closed
      }
      if (c != '\n') continue;
      ++line;
      const std::size_t start = i + 1;
      const std::size_t end = std::min(text_.find('\n', start), text_.size());
      std::string_view text_line = text_.substr(start, end - start);
      const std::size_t indent = text_line.find_first_not_of(' ');
      if (indent == std::string_view::npos) continue;
      const std::string_view rest = text_line.substr(indent);
      if (static_cast<int>(indent) <= block_column && looks_like_structure(rest)) {
        std::string shown(rest.substr(0, rest.find_last_not_of(" \r") + 1));
        if (shown.size() > 40) shown = shown.substr(0, 37) + "...";
        problems_.add(where(mark),
                      "the quote opened here is not closed on its line, so line " +
                          std::to_string(line) + " (" + shown + ") is read as part of this value",
                      "close the quote on this line, or use | for a multi-line command");
        throw StopParsing{};
      }
    }
    problems_.add(where(mark), "the quote opened here is never closed",
                  "close it where the value ends");
    throw StopParsing{};
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
  if (!is_text(text, file, problems)) return std::nullopt;
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
    const YamlSyntaxError error = translate_yaml_error(e.msg, e.mark.line + 1, e.mark.column + 1,
                                                       text, builder.innermost_open());
    problems.add({file, error.line, error.column}, error.message, error.fix);
    return std::nullopt;
  }
  return tree;
}

}  // namespace taskloom::workflow::detail
