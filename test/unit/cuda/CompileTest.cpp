// No-GPU checks: every kernel of every format compiles for every target with
// NVRTC, its PTX holds the tensor-core instructions it is meant to use, and
// the main GEMMs do not spill. Resource use is written to
// <build>/unittests/cuda-kernel-resources.tsv for people to read.
#include "codegen/cuda/Compile.h"
#include "codegen/cuda/Kernels.h"
#include "codegen/cuda/Nvrtc.h"
#include "LlamaKernelSet.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <unistd.h>

using namespace qcc;
using namespace qcc::cuda;
using qcc::cuda::testing::llamaKernelSet;
using qcc::cuda::testing::ModelFormat;

namespace {

// Llama-3.1-8B shapes: the kernels qcc emits for the real model.
ModelConfig llama8b() {
  ModelConfig c;
  c.hiddenSize = 4096;
  c.intermediateSize = 14336;
  c.numLayers = 32;
  c.numHeads = 32;
  c.numKvHeads = 8;
  c.headDim = 128;
  c.vocabSize = 128256;
  c.maxPositionEmbeddings = 131072;
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = true;
  return c;
}

std::string tempCacheDir() {
  char tmpl[] = "/tmp/qcc-cuda-test-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

bool haveNvrtc() { return bool(Nvrtc::get()); }

int countOf(const std::string &text, const std::string &needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// The instruction each GEMM format must use.
const char *expectedMma(GemmFormat f, bool wgmma) {
  if (wgmma) {
    switch (f) {
    case GemmFormat::INT8: return "wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8";
    case GemmFormat::FP8: return "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3";
    default: return "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16";
    }
  }
  switch (f) {
  case GemmFormat::INT8: return "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32";
  case GemmFormat::FP8: return "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32";
  default: return "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32";
  }
}

} // namespace

TEST(CudaCompile, EveryKernelEveryFormatEveryTarget) {
  if (!haveNvrtc()) GTEST_SKIP() << Nvrtc::get().message();
  CompileOptions opts;
  opts.cacheDir = tempCacheDir();
  std::ofstream report(std::string(QCC_UNITTEST_DIR) + "/cuda-kernel-resources.tsv");
  report << "target\tformat\tkernel\tregisters\tspill_stores\tspill_loads\tstack_frame\tptx_bytes\tcubin_bytes\n";
  int compiled = 0, wgmmaKernels = 0;
  for (const GpuTarget &target : allTargets()) {
    for (ModelFormat mf : {ModelFormat::BF16, ModelFormat::FP8, ModelFormat::INT8, ModelFormat::W4A16}) {
      const bool fallback = mf == ModelFormat::FP8 && !target.hasFp8Mma;
      Expected<std::vector<KernelSpec>> specs = llamaKernelSet(llama8b(), mf, target, 8192, fallback);
      ASSERT_TRUE(specs) << specs.message();
      std::vector<GeneratedKernel> gen;
      for (const KernelSpec &s : *specs) {
        Expected<GeneratedKernel> g = generateKernel(s, target);
        ASSERT_TRUE(g) << g.message();
        gen.push_back(*g);
      }
      Expected<std::vector<CompiledKernel>> out = compileKernels(gen, target, opts);
      ASSERT_TRUE(out) << out.message();
      ASSERT_EQ(out->size(), specs->size());
      for (size_t i = 0; i < out->size(); ++i) {
        const KernelSpec &s = (*specs)[i];
        const CompiledKernel &k = (*out)[i];
        ++compiled;
        EXPECT_NE(k.ptx.find(".entry " + k.name), std::string::npos) << k.name;
        EXPECT_NE(k.ptx.find(".target " + std::string(target.name)), std::string::npos) << k.name;
        EXPECT_GT(k.cubin.size(), 64u) << k.name;
        // ELF magic: a real cubin, not PTX text
        EXPECT_EQ(std::string(reinterpret_cast<const char *>(k.cubin.data()), 4), "\x7f" "ELF") << k.name;
        EXPECT_EQ(k.log.find("warning"), std::string::npos) << k.name << ":\n" << k.log;
        ASSERT_GE(k.resources.registers, 1) << k.name << " has no ptxas info in its log:\n" << k.log;
        report << target.name << '\t' << (s.kind == KernelKind::Gemm ? gemmFormatName(s.format) : "-") << '\t'
               << k.name << '\t' << k.resources.registers << '\t' << k.resources.spillStores << '\t'
               << k.resources.spillLoads << '\t' << k.resources.stackFrame << '\t' << k.ptx.size() << '\t' << k.cubin.size() << '\n';
        if (s.kind == KernelKind::Gemm) {
          const char *mma = expectedMma(s.format, s.tile.wgmma);
          EXPECT_GT(countOf(k.ptx, mma), 0) << k.name << " on " << target.name << " lacks " << mma;
          // Hopper's prefill GEMMs (bf16/int8/fp8/w4a16) use wgmma; nothing else does.
          const bool wantWgmma = target.hasWgmma && s.format != GemmFormat::FP8WeightOnly && s.tile.blockM() > 16;
          EXPECT_EQ(s.tile.wgmma, wantWgmma) << k.name;
          if (s.tile.wgmma) wgmmaKernels++;
          // weights and activations move in 16-byte loads (8-byte for the fp8 fallback's weights)
          EXPECT_GT(countOf(k.ptx, ".v4.u32"), 0) << k.name;
          if (s.format != GemmFormat::FP8) {
            EXPECT_EQ(countOf(k.ptx, "e4m3.e4m3"), 0) << k.name;
          }
          EXPECT_EQ(k.resources.spillStores, 0) << k.name << " spills on " << target.name;
          EXPECT_EQ(k.resources.spillLoads, 0) << k.name << " spills on " << target.name;
          EXPECT_EQ(k.resources.stackFrame, 0) << k.name << " uses local memory on " << target.name;
        }
      }
    }
  }
  EXPECT_GT(compiled, 4 * 4 * 10);
  EXPECT_GE(wgmmaKernels, 4 * 4); // bf16, int8, fp8, w4a16 prefill on sm_90a
}

TEST(CudaCompile, Fp8MmaRejectedBeforeSm89) {
  const GpuTarget *t = *findTarget("sm86");
  KernelSpec s;
  s.kind = KernelKind::Gemm;
  s.format = GemmFormat::FP8;
  s.n = 128;
  s.k = 256;
  Expected<GeneratedKernel> g = generateKernel(s, *t);
  ASSERT_FALSE(g);
  EXPECT_NE(g.message().find("sm_89"), std::string::npos) << g.message();
  Expected<std::vector<KernelSpec>> set = llamaKernelSet(
      [] { ModelConfig c; c.hiddenSize = 256; c.intermediateSize = 512; c.numHeads = 4; c.numKvHeads = 2;
           c.headDim = 64; c.vocabSize = 1000; return c; }(), ModelFormat::FP8, *t, 256);
  ASSERT_FALSE(set);
  EXPECT_NE(set.message().find("weight-only fallback"), std::string::npos) << set.message();
}

TEST(CudaCompile, BadShapeIsAnErrorNamingTheKernel) {
  KernelSpec s;
  s.kind = KernelKind::Gemm;
  s.format = GemmFormat::INT8;
  s.n = 128;
  s.k = 100; // not a multiple of the 64-wide k chunk
  Expected<GeneratedKernel> g = generateKernel(s, *allTargets().data());
  ASSERT_FALSE(g);
  EXPECT_NE(g.message().find("qcc_gemm_int8_n128_k100"), std::string::npos) << g.message();
  EXPECT_NE(g.message().find("multiple of 64"), std::string::npos) << g.message();
}

TEST(CudaCompile, CompileErrorCarriesLogAndKernelName) {
  if (!haveNvrtc()) GTEST_SKIP() << Nvrtc::get().message();
  GeneratedKernel bad;
  bad.name = "qcc_broken_kernel";
  bad.source = "extern \"C\" __global__ void qcc_broken_kernel() { undeclared_thing(); }\n";
  CompileOptions opts;
  opts.useCache = false;
  Expected<CompiledKernel> r = compileKernel(bad, allTargets()[0], opts);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("qcc_broken_kernel"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("undeclared_thing"), std::string::npos) << r.message(); // NVRTC's log
}

TEST(CudaCompile, SecondCompileComesFromTheCache) {
  if (!haveNvrtc()) GTEST_SKIP() << Nvrtc::get().message();
  KernelSpec s;
  s.kind = KernelKind::Add;
  s.width = 4096;
  const GpuTarget &t = allTargets()[0];
  Expected<GeneratedKernel> g = generateKernel(s, t);
  ASSERT_TRUE(g) << g.message();
  CompileOptions opts;
  opts.cacheDir = tempCacheDir();
  Expected<CompiledKernel> a = compileKernel(*g, t, opts);
  ASSERT_TRUE(a) << a.message();
  EXPECT_FALSE(a->fromCache);
  Expected<CompiledKernel> b = compileKernel(*g, t, opts);
  ASSERT_TRUE(b) << b.message();
  EXPECT_TRUE(b->fromCache);
  EXPECT_EQ(a->ptx, b->ptx);
  EXPECT_EQ(a->cubin, b->cubin);
}

TEST(CudaCompile, PtxasInfoParser) {
  const std::string log =
      "ptxas info    : Compiling entry function 'k' for 'sm_80'\n"
      "ptxas info    : Function properties for k\n"
      "    16 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n"
      "ptxas info    : Used 96 registers, used 1 barriers, 380 bytes cmem[0]\n";
  KernelResources r = parsePtxasInfo(log);
  EXPECT_EQ(r.registers, 96);
  EXPECT_EQ(r.stackFrame, 16);
  EXPECT_EQ(r.spillStores, 8);
  EXPECT_EQ(r.spillLoads, 12);
  EXPECT_EQ(parsePtxasInfo("").registers, -1);
}
