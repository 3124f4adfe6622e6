#include "codegen/cuda/Kernels.h"
#include "codegen/cuda/KernelSources.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace qcc::cuda {

const char *kernelKindName(KernelKind k) {
  switch (k) {
  case KernelKind::Gemm: return "gemm";
  case KernelKind::RmsNorm: return "rmsnorm";
  case KernelKind::SwiGlu: return "swiglu";
  case KernelKind::Add: return "add";
  case KernelKind::Embed: return "embed";
  case KernelKind::Rope: return "rope";
  case KernelKind::KvStore: return "kv_store";
  case KernelKind::Attention: return "attention";
  case KernelKind::Quantize: return "quantize";
  }
  return "?";
}

static const char *quantName(QuantOut q) {
  return q == QuantOut::Int8 ? "int8" : q == QuantOut::Fp8 ? "fp8" : "bf16";
}

static std::string str(int64_t v) { return std::to_string(v); }

// Attention uses 4 warps per (query, head); the block size is fixed.
static constexpr int kAttentionWarps = 4;

std::string kernelName(const KernelSpec &s) {
  std::string n = std::string("qcc_") + kernelKindName(s.kind);
  switch (s.kind) {
  case KernelKind::Gemm:
    n += std::string("_") + gemmFormatName(s.format) + "_n" + str(s.n) + "_k" + str(s.k);
    if (s.format == GemmFormat::W4A16) n += "_g" + str(s.group);
    n += s.residual ? "_r1" : "_r0";
    if (s.tile.wgmma)
      n += "_wg";
    else
      n += "_m" + str(s.tile.mTiles) + "n" + str(s.tile.nTiles) + "w" + str(s.tile.warpsN) + "s" +
           str(s.tile.kSplit);
    break;
  case KernelKind::RmsNorm:
  case KernelKind::Quantize:
    n += "_h" + str(s.width) + "_" + quantName(s.quant) + "_t" + str(s.threads);
    break;
  case KernelKind::SwiGlu:
    n += "_i" + str(s.width) + "_ld" + str(s.ld);
    if (s.ld2 && s.ld2 != s.ld) n += "_ldu" + str(s.ld2);
    n += std::string("_") + quantName(s.quant) + "_t" + str(s.threads);
    break;
  case KernelKind::Add: n += "_w" + str(s.width) + "_t" + str(s.threads); break;
  case KernelKind::Embed: n += "_v" + str(s.vocab) + "_h" + str(s.width); break;
  case KernelKind::Rope: {
    // The frequency table is part of the source; its hash keeps names unique.
    uint64_t h = 1469598103934665603ull;
    for (float f : s.invFreq) {
      uint32_t b;
      std::memcpy(&b, &f, 4);
      for (int i = 0; i < 4; ++i) h = (h ^ ((b >> (8 * i)) & 0xff)) * 1099511628211ull;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%08llx", static_cast<unsigned long long>(h & 0xffffffffull));
    n += "_hq" + str(s.heads) + "_hkv" + str(s.kvHeads) + "_d" + str(s.headDim) + "_f" + hex;
    if (s.ld) n += "_ld" + str(s.ld);
    if (s.ld2 && s.ld2 != s.ld) n += "_ldk" + str(s.ld2);
    break;
  }
  case KernelKind::KvStore:
    n += "_hkv" + str(s.kvHeads) + "_d" + str(s.headDim) + "_s" + str(s.maxSeq);
    if (s.ld) n += "_ld" + str(s.ld);
    if (s.ld2 && s.ld2 != s.ld) n += "_ldv" + str(s.ld2);
    break;
  case KernelKind::Attention:
    n += "_hq" + str(s.heads) + "_hkv" + str(s.kvHeads) + "_d" + str(s.headDim) + "_s" + str(s.maxSeq);
    if (s.ld) n += "_ld" + str(s.ld);
    break;
  }
  return n;
}

// A template's text without its `#pragma once` (NVRTC sees one translation unit).
static std::string templateText(const char *name) {
  const char *t = kernelSource(name);
  std::string s = t ? t : "";
  size_t p = s.find("#pragma once");
  if (p != std::string::npos) s.erase(p, 12);
  return s;
}

static Status specError(const KernelSpec &s, const std::string &what) {
  return Status::error("kernel " + kernelName(s) + ": " + what);
}

static Status checkSpec(const KernelSpec &s, const GpuTarget &target) {
  auto positive = [](int64_t v) { return v > 0 && v < (int64_t(1) << 30); };
  switch (s.kind) {
  case KernelKind::Gemm: {
    if (!positive(s.n) || !positive(s.k)) return specError(s, "n and k must be positive");
    const int kc = gemmKChunk(s.format);
    if (s.k % kc != 0)
      return specError(s, "k = " + str(s.k) + " is not a multiple of " + str(kc) + " (" +
                              gemmFormatName(s.format) + " k chunk)");
    if (s.format == GemmFormat::W4A16 && (s.group <= 0 || s.group % 128 != 0 || s.k % s.group != 0))
      return specError(s, "w4a16 group size " + str(s.group) + " must be a multiple of 128 dividing k");
    if (s.format == GemmFormat::FP8 && !target.hasFp8Mma)
      return specError(s, std::string("fp8 tensor-core math needs sm_89 or newer, target is ") + target.name +
                              " (use the fp8 weight-only fallback)");
    const GemmTile &t = s.tile;
    if (t.wgmma) {
      if (!target.hasWgmma) return specError(s, std::string("wgmma needs sm_90a, target is ") + target.name);
      if (!wgmmaSupports(s.format, s.k))
        return specError(s, "the wgmma kernel takes bf16/int8/fp8 with k a multiple of 128 bytes, or w4a16");
      return Status::ok();
    }
    if (t.mTiles < 1 || t.mTiles > 4 || t.nTiles < 1 || t.nTiles > 8 || t.warpsN < 1 || t.kSplit < 1 ||
        t.threads() > 1024)
      return specError(s, "bad tile");
    if (gemmSharedBytes(t, s.format) > 48 * 1024) return specError(s, "k-split reduction exceeds 48 KiB");
    return Status::ok();
  }
  case KernelKind::RmsNorm:
  case KernelKind::SwiGlu:
  case KernelKind::Quantize:
    if (!positive(s.width)) return specError(s, "width must be positive");
    if (s.kind == KernelKind::Quantize && s.quant == QuantOut::None)
      return specError(s, "quantize needs an int8 or fp8 output");
    if (s.kind == KernelKind::Quantize && s.width % s.threads != 0)
      return specError(s, "width " + str(s.width) + " is not a multiple of the block size");
    if (s.threads < 32 || s.threads > 1024 || s.threads % 32 != 0) return specError(s, "bad block size");
    if (s.kind == KernelKind::RmsNorm && s.width % s.threads != 0)
      return specError(s, "hidden size " + str(s.width) + " is not a multiple of the block size");
    if (s.kind == KernelKind::SwiGlu && (s.ld < s.width || (s.ld2 && s.ld2 < s.width)))
      return specError(s, "row stride below width");
    if (s.kind == KernelKind::SwiGlu && s.width > 64 * int64_t(s.threads))
      return specError(s, "intermediate size too large for the block");
    return Status::ok();
  case KernelKind::Add:
    if (s.threads < 32 || s.threads > 1024) return specError(s, "bad block size");
    if (!positive(s.width)) return specError(s, "width must be positive");
    return Status::ok();
  case KernelKind::Embed:
    if (!positive(s.vocab) || !positive(s.width) || s.width % 8 != 0)
      return specError(s, "hidden size must be a positive multiple of 8");
    return Status::ok();
  case KernelKind::Rope:
  case KernelKind::KvStore:
  case KernelKind::Attention:
    if (!(positive(s.kvHeads) || (s.kind == KernelKind::Rope && s.kvHeads == 0)) || !positive(s.headDim) ||
        s.headDim % 2 != 0)
      return specError(s, "bad head configuration");
    if (s.kind == KernelKind::Attention && (!positive(s.heads) || s.heads % s.kvHeads != 0))
      return specError(s, "query heads must be a multiple of kv heads");
    if (s.kind == KernelKind::Rope && !positive(s.heads)) return specError(s, "rope needs query heads");
    if (s.kind == KernelKind::Rope && s.invFreq.size() != size_t(s.headDim / 2))
      return specError(s, "inverse frequency table must have head_dim/2 entries");
    if (s.kind == KernelKind::Attention && s.headDim % 32 != 0)
      return specError(s, "head_dim must be a multiple of 32");
    if (s.kind != KernelKind::Rope && !positive(s.maxSeq)) return specError(s, "max sequence must be positive");
    if (s.ld != 0 && (s.ld < (s.kind == KernelKind::KvStore ? s.kvHeads : s.heads) * s.headDim || s.ld >= (1 << 30)))
      return specError(s, "token stride " + str(s.ld) + " is smaller than a token's heads");
    if (s.ld2 != 0 && (s.ld2 < s.kvHeads * s.headDim || s.ld2 >= (1 << 30)))
      return specError(s, "token stride " + str(s.ld2) + " is smaller than a token's heads");
    return Status::ok();
  }
  return specError(s, "unknown kind");
}

static std::string hexFloat(float f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%af", static_cast<double>(f));
  return buf;
}

Expected<GeneratedKernel> generateKernel(const KernelSpec &s, const GpuTarget &target) {
  QCC_RETURN_IF_ERROR(checkSpec(s, target));
  GeneratedKernel g;
  g.name = kernelName(s);
  std::string src = "// qcc kernel " + g.name + " for " + target.name + "\n";
  src += templateText("common.cuh");
  std::string entry;
  const std::string name = g.name;
  switch (s.kind) {
  case KernelKind::Gemm: {
    src += templateText("gemm.cuh");
    g.threads = unsigned(s.tile.threads());
    const GemmTile &t = s.tile;
    entry = "extern \"C\" __global__ void __launch_bounds__(" + str(g.threads) + ") " + name +
            "(const void *A, const void *W, const float *tokscale, const float *chscale,\n"
            "    const bf16 *residual, bf16 *out, int M) {\n";
    if (t.wgmma) {
      entry += "  qcc_gemm_wgmma<" + str(int(s.format)) + ", " + str(s.n) + ", " + str(s.k) + ", " +
               str(s.group) + ", " + (s.residual ? "true" : "false") + ">(A, W, tokscale, chscale, residual, out, M);\n}\n";
      break;
    }
    entry += "  qcc_gemm<" + str(int(s.format)) + ", " + str(s.n) + ", " + str(s.k) + ", " + str(s.group) + ", " +
            str(t.mTiles) + ", " + str(t.nTiles) + ", " + str(t.warpsN) + ", " + str(t.kSplit) + ", " +
            (s.residual ? "true" : "false") + ">(A, W, tokscale, chscale, residual, out, M);\n}\n";
    break;
  }
  case KernelKind::RmsNorm:
    src += templateText("norm.cuh");
    g.threads = unsigned(s.threads);
    entry = "extern \"C\" __global__ void __launch_bounds__(" + str(s.threads) + ") " + name +
            "(const bf16 *x, const bf16 *w, float eps, void *out, float *scale) {\n"
            "  qcc_rmsnorm<" + str(s.width) + ", " + str(s.threads) + ", " + str(int(s.quant)) +
            ">(x, w, eps, out, scale);\n}\n";
    break;
  case KernelKind::Quantize:
    src += templateText("norm.cuh");
    g.threads = unsigned(s.threads);
    entry = "extern \"C\" __global__ void __launch_bounds__(" + str(s.threads) + ") " + name +
            "(const bf16 *x, void *out, float *scale) {\n"
            "  qcc_quantize<" + str(s.width) + ", " + str(s.threads) + ", " + str(int(s.quant)) +
            ">(x, out, scale);\n}\n";
    break;
  case KernelKind::SwiGlu:
    src += templateText("elementwise.cuh");
    g.threads = unsigned(s.threads);
    entry = "extern \"C\" __global__ void __launch_bounds__(" + str(s.threads) + ") " + name +
            "(const bf16 *gate, const bf16 *up, void *out, float *scale) {\n"
            "  qcc_swiglu<" + str(s.width) + ", " + str(s.ld) + ", " + str(s.ld2 ? s.ld2 : s.ld) + ", " +
            str(s.threads) + ", " + str(int(s.quant)) + ">(gate, up, out, scale);\n}\n";
    break;
  case KernelKind::Add:
    src += templateText("elementwise.cuh");
    g.threads = unsigned(s.threads);
    entry = "extern \"C\" __global__ void __launch_bounds__(" + str(s.threads) + ") " + name +
            "(const bf16 *a, const bf16 *b, bf16 *out, int M) {\n  qcc_add<" + str(s.width) +
            ">(a, b, out, M);\n}\n";
    break;
  case KernelKind::Embed:
    src += templateText("elementwise.cuh");
    g.threads = 128;
    entry = "extern \"C\" __global__ void " + name + "(const int *ids, const bf16 *table, bf16 *out) {\n" +
            "  qcc_embed<" + str(s.vocab) + ", " + str(s.width) + ">(ids, table, out);\n}\n";
    break;
  case KernelKind::Rope: {
    src += templateText("elementwise.cuh");
    g.threads = unsigned(s.threads);
    std::string table = "__constant__ float qcc_inv_freq[" + str(s.headDim / 2) + "] = {";
    for (size_t i = 0; i < s.invFreq.size(); ++i) table += (i ? ", " : "") + hexFloat(s.invFreq[i]);
    table += "};\n";
    entry = table + "extern \"C\" __global__ void " + name + "(bf16 *q, bf16 *k, const int *pos) {\n" +
            "  qcc_rope<" + str(s.heads) + ", " + str(s.kvHeads) + ", " + str(s.headDim) + ", " +
            str(s.ld ? s.ld : s.heads * s.headDim) + ", " +
            str(s.ld2 ? s.ld2 : s.ld ? s.ld : std::max<int64_t>(1, s.kvHeads * s.headDim)) +
            ">(q, k, pos, qcc_inv_freq);\n}\n";
    break;
  }
  case KernelKind::KvStore:
    src += templateText("elementwise.cuh");
    g.threads = unsigned(s.threads);
    entry = "extern \"C\" __global__ void " + name +
            "(const bf16 *k, const bf16 *v, const int *pos, bf16 *kcache, bf16 *vcache) {\n" +
            "  qcc_kv_store<" + str(s.kvHeads) + ", " + str(s.headDim) + ", " + str(s.maxSeq) + ", " +
            str(s.ld ? s.ld : s.kvHeads * s.headDim) + ", " +
            str(s.ld2 ? s.ld2 : s.ld ? s.ld : s.kvHeads * s.headDim) + ">(k, v, pos, kcache, vcache);\n}\n";
    break;
  case KernelKind::Attention:
    src += templateText("attention.cuh");
    g.threads = 32 * kAttentionWarps;
    entry = "extern \"C\" __global__ void __launch_bounds__(" + str(g.threads) + ") " + name +
            "(const bf16 *q, const bf16 *kcache, const bf16 *vcache, const int *pos, bf16 *out) {\n" +
            "  qcc_attention<" + str(s.heads) + ", " + str(s.kvHeads) + ", " + str(s.headDim) + ", " +
            str(s.maxSeq) + ", " + str(kAttentionWarps) + ", " + str(s.ld ? s.ld : s.heads * s.headDim) +
            ">(q, kcache, vcache, pos, out);\n}\n";
    break;
  }
  g.source = src + "\n" + entry;
  return g;
}

std::array<GridFormula, 3> gridFormula(const KernelSpec &s) {
  std::array<GridFormula, 3> g;
  const GridFormula perRow{1, 1, 1};
  switch (s.kind) {
  case KernelKind::Gemm:
    g[0].constant = (s.n + s.tile.blockN() - 1) / s.tile.blockN();
    g[1] = {1, 1, s.tile.blockM()};
    break;
  case KernelKind::Add: g[0] = {1, s.width, s.threads}; break;
  case KernelKind::Attention: g[0] = {1, s.heads, 1}; break;
  default: g[0] = perRow; break; // one block per token row
  }
  return g;
}

unsigned blockSize(const KernelSpec &s) {
  switch (s.kind) {
  case KernelKind::Gemm: return unsigned(s.tile.threads());
  case KernelKind::Embed: return 128;
  case KernelKind::Attention: return 32 * kAttentionWarps;
  default: return unsigned(s.threads);
  }
}

LaunchDims launchDims(const KernelSpec &s, int64_t rows) {
  LaunchDims d;
  const std::array<GridFormula, 3> g = gridFormula(s);
  for (int i = 0; i < 3; ++i) d.grid[i] = unsigned(std::max<int64_t>(1, g[size_t(i)].at(rows)));
  d.block = blockSize(s);
  return d;
}

std::vector<float> llamaInvFreq(const ModelConfig &c) { return ropeInvFreq(c.headDim, c.ropeTheta, c.ropeScaling); }

std::vector<float> ropeInvFreq(int64_t headDim, double theta, const RopeScaling &r) {
  const int64_t half = headDim / 2;
  std::vector<float> out(size_t(std::max<int64_t>(half, 0)));
  const double pi = 3.14159265358979323846;
  for (int64_t i = 0; i < half; ++i) {
    double f = 1.0 / std::pow(theta, double(2 * i) / double(headDim));
    if (r.enabled) {
      // Llama-3.1: long wavelengths slowed by `factor`, short ones kept,
      // a smooth interpolation in between.
      const double lowWavelen = double(r.originalMaxPositionEmbeddings) / r.lowFreqFactor;
      const double highWavelen = double(r.originalMaxPositionEmbeddings) / r.highFreqFactor;
      const double wavelen = 2.0 * pi / f;
      if (wavelen > lowWavelen) {
        f = f / r.factor;
      } else if (wavelen >= highWavelen) {
        const double smooth = (double(r.originalMaxPositionEmbeddings) / wavelen - r.lowFreqFactor) /
                              (r.highFreqFactor - r.lowFreqFactor);
        f = (1.0 - smooth) * f / r.factor + smooth * f;
      }
    }
    out[size_t(i)] = float(f);
  }
  return out;
}

} // namespace qcc::cuda
