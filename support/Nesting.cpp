#include "support/Nesting.h"

namespace qcc {

Status checkNestingDepth(std::string_view s, int maxDepth, const std::string &name, const NestingSyntax &syntax) {
  int depth = 0;
  size_t line = 1, lineStart = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\n') {
      ++line;
      lineStart = i + 1;
      continue;
    }
    // Comments run to the end of the line.
    if ((syntax.hashComments && c == '#') || (!syntax.hashComments && c == '/' && i + 1 < s.size() && s[i + 1] == '/')) {
      while (i + 1 < s.size() && s[i + 1] != '\n') ++i;
      continue;
    }
    // Strings: "..." with backslash escapes; '...' (YAML) with '' as a quote.
    if (c == '"' || (syntax.singleQuotes && c == '\'')) {
      for (++i; i < s.size() && s[i] != c; ++i) {
        if (c == '"' && s[i] == '\\') ++i;
        else if (s[i] == '\n') ++line, lineStart = i + 1;
      }
      continue;
    }
    const bool open = c == '(' || c == '[' || c == '{' || (syntax.angleBrackets && c == '<');
    const bool close = c == ')' || c == ']' || c == '}' ||
                       (syntax.angleBrackets && c == '>' && !(i > 0 && s[i - 1] == '-'));
    if (open && ++depth > maxDepth)
      return Status::error(name + ":" + std::to_string(line) + ":" + std::to_string(i - lineStart + 1) +
                           ": nesting deeper than " + std::to_string(maxDepth) + " levels");
    if (close && depth > 0) --depth;
  }
  return Status::ok();
}

} // namespace qcc
