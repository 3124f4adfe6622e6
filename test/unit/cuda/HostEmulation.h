// A small host emulation of the CUDA execution model, enough to run qcc's
// kernel templates (codegen/cuda/kernels/*.cuh) on the CPU without a GPU:
// one fiber (ucontext) per CUDA thread of a block, run in turn on the calling
// thread, __syncthreads and warp shuffles as barriers that switch fibers, and the tensor-core instructions the kernels use
// (mma.sync m16n8k16 bf16, m16n8k32 s8 / e4m3) computed from the fragment
// layouts in the PTX ISA manual. It checks the kernels' own index math, bounds,
// packing, reductions and epilogues; the inline-PTX helpers it replaces are
// few and marked QCC_HOST_EMULATION in the templates. Not a timing model.
#pragma once

#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#define QCC_HOST_EMULATION 1
#define __device__
#define __global__
#define __forceinline__ inline
#define __shared__ static
#define __constant__ static const
#define __launch_bounds__(x)
#define __align__(n) __attribute__((aligned(n)))

struct uint4 { unsigned x, y, z, w; };
struct uint2 { unsigned x, y; };
struct float2 { float x, y; };
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
struct EmuDim3 { unsigned x = 1, y = 1, z = 1; };

namespace qcc_emu {
extern thread_local EmuDim3 threadIdx, blockIdx;
extern EmuDim3 blockDim, gridDim;

// Switches from the running CUDA thread (a fiber) to the next one of its block.
void yieldFiber();

// A reusable barrier for `n` participants; threads that finish early leave().
// The fibers of a block run on one OS thread, so no locking is needed.
class Barrier {
public:
  void reset(int n) { count_ = n; waiting_ = 0; }
  void wait() {
    const unsigned long gen = gen_;
    if (++waiting_ >= count_) { release(); return; }
    while (gen == gen_) yieldFiber();
  }
  void leave() {
    --count_;
    if (count_ > 0 && waiting_ >= count_) release();
  }
private:
  void release() { waiting_ = 0; ++gen_; }
  int count_ = 0, waiting_ = 0;
  unsigned long gen_ = 0;
};

// Per-warp exchange area for shuffles and mma fragments.
struct Warp {
  Barrier bar;
  float f[32];
  unsigned a[32][4], b[32][2];
  float cf[32][4];
  int ci[32][4];
};

struct Block {
  Barrier bar;
  std::vector<Warp> warps;
};
extern thread_local Block *currentBlock;

inline Warp &myWarp() { return currentBlock->warps[threadIdx.x / 32]; }
inline unsigned laneId() { return threadIdx.x % 32; }

// Runs `kernel` over the grid, one block at a time, one thread per CUDA thread.
void launch(EmuDim3 grid, unsigned threads, const std::function<void()> &kernel);

float bf16f(uint16_t b);
uint16_t f2bf16(float x); // round-half-to-even
float e4m3f(uint8_t v);
} // namespace qcc_emu

using qcc_emu::threadIdx;
using qcc_emu::blockIdx;
using qcc_emu::blockDim;
using qcc_emu::gridDim;

inline void __syncthreads() { qcc_emu::currentBlock->bar.wait(); }
inline float __shfl_xor_sync(unsigned, float v, int o) {
  qcc_emu::Warp &w = qcc_emu::myWarp();
  const unsigned lane = qcc_emu::laneId();
  w.f[lane] = v;
  w.bar.wait();
  const float r = w.f[lane ^ unsigned(o)];
  w.bar.wait();
  return r;
}
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline void __trap() { std::abort(); }
inline void sincosf(float x, float *s, float *c) { *s = std::sin(x); *c = std::cos(x); }

// Replacements for the inline-PTX helpers.
inline unsigned short f32_to_bf16(float x) { return qcc_emu::f2bf16(x); }
inline unsigned pack_bf16x2(float lo, float hi) { return unsigned(f32_to_bf16(lo)) | (unsigned(f32_to_bf16(hi)) << 16); }
inline unsigned int4x2_to_bf16x2(unsigned w, int pair) {
  // The kernel's trick, step by step: 0x4300|u is bf16(128+u); fma(x, 1, -136) in bf16.
  const unsigned x = ((w >> (4 * pair)) & 0x000f000fu) | 0x43004300u;
  const float lo = qcc_emu::bf16f(uint16_t(x & 0xffff)) * 1.0f - 136.0f;
  const float hi = qcc_emu::bf16f(uint16_t(x >> 16)) * 1.0f - 136.0f;
  return pack_bf16x2(lo, hi);
}

// Tensor-core fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16 / m16n8k32"):
// lane = 4g + t. A rows g, g+8; B column g; C/D rows g, g+8, columns 2t, 2t+1.
namespace qcc_emu {
enum class MmaType { Bf16, S8, E4m3 };
void mmaWarp(MmaType type, float *cf, int *ci, const unsigned *a, const unsigned *b);
} // namespace qcc_emu
inline void mma_bf16(float *c, const unsigned *a, const unsigned *b) {
  qcc_emu::mmaWarp(qcc_emu::MmaType::Bf16, c, nullptr, a, b);
}
inline void mma_s8(int *c, const unsigned *a, const unsigned *b) {
  qcc_emu::mmaWarp(qcc_emu::MmaType::S8, nullptr, c, a, b);
}
inline void mma_e4m3(float *c, const unsigned *a, const unsigned *b) {
  qcc_emu::mmaWarp(qcc_emu::MmaType::E4m3, c, nullptr, a, b);
}

// Hopper warpgroup MMA (m64n64, A from registers, B through a shared-memory
// descriptor in the K-major no-swizzle canonical layout: 8-row x 16-byte core
// matrices, LBO between k-adjacent cores, SBO between 8-row groups). The
// emulated "shared address" of a pointer is its offset from the lowest
// pointer converted so far (the kernels' only shared array).
namespace qcc_emu {
unsigned sharedAddress(const void *p);
void wgmmaWarpgroup(MmaType type, float *df, int *di, const unsigned *a, unsigned long long desc);
} // namespace qcc_emu
inline unsigned __cvta_generic_to_shared(const void *p) { return qcc_emu::sharedAddress(p); }
inline void wgmma_bf16(float *d, const unsigned *a, unsigned long long desc) {
  qcc_emu::wgmmaWarpgroup(qcc_emu::MmaType::Bf16, d, nullptr, a, desc);
}
inline void wgmma_e4m3(float *d, const unsigned *a, unsigned long long desc) {
  qcc_emu::wgmmaWarpgroup(qcc_emu::MmaType::E4m3, d, nullptr, a, desc);
}
inline void wgmma_s8(int *d, const unsigned *a, unsigned long long desc) {
  qcc_emu::wgmmaWarpgroup(qcc_emu::MmaType::S8, nullptr, d, a, desc);
}
#define QCC_FENCE_PROXY_ASYNC() ((void)0)
#define QCC_WGMMA_FENCE() ((void)0)
#define QCC_WGMMA_COMMIT_AND_WAIT() ((void)0) // the emulated wgmma completes synchronously
