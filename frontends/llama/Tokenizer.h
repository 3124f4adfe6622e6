// Decoding (ids -> text) for a Hugging Face byte-level BPE tokenizer.json,
// as Llama 3 and the `tokenizers` ByteLevel BPE trainer write it. Encoding is
// not implemented: qcc works in token ids.
//
// Read: model.vocab (token string -> id), added_tokens ([{id, content,
// special}], which take precedence over vocab entries with the same id), and
// the decoder, which must be {"type": "ByteLevel"} (or a Sequence holding
// one). model.type, when present, must be "BPE".
//
// Decoding follows the `tokenizers` ByteLevel decoder: each token's
// characters are mapped back through GPT-2's byte<->unicode table; a token
// with a character outside that table contributes its UTF-8 bytes unchanged.
// The bytes are then read as UTF-8, each invalid sequence becoming U+FFFD.
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcc {

class Tokenizer {
public:
  // One past the largest id (vocab or added token).
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  // The token's string as stored in tokenizer.json; nullptr for an unknown id.
  const std::string *token(int64_t id) const;
  bool isSpecial(int64_t id) const;

  // Unknown ids (negative, beyond size(), or holes in the vocabulary) become
  // the visible marker "<unk:ID>". With skipSpecial, tokens marked special
  // in added_tokens are left out (like skip_special_tokens=True).
  std::string decode(const std::vector<int64_t> &ids, bool skipSpecial = false) const;
  // As decode(), but an unknown id is an error naming the id and position.
  Expected<std::string> decodeChecked(const std::vector<int64_t> &ids,
                                      bool skipSpecial = false) const;

private:
  friend Expected<Tokenizer> parseTokenizer(const std::string &, const std::string &);
  std::string decodeImpl(const std::vector<int64_t> &ids, bool skipSpecial, int64_t *badIndex) const;
  std::vector<std::string> tokens_; // id -> token ("" with present_ false: hole)
  std::vector<bool> present_, special_;
};

Expected<Tokenizer> parseTokenizer(const std::string &jsonText, const std::string &fileNameForErrors);
Expected<Tokenizer> loadTokenizer(const std::string &path);

// GPT-2's byte-level table: the printable code point standing for byte b.
uint32_t byteToUnicode(uint8_t b);

} // namespace qcc
