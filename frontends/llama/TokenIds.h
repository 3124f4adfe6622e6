// Token-id files: whitespace-separated non-negative decimal integers, the
// form the calibration / evaluation splits and --prompt-ids use. A file may
// hold one sequence per line; readTokenIdLines keeps the lines apart (empty
// lines are skipped), readTokenIds concatenates them.
//
// Errors name the file, the 1-based line and the bad token:
//   "eval.ids:3: bad token '12x' (expected a non-negative integer)"
//   "eval.ids:7: token id 600 is outside the vocabulary [0, 512)"
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcc {

// A token-id file is at most 1 GiB (and its ids must fit in memory).
constexpr uint64_t kMaxTokenIdFileBytes = uint64_t(1) << 30;

// vocabSize < 0: no range check.
Expected<std::vector<std::vector<int64_t>>> parseTokenIdLines(const std::string &text,
                                                              const std::string &name,
                                                              int64_t vocabSize = -1);
Expected<std::vector<int64_t>> parseTokenIds(const std::string &text, const std::string &name,
                                             int64_t vocabSize = -1);

Expected<std::vector<std::vector<int64_t>>> readTokenIdLines(const std::string &path,
                                                             int64_t vocabSize = -1);
Expected<std::vector<int64_t>> readTokenIds(const std::string &path, int64_t vocabSize = -1);

} // namespace qcc
