// Test-only: the kernels a Llama-3.1 decoder forward launches in one format on
// one target, as KernelSpecs, for checks that need the real model's shapes
// (Llama-3.1-8B) without compiling a checkpoint of that size. The product does
// not know the Llama layer: qcc-lower-to-kernels derives the same kernels from
// the IR. Here they follow its fused layout: q|k|v and gate|up are each one
// GEMM whose output rows the RoPE, KV store, attention and SwiGLU read as
// slices (row stride (HQ + 2 HKV) D and 2 I); the residual adds live in the
// o_proj and down_proj epilogues; lm_head stays bf16.
#pragma once

#include "codegen/cuda/Kernels.h"
#include "codegen/cuda/Targets.h"
#include "runtime/ModelConfig.h"

#include <set>
#include <string>
#include <vector>

namespace qcc::cuda::testing {

// The formats a whole model is compiled to (one per model).
enum class ModelFormat { BF16, FP8, INT8, W4A16 };
inline const char *modelFormatName(ModelFormat f) {
  switch (f) {
  case ModelFormat::BF16: return "bf16";
  case ModelFormat::FP8: return "fp8";
  case ModelFormat::INT8: return "int8";
  case ModelFormat::W4A16: return "w4a16";
  }
  return "?";
}

// The block size the lowering gives a row kernel of `width` elements.
inline int rowBlockFor(int64_t width) {
  for (int t : {256, 128, 64, 32})
    if (width % t == 0) return t;
  return 32;
}

// Every distinct kernel of one forward: the linear layers with a decode tile
// (M = 1) and a prefill tile (M = 2048), the norms and SwiGLU with the
// format's activation quantisation, RoPE, KV store, attention, embedding,
// the residual add (for graphs whose residual no epilogue takes) and, for
// W8A8, the per-token quantisation of the attention output. fp8 on a target
// without fp8 tensor cores is an error unless `fp8WeightOnly`.
inline Expected<std::vector<KernelSpec>> llamaKernelSet(const ModelConfig &c, ModelFormat format,
                                                        const GpuTarget &target, int64_t maxSeq,
                                                        bool fp8WeightOnly = false) {
  if (c.hiddenSize <= 0 || c.numHeads <= 0 || c.numKvHeads <= 0 || c.headDim <= 0 || c.intermediateSize <= 0 ||
      c.vocabSize <= 0)
    return Status::error("model config: sizes must be positive");
  GemmFormat gf = GemmFormat::BF16;
  QuantOut q = QuantOut::None;
  switch (format) {
  case ModelFormat::BF16: break;
  case ModelFormat::INT8: gf = GemmFormat::INT8, q = QuantOut::Int8; break;
  case ModelFormat::W4A16: gf = GemmFormat::W4A16; break;
  case ModelFormat::FP8:
    if (target.hasFp8Mma) {
      gf = GemmFormat::FP8, q = QuantOut::Fp8;
    } else if (fp8WeightOnly) {
      gf = GemmFormat::FP8WeightOnly;
    } else {
      return Status::error(std::string("format fp8 needs fp8 tensor cores (sm_89 or newer); target ") + target.name +
                           " runs it only with the weight-only fallback");
    }
    break;
  }
  const int64_t H = c.hiddenSize, D = c.headDim, HQ = c.numHeads, HKV = c.numKvHeads, I = c.intermediateSize;
  const int64_t qkvStride = (HQ + 2 * HKV) * D;
  std::vector<KernelSpec> out;
  std::set<std::string> seen;
  auto add = [&](const KernelSpec &s) {
    if (seen.insert(kernelName(s)).second) out.push_back(s);
  };
  struct Linear {
    int64_t n, k;
    bool residual;
    GemmFormat f;
  };
  const Linear linears[] = {
      {qkvStride, H, false, gf},                 // q | k | v
      {H, HQ * D, true, gf},                     // o_proj + residual
      {2 * I, H, false, gf},                     // gate | up
      {H, I, true, gf},                          // down_proj + residual
      {c.vocabSize, H, false, GemmFormat::BF16}, // lm_head
  };
  for (const Linear &l : linears)
    for (int64_t m : {int64_t(1), int64_t(2048)}) {
      KernelSpec s;
      s.kind = KernelKind::Gemm;
      s.format = l.f;
      s.n = l.n;
      s.k = l.k;
      s.residual = l.residual;
      s.group = 128;
      s.tile = chooseGemmTile(target, l.f, m, l.n, l.k);
      add(s);
    }
  KernelSpec norm;
  norm.kind = KernelKind::RmsNorm;
  norm.width = H;
  norm.threads = rowBlockFor(H);
  norm.quant = q;
  add(norm); // input / post-attention norms feeding the layer's GEMMs
  norm.quant = QuantOut::None;
  add(norm); // the final norm before the bf16 lm_head
  KernelSpec sw;
  sw.kind = KernelKind::SwiGlu;
  sw.width = I;
  sw.ld = 2 * I;
  sw.ld2 = 2 * I;
  sw.threads = 256;
  sw.quant = q;
  add(sw);
  KernelSpec rope;
  rope.kind = KernelKind::Rope;
  rope.heads = HQ;
  rope.kvHeads = HKV;
  rope.headDim = D;
  rope.invFreq = llamaInvFreq(c);
  rope.ld = qkvStride;
  rope.ld2 = qkvStride;
  add(rope);
  KernelSpec kv;
  kv.kind = KernelKind::KvStore;
  kv.kvHeads = HKV;
  kv.headDim = D;
  kv.maxSeq = maxSeq;
  kv.ld = qkvStride;
  kv.ld2 = qkvStride;
  add(kv);
  KernelSpec at;
  at.kind = KernelKind::Attention;
  at.heads = HQ;
  at.kvHeads = HKV;
  at.headDim = D;
  at.maxSeq = maxSeq;
  at.ld = qkvStride;
  add(at);
  if (q != QuantOut::None) {
    KernelSpec qa;
    qa.kind = KernelKind::Quantize;
    qa.width = HQ * D;
    qa.threads = rowBlockFor(HQ * D);
    qa.quant = q;
    add(qa);
  }
  KernelSpec em;
  em.kind = KernelKind::Embed;
  em.vocab = c.vocabSize;
  em.width = H;
  add(em);
  KernelSpec ad;
  ad.kind = KernelKind::Add;
  ad.width = H;
  add(ad);
  return out;
}

} // namespace qcc::cuda::testing
