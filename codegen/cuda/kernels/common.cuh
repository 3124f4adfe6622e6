// common.cuh: types and conversions shared by every qcc kernel.
//
// Kernels are compiled by NVRTC from strings and must not need any toolkit
// header (the machine running `qcc compile` may only have libnvrtc), so bf16
// and fp8 are raw bit patterns here and conversions are inline PTX. Rounding
// matches runtime/formats: round-half-to-even everywhere, e4m3 saturates at 448.
#pragma once

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef signed char i8;
typedef long long i64;
typedef u16 bf16; // bit pattern of a bfloat16

__device__ __forceinline__ float bf16_to_f32(bf16 x) {
  return __uint_as_float(((u32)x) << 16);
}

#ifndef QCC_HOST_EMULATION // (the host emulation in test/unit/cuda provides these)
// Round-half-to-even float -> bf16 (cvt.rn, NaN stays NaN).
__device__ __forceinline__ bf16 f32_to_bf16(float x) {
  u16 r;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
  return r;
}

// Two floats -> packed bf16x2 (lo in bits 0..15).
__device__ __forceinline__ u32 pack_bf16x2(float lo, float hi) {
  u32 r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
#endif

// e4m3 (bias 7, no infinities, 0x7f/0xff NaN, max 448) -> float, in software
// so that it also works on sm_80/86 where there is no fp8 conversion.
__device__ __forceinline__ float e4m3_to_f32(u8 v) {
  u32 sign = (v & 0x80u) << 24;
  u32 exp = (v >> 3) & 0xfu;
  u32 man = v & 0x7u;
  if (exp == 0xfu && man == 0x7u) return __uint_as_float(sign | 0x7fc00000u);
  if (exp == 0) { // subnormal: man * 2^-9
    float f = (float)man * 0.001953125f;
    return sign ? -f : f;
  }
  return __uint_as_float(sign | ((exp + 120u) << 23) | (man << 20));
}

#if __CUDA_ARCH__ >= 890
// float -> e4m3 with round-half-to-even and saturation to +-448.
__device__ __forceinline__ u8 f32_to_e4m3(float x) {
  u16 r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(0.0f), "f"(x));
  return (u8)(r & 0xffu);
}
#else
// Software round-half-to-even with saturation (sm_80/86 have no fp8 cvt).
__device__ __forceinline__ u8 f32_to_e4m3(float x) {
  u32 bits = __float_as_uint(x);
  u8 sign = (u8)((bits >> 24) & 0x80u);
  float a = fabsf(x);
  if (a != a) return (u8)(sign | 0x7f);
  if (a >= 448.0f) return (u8)(sign | 0x7e);
  if (a < 0.015625f) { // subnormal range: multiples of 2^-9
    float q = rintf(a * 512.0f); // rint is round-half-to-even
    return (u8)(sign | (u32)q); // q == 8 is the smallest normal, encoded the same
  }
  int e;
  float m = frexpf(a, &e); // a = m * 2^e, m in [0.5, 1)
  float q = rintf(m * 16.0f); // 1 implicit + 3 mantissa bits
  if (q == 16.0f) { q = 8.0f; e += 1; }
  int biased = e - 1 + 7;
  if (biased > 15 || (biased == 15 && (u32)q - 8u > 6u)) return (u8)(sign | 0x7e);
  return (u8)(sign | (biased << 3) | ((u32)q - 8u));
}
#endif

__device__ __forceinline__ i8 f32_to_i8(float x) {
  float r = rintf(x); // round-half-to-even
  r = fminf(fmaxf(r, -127.0f), 127.0f);
  return (i8)(int)r;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide reductions; `scratch` holds 32 floats. All threads get the result.
__device__ __forceinline__ float block_sum(float v, float *scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : 0.0f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float *scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : -3.402823466e38f;
  return warp_max(v);
}

// 16-byte global load that returns zeros when `ok` is false.
__device__ __forceinline__ uint4 load16(const void *p, bool ok) {
  uint4 z = make_uint4(0u, 0u, 0u, 0u);
  return ok ? *reinterpret_cast<const uint4 *>(p) : z;
}
