// Python `re` patterns (the "re:" targets of compressed-tensors configs) run
// through POSIX extended regular expressions (glibc regcomp), with no
// exceptions and no LLVM dependency.
//
// Translated: \d \D \w \W \s \S (also inside [...]), (?:...) -> (...), lazy
// quantifiers *? +? ?? {m,n}? -> greedy ones (only whether a match exists is
// asked, so greediness does not matter), \A -> ^, \Z -> $, other escaped
// punctuation kept literal. Rejected with an error: lookarounds, named groups,
// inline flags, backreferences, and any other (? construct.
#pragma once

#include "support/Status.h"

#include <memory>
#include <string>

namespace qcc::compressed_tensors {

class PythonRegex {
public:
  // Compiles `pattern` (without the "re:" prefix). Errors name the pattern.
  static Expected<PythonRegex> compile(const std::string &pattern);
  // re.match semantics: true when the pattern matches a prefix of `text`.
  bool matchesAtStart(const std::string &text) const;
  const std::string &pattern() const { return pattern_; }

private:
  struct Compiled;
  std::string pattern_;
  std::shared_ptr<Compiled> compiled_;
};

// The POSIX ERE for a Python pattern (exposed for tests); errors name it.
Expected<std::string> translatePythonRegex(const std::string &pattern);

} // namespace qcc::compressed_tensors
