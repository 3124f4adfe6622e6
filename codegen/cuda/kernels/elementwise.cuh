// elementwise.cuh: SwiGLU (+ per-token quantisation), residual add, embedding
// lookup, RoPE with Llama-3.1 frequencies, KV-cache store.
#pragma once

// h = bf16(silu(gate) * up), silu(g) = g / (1 + exp(-g)); quantised like norm.cuh.
// gate, up: [M][I] with row strides LDG, LDU (both halves of a fused [M][2I]
// have 2I; separate GEMM outputs have I)
// out: [M][I] bf16 / int8 / e4m3; scale: [M] (QOUT != 0)
template <int I, int LDG, int LDU, int THREADS, int QOUT>
__device__ __forceinline__ void qcc_swiglu(const bf16 *__restrict__ gate, const bf16 *__restrict__ up,
                                                  void *__restrict__ out, float *__restrict__ scale) {
  __shared__ float scratch[32];
  const int row = blockIdx.x;
  const int PER = (I + THREADS - 1) / THREADS;
  float v[PER];
  float amax = 0.f;
  for (int i = 0; i < PER; ++i) {
    const int c = threadIdx.x + i * THREADS;
    v[i] = 0.f;
    if (c < I) {
      const float g = bf16_to_f32(gate[(i64)row * LDG + c]);
      const float u = bf16_to_f32(up[(i64)row * LDU + c]);
      v[i] = bf16_to_f32(f32_to_bf16(g / (1.0f + expf(-g)) * u));
    }
    amax = fmaxf(amax, fabsf(v[i]));
  }
  if (QOUT == 0) {
    bf16 *o = static_cast<bf16 *>(out) + (i64)row * I;
    for (int i = 0; i < PER; ++i) {
      const int c = threadIdx.x + i * THREADS;
      if (c < I) o[c] = f32_to_bf16(v[i]);
    }
    return;
  }
  amax = block_max(amax, scratch);
  const float s = amax > 0.f ? fmaxf(amax / (QOUT == 1 ? 127.0f : 448.0f), 1.17549435e-38f) : 1.0f;
  if (threadIdx.x == 0) scale[row] = s;
  u8 *o = static_cast<u8 *>(out) + (i64)row * I;
  for (int i = 0; i < PER; ++i) {
    const int c = threadIdx.x + i * THREADS;
    if (c < I) o[c] = QOUT == 1 ? (u8)f32_to_i8(v[i] / s) : f32_to_e4m3(v[i] / s);
  }
}

// out[i] = bf16(a[i] + b[i]) over M rows of W elements (a residual add that no
// GEMM epilogue took)
template <int W>
__device__ __forceinline__ void qcc_add(const bf16 *__restrict__ a, const bf16 *__restrict__ b,
                                               bf16 *__restrict__ out, int M) {
  const i64 n = (i64)M * W;
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
    out[i] = f32_to_bf16(bf16_to_f32(a[i]) + bf16_to_f32(b[i]));
}

// out[m][:] = table[ids[m]][:]; an id outside [0, V) gives a zero row.
// One block per token; H % 8 == 0 so rows move in 16-byte pieces.
template <int V, int H>
__device__ __forceinline__ void qcc_embed(const int *__restrict__ ids, const bf16 *__restrict__ table,
                                                 bf16 *__restrict__ out) {
  const int m = blockIdx.x;
  const int id = ids[m];
  const bool ok = id >= 0 && id < V;
  for (int c = threadIdx.x * 8; c < H; c += blockDim.x * 8) {
    uint4 v = load16(table + (i64)id * H + c, ok);
    *reinterpret_cast<uint4 *>(out + (i64)m * H + c) = v;
  }
}

// RoPE (Hugging Face rotate_half convention, pairs i and i + D/2), in place on
// q [T][HQ][D] and k [T][HKV][D] whose token rows are QS and KS elements apart
// (the fused qkv output [T][(HQ+2HKV)*D] gives QS = KS = (HQ+2HKV)*D; HKV = 0
// rotates q alone and never touches k);
// angle = pos[t] * inv_freq[i], where inv_freq (Llama-3.1 scaled) is a
// constant table the specialiser writes as `qcc_inv_freq`. One block per token.
template <int HQ, int HKV, int D, int QS, int KS>
__device__ __forceinline__ void qcc_rope(bf16 *__restrict__ q, bf16 *__restrict__ k,
                                                const int *__restrict__ pos, const float *inv_freq) {
  const int tok = blockIdx.x;
  const float p = (float)pos[tok];
  for (int j = threadIdx.x; j < (HQ + HKV) * (D / 2); j += blockDim.x) {
    const int head = j / (D / 2), i = j % (D / 2);
    bf16 *x = head < HQ ? q + (i64)tok * QS + head * D : k + (i64)tok * KS + (head - HQ) * D;
    float sn, cs;
    sincosf(p * inv_freq[i], &sn, &cs);
    const float x1 = bf16_to_f32(x[i]), x2 = bf16_to_f32(x[i + D / 2]);
    x[i] = f32_to_bf16(x1 * cs - x2 * sn);
    x[i + D / 2] = f32_to_bf16(x2 * cs + x1 * sn);
  }
}

// Copies k, v [T][HKV][D] (token rows KS and VS elements apart) into the
// caches [HKV][S][D] at positions pos[t]; positions outside [0, S) are
// skipped. One block per token.
template <int HKV, int D, int S, int KS, int VS>
__device__ __forceinline__ void qcc_kv_store(const bf16 *__restrict__ k, const bf16 *__restrict__ v,
                                                    const int *__restrict__ pos, bf16 *__restrict__ kcache,
                                                    bf16 *__restrict__ vcache) {
  const int tok = blockIdx.x;
  const int p = pos[tok];
  if (p < 0 || p >= S) return;
  for (int j = threadIdx.x; j < HKV * D; j += blockDim.x) {
    const int h = j / D, d = j % D;
    kcache[((i64)h * S + p) * D + d] = k[(i64)tok * KS + j];
    vcache[((i64)h * S + p) * D + d] = v[(i64)tok * VS + j];
  }
}
