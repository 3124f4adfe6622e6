// Plain-text files as evaluation and calibration data.
//
// The one rule telling the two kinds of data file apart is the name: a file
// whose name ends in ".txt" is text; any other file holds token ids (one
// sequence per line, TokenIds.h). A wrong guess is an error, never a silent
// misread: a ".txt" file holding nothing but integers is refused as a
// probable id file, and an id file holding words names the rule.
//
// Text becomes windows the way the bundled model's eval.ids were made: the
// whole file is encoded as one string without the post-processor's special
// tokens (special-token strings written in the text are still recognised),
// and the ids are cut into consecutive, non-overlapping windows of
// windowLen ids, each made of BOS (when the model has one) and the next
// windowLen - 1 (or windowLen without BOS) text tokens. A last, shorter
// window is kept when it has at least one text token.
#pragma once

#include "frontends/llama/Tokenizer.h"
#include "support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcc {

bool isTextDataFile(const std::string &path);

// maxWindows <= 0: all of them. bosId < 0: no BOS.
Expected<std::vector<std::vector<int64_t>>> loadTextWindows(const Tokenizer &tokenizer, const std::string &path,
                                                            int64_t windowLen, int64_t maxWindows, int64_t bosId);

// As loadTextWindows, over text already in memory (`name` for errors).
Expected<std::vector<std::vector<int64_t>>> textWindows(const Tokenizer &tokenizer, const std::string &text,
                                                        const std::string &name, int64_t windowLen,
                                                        int64_t maxWindows, int64_t bosId);

} // namespace qcc
