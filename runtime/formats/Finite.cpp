#include "runtime/formats/Finite.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace qcc::formats {

namespace {

// Non-finite bit patterns: exponent all ones (IEEE), or S.1111.111 (e4m3fn,
// which has NaN but no infinity).
struct Rule {
  uint64_t expMask;
  bool e4m3;
};

bool nonFinite(uint64_t bits, const Rule &r) {
  if (r.e4m3) return (bits & 0x7F) == 0x7F;
  return (bits & r.expMask) == r.expMask;
}

// Infinity when the mantissa is zero, else NaN.
const char *what(uint64_t bits, const Rule &r, size_t elementBytes) {
  if (r.e4m3) return "nan";
  const uint64_t signBit = uint64_t(1) << (elementBytes * 8 - 1);
  const uint64_t mantissa = bits & ~r.expMask & ~signBit;
  if (mantissa) return "nan";
  return (bits & signBit) ? "-inf" : "inf";
}

std::string coordinates(int64_t index, const std::vector<int64_t> &shape) {
  std::vector<int64_t> c(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    c[d] = shape[d] > 0 ? index % shape[d] : 0;
    index = shape[d] > 0 ? index / shape[d] : 0;
  }
  std::string s = "[";
  for (size_t d = 0; d < c.size(); ++d) s += (d ? ", " : "") + std::to_string(c[d]);
  return s + "]";
}

template <typename Bits>
Status scan(const uint8_t *data, int64_t n, const Rule &r, const TensorRef &t, const std::string &name) {
  // Chunks copied into aligned storage: an OR over a flag per element keeps
  // the common (all finite) case a branch-free loop the compiler vectorises.
  constexpr int64_t kChunk = 8192;
  Bits buf[kChunk];
  for (int64_t base = 0; base < n; base += kChunk) {
    const int64_t m = std::min<int64_t>(kChunk, n - base);
    std::memcpy(buf, data + base * int64_t(sizeof(Bits)), size_t(m) * sizeof(Bits));
    bool any = false;
    for (int64_t i = 0; i < m; ++i) any |= nonFinite(buf[i], r);
    if (!any) continue;
    for (int64_t i = 0; i < m; ++i)
      if (nonFinite(buf[i], r))
        return Status::error("tensor '" + name + "': element " + std::to_string(base + i) + " " +
                             coordinates(base + i, t.shape) + " is " + what(buf[i], r, sizeof(Bits)));
  }
  return Status::ok();
}

} // namespace

Status checkFinite(const TensorRef &t, const std::string &name) {
  const uint8_t *data = static_cast<const uint8_t *>(t.data);
  const int64_t n = t.numel();
  if (n <= 0) return Status::ok();
  switch (t.dtype) {
  case DType::F32: return scan<uint32_t>(data, n, {0x7F800000u, false}, t, name);
  case DType::F64: return scan<uint64_t>(data, n, {0x7FF0000000000000ull, false}, t, name);
  case DType::BF16: return scan<uint16_t>(data, n, {0x7F80u, false}, t, name);
  case DType::F16: return scan<uint16_t>(data, n, {0x7C00u, false}, t, name);
  case DType::F8E4M3: return scan<uint8_t>(data, n, {0, true}, t, name);
  default: return Status::ok();
  }
}

} // namespace qcc::formats
