#include "runtime/cuda/Packing.h"

namespace qcc::cuda {

void w4a16KernelPosition(int64_t n, int64_t k, int64_t K, int64_t *byteOffset, int *shift) {
  const int64_t tile = n / 8, g = n % 8, kb = k / 128, r = k % 128;
  const int64_t t = r / 32, j = r % 32;
  const int64_t lane = 4 * g + t, word = j / 8, v = j % 8;
  const int64_t pos = (v % 2 == 0) ? v / 2 : 4 + v / 2; // nibble in the 32-bit word
  *byteOffset = ((tile * (K / 128) + kb) * 32 + lane) * 16 + word * 4 + pos / 2;
  *shift = int(pos % 2) * 4;
}

static Status checkShape(int64_t N, int64_t K, int64_t group) {
  if (N <= 0 || K <= 0) return Status::error("w4a16 kernel packing: sizes must be positive");
  if (K % 128 != 0)
    return Status::error("w4a16 kernel packing: k = " + std::to_string(K) + " is not a multiple of 128");
  if (group <= 0 || group % 128 != 0 || K % group != 0)
    return Status::error("w4a16 kernel packing: group size " + std::to_string(group) +
                         " must be a multiple of 128 dividing k");
  return Status::ok();
}

Expected<W4A16KernelWeights> packW4A16ForKernel(const formats::QuantizedLinear &q) {
  if (q.format != formats::Format::W4A16) return Status::error("w4a16 kernel packing: layer is not w4a16");
  const int64_t N = q.outFeatures, K = q.inFeatures, G = q.groupSize;
  QCC_RETURN_IF_ERROR(checkShape(N, K, G));
  if (q.weights.size() != size_t(N * K / 2) || q.scales.size() != size_t(N * (K / G)))
    return Status::error("w4a16 kernel packing: weight or scale byte count does not match the shape");
  const int64_t tiles = (N + 7) / 8, npad = tiles * 8, groups = K / G;
  W4A16KernelWeights p;
  p.n = N;
  p.k = K;
  p.group = G;
  p.weights.assign(size_t(tiles * K * 8 / 2), 0x88); // code 8 == value 0 for padding rows
  p.scales.assign(size_t(groups * npad), 1.0f);
  for (int64_t n = 0; n < N; ++n) {
    const uint8_t *row = q.weights.data() + n * (K / 2);
    for (int64_t k = 0; k < K; ++k) {
      const int code = formats::int4At(row, k) + 8; // [0, 15]
      int64_t off;
      int shift;
      w4a16KernelPosition(n, k, K, &off, &shift);
      uint8_t &b = p.weights[size_t(off)];
      b = uint8_t((b & ~(0xf << shift)) | (code << shift));
    }
    for (int64_t gi = 0; gi < groups; ++gi) p.scales[size_t(gi * npad + n)] = q.scales[size_t(n * groups + gi)];
  }
  return p;
}

Expected<formats::QuantizedLinear> unpackW4A16FromKernel(const W4A16KernelWeights &p) {
  const int64_t N = p.n, K = p.k, G = p.group;
  QCC_RETURN_IF_ERROR(checkShape(N, K, G));
  const int64_t tiles = (N + 7) / 8, npad = tiles * 8, groups = K / G;
  if (p.weights.size() != size_t(tiles * K * 4) || p.scales.size() != size_t(groups * npad))
    return Status::error("w4a16 kernel unpacking: byte count does not match the shape");
  formats::QuantizedLinear q;
  q.format = formats::Format::W4A16;
  q.outFeatures = N;
  q.inFeatures = K;
  q.groupSize = G;
  q.weights.assign(size_t(N * K / 2), 0);
  q.scales.assign(size_t(N * groups), 0.f);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      int64_t off;
      int shift;
      w4a16KernelPosition(n, k, K, &off, &shift);
      const int value = ((p.weights[size_t(off)] >> shift) & 0xf) - 8; // [-8, 7]
      uint8_t &b = q.weights[size_t(n * (K / 2) + k / 2)];
      b = uint8_t(b | ((value & 0xf) << ((k & 1) * 4)));
    }
    for (int64_t gi = 0; gi < groups; ++gi) q.scales[size_t(n * groups + gi)] = p.scales[size_t(gi * npad + n)];
  }
  return q;
}

} // namespace qcc::cuda
