// qcc's one numerical truth for number formats: bf16 / f16 / fp8 e4m3fn
// conversions, the quantization rules of the three deployable formats (fp8 W8A8,
// int8 W8A8, w4a16), int4 packing, and the QuantizedLinear value type.
//
// Used by the quantization passes, the CPU executor, the artifact writer/reader
// and the tests of the CUDA kernels. Every rule below is written once, here.
//
// Rules (all of them, in one place):
//  * Rounding is round-half-to-even everywhere (float->bf16, float->e4m3, and
//    float->int via rint under the default FE_TONEAREST mode).
//  * Scales are fp32. Quantizing a value is q = round(x / scale) (an IEEE fp32
//    division, not a multiply by a reciprocal), then clamp to the format's range.
//    Dequantizing is x' = float(q) * scale.
//  * Scale from an absolute maximum m and a format maximum qmax:
//        scale = m / qmax, raised to FLT_MIN if smaller (so 1/scale is finite),
//        and 1.0f when m == 0 (an all-zero row/group/token quantizes to zeros and
//        dequantizes to exact zeros; the value 1 is arbitrary but never 0 or NaN).
//    qmax: fp8 448, int8 127, int4 7 (the "absmax/7" choice keeps +absmax and
//    -absmax both representable without clipping; the [-8] code is only reached
//    by explicit, smaller scales such as MSE-clipped ones).
//  * Weight clamps use the full storage range: int8 [-128, 127], int4 [-8, 7],
//    fp8 saturates finite values to +-448.
//  * Activation int8 clamp is [-127, 127] (symmetric): with scale = absmax/127
//    |x/scale| <= 127 up to one rounding, so the clamp is a no-op in practice and
//    gives the same codes as vLLM's saturating [-128, 127] conversion, while the
//    symmetric range keeps q(-x) == -q(x).
//  * Activations are quantized dynamically per token (one scale per row of the
//    [T, K] input) at run time; weights per output channel (fp8, int8) or per
//    group of `groupSize` consecutive input channels (int4).
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcc::formats {

//===----------------------------------------------------------------------===//
// Scalar conversions
//===----------------------------------------------------------------------===//

// bf16: upper 16 bits of an fp32. Round-half-to-even; NaN stays NaN (quiet).
uint16_t floatToBf16(float x);
float bf16ToFloat(uint16_t bits);
// x rounded to the nearest bf16 value, returned as float.
float roundToBf16(float x);

// IEEE half (f16) -> float, exact. And float -> f16, round-half-to-even,
// overflow to +-inf (as IEEE), NaN stays NaN.
float f16ToFloat(uint16_t bits);
uint16_t floatToF16(float x);

// fp8 e4m3fn (1 sign, 4 exponent bits with bias 7, 3 mantissa bits, no
// infinities, NaN = S.1111.111 i.e. 0x7F / 0xFF, max finite 448 = 0x7E).
constexpr float kE4m3Max = 448.0f;
// Round-half-to-even; finite values beyond +-448 (and +-inf) saturate to +-448;
// NaN -> 0x7F (0xFF for negative NaN); subnormals (down to 2^-9) are exact.
uint8_t floatToE4m3(float x);
float e4m3ToFloat(uint8_t code); // exact; 0x7F/0xFF -> NaN
float roundToE4m3(float x);      // e4m3ToFloat(floatToE4m3(x))

// Round-half-to-even to an integer value (as float).
float roundHalfEven(float x);

//===----------------------------------------------------------------------===//
// Formats
//===----------------------------------------------------------------------===//

enum class Format { BF16, FP8, INT8, W4A16 };

struct FormatSpec {
  Format format = Format::BF16;
  int groupSize = 128; // input channels per int4 scale (W4A16 only)
};

const char *formatName(Format f); // "bf16" "fp8" "int8" "w4a16"
// Accepts the names above (lowercase); an error names the bad string.
Expected<Format> parseFormat(const std::string &name);
// "bf16", "fp8", "int8", "w4a16:g128". parseFormatSpec accepts these and a bare
// "w4a16" (group size 128); a group size must be a positive even integer.
std::string formatSpecName(const FormatSpec &spec);
Expected<FormatSpec> parseFormatSpec(const std::string &text);

//===----------------------------------------------------------------------===//
// Scale rules and element quantizers
//===----------------------------------------------------------------------===//

constexpr float kInt8Max = 127.0f;
constexpr float kInt4Max = 7.0f;

// scale = absmax / qmax with the zero / tiny rules of the header comment.
float scaleFromAbsMax(float absmax, float qmax);

// Weight-element quantizers (clamps: fp8 +-448, int8 [-128,127], int4 [-8,7]).
uint8_t quantizeFp8(float x, float scale);  // e4m3 code of x / scale
int8_t quantizeInt8(float x, float scale);  // rint(x / scale) clamped
int8_t quantizeInt4(float x, float scale);  // rint(x / scale) clamped to [-8, 7]

// Dynamic per-token activation quantization of one row x[K].
// Returns the token scale (absmax/448 or absmax/127, same zero rule).
float quantizeTokenFp8(const float *x, int64_t K, uint8_t *q /*[K] e4m3*/);
float quantizeTokenInt8(const float *x, int64_t K, int8_t *q /*[K], [-127,127]*/);

//===----------------------------------------------------------------------===//
// int4 packing
//===----------------------------------------------------------------------===//
// Canonical layout: row-major [N][K/2] bytes; byte (n, j) holds k = 2j in its
// low nibble and k = 2j+1 in its high nibble; each nibble is a two's-complement
// int4 (0x8 = -8, 0xF = -1). K must be even.

Expected<std::vector<uint8_t>> packInt4(const int8_t *q /*[N][K]*/, int64_t N, int64_t K);
Expected<std::vector<int8_t>> unpackInt4(const uint8_t *packed /*[N][K/2]*/, int64_t N,
                                         int64_t K);
// One nibble of a packed row: the int4 at column k.
inline int8_t int4At(const uint8_t *row, int64_t k) {
  uint8_t byte = row[k >> 1];
  uint8_t nib = (k & 1) ? (byte >> 4) : (byte & 0xF);
  return static_cast<int8_t>(static_cast<int8_t>(nib << 4) >> 4); // sign-extend
}

//===----------------------------------------------------------------------===//
// QuantizedLinear
//===----------------------------------------------------------------------===//
// The weights of one linear layer y = x W^T, W is [N = out][K = in], in a format:
//   BF16 : weights = bf16 bits, little-endian, [N][K] (2*N*K bytes); no scales.
//   FP8  : weights = e4m3 codes [N][K];              scales [N] (per channel).
//   INT8 : weights = int8 two's complement [N][K];   scales [N].
//   W4A16: weights = packed int4 [N][K/2] (above);   scales [N][K/groupSize].
// Dequantized W[n][k] = float(q[n][k]) * scale (scale of row n / group k/g).
struct QuantizedLinear {
  Format format = Format::BF16;
  int64_t outFeatures = 0; // N
  int64_t inFeatures = 0;  // K
  int64_t groupSize = 0;   // W4A16: input channels per scale; 0 otherwise
  std::vector<uint8_t> weights;
  std::vector<float> scales;

  int64_t numGroups() const { return groupSize > 0 ? inFeatures / groupSize : 1; }
};

// Checks shapes, byte counts, and that every scale is finite and > 0.
Status validate(const QuantizedLinear &q);

// Round-to-nearest quantization of W[N][K] with the default scales
// (per-channel absmax for fp8/int8, per-group absmax/7 for w4a16).
// Errors: non-positive sizes, non-finite weights, W4A16 with K not a multiple
// of the group size or an odd group size.
Expected<QuantizedLinear> quantizeLinear(const float *w /*[N][K]*/, int64_t N, int64_t K,
                                         const FormatSpec &spec);
// The same with caller-chosen scales ([N] or [N][K/groupSize]; e.g. MSE-clipped).
// Values beyond the range clip to it. BF16 takes no scales (pass {}).
Expected<QuantizedLinear> quantizeLinearWithScales(const float *w /*[N][K]*/, int64_t N,
                                                   int64_t K, const FormatSpec &spec,
                                                   std::vector<float> scales);
// Default scales for W[N][K] (what quantizeLinear uses). BF16 -> empty.
Expected<std::vector<float>> defaultScales(const float *w, int64_t N, int64_t K,
                                           const FormatSpec &spec);

// Dequantized weights [N*K] in fp32 (the exact values the kernels multiply,
// up to where the scale is applied; see the executor's documentation).
std::vector<float> dequantize(const QuantizedLinear &q);
// Integer codes [N*K] for INT8 / W4A16 (unpacked); empty for other formats.
std::vector<int8_t> integerCodes(const QuantizedLinear &q);

} // namespace qcc::formats
