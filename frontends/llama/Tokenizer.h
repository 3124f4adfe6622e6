// A Hugging Face byte-level BPE tokenizer.json (Llama 3's kind): encoding
// (text -> ids) and decoding (ids -> text) from one vocabulary loader.
//
// Loading reads and checks, for both directions:
//   model.vocab (token -> id, ids unique), model.merges (["a b", ...] or
//   [["a", "b"], ...], each side and the merged token in the vocabulary, no
//   pair twice), added_tokens ([{id, content, special, single_word, lstrip,
//   rstrip, normalized}]: no content twice; the id must be the one `tokenizers`
//   gives it: the vocabulary's id when the content is in model.vocab, else
//   the next after the vocabulary in file order), and the decoder, which must
//   be ByteLevel (or a Sequence holding one). model.type, when present, must
//   be "BPE". Any of these wrong is a load error naming the file and field.
//
// Encoding follows `tokenizers`' Tokenizer::encode step by step:
//   1. input bytes that are not well-formed UTF-8 become U+FFFD, each maximal
//      invalid subsequence one (how such bytes reach `tokenizers`, which only
//      takes strings: Python's errors="replace")
//   2. added tokens are cut out (AddedTokens.h)
//   3. normalizer: none (null) is the only one implemented
//   4. pre_tokenizer (PreTokenizer.h); it must spell pieces byte-level
//   5. BPE (Bpe.h) on each piece
//   6. post_processor, when special tokens are asked for: TemplateProcessing's
//      `single` template (Llama 3: BOS first), ByteLevel (no change to ids),
//      or a Sequence of those
// A tokenizer.json that decodes but uses what qcc does not implement for
// encoding (another normalizer, pre-tokenizer or post-processor, BPE dropout,
// subword prefixes or suffixes, byte fallback, truncation or padding, a
// vocabulary without all 256 byte symbols and no unk_token) still loads:
// canEncode() is false and encode() returns the error naming the construct.
//
// Decoding follows the `tokenizers` ByteLevel decoder: each token's
// characters are mapped back through GPT-2's byte<->unicode table; a token
// with a character outside that table contributes its UTF-8 bytes unchanged.
// The bytes are then read as UTF-8, each invalid sequence becoming U+FFFD.
#pragma once

#include "frontends/llama/ByteLevel.h"
#include "support/Status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qcc {

class Tokenizer {
public:
  Tokenizer();
  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;
  ~Tokenizer();

  // One past the largest id (vocab or added token).
  int64_t size() const;
  // The token's string as stored in tokenizer.json; nullptr for an unknown id.
  const std::string *token(int64_t id) const;
  bool isSpecial(int64_t id) const;
  // The id of an added token or vocabulary entry spelled exactly `content`.
  std::optional<int64_t> idOf(std::string_view content) const;

  // Unknown ids (negative, beyond size(), or holes in the vocabulary) become
  // the visible marker "<unk:ID>". With skipSpecial, tokens marked special
  // in added_tokens are left out (like skip_special_tokens=True).
  std::string decode(const std::vector<int64_t> &ids, bool skipSpecial = false) const;
  // As decode(), but an unknown id is an error naming the id and position.
  Expected<std::string> decodeChecked(const std::vector<int64_t> &ids, bool skipSpecial = false) const;
  // Appends the raw bytes token `id` stands for (before UTF-8 is checked);
  // false for an unknown id.
  bool appendTokenBytes(int64_t id, std::string &bytes) const;

  bool canEncode() const;
  // Why encoding is unavailable (ok when it is available).
  const Status &encoderStatus() const;
  // Text -> ids (see above). addSpecialTokens applies the post-processor
  // (e.g. Llama 3's BOS); special tokens written in the text are always
  // recognised. Thread-safe; calls on one tokenizer share a cache of BPE
  // results when they do not overlap.
  Expected<std::vector<int64_t>> encode(std::string_view text, bool addSpecialTokens = true) const;
  // The ids the post-processor puts before / after a sequence.
  const std::vector<int64_t> &prefixIds() const;
  const std::vector<int64_t> &suffixIds() const;

  struct Impl;

private:
  friend Expected<Tokenizer> parseTokenizer(const std::string &, const std::string &);
  std::string decodeImpl(const std::vector<int64_t> &ids, bool skipSpecial, int64_t *badIndex) const;
  std::unique_ptr<Impl> impl_;
};

Expected<Tokenizer> parseTokenizer(const std::string &jsonText, const std::string &fileNameForErrors);
Expected<Tokenizer> loadTokenizer(const std::string &path);

// GPT-2's byte-level table: the printable code point standing for byte b.
inline uint32_t byteToUnicode(uint8_t b) { return bytelevel::toUnicode(b); }

// Decodes ids one at a time for streaming output: push() returns the text
// that is complete so far (a character split over tokens waits for its
// last byte), finish() the rest. The concatenation of everything returned
// equals tokenizer.decode(all ids, skipSpecial).
class DecodeStream {
public:
  DecodeStream(const Tokenizer &tokenizer, bool skipSpecial) : tokenizer_(tokenizer), skipSpecial_(skipSpecial) {}
  std::string push(int64_t id);
  std::string finish();

private:
  const Tokenizer &tokenizer_;
  bool skipSpecial_;
  std::string pending_; // raw bytes not yet printed
};

} // namespace qcc
