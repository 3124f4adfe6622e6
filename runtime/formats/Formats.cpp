#include "runtime/formats/Formats.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

namespace qcc::formats {

static uint32_t floatBits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}
static float bitsFloat(uint32_t b) {
  float x;
  std::memcpy(&x, &b, 4);
  return x;
}

float roundHalfEven(float x) { return std::rint(x); } // FE_TONEAREST is the default mode

//===----------------------------------------------------------------------===//
// bf16 / f16
//===----------------------------------------------------------------------===//

uint16_t floatToBf16(float x) {
  uint32_t b = floatBits(x);
  if (std::isnan(x)) return static_cast<uint16_t>((b >> 16) | 0x40); // keep it quiet NaN
  // Add half an ulp of bf16 minus one, plus the kept lsb: ties go to even.
  b += 0x7FFFu + ((b >> 16) & 1u);
  return static_cast<uint16_t>(b >> 16);
}

float bf16ToFloat(uint16_t bits) { return bitsFloat(static_cast<uint32_t>(bits) << 16); }

float roundToBf16(float x) { return bf16ToFloat(floatToBf16(x)); }

float f16ToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  int exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  float v;
  if (exp == 0x1F) {
    return bitsFloat(sign | 0x7F800000u | (mant << 13)); // inf or NaN
  } else if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24); // subnormal (or zero)
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  }
  return sign ? -v : v;
}

uint16_t floatToF16(float x) {
  uint16_t sign = (floatBits(x) >> 16) & 0x8000;
  if (std::isnan(x)) return static_cast<uint16_t>(sign | 0x7E00);
  float a = std::fabs(x);
  if (a >= 65520.0f) return static_cast<uint16_t>(sign | 0x7C00); // rounds to inf
  if (a < 0x1p-14f) // subnormal: quantum 2^-24, scaling is exact
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::rint(a * 0x1p24f)));
  int e;
  std::frexp(a, &e); // a = m * 2^e, m in [0.5, 1)
  e -= 1;            // a = 1.f * 2^e
  // Mantissa quantum is 2^(e-10); a carry into the exponent field is correct.
  uint32_t q = static_cast<uint32_t>(std::rint(std::ldexp(a, 10 - e))); // in [1024, 2048]
  uint32_t code = (static_cast<uint32_t>(e + 15) << 10) + (q - 1024);
  return static_cast<uint16_t>(sign | code);
}

//===----------------------------------------------------------------------===//
// fp8 e4m3fn
//===----------------------------------------------------------------------===//

uint8_t floatToE4m3(float x) {
  uint8_t sign = (floatBits(x) >> 24) & 0x80;
  if (std::isnan(x)) return static_cast<uint8_t>(sign | 0x7F);
  float a = std::fabs(x);
  if (a >= kE4m3Max) return static_cast<uint8_t>(sign | 0x7E); // saturate (also inf)
  if (a < 0x1p-6f) // subnormal range: quantum 2^-9; code 8 is the smallest normal
    return static_cast<uint8_t>(sign | static_cast<uint8_t>(std::rint(a * 0x1p9f)));
  int e;
  std::frexp(a, &e);
  e -= 1; // a = 1.f * 2^e, e in [-6, 8]
  uint32_t q = static_cast<uint32_t>(std::rint(std::ldexp(a, 3 - e))); // in [8, 16]
  uint32_t code = (static_cast<uint32_t>(e + 7) << 3) + (q - 8);
  // a < 448 rounds to at most 448 (0x7E), never into the NaN code.
  return static_cast<uint8_t>(sign | code);
}

float e4m3ToFloat(uint8_t code) {
  bool neg = code & 0x80;
  int exp = (code >> 3) & 0xF;
  int mant = code & 0x7;
  if (exp == 0xF && mant == 0x7) return neg ? -NAN : NAN;
  float v = exp == 0 ? std::ldexp(static_cast<float>(mant), -9)
                     : std::ldexp(static_cast<float>(8 + mant), exp - 10);
  return neg ? -v : v;
}

float roundToE4m3(float x) { return e4m3ToFloat(floatToE4m3(x)); }

//===----------------------------------------------------------------------===//
// Formats
//===----------------------------------------------------------------------===//

const char *formatName(Format f) {
  switch (f) {
  case Format::BF16: return "bf16";
  case Format::FP8: return "fp8";
  case Format::INT8: return "int8";
  case Format::W4A16: return "w4a16";
  }
  return "?";
}

Expected<Format> parseFormat(const std::string &name) {
  for (Format f : {Format::BF16, Format::FP8, Format::INT8, Format::W4A16})
    if (name == formatName(f)) return f;
  return Status::error("unknown format '" + name + "' (expected bf16, fp8, int8 or w4a16)");
}

std::string formatSpecName(const FormatSpec &spec) {
  std::string s = formatName(spec.format);
  if (spec.format == Format::W4A16) s += ":g" + std::to_string(spec.groupSize);
  return s;
}

Expected<FormatSpec> parseFormatSpec(const std::string &text) {
  std::string name = text, group;
  size_t colon = text.find(':');
  if (colon != std::string::npos) {
    name = text.substr(0, colon);
    group = text.substr(colon + 1);
  }
  Expected<Format> f = parseFormat(name);
  if (!f) return f.status();
  FormatSpec spec;
  spec.format = *f;
  if (colon == std::string::npos) return spec;
  if (spec.format != Format::W4A16)
    return Status::error("format '" + text + "': only w4a16 takes a group size");
  bool digits = group.size() > 1 && group[0] == 'g' && group.size() <= 9 &&
                std::all_of(group.begin() + 1, group.end(),
                            [](char c) { return c >= '0' && c <= '9'; });
  int g = digits ? std::atoi(group.c_str() + 1) : 0;
  if (g <= 0 || g % 2 != 0)
    return Status::error("format '" + text +
                         "': group size must be written gN with N a positive even integer");
  spec.groupSize = g;
  return spec;
}

//===----------------------------------------------------------------------===//
// Scales and element quantizers
//===----------------------------------------------------------------------===//

float scaleFromAbsMax(float absmax, float qmax) {
  if (absmax == 0.0f) return 1.0f;
  return std::max(absmax / qmax, FLT_MIN);
}

uint8_t quantizeFp8(float x, float scale) { return floatToE4m3(x / scale); }

static int8_t roundClamp(float v, float lo, float hi) {
  float r = std::rint(v);
  if (!(r >= lo)) r = lo; // also maps NaN to lo rather than UB in the cast
  if (r > hi) r = hi;
  return static_cast<int8_t>(r);
}

int8_t quantizeInt8(float x, float scale) { return roundClamp(x / scale, -128.0f, 127.0f); }
int8_t quantizeInt4(float x, float scale) { return roundClamp(x / scale, -8.0f, 7.0f); }

static float absMax(const float *x, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

float quantizeTokenFp8(const float *x, int64_t K, uint8_t *q) {
  float scale = scaleFromAbsMax(absMax(x, K), kE4m3Max);
  for (int64_t k = 0; k < K; ++k) q[k] = floatToE4m3(x[k] / scale);
  return scale;
}

float quantizeTokenInt8(const float *x, int64_t K, int8_t *q) {
  float scale = scaleFromAbsMax(absMax(x, K), kInt8Max);
  for (int64_t k = 0; k < K; ++k) q[k] = roundClamp(x[k] / scale, -127.0f, 127.0f);
  return scale;
}

//===----------------------------------------------------------------------===//
// int4 packing
//===----------------------------------------------------------------------===//

static std::string shapeStr(int64_t N, int64_t K) {
  return "[" + std::to_string(N) + ", " + std::to_string(K) + "]";
}

Expected<std::vector<uint8_t>> packInt4(const int8_t *q, int64_t N, int64_t K) {
  if (N <= 0 || K <= 0 || K % 2 != 0)
    return Status::error("int4 packing: shape " + shapeStr(N, K) +
                         " needs positive sizes and an even number of columns");
  std::vector<uint8_t> out(static_cast<size_t>(N * (K / 2)));
  for (int64_t i = 0; i < N * K; ++i)
    if (q[i] < -8 || q[i] > 7)
      return Status::error("int4 packing: value " + std::to_string(q[i]) + " at index " +
                           std::to_string(i) + " is outside [-8, 7]");
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < K / 2; ++j) {
      uint8_t lo = static_cast<uint8_t>(q[n * K + 2 * j]) & 0xF;
      uint8_t hi = static_cast<uint8_t>(q[n * K + 2 * j + 1]) & 0xF;
      out[n * (K / 2) + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  return out;
}

Expected<std::vector<int8_t>> unpackInt4(const uint8_t *packed, int64_t N, int64_t K) {
  if (N <= 0 || K <= 0 || K % 2 != 0)
    return Status::error("int4 unpacking: shape " + shapeStr(N, K) +
                         " needs positive sizes and an even number of columns");
  std::vector<int8_t> out(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) out[n * K + k] = int4At(packed + n * (K / 2), k);
  return out;
}

//===----------------------------------------------------------------------===//
// QuantizedLinear
//===----------------------------------------------------------------------===//

static Status checkShape(int64_t N, int64_t K, const FormatSpec &spec) {
  if (N <= 0 || K <= 0)
    return Status::error(std::string(formatName(spec.format)) + " linear: shape " +
                         shapeStr(N, K) + " must have positive sizes");
  if (N > (int64_t(1) << 40) / K)
    return Status::error(std::string(formatName(spec.format)) + " linear: shape " +
                         shapeStr(N, K) + " is too large");
  if (spec.format == Format::W4A16) {
    if (spec.groupSize <= 0 || spec.groupSize % 2 != 0)
      return Status::error("w4a16 linear: group size " + std::to_string(spec.groupSize) +
                           " must be a positive even number");
    if (K % spec.groupSize != 0)
      return Status::error("w4a16 linear: " + std::to_string(K) +
                           " input channels are not a multiple of the group size " +
                           std::to_string(spec.groupSize));
  }
  return Status::ok();
}

static int64_t scaleCount(int64_t N, int64_t K, const FormatSpec &spec) {
  switch (spec.format) {
  case Format::BF16: return 0;
  case Format::FP8: case Format::INT8: return N;
  case Format::W4A16: return N * (K / spec.groupSize);
  }
  return 0;
}

Expected<std::vector<float>> defaultScales(const float *w, int64_t N, int64_t K,
                                           const FormatSpec &spec) {
  QCC_RETURN_IF_ERROR(checkShape(N, K, spec));
  std::vector<float> scales;
  switch (spec.format) {
  case Format::BF16: break;
  case Format::FP8:
  case Format::INT8: {
    float qmax = spec.format == Format::FP8 ? kE4m3Max : kInt8Max;
    for (int64_t n = 0; n < N; ++n) scales.push_back(scaleFromAbsMax(absMax(w + n * K, K), qmax));
    break;
  }
  case Format::W4A16: {
    int64_t g = spec.groupSize;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k0 = 0; k0 < K; k0 += g)
        scales.push_back(scaleFromAbsMax(absMax(w + n * K + k0, g), kInt4Max));
    break;
  }
  }
  return scales;
}

Status validate(const QuantizedLinear &q) {
  FormatSpec spec{q.format, static_cast<int>(q.groupSize)};
  if (q.format == Format::W4A16 && q.groupSize != spec.groupSize)
    return Status::error("w4a16 linear: group size " + std::to_string(q.groupSize) +
                         " is out of range");
  QCC_RETURN_IF_ERROR(checkShape(q.outFeatures, q.inFeatures, spec));
  if (q.format != Format::W4A16 && q.groupSize != 0)
    return Status::error(std::string(formatName(q.format)) +
                         " linear: group size must be 0 for a per-channel format");
  int64_t N = q.outFeatures, K = q.inFeatures;
  int64_t bytes = q.format == Format::BF16 ? 2 * N * K
                  : q.format == Format::W4A16 ? N * (K / 2)
                                              : N * K;
  if (static_cast<int64_t>(q.weights.size()) != bytes)
    return Status::error(std::string(formatName(q.format)) + " linear " + shapeStr(N, K) +
                         ": weights hold " + std::to_string(q.weights.size()) +
                         " bytes, expected " + std::to_string(bytes));
  int64_t ns = scaleCount(N, K, spec);
  if (static_cast<int64_t>(q.scales.size()) != ns)
    return Status::error(std::string(formatName(q.format)) + " linear " + shapeStr(N, K) +
                         ": " + std::to_string(q.scales.size()) + " scales, expected " +
                         std::to_string(ns));
  for (size_t i = 0; i < q.scales.size(); ++i)
    if (!(std::isfinite(q.scales[i]) && q.scales[i] > 0.0f))
      return Status::error(std::string(formatName(q.format)) + " linear: scale " +
                           std::to_string(i) + " is not a positive finite number");
  return Status::ok();
}

Expected<QuantizedLinear> quantizeLinearWithScales(const float *w, int64_t N, int64_t K,
                                                   const FormatSpec &spec,
                                                   std::vector<float> scales) {
  QCC_RETURN_IF_ERROR(checkShape(N, K, spec));
  for (int64_t i = 0; i < N * K; ++i)
    if (!std::isfinite(w[i]))
      return Status::error(std::string(formatName(spec.format)) + " linear: weight [" +
                           std::to_string(i / K) + ", " + std::to_string(i % K) +
                           "] is not finite");
  QuantizedLinear q;
  q.format = spec.format;
  q.outFeatures = N;
  q.inFeatures = K;
  q.groupSize = spec.format == Format::W4A16 ? spec.groupSize : 0;
  q.scales = std::move(scales);
  int64_t ns = scaleCount(N, K, spec);
  if (static_cast<int64_t>(q.scales.size()) != ns)
    return Status::error(std::string(formatName(spec.format)) + " linear " + shapeStr(N, K) +
                         ": got " + std::to_string(q.scales.size()) + " scales, expected " +
                         std::to_string(ns));
  for (size_t i = 0; i < q.scales.size(); ++i)
    if (!(std::isfinite(q.scales[i]) && q.scales[i] > 0.0f))
      return Status::error(std::string(formatName(spec.format)) + " linear: scale " +
                           std::to_string(i) + " is not a positive finite number");

  switch (spec.format) {
  case Format::BF16:
    q.weights.resize(static_cast<size_t>(2 * N * K));
    for (int64_t i = 0; i < N * K; ++i) {
      uint16_t b = floatToBf16(w[i]);
      q.weights[2 * i] = static_cast<uint8_t>(b & 0xFF);
      q.weights[2 * i + 1] = static_cast<uint8_t>(b >> 8);
    }
    break;
  case Format::FP8:
    q.weights.resize(static_cast<size_t>(N * K));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) q.weights[n * K + k] = quantizeFp8(w[n * K + k], q.scales[n]);
    break;
  case Format::INT8:
    q.weights.resize(static_cast<size_t>(N * K));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        q.weights[n * K + k] = static_cast<uint8_t>(quantizeInt8(w[n * K + k], q.scales[n]));
    break;
  case Format::W4A16: {
    int64_t g = spec.groupSize, G = K / g;
    std::vector<int8_t> codes(static_cast<size_t>(N * K));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        codes[n * K + k] = quantizeInt4(w[n * K + k], q.scales[n * G + k / g]);
    Expected<std::vector<uint8_t>> packed = packInt4(codes.data(), N, K);
    if (!packed) return packed.status();
    q.weights = std::move(*packed);
    break;
  }
  }
  return q;
}

Expected<QuantizedLinear> quantizeLinear(const float *w, int64_t N, int64_t K,
                                         const FormatSpec &spec) {
  Expected<std::vector<float>> scales = defaultScales(w, N, K, spec);
  if (!scales) return scales.status();
  return quantizeLinearWithScales(w, N, K, spec, std::move(*scales));
}

std::vector<int8_t> integerCodes(const QuantizedLinear &q) {
  int64_t N = q.outFeatures, K = q.inFeatures;
  std::vector<int8_t> out;
  if (q.format == Format::INT8) {
    out.resize(q.weights.size());
    std::memcpy(out.data(), q.weights.data(), q.weights.size());
  } else if (q.format == Format::W4A16 && N > 0 && K > 0 && K % 2 == 0 &&
             static_cast<int64_t>(q.weights.size()) == N * (K / 2)) {
    Expected<std::vector<int8_t>> codes = unpackInt4(q.weights.data(), N, K);
    if (codes) out = std::move(*codes);
  }
  return out;
}

std::vector<float> dequantize(const QuantizedLinear &q) {
  if (!validate(q).isOk()) return {};
  int64_t N = q.outFeatures, K = q.inFeatures;
  std::vector<float> w(static_cast<size_t>(N * K));
  switch (q.format) {
  case Format::BF16:
    for (int64_t i = 0; i < N * K; ++i)
      w[i] = bf16ToFloat(static_cast<uint16_t>(q.weights[2 * i] | (q.weights[2 * i + 1] << 8)));
    break;
  case Format::FP8:
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        w[n * K + k] = e4m3ToFloat(q.weights[n * K + k]) * q.scales[n];
    break;
  case Format::INT8:
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        w[n * K + k] = static_cast<float>(static_cast<int8_t>(q.weights[n * K + k])) * q.scales[n];
    break;
  case Format::W4A16: {
    int64_t g = q.groupSize, G = K / g;
    for (int64_t n = 0; n < N; ++n) {
      const uint8_t *row = q.weights.data() + n * (K / 2);
      for (int64_t k = 0; k < K; ++k)
        w[n * K + k] = static_cast<float>(int4At(row, k)) * q.scales[n * G + k / g];
    }
    break;
  }
  }
  return w;
}

} // namespace qcc::formats
