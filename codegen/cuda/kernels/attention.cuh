// attention.cuh: causal grouped-query attention over the KV cache, for
// prefill (T queries) and decode (T = 1) alike.
//
// q:      [T][HQ][D] bf16 (already rotated), token rows QS elements apart
// kcache: [HKV][S][D] bf16, vcache the same (already holding positions 0..pos[t])
// pos:    [T] absolute position of each query; query t sees keys 0..pos[t]
// out:    [T][HQ][D] bf16
// One block of WARPS warps per (query, head). Each warp walks every WARPS-th
// key with an online softmax in f32; the warps' partial results are merged
// at the end. Scores are scaled by 1/sqrt(D).
#pragma once

template <int HQ, int HKV, int D, int S, int WARPS, int QS>
__device__ __forceinline__ void qcc_attention(const bf16 *__restrict__ q, const bf16 *__restrict__ kcache,
                                                     const bf16 *__restrict__ vcache, const int *__restrict__ pos,
                                                     bf16 *__restrict__ out) {
  static_assert(D % 32 == 0, "head_dim must be a multiple of 32");
  const int PER = D / 32; // elements of a head vector per lane (lane owns d = lane + 32*i)
  const int tok = blockIdx.x / HQ, head = blockIdx.x % HQ;
  const int kvh = head / (HQ / HKV);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float scale = 1.0f / sqrtf((float)D);
  int last = pos[tok];
  if (last >= S) last = S - 1;

  float qv[PER], o[PER];
  for (int i = 0; i < PER; ++i) {
    qv[i] = bf16_to_f32(q[(i64)tok * QS + head * D + lane + 32 * i]) * scale;
    o[i] = 0.f;
  }
  float mx = -3.402823466e38f, l = 0.f;
  const bf16 *kb = kcache + (i64)kvh * S * D, *vb = vcache + (i64)kvh * S * D;
  for (int j = warp; j <= last; j += WARPS) {
    float s = 0.f;
    for (int i = 0; i < PER; ++i) s += qv[i] * bf16_to_f32(kb[(i64)j * D + lane + 32 * i]);
    s = warp_sum(s);
    const float mnew = fmaxf(mx, s);
    const float corr = expf(mx - mnew), p = expf(s - mnew);
    l = l * corr + p;
    for (int i = 0; i < PER; ++i) o[i] = o[i] * corr + p * bf16_to_f32(vb[(i64)j * D + lane + 32 * i]);
    mx = mnew;
  }

  __shared__ float sm[WARPS], sl[WARPS], so[WARPS][D];
  if (lane == 0) { sm[warp] = mx; sl[warp] = l; }
  for (int i = 0; i < PER; ++i) so[warp][lane + 32 * i] = o[i];
  __syncthreads();
  if (warp != 0) return;
  float M = sm[0];
  for (int w = 1; w < WARPS; ++w) M = fmaxf(M, sm[w]);
  float L = 0.f, acc[PER];
  for (int i = 0; i < PER; ++i) acc[i] = 0.f;
  for (int w = 0; w < WARPS; ++w) {
    if (sl[w] == 0.f) continue; // this warp saw no key
    const float c = expf(sm[w] - M);
    L += sl[w] * c;
    for (int i = 0; i < PER; ++i) acc[i] += so[w][lane + 32 * i] * c;
  }
  for (int i = 0; i < PER; ++i)
    out[((i64)tok * HQ + head) * D + lane + 32 * i] = f32_to_bf16(L > 0.f ? acc[i] / L : 0.f);
}
