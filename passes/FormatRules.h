// The per-layer format rules of qcc-select-formats, and the one rule for a
// w4a16 group size, without MLIR (qcc compile checks its flags with the same
// functions before any work; the rules-file fuzzer links this file alone).
//
// A rules file is an ordered YAML or JSON mapping `pattern: format` (first
// match wins). A pattern is a glob over the Hugging Face module name (with or
// without the leading "model."), or a regular expression written "re:...".
// Formats: bf16, fp8, int8, w4a16, w4a16:G.
// Limits: the file is at most kMaxRulesFileBytes with at most kMaxRules rules
// and brackets nested at most kMaxRulesNesting deep (checked on the text
// before the YAML parser, which recurses per level, sees it).
#pragma once

#include "support/Status.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/Regex.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qcc {

constexpr uint64_t kMaxRulesFileBytes = uint64_t(1) << 20;
constexpr size_t kMaxRules = 4096;
constexpr int kMaxRulesNesting = 64;
constexpr int64_t kMaxGroupSize = int64_t(1) << 20;

// A w4a16 group size: a positive multiple of 8, at most kMaxGroupSize. The
// error says which value and the rule: "group size 7 is not a positive
// multiple of 8 (at most 1048576)".
Status checkGroupSize(int64_t group);

struct FormatChoice {
  std::string format;     // bf16, fp8, int8, w4a16
  int64_t groupSize = 0;  // w4a16 only: the ":G" suffix, else `defaultGroup`
};

// "w4a16", "w4a16:64", "fp8", ... (`defaultGroup` must itself be valid).
Expected<FormatChoice> parseFormatChoice(llvm::StringRef text, int64_t defaultGroup);

struct FormatRule {
  std::string pattern;  // as written, "re:" included
  FormatChoice choice;
  std::string origin;   // "layers.yaml:3" or "rules option"
  // llvm::GlobPattern keeps pointers into the text it was made from: the
  // text lives on the heap with it, unmoved when the rule moves.
  std::shared_ptr<const std::string> globText;
  std::optional<llvm::GlobPattern> glob;
  std::optional<llvm::Regex> regex;

  bool matches(llvm::StringRef layer) const;
};

Expected<FormatRule> makeFormatRule(llvm::StringRef pattern, llvm::StringRef format, int64_t defaultGroup,
                                    std::string origin);

// Parses rules text (`name` stands for the file in errors and origins).
Expected<std::vector<FormatRule>> parseFormatRules(llvm::StringRef text, const std::string &name,
                                                   int64_t defaultGroup);
// Reads (MappedFile: regular files only, size-limited) and parses a file.
Expected<std::vector<FormatRule>> readFormatRules(const std::string &path, int64_t defaultGroup);

} // namespace qcc
