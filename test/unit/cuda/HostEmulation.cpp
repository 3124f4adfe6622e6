#include "HostEmulation.h"

#include <memory>
#include <csetjmp>
#include <ucontext.h>

namespace qcc_emu {

thread_local EmuDim3 threadIdx, blockIdx;
EmuDim3 blockDim, gridDim;
thread_local Block *currentBlock = nullptr;

// The emulated shared address space of the running launch (see sharedAddress).
static std::mutex sharedMu;
static const char *sharedBase = nullptr;

// Fibers: one per CUDA thread with its own stack (reused across blocks and
// launches), scheduled round-robin by launch() on the calling thread; a fiber
// runs until it waits at a barrier (yieldFiber) or finishes its block. A fiber
// is entered once through ucontext (makecontext gives it its stack) and then
// loops over blocks; every later switch is _setjmp/_longjmp, which, unlike
// swapcontext, saves no signal mask (a system call per switch, which was most
// of the emulation's time). Under AddressSanitizer, which must see every
// stack switch, each block's threads are fresh ucontexts switched by
// swapcontext.
namespace {
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSwapcontextOnly = true;
#else
constexpr bool kSwapcontextOnly = false;
#endif
constexpr size_t kFiberStack = 256 * 1024;
struct Fiber {
  ucontext_t ctx;
  jmp_buf jmp;
  std::vector<char> stack;
  bool started = false; // entered, and now loops over blocks
  bool done = false;    // finished the current block
};
thread_local ucontext_t schedulerContext;
thread_local jmp_buf schedulerJmp;
thread_local Fiber *runningFiber = nullptr;
thread_local const std::function<void()> *runningKernel = nullptr;
thread_local std::vector<std::unique_ptr<Fiber>> fiberPool;

void fiberMain() {
  Fiber *f = runningFiber;
  for (;;) {
    (*runningKernel)();
    currentBlock->bar.leave(); // an exited thread no longer holds the block barrier
    f->done = true;
    if (kSwapcontextOnly) return; // resumes the scheduler (uc_link)
    if (!_setjmp(f->jmp)) _longjmp(schedulerJmp, 1);
    // resumed for the next block
  }
}

// Enters `f` at fiberMain on its own stack.
void enterFiber(Fiber &f) {
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.stack.data();
  f.ctx.uc_stack.ss_size = f.stack.size();
  f.ctx.uc_link = &schedulerContext;
  makecontext(&f.ctx, fiberMain, 0);
  f.started = !kSwapcontextOnly;
  swapcontext(&schedulerContext, &f.ctx);
}
} // namespace

void yieldFiber() {
  if (kSwapcontextOnly) {
    swapcontext(&runningFiber->ctx, &schedulerContext);
    return;
  }
  if (!_setjmp(runningFiber->jmp)) _longjmp(schedulerJmp, 1);
}

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
        for (unsigned t = 0; t < threads; ++t) fiberPool[t]->done = false;
        bool first = true; // the first pass starts (or restarts) every thread
        for (unsigned alive = threads; alive > 0; first = false) {
          alive = 0;
          for (unsigned t = 0; t < threads; ++t) {
            Fiber &f = *fiberPool[t];
            if (f.done) continue;
            runningFiber = &f;
            threadIdx = EmuDim3{t, 0, 0};
            if (kSwapcontextOnly) {
              if (first) enterFiber(f);
              else swapcontext(&schedulerContext, &f.ctx);
            } else if (!_setjmp(schedulerJmp)) {
              if (f.started) _longjmp(f.jmp, 1);
              enterFiber(f); // its first yield or finish jumps back to schedulerJmp
            }
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
  // This lane's outputs are rows g, g + 8 of A [16][K] times columns 2t,
  // 2t + 1 of B [K][8]: A's rows come from lanes 4g..4g+3, B's columns from
  // lanes 4n..4n+3 (n = 2t, 2t + 1), in the fragment layouts of the PTX ISA.
  const int K = type == MmaType::Bf16 ? 16 : 32, per = type == MmaType::Bf16 ? 2 : 4, half = K / 2;
  const int g = int(lane / 4), t = int(lane % 4);
  double A[2][32], B[2][32];
  for (int tl = 0; tl < 4; ++tl)
    for (int i = 0; i < per; ++i) {
      const int col = per * tl + i; // bf16: 2t+i, +8; 8-bit: 4t+i, +16
      const unsigned *ra = w.a[4 * g + tl];
      A[0][col] = elem(type, ra[0], i);
      A[1][col] = elem(type, ra[1], i);
      A[0][col + half] = elem(type, ra[2], i);
      A[1][col + half] = elem(type, ra[3], i);
      for (int c = 0; c < 2; ++c) {
        const unsigned *rb = w.b[4 * (2 * t + c) + tl];
        B[c][col] = elem(type, rb[0], i);
        B[c][col + half] = elem(type, rb[1], i);
      }
    }
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 2; ++c) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += A[r][k] * B[c][k];
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
  // This thread's rows of A [64][K] (16w + g and 16w + g + 8) from the 4
  // threads of its warp that hold them (mma-style fragments).
  const int w = int(tid / 32), g = int((tid % 32) / 4), t = int(tid % 4);
  double A[2][32];
  for (int tl = 0; tl < 4; ++tl) {
    const unsigned *ra = wgA[32 * w + 4 * g + tl];
    for (int i = 0; i < per; ++i) {
      const int col = per * tl + i, half = K / 2;
      A[0][col] = elem(type, ra[0], i);
      A[1][col] = elem(type, ra[1], i);
      A[0][col + half] = elem(type, ra[2], i);
      A[1][col + half] = elem(type, ra[3], i);
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
  for (int j = 0; j < 8; ++j)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 2; ++c) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += A[r][k] * bAt(k, 8 * j + 2 * t + c);
        if (type == MmaType::S8) di[4 * j + 2 * r + c] += int(s);
        else df[4 * j + 2 * r + c] = float(double(df[4 * j + 2 * r + c]) + s);
      }
  currentBlock->bar.wait();
}

} // namespace qcc_emu
