#include "runtime/cpu/Linear.h"

#include <algorithm>
#include <cstring>

namespace qcc::cpu {

using formats::Format;

const char *actDTypeName(ActDType a) { return a == ActDType::BF16 ? "bf16" : "f32"; }

static int64_t numPanels(int64_t N) { return (N + kPanel - 1) / kPanel; }

Linear Linear::fromDense(std::vector<float> w, int64_t N, int64_t K) {
  Linear l;
  l.format = Format::BF16;
  l.N = N;
  l.K = K;
  bool bf16Exact = std::all_of(w.begin(), w.end(), [](float v) { return formats::roundToBf16(v) == v; });
  size_t size = static_cast<size_t>(numPanels(N) * K * kPanel);
  if (bf16Exact) l.bf16Panels.assign(size, 0);
  else l.panels.assign(size, 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      size_t i = static_cast<size_t>(((n / kPanel) * K + k) * kPanel + n % kPanel);
      if (bf16Exact) l.bf16Panels[i] = formats::floatToBf16(w[n * K + k]);
      else l.panels[i] = w[n * K + k];
    }
  return l;
}

Linear Linear::fromQuantized(formats::QuantizedLinear q) {
  if (q.format == Format::BF16) {
    int64_t N = q.outFeatures, K = q.inFeatures;
    return fromDense(formats::dequantize(q), N, K);
  }
  Linear l;
  l.format = q.format;
  l.N = q.outFeatures;
  l.K = q.inFeatures;
  const int64_t N = l.N, K = l.K;
  const size_t size = static_cast<size_t>(numPanels(N) * K * kPanel);
  if (q.format == Format::FP8) {
    l.fp8Panels.assign(size, 0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        l.fp8Panels[((n / kPanel) * K + k) * kPanel + n % kPanel] =
            formats::floatToBf16(formats::e4m3ToFloat(q.weights[n * K + k]));
  } else {
    std::vector<int8_t> codes = formats::integerCodes(q);
    l.codePanels.assign(size, 0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        l.codePanels[((n / kPanel) * K + k) * kPanel + n % kPanel] = codes[n * K + k];
  }
  l.quant = std::move(q);
  return l;
}

std::vector<float> Linear::weights() const {
  if (format != Format::BF16) return formats::dequantize(quant);
  std::vector<float> w(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      size_t i = static_cast<size_t>(((n / kPanel) * K + k) * kPanel + n % kPanel);
      w[n * K + k] = bf16Panels.empty() ? panels[i] : formats::bf16ToFloat(bf16Panels[i]);
    }
  return w;
}

//===----------------------------------------------------------------------===//
// Panel micro-kernel: TT tokens times one k-major panel of kPanel outputs.
// acc[t][j] accumulates x[t][k] * w[k][j] in k order; the j loop vectorises.
//===----------------------------------------------------------------------===//

constexpr int kTokenBlock = 4;

// Weight element as the accumulator type; bf16 bits widen exactly to fp32.
template <typename Acc, typename W> __attribute__((always_inline)) static inline Acc widen(W w) {
  return static_cast<Acc>(w);
}
template <> __attribute__((always_inline)) inline float widen<float, uint16_t>(uint16_t w) {
  uint32_t bits = static_cast<uint32_t>(w) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <int TT, typename X, typename W, typename Acc>
__attribute__((always_inline)) static inline void panelKernel(const X *x, int64_t ldx, const W *panel, int64_t k0, int64_t k1,
                               Acc (&acc)[kTokenBlock][kPanel]) {
  for (int t = 0; t < TT; ++t)
    for (int j = 0; j < kPanel; ++j) acc[t][j] = 0;
  for (int64_t k = k0; k < k1; ++k) {
    const W *w = panel + k * kPanel;
    for (int t = 0; t < TT; ++t) {
      Acc xv = static_cast<Acc>(x[t * ldx + k]);
      for (int j = 0; j < kPanel; ++j) acc[t][j] += xv * widen<Acc>(w[j]);
    }
  }
}

// Token blocks: kTokenBlock tokens at a time, then one at a time. (Plain
// loops, not lambdas, so that the code stays inside each target clone.)
static inline int tokenBlock(int64_t t0, int64_t T) { return T - t0 >= kTokenBlock ? kTokenBlock : 1; }

// The row kernels are compiled for AVX-512, AVX2 and baseline x86-64 and
// picked at load time. The arithmetic (k order, no FMA contraction under ISO
// C++) is the same in each clone, so results do not depend on the CPU.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define QCC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define QCC_CLONES
#endif

// Epilogue context for one panel: writes y[t][n] for the valid outputs.
struct PanelOut {
  float *y;
  int64_t N, n0, valid;
};

// Dense: y = acc (W: fp32 or bf16 bits).
template <typename W>
__attribute__((always_inline)) static inline void densePanelsImpl(const float *x, int64_t T, int64_t K,
                                                                  const W *panel, PanelOut o) {
  for (int64_t t0 = 0, tt; t0 < T; t0 += tt) {
    tt = tokenBlock(t0, T);
    float acc[kTokenBlock][kPanel];
    if (tt == kTokenBlock) panelKernel<kTokenBlock>(x + t0 * K, K, panel, 0, K, acc);
    else panelKernel<1>(x + t0 * K, K, panel, 0, K, acc);
    for (int t = 0; t < tt; ++t)
      for (int64_t j = 0; j < o.valid; ++j) o.y[(t0 + t) * o.N + o.n0 + j] = acc[t][j];
  }
}

QCC_CLONES static void densePanels(const float *x, int64_t T, int64_t K, const float *panel,
                                   PanelOut o) {
  densePanelsImpl(x, T, K, panel, o);
}
QCC_CLONES static void densePanels(const float *x, int64_t T, int64_t K, const uint16_t *panel,
                                   PanelOut o) {
  densePanelsImpl(x, T, K, panel, o);
}

// W4A16: y = sum over groups g of s[n][g] * acc_g (acc_g over the group's k).
QCC_CLONES static void w4a16Panels(const float *a, int64_t T, int64_t K, const int8_t *panel,
                                   const float *scales /*[N, G]*/, int64_t groupSize, PanelOut o) {
  const int64_t G = K / groupSize;
  for (int64_t t0 = 0, tt; t0 < T; t0 += tt) {
    tt = tokenBlock(t0, T);
    float total[kTokenBlock][kPanel] = {};
    for (int64_t g = 0; g < G; ++g) {
      float acc[kTokenBlock][kPanel];
      int64_t k0 = g * groupSize, k1 = k0 + groupSize;
      if (tt == kTokenBlock) panelKernel<kTokenBlock>(a + t0 * K, K, panel, k0, k1, acc);
      else panelKernel<1>(a + t0 * K, K, panel, k0, k1, acc);
      for (int t = 0; t < tt; ++t)
        for (int64_t j = 0; j < o.valid; ++j) total[t][j] += scales[(o.n0 + j) * G + g] * acc[t][j];
    }
    for (int t = 0; t < tt; ++t)
      for (int64_t j = 0; j < o.valid; ++j) o.y[(t0 + t) * o.N + o.n0 + j] = total[t][j];
  }
}

// FP8: y = (acc * s_t) * s_n with acc over exact e4m3 values.
QCC_CLONES static void fp8Panels(const float *a, const float *sa, int64_t T, int64_t K,
                                 const uint16_t *panel, const float *sw, PanelOut o) {
  for (int64_t t0 = 0, tt; t0 < T; t0 += tt) {
    tt = tokenBlock(t0, T);
    float acc[kTokenBlock][kPanel];
    if (tt == kTokenBlock) panelKernel<kTokenBlock>(a + t0 * K, K, panel, 0, K, acc);
    else panelKernel<1>(a + t0 * K, K, panel, 0, K, acc);
    for (int t = 0; t < tt; ++t)
      for (int64_t j = 0; j < o.valid; ++j)
        o.y[(t0 + t) * o.N + o.n0 + j] = acc[t][j] * sa[t0 + t] * sw[o.n0 + j];
  }
}

// INT8: exact int32 accumulation, y = (float(acc) * s_t) * s_n.
QCC_CLONES static void int8Panels(const int8_t *a, const float *sa, int64_t T, int64_t K,
                                  const int8_t *panel, const float *sw, PanelOut o) {
  for (int64_t t0 = 0, tt; t0 < T; t0 += tt) {
    tt = tokenBlock(t0, T);
    int32_t acc[kTokenBlock][kPanel];
    if (tt == kTokenBlock) panelKernel<kTokenBlock>(a + t0 * K, K, panel, 0, K, acc);
    else panelKernel<1>(a + t0 * K, K, panel, 0, K, acc);
    for (int t = 0; t < tt; ++t)
      for (int64_t j = 0; j < o.valid; ++j)
        o.y[(t0 + t) * o.N + o.n0 + j] = (static_cast<float>(acc[t][j]) * sa[t0 + t]) * sw[o.n0 + j];
  }
}

// Runs fn(p) for every panel, in parallel when the work is large: waking the
// pool costs tens of microseconds, more than a decode step's small GEMMs take
// (measured: a second thread slowed the bundled model's decode 3x at 1 << 16).
template <typename Fn> static void forPanels(int64_t N, int64_t work, ThreadPool &pool, Fn fn) {
  int64_t P = numPanels(N);
  if (work < (int64_t(1) << 20) || pool.numThreads() == 1) {
    for (int64_t p = 0; p < P; ++p) fn(p);
    return;
  }
  pool.parallelFor(P, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) fn(p);
  });
}

static void roundOutput(float *y, int64_t n, ActDType act) {
  if (act == ActDType::BF16)
    for (int64_t i = 0; i < n; ++i) y[i] = formats::roundToBf16(y[i]);
}

// FP8 / INT8 GEMM over codes already quantized per token (their values as
// floats: e4m3 values, or int8 integers) with token scales sa [T].
static void quantizedGemm(const Linear &l, const float *codes, const float *sa, int64_t T, float *y,
                          ThreadPool &pool) {
  const int64_t N = l.N, K = l.K, work = T * N * K;
  auto out = [&](int64_t p) { return PanelOut{y, N, p * kPanel, std::min(kPanel, N - p * kPanel)}; };
  if (l.format == Format::FP8) {
    forPanels(N, work, pool, [&](int64_t p) {
      fp8Panels(codes, sa, T, K, l.fp8Panels.data() + p * K * kPanel, l.quant.scales.data(), out(p));
    });
    return;
  }
  std::vector<int8_t> a(static_cast<size_t>(T * K)); // [T, K] int8 codes
  for (int64_t i = 0; i < T * K; ++i) a[i] = static_cast<int8_t>(codes[i]);
  const int8_t *w = l.codePanels.data();
  forPanels(N, work, pool, [&](int64_t p) {
    int8Panels(a.data(), sa, T, K, w + p * K * kPanel, l.quant.scales.data(), out(p));
  });
}

void quantizeActivations(formats::Format format, const float *x, int64_t T, int64_t K, float *codes,
                         float *tokenScales) {
  if (format == Format::FP8) {
    std::vector<uint8_t> q(static_cast<size_t>(K));
    for (int64_t t = 0; t < T; ++t) {
      tokenScales[t] = formats::quantizeTokenFp8(x + t * K, K, q.data());
      for (int64_t k = 0; k < K; ++k) codes[t * K + k] = formats::e4m3ToFloat(q[k]);
    }
    return;
  }
  std::vector<int8_t> q(static_cast<size_t>(K));
  for (int64_t t = 0; t < T; ++t) {
    tokenScales[t] = formats::quantizeTokenInt8(x + t * K, K, q.data());
    for (int64_t k = 0; k < K; ++k) codes[t * K + k] = q[k];
  }
}

void linearForwardCodes(const Linear &l, const float *codes, const float *tokenScales, int64_t T, float *y,
                        ActDType act, ThreadPool &pool) {
  quantizedGemm(l, codes, tokenScales, T, y, pool);
  roundOutput(y, T * l.N, act);
}

void linearForward(const Linear &l, const float *x, int64_t T, float *y, ActDType act,
                   ThreadPool &pool) {
  const int64_t N = l.N, K = l.K, work = T * N * K;
  auto out = [&](int64_t p) { return PanelOut{y, N, p * kPanel, std::min(kPanel, N - p * kPanel)}; };
  switch (l.format) {
  case Format::BF16:
    forPanels(N, work, pool, [&](int64_t p) {
      if (l.bf16Panels.empty()) densePanels(x, T, K, l.panels.data() + p * K * kPanel, out(p));
      else densePanels(x, T, K, l.bf16Panels.data() + p * K * kPanel, out(p));
    });
    break;
  case Format::FP8:
  case Format::INT8: {
    std::vector<float> codes(static_cast<size_t>(T * K)); // [T, K] per-token codes
    std::vector<float> sa(static_cast<size_t>(T));        // [T] token scales
    quantizeActivations(l.format, x, T, K, codes.data(), sa.data());
    quantizedGemm(l, codes.data(), sa.data(), T, y, pool);
    break;
  }
  case Format::W4A16: {
    std::vector<float> a(static_cast<size_t>(T * K)); // [T, K] bf16 activations
    for (int64_t i = 0; i < T * K; ++i) a[i] = formats::roundToBf16(x[i]);
    const int8_t *codes = l.codePanels.data();
    forPanels(N, work, pool, [&](int64_t p) {
      w4a16Panels(a.data(), T, K, codes + p * K * kPanel, l.quant.scales.data(), l.quant.groupSize,
                  out(p));
    });
    break;
  }
  }
  roundOutput(y, T * N, act);
}

} // namespace qcc::cpu
