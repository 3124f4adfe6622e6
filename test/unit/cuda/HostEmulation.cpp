#include "HostEmulation.h"

#include <memory>
#include <ucontext.h>

namespace qcc_emu {

thread_local EmuDim3 threadIdx, blockIdx;
EmuDim3 blockDim, gridDim;
thread_local Block *currentBlock = nullptr;

// The emulated shared address space of the running launch (see sharedAddress).
static std::mutex sharedMu;
static const char *sharedBase = nullptr;

// Fibers: one ucontext per CUDA thread with its own stack (reused across
// blocks and launches), scheduled round-robin by launch() on the calling
// thread; a fiber runs until it waits at a barrier (yieldFiber) or returns.
namespace {
constexpr size_t kFiberStack = 256 * 1024;
struct Fiber {
  ucontext_t ctx;
  std::vector<char> stack;
  unsigned tid = 0;
  bool done = false;
};
thread_local ucontext_t schedulerContext;
thread_local Fiber *runningFiber = nullptr;
thread_local const std::function<void()> *runningKernel = nullptr;
thread_local std::vector<std::unique_ptr<Fiber>> fiberPool;

void fiberMain() {
  Fiber *f = runningFiber;
  (*runningKernel)();
  currentBlock->bar.leave(); // an exited thread no longer holds the block barrier
  f->done = true;            // returning resumes the scheduler (uc_link)
}
} // namespace

void yieldFiber() { swapcontext(&runningFiber->ctx, &schedulerContext); }

void launch(EmuDim3 grid, unsigned threads, const std::function<void()> &kernel) {
  gridDim = grid;
  blockDim = EmuDim3{threads, 1, 1};
  sharedBase = nullptr; // each kernel converts only its own shared array
  while (fiberPool.size() < threads) {
    fiberPool.push_back(std::make_unique<Fiber>());
    fiberPool.back()->stack.resize(kFiberStack);
  }
  runningKernel = &kernel;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        Block block;
        block.bar.reset(int(threads));
        block.warps = std::vector<Warp>((threads + 31) / 32);
        for (size_t w = 0; w < block.warps.size(); ++w)
          block.warps[w].bar.reset(int(std::min<unsigned>(32, threads - unsigned(w) * 32)));
        currentBlock = &block;
        blockIdx = EmuDim3{bx, by, bz};
        for (unsigned t = 0; t < threads; ++t) {
          Fiber &f = *fiberPool[t];
          f.tid = t;
          f.done = false;
          getcontext(&f.ctx);
          f.ctx.uc_stack.ss_sp = f.stack.data();
          f.ctx.uc_stack.ss_size = f.stack.size();
          f.ctx.uc_link = &schedulerContext;
          makecontext(&f.ctx, fiberMain, 0);
        }
        for (unsigned alive = threads; alive > 0;) {
          alive = 0;
          for (unsigned t = 0; t < threads; ++t) {
            Fiber &f = *fiberPool[t];
            if (f.done) continue;
            runningFiber = &f;
            threadIdx = EmuDim3{t, 0, 0};
            swapcontext(&schedulerContext, &f.ctx);
            if (!f.done) ++alive;
          }
        }
        currentBlock = nullptr;
      }
  runningKernel = nullptr;
  runningFiber = nullptr;
}

float bf16f(uint16_t b) { return __uint_as_float(unsigned(b) << 16); }

uint16_t f2bf16(float x) {
  unsigned u = __float_as_uint(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40); // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float e4m3f(uint8_t v) {
  const unsigned sign = v & 0x80u, exp = (v >> 3) & 0xfu, man = v & 0x7u;
  if (exp == 0xf && man == 0x7) return NAN;
  const float mag = exp == 0 ? std::ldexp(float(man), -9) : std::ldexp(1.0f + float(man) / 8.0f, int(exp) - 7);
  return sign ? -mag : mag;
}

// Element i (0-based, low to high) of a packed register.
static double elem(MmaType type, unsigned reg, int i) {
  if (type == MmaType::Bf16) return bf16f(uint16_t(reg >> (16 * i)));
  const uint8_t byte = uint8_t(reg >> (8 * i));
  return type == MmaType::S8 ? double(int8_t(byte)) : double(e4m3f(byte));
}

void mmaWarp(MmaType type, float *cf, int *ci, const unsigned *a, const unsigned *b) {
  Warp &w = myWarp();
  const unsigned lane = laneId();
  for (int i = 0; i < 4; ++i) w.a[lane][i] = a[i];
  w.b[lane][0] = b[0];
  w.b[lane][1] = b[1];
  w.bar.wait();
  // Assemble A [16][K] and B [K][8] from all lanes.
  const int K = type == MmaType::Bf16 ? 16 : 32, per = type == MmaType::Bf16 ? 2 : 4;
  double A[16][32], B[32][8];
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < per; ++i) {
      const int col = per * t + i, half = K / 2; // bf16: 2t+i, +8; 8-bit: 4t+i, +16
      A[g][col] = elem(type, w.a[l][0], i);
      A[g + 8][col] = elem(type, w.a[l][1], i);
      A[g][col + half] = elem(type, w.a[l][2], i);
      A[g + 8][col + half] = elem(type, w.a[l][3], i);
      B[col][g] = elem(type, w.b[l][0], i);
      B[col + half][g] = elem(type, w.b[l][1], i);
    }
  }
  const int g = int(lane / 4), t = int(lane % 4);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 2; ++c) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += A[g + 8 * r][k] * B[k][2 * t + c];
      if (type == MmaType::S8) ci[2 * r + c] += int(s);
      else cf[2 * r + c] = float(double(cf[2 * r + c]) + s);
    }
  w.bar.wait(); // nobody overwrites the fragments before all lanes read them
}


unsigned sharedAddress(const void *p) {
  std::lock_guard<std::mutex> l(sharedMu);
  const char *c = static_cast<const char *>(p);
  if (!sharedBase || c < sharedBase) sharedBase = c;
  return unsigned(c - sharedBase);
}

// Fragments of the whole warpgroup (the emulated block is one warpgroup).
static unsigned wgA[128][4];

void wgmmaWarpgroup(MmaType type, float *df, int *di, const unsigned *a, unsigned long long desc) {
  const unsigned tid = threadIdx.x;
  for (int i = 0; i < 4; ++i) wgA[tid][i] = a[i];
  currentBlock->bar.wait();
  const int K = type == MmaType::Bf16 ? 16 : 32, per = type == MmaType::Bf16 ? 2 : 4, esize = type == MmaType::Bf16 ? 2 : 1;
  // A [64][K] from the 4 warps' mma-style fragments.
  double A[64][32];
  for (int th = 0; th < 128; ++th) {
    const int w = th / 32, g = (th % 32) / 4, t = th % 4;
    for (int i = 0; i < per; ++i) {
      const int col = per * t + i, half = K / 2;
      A[16 * w + g][col] = elem(type, wgA[th][0], i);
      A[16 * w + g + 8][col] = elem(type, wgA[th][1], i);
      A[16 * w + g][col + half] = elem(type, wgA[th][2], i);
      A[16 * w + g + 8][col + half] = elem(type, wgA[th][3], i);
    }
  }
  // B [K][64] through the descriptor.
  const unsigned addr = unsigned(desc & 0x3fff) << 4, lbo = unsigned((desc >> 16) & 0x3fff) << 4,
                 sbo = unsigned((desc >> 32) & 0x3fff) << 4;
  auto bAt = [&](int k, int n) {
    const unsigned byte = addr + unsigned(n / 8) * sbo + unsigned(k * esize / 16) * lbo + unsigned(n % 8) * 16 +
                          unsigned(k * esize % 16);
    const unsigned char *p = reinterpret_cast<const unsigned char *>(sharedBase) + byte;
    if (type == MmaType::Bf16) return double(bf16f(uint16_t(p[0] | (p[1] << 8))));
    return type == MmaType::S8 ? double(int8_t(p[0])) : double(e4m3f(p[0]));
  };
  const int w = int(tid / 32), g = int((tid % 32) / 4), t = int(tid % 4);
  for (int j = 0; j < 8; ++j)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 2; ++c) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += A[16 * w + g + 8 * r][k] * bAt(k, 8 * j + 2 * t + c);
        if (type == MmaType::S8) di[4 * j + 2 * r + c] += int(s);
        else df[4 * j + 2 * r + c] = float(double(df[4 * j + 2 * r + c]) + s);
      }
  currentBlock->bar.wait();
}

} // namespace qcc_emu
