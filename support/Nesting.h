// A bound on bracket nesting, checked on the raw text before a recursive
// parser sees it (MLIR's parser and LLVM's YAML parser recurse once per level
// and would overflow the stack on deep enough input).
#pragma once

#include "support/Status.h"

#include <string_view>
#include <string>

namespace qcc {

struct NestingSyntax {
  bool angleBrackets = false; // '<' '>' nest too (MLIR types and attributes); "->" does not
  bool hashComments = false;  // '#' starts a comment (YAML); else "//" does (MLIR)
  bool singleQuotes = false;  // '...' is a string (YAML)
};

// Counts ( [ { (and < > when asked) outside strings and comments; an error
// "<name>:<line>:<column>: nesting deeper than <maxDepth> levels" at the
// first bracket past the bound.
Status checkNestingDepth(std::string_view text, int maxDepth, const std::string &name,
                         const NestingSyntax &syntax = {});

} // namespace qcc
