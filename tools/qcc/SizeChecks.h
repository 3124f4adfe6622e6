// Checks of sizes the CLI's flags set, shared by every command, run before
// anything that grows with them is allocated:
//   * the stated limits (support/Limits.h) are applied where the flags are
//     parsed;
//   * positions beyond the model's max_position_embeddings get the same
//     warning in generate, run and eval (RoPE was not trained there; the
//     numbers stay finite, as in transformers);
//   * the host memory a CPU session or a calibration needs is estimated from
//     the config and checked against the memory available (a session on
//     --device cuda allocates on the device, which reports its own failures).
#pragma once

#include "runtime/ModelConfig.h"
#include "support/Status.h"

#include <cstdint>
#include <string>

namespace qcc::cli {

void warnBeyondMaxPositions(const std::string &command, const ModelConfig &config, int64_t positions);

// KV cache and RoPE tables for `positions`, one forward pass of `tokens`
// (its activations and logits), times `sessions` executors alive at once.
Status checkSessionMemory(const ModelConfig &config, int64_t positions, int64_t tokens, int sessions,
                          const std::string &what);

// The residual stream of every calibration sequence ([samples, seqLen, D]
// floats, kept across layers), their ids and one sequence's layer pass.
Status checkCalibrationMemory(const ModelConfig &config, int64_t samples, int64_t seqLen);

} // namespace qcc::cli
