#include "DecodeStep.h"

#include "LlamaKernelSet.h"

#include <cstdio>

namespace qcc::bench {

using cuda::GemmFormat;
using cuda::KernelKind;
using cuda::KernelSpec;
using cuda::QuantOut;

std::string DecodeShape::name() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "hidden %lld, intermediate %lld, %lld heads / %lld kv heads of %lld, vocabulary %lld, %lld layers, "
                "position %lld of a %lld KV cache",
                (long long)hidden, (long long)intermediate, (long long)heads, (long long)kvHeads, (long long)headDim,
                (long long)vocab, (long long)layers, (long long)position, (long long)maxSeq);
  return buf;
}

namespace {

// Device bytes of a GEMM's weights and scales (the layouts CudaExecutor uploads).
size_t weightBytes(GemmFormat f, int64_t n, int64_t k) {
  switch (f) {
  case GemmFormat::BF16: return size_t(n * k * 2);
  case GemmFormat::W4A16: return size_t((n + 7) / 8 * 8 * k / 2);
  default: return size_t(n * k);
  }
}
size_t scaleBytes(GemmFormat f, int64_t n, int64_t k) {
  switch (f) {
  case GemmFormat::BF16: return 0;
  case GemmFormat::W4A16: return size_t((n + 7) / 8 * 8 * (k / 128) * 4);
  default: return size_t(n * 4);
  }
}

} // namespace

DecodeResult timeDecodeStep(BenchDevice &b, const DecodeShape &s, const std::string &format) {
  GemmFormat gf = GemmFormat::BF16;
  QuantOut q = QuantOut::None;
  if (format == "int8") gf = GemmFormat::INT8, q = QuantOut::Int8;
  else if (format == "w4a16") gf = GemmFormat::W4A16;
  else if (format == "fp8") {
    gf = b.target.hasFp8Mma ? GemmFormat::FP8 : GemmFormat::FP8WeightOnly;
    q = b.target.hasFp8Mma ? QuantOut::Fp8 : QuantOut::None;
  } else if (format != "bf16") {
    die(b.tool, "unknown format " + format);
  }
  const int64_t H = s.hidden, I = s.intermediate, D = s.headDim, HQ = s.heads, HKV = s.kvHeads, V = s.vocab;
  const int64_t QKV = (HQ + 2 * HKV) * D;
  auto gemm = [&](GemmFormat f, int64_t n, int64_t k, bool residual) {
    KernelSpec g;
    g.kind = KernelKind::Gemm;
    g.format = f;
    g.n = n;
    g.k = k;
    g.group = 128;
    g.residual = residual;
    g.tile = cuda::chooseGemmTile(b.target, f, 1, n, k);
    return g;
  };
  const KernelSpec sQkv = gemm(gf, QKV, H, false), sO = gemm(gf, H, HQ * D, true), sGu = gemm(gf, 2 * I, H, false),
                   sDown = gemm(gf, H, I, true), sHead = gemm(GemmFormat::BF16, V, H, false);
  KernelSpec sNorm;
  sNorm.kind = KernelKind::RmsNorm;
  sNorm.width = H;
  sNorm.threads = cuda::testing::rowBlockFor(H);
  sNorm.quant = q;
  KernelSpec sFinal = sNorm;
  sFinal.quant = QuantOut::None;
  KernelSpec sSw;
  sSw.kind = KernelKind::SwiGlu;
  sSw.width = I;
  sSw.ld = sSw.ld2 = 2 * I;
  sSw.threads = 256;
  sSw.quant = q;
  KernelSpec sRope;
  sRope.kind = KernelKind::Rope;
  sRope.heads = HQ;
  sRope.kvHeads = HKV;
  sRope.headDim = D;
  RopeScaling scaling;
  scaling.enabled = true;
  sRope.invFreq = cuda::ropeInvFreq(D, 500000.0, scaling);
  sRope.ld = sRope.ld2 = QKV;
  KernelSpec sKv;
  sKv.kind = KernelKind::KvStore;
  sKv.kvHeads = HKV;
  sKv.headDim = D;
  sKv.maxSeq = s.maxSeq;
  sKv.ld = sKv.ld2 = QKV;
  KernelSpec sAt;
  sAt.kind = KernelKind::Attention;
  sAt.heads = HQ;
  sAt.kvHeads = HKV;
  sAt.headDim = D;
  sAt.maxSeq = s.maxSeq;
  sAt.ld = QKV;
  KernelSpec sQuant;
  sQuant.kind = KernelKind::Quantize;
  sQuant.width = HQ * D;
  sQuant.threads = cuda::testing::rowBlockFor(HQ * D);
  sQuant.quant = q;
  KernelSpec sEmbed;
  sEmbed.kind = KernelKind::Embed;
  sEmbed.vocab = V;
  sEmbed.width = H;

  std::vector<KernelSpec> all = {sQkv, sO, sGu, sDown, sHead, sNorm, sFinal, sSw, sRope, sKv, sAt, sEmbed};
  if (q != QuantOut::None) all.push_back(sQuant);
  b.prebuild(all);
  CUfunction fQkv = b.load(sQkv), fO = b.load(sO), fGu = b.load(sGu), fDown = b.load(sDown), fHead = b.load(sHead),
             fNorm = b.load(sNorm), fFinal = b.load(sFinal), fSw = b.load(sSw), fRope = b.load(sRope),
             fKv = b.load(sKv), fAt = b.load(sAt), fEmbed = b.load(sEmbed);
  CUfunction fQuant = q == QuantOut::None ? nullptr : b.load(sQuant);

  struct Layer {
    cuda::DeviceBuffer wqkv, wo, wgu, wdown, sqkv, so, sgu, sdown, n1, n2, kc, vc;
  };
  std::vector<Layer> layers(static_cast<size_t>(s.layers));
  DecodeResult r;
  for (Layer &l : layers) {
    l.wqkv = b.filled(weightBytes(gf, QKV, H), 0x11);
    l.wo = b.filled(weightBytes(gf, H, HQ * D), 0x11);
    l.wgu = b.filled(weightBytes(gf, 2 * I, H), 0x11);
    l.wdown = b.filled(weightBytes(gf, H, I), 0x11);
    l.sqkv = b.filled(scaleBytes(gf, QKV, H), 0x3c);
    l.so = b.filled(scaleBytes(gf, H, HQ * D), 0x3c);
    l.sgu = b.filled(scaleBytes(gf, 2 * I, H), 0x3c);
    l.sdown = b.filled(scaleBytes(gf, H, I), 0x3c);
    l.n1 = b.filled(size_t(H) * 2, 0x3f);
    l.n2 = b.filled(size_t(H) * 2, 0x3f);
    l.kc = b.filled(size_t(HKV * s.maxSeq * D) * 2, 0x11);
    l.vc = b.filled(size_t(HKV * s.maxSeq * D) * 2, 0x11);
    r.bytes += double(weightBytes(gf, QKV, H) + weightBytes(gf, H, HQ * D) + weightBytes(gf, 2 * I, H) +
                      weightBytes(gf, H, I) + scaleBytes(gf, QKV, H) + scaleBytes(gf, H, HQ * D) +
                      scaleBytes(gf, 2 * I, H) + scaleBytes(gf, H, I) + 2 * H * 2) +
               2.0 * double(HKV * (s.position + 1) * D) * 2; // K and V up to the position
  }
  cuda::DeviceBuffer table = b.filled(size_t(V * H) * 2, 0x11), head = b.filled(size_t(V * H) * 2, 0x11),
                     finalNorm = b.filled(size_t(H) * 2, 0x3f);
  r.bytes += double(H * 2) + double(V * H) * 2 + double(H * 2); // one embedding row, lm_head, final norm
  cuda::DeviceBuffer x = b.filled(size_t(H) * 2, 0x3c), normOut = b.filled(size_t(H) * 2, 0),
                     scale = b.filled(4, 0x3c), qkv = b.filled(size_t(QKV) * 2, 0),
                     att = b.filled(size_t(HQ * D) * 2, 0), attCodes = b.filled(size_t(HQ * D), 0),
                     attScale = b.filled(4, 0x3c), gu = b.filled(size_t(2 * I) * 2, 0),
                     swOut = b.filled(size_t(I) * 2, 0), swScale = b.filled(4, 0x3c),
                     logits = b.filled(size_t(V) * 2, 0), pos = b.filled(4, 0), ids = b.filled(4, 0);
  const int position = int(s.position), token = 7;
  checkOrDie(b.tool, b.dev->upload(pos, &position, 4));
  checkOrDie(b.tool, b.dev->upload(ids, &token, 4));

  // The step as one graph: every launch's argument values are copied into it.
  cuda::KernelGraph graph = orDie(b.tool, b.dev->createGraph());
  auto add = [&](CUfunction f, const KernelSpec &spec, std::vector<void *> args) {
    const cuda::LaunchDims d = cuda::launchDims(spec, 1);
    checkOrDie(b.tool, b.dev->addToGraph(graph, f, d.grid, d.block, 0, args.data()));
    ++r.launches;
  };
  float eps = 1e-5f;
  int one = 1;
  CUdeviceptr px = x.ptr(), pn = normOut.ptr(), ps = scale.ptr(), pqkv = qkv.ptr(), patt = att.ptr(),
              pac = attCodes.ptr(), pas = attScale.ptr(), pgu = gu.ptr(), psw = swOut.ptr(), pss = swScale.ptr(),
              plog = logits.ptr(), ppos = pos.ptr(), pids = ids.ptr(), zero = 0;
  CUdeviceptr pk = pqkv + size_t(HQ * D) * 2, pv = pqkv + size_t((HQ + HKV) * D) * 2, pup = pgu + size_t(I) * 2;
  CUdeviceptr ptable = table.ptr(), phead = head.ptr(), pfinal = finalNorm.ptr();
  const bool codes = q != QuantOut::None;
  // Token scales feed the W8A8 GEMMs; the others take none.
  CUdeviceptr tokNorm = codes ? ps : zero, tokAtt = codes ? pas : zero, tokSw = codes ? pss : zero;
  add(fEmbed, sEmbed, {&pids, &ptable, &px});
  for (Layer &l : layers) {
    CUdeviceptr n1 = l.n1.ptr(), n2 = l.n2.ptr(), kc = l.kc.ptr(), vc = l.vc.ptr(), wqkv = l.wqkv.ptr(),
                wo = l.wo.ptr(), wgu = l.wgu.ptr(), wdown = l.wdown.ptr();
    CUdeviceptr sqkv = gf == GemmFormat::BF16 ? zero : l.sqkv.ptr(), so = gf == GemmFormat::BF16 ? zero : l.so.ptr(),
                sgu = gf == GemmFormat::BF16 ? zero : l.sgu.ptr(),
                sdown = gf == GemmFormat::BF16 ? zero : l.sdown.ptr();
    add(fNorm, sNorm, {&px, &n1, &eps, &pn, &ps});
    add(fQkv, sQkv, {&pn, &wqkv, &tokNorm, &sqkv, &zero, &pqkv, &one});
    add(fRope, sRope, {&pqkv, &pk, &ppos});
    add(fKv, sKv, {&pk, &pv, &ppos, &kc, &vc});
    add(fAt, sAt, {&pqkv, &kc, &vc, &ppos, &patt});
    if (codes) {
      add(fQuant, sQuant, {&patt, &pac, &pas});
      add(fO, sO, {&pac, &wo, &tokAtt, &so, &px, &px, &one});
    } else {
      add(fO, sO, {&patt, &wo, &tokAtt, &so, &px, &px, &one});
    }
    add(fNorm, sNorm, {&px, &n2, &eps, &pn, &ps});
    add(fGu, sGu, {&pn, &wgu, &tokNorm, &sgu, &zero, &pgu, &one});
    add(fSw, sSw, {&pgu, &pup, &psw, &pss});
    add(fDown, sDown, {&psw, &wdown, &tokSw, &sdown, &px, &px, &one});
  }
  add(fFinal, sFinal, {&px, &pfinal, &eps, &pn, &ps});
  add(fHead, sHead, {&pn, &phead, &zero, &zero, &zero, &plog, &one});
  checkOrDie(b.tool, b.dev->instantiate(graph));
  r.ms = b.timeMs([&] { return b.dev->launchGraph(graph); });
  return r;
}

} // namespace qcc::bench
