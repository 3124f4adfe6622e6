#include "tools/qcc/SizeChecks.h"

#include "support/Limits.h"

#include <cstdio>

namespace qcc::cli {

using limits::saturatingProduct;
using limits::saturatingSum;

void warnBeyondMaxPositions(const std::string &command, const ModelConfig &c, int64_t positions) {
  if (c.maxPositionEmbeddings > 0 && positions > c.maxPositionEmbeddings)
    std::fprintf(stderr, "qcc %s: warning: %lld positions exceed max_position_embeddings %lld\n", command.c_str(),
                 static_cast<long long>(positions), static_cast<long long>(c.maxPositionEmbeddings));
}

namespace {

// Bytes of one layer's fp32 activations per token of a forward pass:
// x, o, hidden [D]; q, attention [H*Dh]; k, v [Hkv*Dh]; gate, up [F].
uint64_t layerBytesPerToken(const ModelConfig &c) {
  const uint64_t q = uint64_t(c.numHeads * c.headDim), kv = uint64_t(c.numKvHeads * c.headDim);
  return saturatingSum({3 * uint64_t(c.hiddenSize), 2 * q, 2 * kv, 2 * uint64_t(c.intermediateSize)}) * 4;
}

} // namespace

Status checkSessionMemory(const ModelConfig &c, int64_t positions, int64_t tokens, int sessions,
                          const std::string &what) {
  const uint64_t P = uint64_t(positions), T = uint64_t(tokens);
  const uint64_t kv = saturatingProduct({2, uint64_t(c.numLayers), P, uint64_t(c.numKvHeads * c.headDim), 4});
  const uint64_t rope = saturatingProduct({P, uint64_t(c.headDim), 4});
  const uint64_t pass = saturatingSum({saturatingProduct({T, layerBytesPerToken(c)}),
                                       saturatingProduct({T, uint64_t(c.vocabSize), 4})});
  const uint64_t total = saturatingProduct({uint64_t(sessions), saturatingSum({kv, rope, pass})});
  return limits::checkFitsInMemory(total, what);
}

Status checkCalibrationMemory(const ModelConfig &c, int64_t samples, int64_t seqLen) {
  const uint64_t tokens = saturatingProduct({uint64_t(samples), uint64_t(seqLen)});
  const uint64_t residual = saturatingProduct({tokens, uint64_t(c.hiddenSize), 4});
  const uint64_t ids = saturatingProduct({tokens, 8});
  const uint64_t pass = saturatingProduct({uint64_t(seqLen), layerBytesPerToken(c)});
  return limits::checkFitsInMemory(saturatingSum({residual, ids, pass}),
                                   "--calib-samples " + std::to_string(samples) + " x --calib-seq-len " +
                                       std::to_string(seqLen) + " (hidden size " + std::to_string(c.hiddenSize) + ")");
}

} // namespace qcc::cli
