// SmoothQuant (Xiao et al., arXiv 2211.10438) and the scale-folding helpers
// shared with AWQ.
//
// A per-input-channel scale s[K] is folded so the product stays the same in
// exact arithmetic:  y = x W^T = (x / s) (W diag(s))^T.  The "x / s" part is
// folded into the op that produces x: the RMSNorm weight (norm_w / s) for
// q/k/v and gate/up, or the rows of the previous linear (W_prev[j, :] / s[j])
// for down_proj (after up_proj) and o_proj (after v_proj, only when every
// query head has its own kv head).
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <vector>

namespace qcc::quant {

// A read-only weight W[rows = out][cols = in].
struct WeightView {
  const float *data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct SmoothQuantOptions {
  double alpha = 0.5;       // migration strength
  double minValue = 1e-5;   // floor for both maxima and for s
  double maxScale = 1e5;    // ceiling for s
};

// s[j] = max|X_j|^alpha / max_i |W_ij|^(1-alpha), the weight maximum taken over
// all linears sharing the input (q,k,v or gate,up). Degenerate channels:
//  * max|X_j| == 0 or the weight column is all zero: s[j] = 1 (nothing to balance,
//    and a tiny s would blow up inputs never seen in calibration);
//  * otherwise both maxima are floored at minValue and s is clamped to
//    [minValue, maxScale].
// Errors: alpha outside [0, 1], no weights, column counts differing from
// actAbsMax.size(), non-finite statistics.
Expected<std::vector<float>> smoothQuantScales(const std::vector<float> &actAbsMax /*[K]*/,
                                               const std::vector<WeightView> &weights,
                                               const SmoothQuantOptions &opts = {});

// W[rows][cols] <- W diag(s)   (s has cols entries).
void scaleColumns(float *w, int64_t rows, int64_t cols, const std::vector<float> &s);
// v[j] <- v[j] / s[j]: a norm weight, or one activation row.
void divideElements(float *v, const std::vector<float> &s);
// W[rows][cols] <- diag(1/s) W (s has rows entries): folds 1/s into the outputs
// of a previous linear.
void divideRows(float *w, int64_t rows, int64_t cols, const std::vector<float> &s);
// The Hessian of inputs x / s: H[i][j] <- H[i][j] / (s[i] s[j]).
void rescaleHessian(std::vector<float> &h /*[K][K]*/, const std::vector<float> &s);

} // namespace qcc::quant
