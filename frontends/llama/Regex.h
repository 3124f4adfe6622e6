// The regular expressions of tokenizer.json (Split pre-tokenizers), run by
// PCRE2 (Debian's libpcre2-8: UTF-8, Unicode properties, JIT).
//
// `tokenizers` compiles these patterns with Oniguruma (Ruby syntax), so a
// pattern is translated where the two engines read the same text
// differently, and refused where no faithful translation exists:
//   \s \S      Unicode White_Space (PCRE2's \s also takes U+180E)
//   \w         Alphabetic, marks, decimal digits, connector punctuation, and
//              outside brackets also ¹ ² ³ ¼ ½ ¾ (Oniguruma's Latin-1 table)
//   \W         its complement (outside brackets only)
//   \h \H      hex digit and its complement (PCRE2: horizontal space)
//   \v         U+000B only (PCRE2: any vertical space)
//   \uHHHH     \x{HHHH}
//   \p{Name}   general categories as they are; other names are scripts
//              (\p{sc:Name}: PCRE2 alone would use Script_Extensions)
//   {,n}       {0,n}
//   ^ $        line anchors (Ruby's meaning; PCRE2 multiline mode)
// Refused with an error naming the construct: \b \B \R \X \K \G \N \O \g \k
// \y \Y and other letter escapes, POSIX bracket classes and nested brackets,
// inline options other than i / -i.
// Character classes follow PCRE2's Unicode tables (Unicode 14 in Debian 12);
// code points assigned after that may classify differently from `tokenizers`.
#pragma once

#include "support/Status.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qcc {

class Regex {
public:
  struct Span {
    size_t begin, end; // byte offsets, end exclusive
  };

  // `pattern` in Oniguruma syntax; errors name `what` (e.g. "tokenizer.json:
  // pre_tokenizer Split pattern") and the offending construct.
  static Expected<Regex> compile(std::string_view pattern, const std::string &what);
  // A pattern in PCRE2's own syntax (qcc's internal patterns).
  static Expected<Regex> compileNative(std::string_view pcre2Pattern, const std::string &what);
  // A pattern matching `text` literally (Split's {"String": ...}).
  static Expected<Regex> literal(std::string_view text, const std::string &what);

  // Appends the matches in `text` (well-formed UTF-8) the way `tokenizers`
  // iterates them (Oniguruma's find_iter): left to right, each search
  // starting where the previous match ended; an empty match right where the
  // previous one ended is skipped by advancing one character.
  Status findAll(std::string_view text, std::vector<Span> &out) const;
  // Whether the pattern matches starting exactly at text[offset].
  Expected<bool> matchesAt(std::string_view text, size_t offset) const;

  const std::string &translated() const { return translated_; }

private:
  static Expected<Regex> compilePcre2(std::string translated, std::string_view pattern, const std::string &what);
  struct Compiled;
  std::shared_ptr<const Compiled> code_;
  std::string translated_;
  std::string what_;
};

// The Oniguruma -> PCRE2 translation above, exposed for tests.
Expected<std::string> translateOnigurumaPattern(std::string_view pattern, const std::string &what);

} // namespace qcc
