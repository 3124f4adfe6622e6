// Shared by the CUDA tests: fresh random data (a new seed each run), bf16
// conversions through runtime/formats, and the relative L2 error every kernel
// and executor check is judged by.
#pragma once

#include "runtime/formats/Formats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace qcc::cuda::testing {

inline std::mt19937 &rng() {
  static std::mt19937 r(std::random_device{}()); // fresh data each run
  return r;
}

inline std::vector<float> randomFloats(size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float &x : v) x = u(rng());
  return v;
}

inline std::vector<uint16_t> toBf16(const std::vector<float> &v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = formats::floatToBf16(v[i]);
  return out;
}

inline std::vector<float> fromBf16(const std::vector<uint16_t> &v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = formats::bf16ToFloat(v[i]);
  return out;
}

// ||got - want|| / ||want||; a size mismatch or any non-finite value in `got`
// fails (infinity), and an all-zero reference is itself a test failure.
template <typename Want> double relError(const std::vector<float> &got, const std::vector<Want> &want) {
  if (got.size() != want.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    const double d = double(got[i]) - double(want[i]);
    num += d * d;
    den += double(want[i]) * double(want[i]);
  }
  EXPECT_GT(den, 0.0) << "the reference is all zeros";
  return std::sqrt(num / std::max(den, 1e-300));
}

} // namespace qcc::cuda::testing
