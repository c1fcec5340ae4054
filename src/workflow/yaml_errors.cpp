// yaml-cpp's syntax errors in taskloom's words. yaml-cpp words its errors for people who know
// its scanner ("illegal block entry", "end of map not found"); a workflow author needs what is
// wrong at the position and how to fix it. Every ErrorMsg text of yaml-cpp/exceptions.h its
// parser can throw is in kTranslations; a message not there (a newer yaml-cpp) gets the generic
// one, so no library wording reaches the user.
#include <yaml-cpp/exceptions.h>

#include <algorithm>
#include <cctype>

#include "workflow/yaml_tree.hpp"

namespace taskloom::workflow::detail {
namespace {

struct Translation {
  const char* yaml_cpp;  // ErrorMsg text (a prefix: some end in ": <detail>")
  const char* message;
  const char* fix;
};

const char* const kQuoteIt = "quote the value if the character is meant as text";
const char* const kIndentFix =
    "indent it with spaces like the lines it belongs with: the keys of a mapping at one column, "
    "the \"- \" of a list's items at one column";

// clang-format off
const Translation kTranslations[] = {
    // directives (lines starting with "%")
    {YAML::ErrorMsg::YAML_DIRECTIVE_ARGS, "the %YAML line needs exactly one version number",
     "write \"%YAML 1.2\" or remove the line"},
    {YAML::ErrorMsg::YAML_VERSION, "the %YAML line's version is not a version",
     "write \"%YAML 1.2\" or remove the line"},
    {YAML::ErrorMsg::YAML_MAJOR_VERSION, "this YAML version is not supported (only 1.x is)",
     "write \"%YAML 1.2\" or remove the line"},
    {YAML::ErrorMsg::REPEATED_YAML_DIRECTIVE, "the %YAML line is given twice",
     "remove one of them"},
    {YAML::ErrorMsg::TAG_DIRECTIVE_ARGS, "the %TAG line needs a handle and a prefix",
     "remove the line: a workflow needs no tags"},
    {YAML::ErrorMsg::REPEATED_TAG_DIRECTIVE, "the %TAG line for this handle is given twice",
     "remove one of them"},
    // tags, anchors and aliases
    {YAML::ErrorMsg::CHAR_IN_TAG_HANDLE, "a tag (\"!name\") has a character it cannot have",
     "remove the tag, or quote the value if \"!\" is meant as text"},
    {YAML::ErrorMsg::TAG_WITH_NO_SUFFIX, "a tag (\"!name!\") has no name after its handle",
     "remove the tag, or quote the value if \"!\" is meant as text"},
    {YAML::ErrorMsg::END_OF_VERBATIM_TAG, "a tag \"!<...\" is not closed with \">\"",
     "close it with \">\" or remove the tag"},
    {YAML::ErrorMsg::MULTIPLE_TAGS, "a value has two tags", "keep one tag, or none"},
    {YAML::ErrorMsg::MULTIPLE_ANCHORS, "a value has two anchors (\"&name\")",
     "keep one anchor per value"},
    {YAML::ErrorMsg::MULTIPLE_ALIASES, "a value is given as two aliases (\"*name\")",
     "keep one alias"},
    {YAML::ErrorMsg::ALIAS_CONTENT, "an alias (\"*name\") cannot have a tag or text of its own",
     "remove what follows the alias, or quote the value if \"*\" is meant as text"},
    {YAML::ErrorMsg::ALIAS_NOT_FOUND, "\"*\" starts an alias, but no anchor name follows it",
     "write *name for a value marked &name, or quote the value if \"*\" is meant as text"},
    {YAML::ErrorMsg::ANCHOR_NOT_FOUND, "\"&\" starts an anchor, but no name follows it",
     "write &name before the value, or quote the value if \"&\" is meant as text"},
    {YAML::ErrorMsg::CHAR_IN_ALIAS, "an alias name has a character it cannot have",
     "use letters, digits, \"_\" and \"-\", or quote the value if \"*\" is meant as text"},
    {YAML::ErrorMsg::CHAR_IN_ANCHOR, "an anchor name has a character it cannot have",
     "use letters, digits, \"_\" and \"-\", or quote the value if \"&\" is meant as text"},
    {YAML::ErrorMsg::AMBIGUOUS_ANCHOR, "the same alias is given to two values",
     "give each value its own anchor"},
    {YAML::ErrorMsg::UNKNOWN_ANCHOR, "this alias names no anchor defined above it",
     "define &name before the alias *name, or quote the value if \"*\" is meant as text"},
    // quoted and block scalars
    {YAML::ErrorMsg::INVALID_HEX, "a \"\\x\", \"\\u\" or \"\\U\" escape in double quotes needs "
     "hexadecimal digits", "write e.g. \\x41, or use single quotes, where \"\\\" is plain text"},
    {YAML::ErrorMsg::INVALID_UNICODE, "this \"\\u\" or \"\\U\" escape is not a Unicode character",
     "use single quotes if the backslash is meant as text"},
    {YAML::ErrorMsg::INVALID_ESCAPE, "a backslash in double quotes starts an escape that YAML "
     "does not have", "write \\\\ for a backslash, or use single quotes, where \"\\\" is plain "
     "text"},
    {YAML::ErrorMsg::DOC_IN_SCALAR, "a line \"---\" or \"...\" inside quotes ends the YAML "
     "document", "indent that line, or use | for a multi-line command"},
    {YAML::ErrorMsg::EOF_IN_SCALAR, "the file ends inside quotes",
     "close the quote where the value ends"},
    {YAML::ErrorMsg::CHAR_IN_SCALAR, "a value has a character YAML does not allow here",
     kQuoteIt},
    {YAML::ErrorMsg::SINGLE_QUOTED_CHAR, "a value in single quotes has a character YAML does "
     "not allow", "remove the character"},
    {YAML::ErrorMsg::ZERO_INDENT_IN_BLOCK, "a block value (| or >) cannot be indented by 0",
     "write | alone, or a digit from 1 to 9 after it"},
    {YAML::ErrorMsg::CHAR_IN_BLOCK, "only a digit, \"+\", \"-\" or a comment may follow | or > "
     "on its line", "put the text on the next lines, indented"},
    // structure
    {YAML::ErrorMsg::TAB_IN_INDENTATION, "a tab is used for indentation",
     "replace it with spaces (YAML indents with spaces)"},
    {YAML::ErrorMsg::UNKNOWN_TOKEN, "a value cannot start with this character (YAML reserves "
     "\"@\" and \"`\")", kQuoteIt},
    {YAML::ErrorMsg::FLOW_END, "this \"]\" or \"}\" closes nothing",
     "remove it, or quote the value if it is meant as text"},
    {YAML::ErrorMsg::BLOCK_ENTRY, "a list item (\"- \") cannot start here",
     "start the list on the next line, indented under its key, or quote the value if \"-\" is "
     "meant as text"},
    {YAML::ErrorMsg::MAP_KEY, "a \"?\" key cannot start here",
     "remove the \"?\", or quote the value if it is meant as text"},
    {YAML::ErrorMsg::MAP_VALUE, "\": \" inside a value starts a mapping that cannot be here",
     "quote the value (run: \"echo a: b\"), or put a nested mapping on its own indented lines"},
    {YAML::ErrorMsg::END_OF_MAP, "this does not continue the mapping above it", kIndentFix},
    {YAML::ErrorMsg::END_OF_SEQ, "this does not continue the list above it", kIndentFix},
    {YAML::ErrorMsg::END_OF_MAP_FLOW, "a \"{...}\" mapping is not closed",
     "close it with \"}\"; separate its entries with \",\""},
    {YAML::ErrorMsg::END_OF_SEQ_FLOW, "a \"[...]\" list is not closed",
     "close it with \"]\"; separate its items with \",\""},
    // the emitter's (never thrown by the parser, here for completeness)
    {YAML::ErrorMsg::UNMATCHED_GROUP_TAG, "the YAML structure is broken here", nullptr},
    {YAML::ErrorMsg::UNEXPECTED_END_SEQ, "the YAML structure is broken here", nullptr},
    {YAML::ErrorMsg::UNEXPECTED_END_MAP, "the YAML structure is broken here", nullptr},
    {YAML::ErrorMsg::INVALID_ANCHOR, "an anchor is not valid here", nullptr},
    {YAML::ErrorMsg::INVALID_ALIAS, "an alias is not valid here", nullptr},
    {YAML::ErrorMsg::INVALID_TAG, "a tag is not valid here", nullptr},
    // DeepRecursion (its own limit of yaml-cpp, above taskloom's kMaxDepth)
    {YAML::ErrorMsg::BAD_FILE, "the YAML nests too deeply here",
     "a workflow needs a few levels; check for brackets or indentation that never close"},
};
// clang-format on

const char* const kGenericMessage = "the YAML syntax is broken here";
const char* const kGenericFix =
    "check this line and the one before it: indentation, quotes and brackets";

std::string_view line_text(std::string_view text, int line) {
  std::size_t start = 0;
  for (int l = 1; l < line; ++l) {
    start = text.find('\n', start);
    if (start == std::string_view::npos) return {};
    ++start;
  }
  const std::size_t end = text.find('\n', start);
  return text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

/// Whether only blank lines and comments follow `line`:`column` (yaml-cpp points past the end).
bool at_end(std::string_view text, int line, int column) {
  std::string_view rest = line_text(text, line);
  if (rest.data() == nullptr) return true;
  const std::size_t from = static_cast<std::size_t>(rest.data() - text.data()) +
                           std::min<std::size_t>(static_cast<std::size_t>(column - 1), rest.size());
  for (std::size_t i = from; i < text.size(); ++i) {
    if (text[i] == '#') {
      i = text.find('\n', i);
      if (i == std::string_view::npos) break;
    } else if (!std::isspace(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

YamlSyntaxError translate_yaml_error(std::string_view msg, int line, int column,
                                     std::string_view text,
                                     const std::optional<OpenCollection>& open) {
  const std::string_view this_line = line_text(text, line);
  const std::size_t indent_end = this_line.find_first_not_of(" \t");
  const std::string_view indent = this_line.substr(0, indent_end);

  // A tab among the indentation: what yaml-cpp calls an illegal block entry, an illegal map
  // value, the end of a mapping, ... depending on what follows it.
  if (const std::size_t tab = indent.find('\t'); tab != std::string_view::npos) {
    return {line, static_cast<int>(tab) + 1, "a tab is used for indentation",
            "replace it with spaces (YAML indents with spaces)"};
  }

  const Translation* t = nullptr;
  for (const Translation& candidate : kTranslations) {
    if (msg.starts_with(candidate.yaml_cpp)) {
      t = &candidate;
      break;
    }
  }
  YamlSyntaxError out{line, column, t ? t->message : kGenericMessage,
                      t && t->fix ? t->fix : kGenericFix};
  if (t == nullptr) return out;
  const std::string_view key = t->yaml_cpp;

  // Unclosed brackets: said at the bracket, the one place yaml-cpp does not name.
  if ((key == YAML::ErrorMsg::END_OF_SEQ_FLOW || key == YAML::ErrorMsg::END_OF_MAP_FLOW) && open &&
      open->is_flow && open->line < line) {
    const bool list = key == YAML::ErrorMsg::END_OF_SEQ_FLOW;
    out.line = open->line;
    out.column = open->column;
    out.message = std::string("the ") + (list ? "list" : "mapping") + " opened with \"" +
                  (list ? "[" : "{") + "\" here is " +
                  (at_end(text, line, column) ? std::string("never closed")
                                              : "not closed before line " + std::to_string(line));
    out.fix = std::string("close it with \"") + (list ? "]" : "}") + "\" where it ends; separate " +
              (list ? "its items" : "its entries") + " with \",\"";
    return out;
  }
  if (key == YAML::ErrorMsg::END_OF_SEQ_FLOW || key == YAML::ErrorMsg::END_OF_MAP_FLOW) {
    const bool list = key == YAML::ErrorMsg::END_OF_SEQ_FLOW;
    out.message = std::string("a \",\" or the \"") + (list ? "]" : "}") + "\" closing the " +
                  (list ? "list" : "mapping") + " is expected here";
    out.fix = "separate the items with \",\", and quote an item that contains \": \"";
    return out;
  }
  if (key == YAML::ErrorMsg::END_OF_MAP || key == YAML::ErrorMsg::END_OF_SEQ) {
    // Mid-line: text after a value that was complete (a quoted string, a [...] or a {...}).
    if (indent_end != std::string_view::npos && column - 1 > static_cast<int>(indent_end)) {
      out.message = "more text follows a complete value here";
      out.fix =
          "a value that starts with a quote, \"[\" or \"{\" ends where it closes; quote the "
          "whole value instead";
    } else {
      out.message = "the indentation of this line does not match the lines above it";
    }
    return out;
  }
  if (key == YAML::ErrorMsg::UNKNOWN_ANCHOR) {
    std::string_view rest = this_line.substr(std::min<std::size_t>(column - 1, this_line.size()));
    if (rest.starts_with('*')) {
      rest.remove_prefix(1);
      const std::string name(rest.substr(0, rest.find_first_of(" \t\r,[]{}")));
      out.message = "the alias *" + name + " names no anchor &" + name + " above it";
      out.fix =
          "define &" + name + " before this line, or quote the value if \"*\" is meant as text";
    }
    return out;
  }
  if (key == YAML::ErrorMsg::INVALID_ESCAPE && msg.size() > key.size()) {
    out.message = "\"\\" + std::string(msg.substr(key.size())) +
                  "\" in double quotes is not an escape YAML has";
    // yaml-cpp points after the escape; the backslash is where the fix goes.
    if (column >= 3 && static_cast<std::size_t>(column - 3) < this_line.size() &&
        this_line[column - 3] == '\\') {
      out.column = column - 2;
    }
    return out;
  }
  if (key == YAML::ErrorMsg::UNKNOWN_TOKEN && column >= 1 &&
      static_cast<std::size_t>(column) <= this_line.size() &&
      std::isgraph(static_cast<unsigned char>(this_line[column - 1]))) {
    out.message = std::string("a value cannot start with \"") + this_line[column - 1] +
                  "\" (YAML reserves it)";
    return out;
  }
  return out;
}

}  // namespace taskloom::workflow::detail
