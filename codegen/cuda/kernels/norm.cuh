// norm.cuh: RMSNorm, optionally fused with dynamic per-token quantisation.
//
// y = bf16(x * (1/sqrt(mean(x^2) + eps)) * w)  -- the value a bf16 RMSNorm outputs
// QOUT 0: out = y (bf16)
// QOUT 1: scale[m] = absmax(y)/127, out = rne(y/scale) clamped to [-127,127] (int8)
// QOUT 2: scale[m] = absmax(y)/448, out = e4m3(y/scale), round-half-even, saturating
// Scales follow formats::scaleFromAbsMax (all-zero row: scale 1, zero codes).
// One block per token row; H is a compile-time constant, THREADS divides H.
#pragma once

template <int H, int THREADS, int QOUT>
__device__ __forceinline__ void qcc_rmsnorm(const bf16 *__restrict__ x, const bf16 *__restrict__ w,
                                                   float eps, void *__restrict__ out,
                                                   float *__restrict__ scale) {
  static_assert(H % THREADS == 0, "H must be a multiple of the block size");
  const int PER = H / THREADS;
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const bf16 *xr = x + (i64)row * H;
  float v[PER]; // this thread's elements, strided by THREADS (coalesced)
  float ss = 0.f;
  for (int i = 0; i < PER; ++i) {
    v[i] = bf16_to_f32(xr[threadIdx.x + i * THREADS]);
    ss += v[i] * v[i];
  }
  ss = block_sum(ss, scratch);
  const float inv = 1.0f / sqrtf(ss / (float)H + eps);
  float amax = 0.f;
  for (int i = 0; i < PER; ++i) {
    const int c = threadIdx.x + i * THREADS;
    v[i] = bf16_to_f32(f32_to_bf16(v[i] * inv * bf16_to_f32(w[c])));
    amax = fmaxf(amax, fabsf(v[i]));
  }
  if (QOUT == 0) {
    bf16 *o = static_cast<bf16 *>(out) + (i64)row * H;
    for (int i = 0; i < PER; ++i) o[threadIdx.x + i * THREADS] = f32_to_bf16(v[i]);
    return;
  }
  amax = block_max(amax, scratch);
  const float qmax = QOUT == 1 ? 127.0f : 448.0f;
  // formats::scaleFromAbsMax: absmax/qmax, at least FLT_MIN, 1 for an all-zero row
  const float s = amax > 0.f ? fmaxf(amax / qmax, 1.17549435e-38f) : 1.0f;
  if (threadIdx.x == 0) scale[row] = s;
  u8 *o = static_cast<u8 *>(out) + (i64)row * H;
  for (int i = 0; i < PER; ++i)
    o[threadIdx.x + i * THREADS] = QOUT == 1 ? (u8)f32_to_i8(v[i] / s) : f32_to_e4m3(v[i] / s);
}

// Dynamic per-token quantisation of bf16 rows (the o_proj input, which no norm
// precedes): x [M][H] -> codes [M][H] and scale [M], same rules as above.
template <int H, int THREADS, int QOUT>
__device__ __forceinline__ void qcc_quantize(const bf16 *__restrict__ x, void *__restrict__ out,
                                             float *__restrict__ scale) {
  static_assert(H % THREADS == 0, "H must be a multiple of the block size");
  const int PER = H / THREADS;
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  float v[PER];
  float amax = 0.f;
  for (int i = 0; i < PER; ++i) {
    v[i] = bf16_to_f32(x[(i64)row * H + threadIdx.x + i * THREADS]);
    amax = fmaxf(amax, fabsf(v[i]));
  }
  amax = block_max(amax, scratch);
  const float s = amax > 0.f ? fmaxf(amax / (QOUT == 1 ? 127.0f : 448.0f), 1.17549435e-38f) : 1.0f;
  if (threadIdx.x == 0) scale[row] = s;
  u8 *o = static_cast<u8 *>(out) + (i64)row * H;
  for (int i = 0; i < PER; ++i)
    o[threadIdx.x + i * THREADS] = QOUT == 1 ? (u8)f32_to_i8(v[i] / s) : f32_to_e4m3(v[i] / s);
}
