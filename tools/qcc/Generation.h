// The token loop shared by `qcc generate`, `qcc run` and `qcc eval`'s greedy
// continuations: prefill the prompt, then pick and decode one id at a time.
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace qcc::cli {

struct SamplingOptions {
  int64_t steps = 64;              // ids to generate at most
  double temperature = 0;          // <= 0: greedy (argmax)
  uint64_t seed = 0;               // for temperature > 0
  std::vector<int64_t> stopIds;    // stop after emitting one of these (end of sequence)
};

// prefill(prompt) -> logits [T, V]; decode(id) -> logits [V].
using PrefillFn = std::function<Expected<std::vector<float>>(const std::vector<int64_t> &)>;
using DecodeFn = std::function<Expected<std::vector<float>>(int64_t)>;

// An error when a row of logits holds a NaN or an infinity (a model whose
// weights or activations overflowed): picking a token from it would be
// meaningless (argmax of NaN is always the last id).
//   "non-finite logit at position 7: id 42 is nan"
Status checkFiniteLogits(const float *row, int64_t vocabSize, int64_t position);

// The generated ids (the prompt excluded); a non-finite logit stops the loop
// with checkFiniteLogits' error. The last id gets no forward pass,
// so a run of n ids costs one prefill and n - 1 decode steps. `afterPrefill`
// (may be empty) is called once the prompt's logits exist (for timing);
// `onToken` (may be empty) with each id as soon as it is chosen (streaming).
Expected<std::vector<int64_t>> generateTokens(const std::vector<int64_t> &prompt, int64_t vocabSize,
                                              const SamplingOptions &options, const PrefillFn &prefill,
                                              const DecodeFn &decode,
                                              const std::function<void()> &afterPrefill = {},
                                              const std::function<void(int64_t)> &onToken = {});

// The flags of a generation session that run, chat and generate share, each
// with one range: -n (at least `minSteps`, at most 2^20), --seed,
// --max-seq-len (support/Limits.h), --threads, --temperature. Returns true
// when args[i] is one of them (i then points at its value; `error` is set when
// the value is missing or bad), false otherwise.
struct GenerationFlags {
  int64_t steps = 64, seed = 0, maxSeqLen = 0, threads = 0;
  double temperature = 0;
};
bool parseGenerationFlag(const std::vector<std::string> &args, size_t &i, GenerationFlags &flags, int64_t minSteps,
                         std::string &error);

} // namespace qcc::cli
