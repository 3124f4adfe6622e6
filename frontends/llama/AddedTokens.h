// added_tokens of a tokenizer.json (special tokens such as <|eot_id|>, and
// user-added ones) found in text before pre-tokenization, as `tokenizers`'
// AddedVocabulary does:
//  - tokens with "normalized": false are matched first, on the raw text;
//    tokens with "normalized": true then in what is left (qcc implements no
//    normalizer, so both see the same text)
//  - leftmost-longest: the earliest match wins, the longest at that place
//  - "single_word": a match touching a word character (Unicode \w as Rust's
//    regex crate has it) on either side is not a match
//  - "lstrip" / "rstrip": the whitespace (Unicode White_Space) before /
//    after a match becomes part of it
#pragma once

#include "frontends/llama/Regex.h"
#include "support/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qcc {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool singleWord = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// A part of a text: an added token (id >= 0) or text to pre-tokenize (-1).
struct TextSegment {
  size_t begin, end;
  int32_t id;
};

class AddedTokenMatcher {
public:
  // The tokens with normalized == `normalizedOnes`.
  static Expected<AddedTokenMatcher> build(const std::vector<AddedToken> &tokens, bool normalizedOnes);

  bool empty() const { return tokens_.empty(); }
  // Appends the segments of text[begin, end) to `out` (gaps keep id -1).
  Status split(std::string_view text, size_t begin, size_t end, std::vector<TextSegment> &out) const;

private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children; // byte -> node
    int32_t token = -1;                                 // index into tokens_ when a token ends here
  };
  int32_t child(int32_t node, uint8_t byte) const;
  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool firstByte_[256] = {};
  Regex word_, space_;
};

} // namespace qcc
