// The pre_tokenizer of a tokenizer.json: how text between added tokens is
// cut into the pieces BPE merges within. Supported, with `tokenizers`'
// semantics:
//   {"type": "Split", "pattern": {"Regex": ...} | {"String": ...},
//    "behavior": Removed | Isolated | MergedWithPrevious | MergedWithNext | Contiguous,
//    "invert": bool}
//   {"type": "ByteLevel", "add_prefix_space": bool, "use_regex": bool}
//       a space before each piece that does not start with one (when
//       add_prefix_space), GPT-2's splitting regex (when use_regex), then each
//       byte spelled in GPT-2's byte-level alphabet
//   {"type": "Sequence", "pretokenizers": [...]}  the steps in order
// Llama 3: Sequence[Split(its regex, Isolated), ByteLevel(no prefix, no regex)].
// Any other type is an error naming it. Empty pieces are dropped.
#pragma once

#include "frontends/llama/Regex.h"
#include "frontends/llama/StrictJson.h"
#include "support/Status.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace qcc {

class PreTokenizer {
public:
  // `spec` may be null (no pre_tokenizer: the whole text is one piece).
  static Expected<PreTokenizer> parse(const json::Value *spec, const std::string &file);

  // Calls `sink` with each piece of `text` (well-formed UTF-8), in order.
  using Sink = std::function<Status(std::string_view piece)>;
  Status run(std::string_view text, const Sink &sink) const;
  // Convenience for tests: the pieces as strings.
  Expected<std::vector<std::string>> pieces(std::string_view text) const;

  // Whether some step spells the pieces in the byte-level alphabet.
  bool mapsToBytes() const;

private:
  enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
  struct Step {
    bool byteLevel = false;
    // Split
    Regex regex;
    Behavior behavior = Behavior::Isolated;
    bool invert = false;
    // ByteLevel
    bool addPrefixSpace = false, useRegex = true;
  };
  static Status parseStep(const json::Value &spec, const std::string &where, const std::string &file,
                          std::vector<Step> &steps);
  Status runFrom(size_t step, std::string_view piece, const Sink &sink) const;
  std::vector<Step> steps_;
  Regex gpt2_; // ByteLevel's own splitting regex
};

} // namespace qcc
