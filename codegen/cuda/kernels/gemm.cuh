// gemm.cuh: tensor-core GEMM  out[M][N] = A[M][K] . W[N][K]^T  (+ epilogue).
//
// One template for every format; the weights' layout is chosen so that each
// lane reads its part of an mma fragment with one 16-byte load (Marlin-style):
//
//   lane = 4*g + t  (g = lane/4 picks the row of an 8-row n tile, t = lane%4)
//   dense weights (bf16, int8, e4m3) stay row-major [N][K]: lane (g,t) reads
//   the 16 bytes W[n0+g][kc + t*E .. ] where E = 16 / sizeof(element); the
//   activations A[m][kc + t*E ..] are read the same way. Because the dot
//   product does not care in which order k is visited, the k values a lane
//   holds are handed to the mma in "wrong" hardware positions consistently
//   for A and W, which makes the sum exact without any shuffles.
//   w4a16 weights are pre-packed (runtime/cuda/Packing.h) so that one 16-byte
//   load holds 32 int4 codes of one row: one whole quantisation group slice.
//
// Formats (FMT):
//   0 bf16     A bf16, W bf16                      mma m16n8k16 bf16, f32 acc
//   1 int8     A s8, W s8, out = acc*ts[m]*cs[n]   mma m16n8k32 s8,  s32 acc
//   2 fp8      A e4m3, W e4m3, same epilogue       mma m16n8k32 e4m3, f32 acc (sm_89+)
//   3 w4a16    A bf16, W int4 groups (scale per group x channel), bf16 mma on codes,
//              scaled per group in f32 (codes are exact in bf16)
//   4 fp8w     A bf16, W e4m3 dequantised to bf16 in registers (sm_80/86 fallback),
//              out = acc*cs[n]
//
// Block = WARPS_N x KSPLIT warps. A warp owns MT m16 tiles x NT n8 tiles and
// every KSPLIT-th k chunk; partial sums are reduced through shared memory.
#pragma once

#define QCC_FMT_BF16 0
#define QCC_FMT_INT8 1
#define QCC_FMT_FP8 2
#define QCC_FMT_W4A16 3
#define QCC_FMT_FP8W 4

#ifndef QCC_HOST_EMULATION // (the host emulation in test/unit/cuda provides these)
__device__ __forceinline__ void mma_bf16(float *c, const u32 *a, const u32 *b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void mma_s8(int *c, const u32 *a, const u32 *b) {
  asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void mma_e4m3(float *c, const u32 *a, const u32 *b) {
#if __CUDA_ARCH__ >= 890
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  __trap(); // fp8 mma needs sm_89; the specialiser never emits this
#endif
}

// Two int4 codes (stored +8, nibble positions p and p+4 of `w` after the
// shift) -> bf16x2 of the signed codes: 0x4300|u is the bf16 of 128+u, minus 136.
__device__ __forceinline__ u32 int4x2_to_bf16x2(u32 w, int pair) {
  u32 x = ((w >> (4 * pair)) & 0x000f000fu) | 0x43004300u;
  u32 r;
  const u32 one = 0x3f803f80u, minus136 = 0xc308c308u; // bf16x2 (1, 1), (-136, -136)
  asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(x), "r"(one), "r"(minus136)); // exact
  return r;
}
#endif

__device__ __forceinline__ u32 e4m3x2_to_bf16x2(u32 bytes2) {
  return pack_bf16x2(e4m3_to_f32((u8)(bytes2 & 0xffu)), e4m3_to_f32((u8)((bytes2 >> 8) & 0xffu)));
}

template <int FMT> struct GemmTraits;
template <> struct GemmTraits<QCC_FMT_BF16> { typedef float Acc; enum { KC = 32, ABYTES = 16 }; };
template <> struct GemmTraits<QCC_FMT_INT8> { typedef int Acc; enum { KC = 64, ABYTES = 16 }; };
template <> struct GemmTraits<QCC_FMT_FP8> { typedef float Acc; enum { KC = 64, ABYTES = 16 }; };
template <> struct GemmTraits<QCC_FMT_W4A16> { typedef float Acc; enum { KC = 128, ABYTES = 64 }; };
template <> struct GemmTraits<QCC_FMT_FP8W> { typedef float Acc; enum { KC = 32, ABYTES = 16 }; };

// A:        [M][K] (bf16, s8 or e4m3 by format)
// W:        [N][K] dense, or packed int4 [ceil(N/8)][K/128][32 lanes][16 bytes]
// tokscale: [M] f32 (int8/fp8), else unused
// chscale:  [N] f32 (int8/fp8/fp8w); w4a16: group scales [K/GROUP][ceil(N/8)*8] f32
// residual: [M][N] bf16 or null (added when RESIDUAL)
// out:      [M][N] bf16
template <int FMT, int N, int K, int GROUP, int MT, int NT, int WARPS_N, int KSPLIT, bool RESIDUAL>
__device__ __forceinline__ void qcc_gemm(const void *__restrict__ A, const void *__restrict__ W,
                                                const float *__restrict__ tokscale,
                                                const float *__restrict__ chscale,
                                                const bf16 *__restrict__ residual, bf16 *__restrict__ out,
                                                int M) {
  typedef typename GemmTraits<FMT>::Acc Acc;
  const int KC = GemmTraits<FMT>::KC;
  const int ABYTES = GemmTraits<FMT>::ABYTES;
  const int ESIZE = (FMT == QCC_FMT_INT8 || FMT == QCC_FMT_FP8) ? 1 : 2; // A element bytes
  const int NCHUNK = K / KC;
  const int NTILES = (N + 7) / 8;
  static_assert(K % KC == 0, "K must be a multiple of the k chunk");
  static_assert(FMT != QCC_FMT_W4A16 || GROUP % 128 == 0, "w4a16 groups are multiples of 128");

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int wn = warp % WARPS_N, ks = warp / WARPS_N;
  const int m0 = blockIdx.y * (16 * MT);
  const int ntile0 = (blockIdx.x * WARPS_N + wn) * NT; // first n8 tile of this warp

  Acc acc[MT][NT][4];
  for (int i = 0; i < MT; ++i)
    for (int j = 0; j < NT; ++j)
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0;

  const u8 *a8 = static_cast<const u8 *>(A);
  for (int chunk = ks; chunk < NCHUNK; chunk += KSPLIT) {
    const int kc = chunk * KC;
    // A fragments: rows m0 + 16*mt + g and +8, this lane's ABYTES of the chunk.
    uint4 af[MT][2][ABYTES / 16];
    for (int mt = 0; mt < MT; ++mt)
      for (int h = 0; h < 2; ++h) {
        int row = m0 + 16 * mt + g + 8 * h;
        const u8 *p = a8 + ((i64)row * K + kc) * ESIZE + t * ABYTES;
        for (int q = 0; q < ABYTES / 16; ++q) af[mt][h][q] = load16(p + 16 * q, row < M);
      }
    for (int nt = 0; nt < NT; ++nt) {
      const int tile = ntile0 + nt;
      const int n = tile * 8 + g; // weight row this lane reads
      u32 wv[4];
      if (FMT == QCC_FMT_W4A16) {
        const u8 *p = static_cast<const u8 *>(W) + (((i64)tile * (K / 128) + chunk) * 32 + lane) * 16;
        uint4 v = load16(p, tile < NTILES);
        wv[0] = v.x; wv[1] = v.y; wv[2] = v.z; wv[3] = v.w;
      } else if (FMT == QCC_FMT_FP8W) {
        const u8 *p = static_cast<const u8 *>(W) + (i64)n * K + kc + t * 8;
        uint2 v = make_uint2(0u, 0u);
        if (n < N) v = *reinterpret_cast<const uint2 *>(p);
        wv[0] = e4m3x2_to_bf16x2(v.x); wv[1] = e4m3x2_to_bf16x2(v.x >> 16);
        wv[2] = e4m3x2_to_bf16x2(v.y); wv[3] = e4m3x2_to_bf16x2(v.y >> 16);
      } else {
        const u8 *p = static_cast<const u8 *>(W) + ((i64)n * K + kc) * ESIZE + t * 16;
        uint4 v = load16(p, n < N);
        wv[0] = v.x; wv[1] = v.y; wv[2] = v.z; wv[3] = v.w;
      }
      for (int mt = 0; mt < MT; ++mt) {
        if (FMT == QCC_FMT_W4A16) {
          // 8 k16 steps over this lane's 32 codes; A words 2s, 2s+1 hold the same k.
          const u32 *r0 = reinterpret_cast<const u32 *>(&af[mt][0][0]);
          const u32 *r1 = reinterpret_cast<const u32 *>(&af[mt][1][0]);
          float part[4] = {0.f, 0.f, 0.f, 0.f};
          for (int s = 0; s < 8; ++s) {
            u32 a[4] = {r0[2 * s], r1[2 * s], r0[2 * s + 1], r1[2 * s + 1]};
            u32 b[2] = {int4x2_to_bf16x2(wv[s >> 1], 2 * (s & 1)),
                        int4x2_to_bf16x2(wv[s >> 1], 2 * (s & 1) + 1)};
            mma_bf16(part, a, b);
          }
          // group scale of the two output columns 2t, 2t+1 of this tile
          float2 sc = make_float2(0.f, 0.f);
          if (tile < NTILES)
            sc = *reinterpret_cast<const float2 *>(chscale + (i64)(kc / GROUP) * (NTILES * 8) + tile * 8 + 2 * t);
          acc[mt][nt][0] += part[0] * sc.x; acc[mt][nt][1] += part[1] * sc.y;
          acc[mt][nt][2] += part[2] * sc.x; acc[mt][nt][3] += part[3] * sc.y;
        } else {
          const u32 a0[4] = {af[mt][0][0].x, af[mt][1][0].x, af[mt][0][0].y, af[mt][1][0].y};
          const u32 a1[4] = {af[mt][0][0].z, af[mt][1][0].z, af[mt][0][0].w, af[mt][1][0].w};
          const u32 b0[2] = {wv[0], wv[1]}, b1[2] = {wv[2], wv[3]};
          if (FMT == QCC_FMT_INT8) {
            mma_s8(reinterpret_cast<int *>(acc[mt][nt]), a0, b0);
            mma_s8(reinterpret_cast<int *>(acc[mt][nt]), a1, b1);
          } else if (FMT == QCC_FMT_FP8) {
            mma_e4m3(reinterpret_cast<float *>(acc[mt][nt]), a0, b0);
            mma_e4m3(reinterpret_cast<float *>(acc[mt][nt]), a1, b1);
          } else {
            mma_bf16(reinterpret_cast<float *>(acc[mt][nt]), a0, b0);
            mma_bf16(reinterpret_cast<float *>(acc[mt][nt]), a1, b1);
          }
        }
      }
    }
  }

  if (KSPLIT > 1) { // reduce the k-split partial sums through shared memory
    __shared__ Acc red[KSPLIT > 1 ? (KSPLIT - 1) * WARPS_N * MT * NT * 4 * 32 : 1];
    if (ks > 0) {
      Acc *dst = red + (((ks - 1) * WARPS_N + wn) * MT * NT * 4) * 32 + lane;
      for (int i = 0; i < MT; ++i)
        for (int j = 0; j < NT; ++j)
          for (int c = 0; c < 4; ++c) dst[((i * NT + j) * 4 + c) * 32] = acc[i][j][c];
    }
    __syncthreads();
    if (ks > 0) return;
    for (int s = 0; s < KSPLIT - 1; ++s) {
      const Acc *src = red + ((s * WARPS_N + wn) * MT * NT * 4) * 32 + lane;
      for (int i = 0; i < MT; ++i)
        for (int j = 0; j < NT; ++j)
          for (int c = 0; c < 4; ++c) acc[i][j][c] += src[((i * NT + j) * 4 + c) * 32];
    }
  }

  // Epilogue: c0,c1 are row g, columns 2t,2t+1 of the tile; c2,c3 row g+8.
  for (int mt = 0; mt < MT; ++mt)
    for (int nt = 0; nt < NT; ++nt)
      for (int h = 0; h < 2; ++h) {
        const int row = m0 + 16 * mt + g + 8 * h;
        if (row >= M) continue;
        for (int c = 0; c < 2; ++c) {
          const int col = (ntile0 + nt) * 8 + 2 * t + c;
          if (col >= N) continue;
          float v = (float)acc[mt][nt][2 * h + c];
          if (FMT == QCC_FMT_INT8 || FMT == QCC_FMT_FP8) v = v * tokscale[row] * chscale[col];
          if (FMT == QCC_FMT_FP8W) v = v * chscale[col];
          if (RESIDUAL) v += bf16_to_f32(residual[(i64)row * N + col]);
          out[(i64)row * N + col] = f32_to_bf16(v);
        }
      }
}

//===----------------------------------------------------------------------===//
// Hopper (sm_90a): warpgroup MMA. One block = one warpgroup (4 warps) computes
// 64 rows x 128 columns. Per k chunk, the W tile [128 rows][chunk] is staged in
// shared memory in the canonical K-major, no-swizzle layout (8-row x 16-byte
// core matrices; core (r, c) of 32-byte k step s at s*4096 + (2r + c)*128, so
// LBO = 128 bytes between k-adjacent cores and SBO = 256 between 8-row
// groups) and A comes from registers, loaded in the mma.sync fragment layout
// (a warp owns rows 16w..16w+15). Each k step (32 bytes: k16 bf16, k32 8-bit)
// issues two m64n64 wgmmas (column halves).
// Formats: bf16, int8, fp8 (128-byte chunks, the epilogues above) and w4a16
// (128-k chunks = 256 bytes of bf16 A): one thread unpacks a 16-byte packed
// piece (32 codes of one row) into 64 bytes of exact bf16 codes in the tile;
// the wgmmas accumulate one quantisation group, which is then scaled per
// column into the f32 result. Single-stage: the next tile is loaded after the
// previous wgmmas completed (simple, correct; pipelining with TMA is future work).
//===----------------------------------------------------------------------===//

#if __CUDA_ARCH__ >= 900 || defined(QCC_HOST_EMULATION)
#ifndef QCC_HOST_EMULATION // (the host emulation in test/unit/cuda provides these)
#define QCC_WG_D32(i) "+f"(d[i])
#define QCC_WG_OUT_F                                                                                          \
  QCC_WG_D32(0), QCC_WG_D32(1), QCC_WG_D32(2), QCC_WG_D32(3), QCC_WG_D32(4), QCC_WG_D32(5), QCC_WG_D32(6),   \
      QCC_WG_D32(7), QCC_WG_D32(8), QCC_WG_D32(9), QCC_WG_D32(10), QCC_WG_D32(11), QCC_WG_D32(12),           \
      QCC_WG_D32(13), QCC_WG_D32(14), QCC_WG_D32(15), QCC_WG_D32(16), QCC_WG_D32(17), QCC_WG_D32(18),        \
      QCC_WG_D32(19), QCC_WG_D32(20), QCC_WG_D32(21), QCC_WG_D32(22), QCC_WG_D32(23), QCC_WG_D32(24),        \
      QCC_WG_D32(25), QCC_WG_D32(26), QCC_WG_D32(27), QCC_WG_D32(28), QCC_WG_D32(29), QCC_WG_D32(30),        \
      QCC_WG_D32(31)
#define QCC_WG_REGS                                                                                           \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, "   \
  "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36"

__device__ __forceinline__ void wgmma_bf16(float *d, const u32 *a, unsigned long long desc) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
               "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " QCC_WG_REGS ", p, 1, 1, 0;\n}\n"
               : QCC_WG_OUT_F
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}
__device__ __forceinline__ void wgmma_e4m3(float *d, const u32 *a, unsigned long long desc) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
               "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 " QCC_WG_REGS ", p, 1, 1;\n}\n"
               : QCC_WG_OUT_F
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}
#define QCC_WG_OUT_I                                                                                          \
  "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]),            \
      "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]),  \
      "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]),             \
      "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]),             \
      "+r"(d[30]), "+r"(d[31])
__device__ __forceinline__ void wgmma_s8(int *d, const u32 *a, unsigned long long desc) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
               "wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 " QCC_WG_REGS ", p;\n}\n"
               : QCC_WG_OUT_I
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}

#define QCC_FENCE_PROXY_ASYNC() asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory")
#define QCC_WGMMA_FENCE() asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory")
#define QCC_WGMMA_COMMIT_AND_WAIT()                                                                           \
  do {                                                                                                        \
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");                                          \
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");                                          \
  } while (0)
#endif // QCC_HOST_EMULATION

// Shared-memory matrix descriptor: address, LBO, SBO (all >> 4), no swizzle.
__device__ __forceinline__ unsigned long long wg_desc(const void *smem, u32 lbo, u32 sbo) {
  const u32 addr = (u32)__cvta_generic_to_shared(smem);
  return (unsigned long long)((addr & 0x3ffffu) >> 4) | ((unsigned long long)(lbo >> 4) << 16) |
         ((unsigned long long)(sbo >> 4) << 32);
}

template <int FMT, int N, int K, int GROUP, bool RESIDUAL>
__device__ __forceinline__ void qcc_gemm_wgmma(const void *__restrict__ A, const void *__restrict__ W,
                                               const float *__restrict__ tokscale,
                                               const float *__restrict__ chscale,
                                               const bf16 *__restrict__ residual, bf16 *__restrict__ out, int M) {
  typedef typename GemmTraits<FMT>::Acc Acc;
  const bool W4 = FMT == QCC_FMT_W4A16;
  const int ESIZE = (FMT == QCC_FMT_INT8 || FMT == QCC_FMT_FP8) ? 1 : 2;
  const int KB = K * ESIZE;           // A bytes per row
  const int CHUNK = W4 ? 256 : 128;   // A bytes per stage (w4a16: 128 k, one packed k block)
  const int STEPS = CHUNK / 32;       // wgmma k steps per stage
  const int BN = 128, BM = 64;        // block tile
  const int NTILES = (N + 7) / 8;     // w4a16: n8 tiles of the packed weights and scale rows
  static_assert(KB % CHUNK == 0, "K bytes must be a multiple of the stage");
  static_assert(FMT == QCC_FMT_BF16 || FMT == QCC_FMT_INT8 || FMT == QCC_FMT_FP8 || FMT == QCC_FMT_W4A16,
                "no wgmma kernel for this format");
  static_assert(!W4 || (GROUP % 128 == 0 && K % GROUP == 0), "w4a16 groups are multiples of 128 dividing K");
  __shared__ __align__(128) u8 tileW[STEPS * BN * 32]; // [step][core row group][core col][8][16]

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const u8 *a8 = static_cast<const u8 *>(A), *w8 = static_cast<const u8 *>(W);

  Acc d[2][32];            // two column halves of 64 (w4a16: the current group's sums)
  float acc[2][32];        // w4a16: scaled sums of the finished groups (unused otherwise)
  #pragma unroll
  for (int h = 0; h < 2; ++h)
    #pragma unroll
    for (int i = 0; i < 32; ++i) {
      d[h][i] = 0;
      if (W4) acc[h][i] = 0.f;
    }

  for (int kc = 0; kc < KB; kc += CHUNK) {
    __syncthreads(); // the previous tile is no longer read
    if (W4) {
      // 16 n8 tiles x 32 packed pieces; piece (tile, lane 4gg + tt) holds row 8*tile + gg,
      // k 32tt .. 32tt+31 of this block; its word w holds k 32tt + 8w .. +7 (Packing.h),
      // which lands as 16 bytes in step 2tt + w/2, core column w%2.
      const int kb = kc / CHUNK;
      for (int p = threadIdx.x; p < 16 * 32; p += 128) {
        const int tile = p >> 5, pl = p & 31, gg = pl >> 2, tt = pl & 3;
        const int gtile = n0 / 8 + tile;
        uint4 v = load16(w8 + (((i64)gtile * (K / 128) + kb) * 32 + pl) * 16, gtile < NTILES);
        if (gtile >= NTILES) v = make_uint4(0x88888888u, 0x88888888u, 0x88888888u, 0x88888888u); // zeros
        const u32 words[4] = {v.x, v.y, v.z, v.w};
        #pragma unroll
        for (int w = 0; w < 4; ++w) {
          const uint4 codes = make_uint4(int4x2_to_bf16x2(words[w], 0), int4x2_to_bf16x2(words[w], 1),
                                         int4x2_to_bf16x2(words[w], 2), int4x2_to_bf16x2(words[w], 3));
          *reinterpret_cast<uint4 *>(tileW + (2 * tt + (w >> 1)) * (BN * 32) + (tile * 2 + (w & 1)) * 128 +
                                     gg * 16) = codes;
        }
      }
    } else {
      // 128 rows x 8 pieces of 16 bytes; piece q of row n -> step q/2, core column q%2.
      for (int p = threadIdx.x; p < BN * 8; p += 128) {
        const int n = p >> 3, q = p & 7;
        const uint4 v = load16(w8 + (i64)(n0 + n) * KB + kc + q * 16, n0 + n < N);
        *reinterpret_cast<uint4 *>(tileW + (q >> 1) * (BN * 32) + ((n >> 3) * 2 + (q & 1)) * 128 + (n & 7) * 16) = v;
      }
    }
    QCC_FENCE_PROXY_ASYNC(); // make the stores visible to wgmma
    __syncthreads();
    // A fragments for the stage's steps: rows m0+16w+g (+8), bytes 4t and 16+4t of
    // each 32-byte step. All of them are in registers before the first wgmma reads any.
    u32 af[STEPS][4];
    #pragma unroll
    for (int s = 0; s < STEPS; ++s)
      #pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int row = m0 + 16 * warp + g + 8 * r;
        const u8 *p = a8 + (i64)row * KB + kc + s * 32 + 4 * t;
        af[s][r] = row < M ? *reinterpret_cast<const u32 *>(p) : 0u;
        af[s][2 + r] = row < M ? *reinterpret_cast<const u32 *>(p + 16) : 0u;
      }
    QCC_WGMMA_FENCE();
    #pragma unroll
    for (int s = 0; s < STEPS; ++s) {
      const u32 a[4] = {af[s][0], af[s][1], af[s][2], af[s][3]}; // rows g, g+8, g (k+), g+8 (k+)
      #pragma unroll
      for (int h = 0; h < 2; ++h) {
        const unsigned long long desc = wg_desc(tileW + s * (BN * 32) + h * (64 / 8) * 256, 128, 256);
        if (FMT == QCC_FMT_INT8) wgmma_s8(reinterpret_cast<int *>(d[h]), a, desc);
        else if (FMT == QCC_FMT_FP8) wgmma_e4m3(reinterpret_cast<float *>(d[h]), a, desc);
        else wgmma_bf16(reinterpret_cast<float *>(d[h]), a, desc);
      }
    }
    QCC_WGMMA_COMMIT_AND_WAIT();
    if (W4 && (kc / 2 + 128) % GROUP == 0) { // a group ends: scale its sums per column
      const float *sc = chscale + (i64)((kc / 2) / GROUP) * (NTILES * 8);
      #pragma unroll
      for (int h = 0; h < 2; ++h)
        #pragma unroll
        for (int j = 0; j < 8; ++j) {
          const int col = n0 + 64 * h + 8 * j + 2 * t; // even: an aligned float2
          const float2 s2 = col < NTILES * 8 ? *reinterpret_cast<const float2 *>(sc + col) : make_float2(0.f, 0.f);
          #pragma unroll
          for (int r = 0; r < 2; ++r) {
            acc[h][4 * j + 2 * r] += (float)d[h][4 * j + 2 * r] * s2.x;
            acc[h][4 * j + 2 * r + 1] += (float)d[h][4 * j + 2 * r + 1] * s2.y;
            d[h][4 * j + 2 * r] = 0;
            d[h][4 * j + 2 * r + 1] = 0;
          }
        }
    }
  }

  // d[h][4j + 2r + c]: row 16w + g + 8r, column 64h + 8j + 2t + c.
  #pragma unroll
  for (int h = 0; h < 2; ++h)
    #pragma unroll
    for (int j = 0; j < 8; ++j)
      #pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int row = m0 + 16 * warp + g + 8 * r;
        if (row >= M) continue;
        #pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int col = n0 + 64 * h + 8 * j + 2 * t + c;
          if (col >= N) continue;
          float v = W4 ? acc[h][4 * j + 2 * r + c] : (float)d[h][4 * j + 2 * r + c];
          if (FMT == QCC_FMT_INT8 || FMT == QCC_FMT_FP8) v = v * tokscale[row] * chscale[col];
          if (RESIDUAL) v += bf16_to_f32(residual[(i64)row * N + col]);
          out[(i64)row * N + col] = f32_to_bf16(v);
        }
      }
}
#endif // __CUDA_ARCH__ >= 900 || QCC_HOST_EMULATION
