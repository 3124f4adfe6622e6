// AWQ (Lin et al., arXiv 2306.00978), the baseline of the study: activation-aware
// per-input-channel scaling searched on calibration activations.
//
//   m[j]   = mean |x_j| over the calibration rows
//   s(a)   = m^a (floored at 1e-4), normalised by sqrt(max s * min s),
//            for a = i / gridSteps, i = 0 .. gridSteps-1 (a = 0 gives s = 1: plain RTN)
//   loss(a)= awqSearch: sum over the linears sharing x of
//            || x W^T - (x / s) Q(W diag s)^T ||^2 / (number of output elements)
//            (Q: round-to-nearest with absmax scales in the target format);
//            awqSearchWith: any loss, e.g. the decoder layer's output error
//            (the calibration driver's choice, close to llm-compressor's
//            parent-module output)
// The a with the smallest loss wins (ties keep the smaller a). The caller then
// multiplies every sharing W by diag(s), divides the producer of x by s (see
// Smooth.h) and quantizes W diag(s). AWQ's weight-clipping search is not done;
// MSE clipping can be asked for in the final quantization instead.
#pragma once

#include "quant/Smooth.h"
#include "runtime/formats/Formats.h"

#include <functional>

namespace qcc::quant {

struct AwqOptions {
  int gridSteps = 20;
};

struct AwqResult {
  std::vector<float> scales; // s[K]
  double alpha = 0.0;        // the chosen exponent
  double loss = 0.0;         // loss(alpha)
  double lossUnscaled = 0.0; // loss(0): plain round-to-nearest
};

// The search itself with a caller-supplied loss(s) (e.g. the output error of
// the whole decoder layer with the group's weights replaced by Q(W diag s) / s,
// as the calibration driver does). AwqResult::scales is the best s.
Expected<AwqResult> awqSearchWith(const std::vector<float> &meanAbs,
                                  const std::function<Expected<double>(const std::vector<float> &)> &loss,
                                  const AwqOptions &opts = {});

// The effective weights of W[N][K] under scales s: Q(W diag s) / s, [N][K],
// with round-to-nearest absmax scales in `spec` (what folding s and quantizing
// W diag s computes, expressed in the unscaled coordinates).
Expected<std::vector<float>> awqEffectiveWeights(const WeightView &w, const std::vector<float> &s,
                                                 const formats::FormatSpec &spec);

// x: calibration activations [rows][K] (e.g. RowSample), meanAbs: [K]
// (ChannelStats::meanAbs over all rows). Errors: shape mismatches, no rows,
// BF16 format, bad group shapes.
Expected<AwqResult> awqSearch(const std::vector<float> &meanAbs, const float *x, int64_t rows,
                              const std::vector<WeightView> &weights,
                              const formats::FormatSpec &spec, const AwqOptions &opts = {});

} // namespace qcc::quant
