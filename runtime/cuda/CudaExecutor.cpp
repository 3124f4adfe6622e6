#include "runtime/cuda/CudaExecutor.h"

#include "codegen/cuda/Packing.h"
#include "runtime/formats/Formats.h"

#include <algorithm>
#include <cstring>

namespace qcc::cuda {

using artifact::ArtifactFile;
using artifact::LoadedTensor;
using artifact::WeightFormat;
namespace fm = qcc::formats;

struct CudaExecutor::Gemm {
  GemmKernels kernels;
  CUfunction decode = nullptr, prefill = nullptr;
  DeviceBuffer weights; // bf16 / codes [N][K], or w4a16 in the kernel layout
  DeviceBuffer scales;  // f32 per channel [N], w4a16 [K/g][ceil(N/8)*8]; empty for bf16
};

struct CudaExecutor::Layer {
  DeviceBuffer inputNorm, postNorm; // bf16 [H]
  Gemm qkv, o, gateUp, down;
  DeviceBuffer kcache, vcache; // bf16 [HKV][S][D]
};

namespace {

// A dense tensor's values as bf16 bits (f32 / f16 / bf16 data).
Expected<std::vector<uint16_t>> denseBf16(const LoadedTensor &t) {
  const size_t n = t.dataRange.size / dtypeSize(t.dataType);
  std::vector<uint16_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    switch (t.dataType) {
    case DType::BF16: std::memcpy(&out[i], t.data + 2 * i, 2); break;
    case DType::F16: {
      uint16_t b;
      std::memcpy(&b, t.data + 2 * i, 2);
      out[i] = fm::floatToBf16(fm::f16ToFloat(b));
      break;
    }
    case DType::F32: {
      float f;
      std::memcpy(&f, t.data + 4 * i, 4);
      out[i] = fm::floatToBf16(f);
      break;
    }
    default: return Status::error("tensor '" + t.decl.name + "': dtype " + dtypeName(t.dataType) + " is not supported");
    }
  }
  return out;
}

template <typename T> Expected<DeviceBuffer> toDevice(CudaDevice &dev, const std::vector<T> &v) {
  auto b = dev.alloc(std::max<size_t>(1, v.size() * sizeof(T)));
  if (!b) return b.status();
  if (!v.empty()) QCC_RETURN_IF_ERROR(dev.upload(*b, v.data(), v.size() * sizeof(T)));
  return std::move(*b);
}

} // namespace

const artifact::TargetDecl *chooseKernelTarget(const std::vector<artifact::TargetDecl> &targets, int ccMajor,
                                               int ccMinor) {
  const std::string arch = archNameFor(ccMajor, ccMinor);
  const int dev = ccMajor * 10 + ccMinor;
  auto rank = [&](const artifact::TargetDecl &t) {
    if (t.target == arch) return 1000;
    const int n = targetNumber(t.target);
    return n / 10 == dev / 10 ? 500 + n : n; // a cubin of the same major beats PTX JIT
  };
  const artifact::TargetDecl *best = nullptr;
  for (const artifact::TargetDecl &t : targets) {
    if (t.kernels.empty()) continue;
    bool specific;
    const int n = targetNumber(t.target, &specific);
    if (t.target != arch && (specific || n > dev)) continue;
    if (!best || rank(t) > rank(*best)) best = &t;
  }
  return best;
}

// The rows of `parts` stacked into one weight [sum N][K] in `format`'s kernel layout.
static Status uploadGemmWeights(CudaDevice &dev, const std::vector<const LoadedTensor *> &parts, GemmFormat format,
                                CudaExecutor::Gemm &g) {
  const int64_t K = parts[0]->decl.shape[1];
  if (format == GemmFormat::BF16) {
    std::vector<uint16_t> w;
    for (const LoadedTensor *t : parts) {
      auto v = denseBf16(*t);
      if (!v) return v.status();
      w.insert(w.end(), v->begin(), v->end());
    }
    auto b = toDevice(dev, w);
    if (!b) return b.status();
    g.weights = std::move(*b);
    return Status::ok();
  }
  // fp8 / int8 / w4a16: codes rows and scale rows concatenate.
  fm::QuantizedLinear q;
  q.format = format == GemmFormat::INT8    ? fm::Format::INT8
             : format == GemmFormat::W4A16 ? fm::Format::W4A16
                                           : fm::Format::FP8;
  q.inFeatures = K;
  q.groupSize = format == GemmFormat::W4A16 ? parts[0]->decl.groupSize : 0;
  for (const LoadedTensor *t : parts) {
    q.outFeatures += t->decl.shape[0];
    q.weights.insert(q.weights.end(), t->data, t->data + t->dataRange.size);
    const size_t ns = t->scaleRange.size / 4;
    const size_t at = q.scales.size();
    q.scales.resize(at + ns);
    if (ns) std::memcpy(q.scales.data() + at, t->scales, ns * 4);
  }
  if (Status s = fm::validate(q); !s) return s.withContext("tensor '" + parts[0]->decl.name + "'");
  if (format == GemmFormat::W4A16) {
    auto p = packW4A16ForKernel(q);
    if (!p) return p.status().withContext("tensor '" + parts[0]->decl.name + "'");
    q.weights = std::move(p->weights);
    q.scales = std::move(p->scales);
  }
  auto w = toDevice(dev, q.weights);
  if (!w) return w.status();
  auto s = toDevice(dev, q.scales);
  if (!s) return s.status();
  g.weights = std::move(*w);
  g.scales = std::move(*s);
  return Status::ok();
}

Expected<std::unique_ptr<CudaExecutor>> CudaExecutor::create(const ArtifactFile &file, CudaDevice &device,
                                                             const CudaExecutorOptions &options) {
  const artifact::ArtifactSpec &spec = file.spec();
  std::unique_ptr<CudaExecutor> ex(new CudaExecutor());
  ex->dev_ = &device;
  ex->config_ = spec.config;
  const ModelConfig &c = ex->config_;

  // Which of the artifact's targets to run: the device's exact one, else a
  // cubin of the same major and lower minor, else PTX of an older target (JIT).
  const std::string arch = device.archName();
  const std::vector<artifact::TargetDecl> &targets = options.kernels ? *options.kernels : spec.targets;
  const artifact::TargetDecl *chosen = chooseKernelTarget(targets, device.ccMajor(), device.ccMinor());
  if (!chosen) {
    std::string offered;
    for (const artifact::TargetDecl &t : targets)
      if (!t.kernels.empty()) offered += (offered.empty() ? "" : ", ") + t.target;
    return Status::error(file.name() + ": no kernels run on this " + device.name() + " (" + arch +
                         "); the artifact has kernels for: " + (offered.empty() ? "no target" : offered) +
                         "; recompile with --target for this GPU");
  }
  // The same kernels the compiler planned (with the tile table stored for the target).
  auto plan = planArtifactTarget(spec, *chosen, options.tiles);
  if (!plan) return plan.status().withContext(file.name());
  ex->plan_ = std::move(*plan);
  ex->kernelTarget_ = chosen->target;

  std::map<std::string, const artifact::KernelDecl *> byName;
  for (const artifact::KernelDecl &k : chosen->kernels) byName[k.name] = &k;
  for (const KernelSpec &s : ex->plan_.unique()) {
    const std::string name = kernelName(s);
    auto it = byName.find(name); // present: planArtifactTarget checked
    KernelImage image{name, chosen->target, it->second->ptx, it->second->cubin};
    auto m = device.loadBest({image});
    if (!m) return m.status().withContext(file.name());
    ex->modules_.push_back(std::move(*m));
    auto f = device.function(ex->modules_.back(), name);
    if (!f) return f.status().withContext(file.name());
    ex->functions_[name] = *f;
  }

  ex->maxSeq_ = ex->plan_.maxSeq;
  ex->poison_ = options.poisonActivations;
  ex->graphs_ = options.cudaGraphs && device.supportsGraphs();
  if (options.maxSeqLen > 0) {
    if (options.maxSeqLen > ex->plan_.maxSeq)
      return Status::error(file.name() + ": max sequence length " + std::to_string(options.maxSeqLen) +
                           " exceeds the " + std::to_string(ex->plan_.maxSeq) + " the artifact's kernels support");
    ex->maxSeq_ = options.maxSeqLen;
  }

  // Weights.
  auto tensor = [&](const std::string &name) -> Expected<const LoadedTensor *> {
    const LoadedTensor *t = file.find(name);
    if (!t) return Status::error(file.name() + ": no tensor '" + name + "'");
    return t;
  };
  auto dense = [&](const std::string &name, DeviceBuffer &dst) -> Status {
    auto t = tensor(name);
    if (!t) return t.status();
    auto v = denseBf16(**t);
    if (!v) return v.status().withContext(file.name());
    auto b = toDevice(device, *v);
    if (!b) return b.status();
    dst = std::move(*b);
    return Status::ok();
  };
  auto linear = [&](const std::vector<std::string> &names, const GemmKernels &k, Gemm &g) -> Status {
    std::vector<const LoadedTensor *> parts;
    for (const std::string &n : names) {
      auto t = tensor(n);
      if (!t) return t.status();
      parts.push_back(*t);
    }
    g.kernels = k;
    g.decode = ex->functions_.at(kernelName(k.decode));
    g.prefill = ex->functions_.at(kernelName(k.prefill));
    return uploadGemmWeights(device, parts, k.decode.format, g).withContext(file.name());
  };
  QCC_RETURN_IF_ERROR(dense("model.embed_tokens.weight", ex->embed_));
  QCC_RETURN_IF_ERROR(dense("model.norm.weight", ex->finalNorm_));
  const int64_t S = ex->plan_.maxSeq, kvBytes = c.numKvHeads * S * c.headDim * 2;
  for (int64_t l = 0; l < c.numLayers; ++l) {
    auto L = std::make_unique<Layer>();
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const auto lin = artifact::llamaLinearNames(l);
    const LayerKernels &k = ex->plan_.layers[size_t(l)];
    QCC_RETURN_IF_ERROR(dense(p + "input_layernorm.weight", L->inputNorm));
    QCC_RETURN_IF_ERROR(dense(p + "post_attention_layernorm.weight", L->postNorm));
    QCC_RETURN_IF_ERROR(linear({lin[0], lin[1], lin[2]}, k.qkv, L->qkv));
    QCC_RETURN_IF_ERROR(linear({lin[3]}, k.o, L->o));
    QCC_RETURN_IF_ERROR(linear({lin[4], lin[5]}, k.gateUp, L->gateUp));
    QCC_RETURN_IF_ERROR(linear({lin[6]}, k.down, L->down));
    auto kc = device.alloc(size_t(kvBytes));
    if (!kc) return kc.status();
    auto vc = device.alloc(size_t(kvBytes));
    if (!vc) return vc.status();
    L->kcache = std::move(*kc);
    L->vcache = std::move(*vc);
    if (ex->poison_) { // attention must never read a position not yet stored
      QCC_RETURN_IF_ERROR(device.fill(L->kcache, 0xff));
      QCC_RETURN_IF_ERROR(device.fill(L->vcache, 0xff));
    }
    ex->layers_.push_back(std::move(L));
  }
  ex->lmHead_ = std::make_unique<Gemm>();
  const std::string head = file.find("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
  QCC_RETURN_IF_ERROR(linear({head}, ex->plan_.lmHead, *ex->lmHead_));
  QCC_RETURN_IF_ERROR(ex->ensureRows(16));
  return ex;
}

CudaExecutor::~CudaExecutor() = default;

Status CudaExecutor::ensureRows(int64_t rows) {
  if (rows <= rows_) return Status::ok();
  const ModelConfig &c = config_;
  const int64_t H = c.hiddenSize, D = c.headDim, HQ = c.numHeads, HKV = c.numKvHeads, I = c.intermediateSize;
  auto alloc = [&](DeviceBuffer &b, int64_t bytes) -> Status {
    auto r = dev_->alloc(size_t(std::max<int64_t>(bytes, 16)));
    if (!r) return r.status();
    b = std::move(*r);
    return Status::ok();
  };
  const int64_t T = rows;
  decodeGraph_ = KernelGraph(); // it holds the old buffers' addresses
  QCC_RETURN_IF_ERROR(alloc(ids_, T * 4));               // int32 [T]
  QCC_RETURN_IF_ERROR(alloc(pos_, T * 4));               // int32 [T]
  QCC_RETURN_IF_ERROR(alloc(x_, T * H * 2));             // bf16 [T][H]
  QCC_RETURN_IF_ERROR(alloc(x2_, T * H * 2));            // bf16 [T][H]
  QCC_RETURN_IF_ERROR(alloc(h_, T * H * 2));             // bf16 or codes [T][H]
  QCC_RETURN_IF_ERROR(alloc(hScale_, T * 4));            // f32 [T]
  QCC_RETURN_IF_ERROR(alloc(qkv_, T * (HQ + 2 * HKV) * D * 2)); // bf16 [T][(HQ+2HKV)D]
  QCC_RETURN_IF_ERROR(alloc(attn_, T * HQ * D * 2));     // bf16 [T][HQ*D]
  QCC_RETURN_IF_ERROR(alloc(attnQ_, T * HQ * D));        // codes [T][HQ*D]
  QCC_RETURN_IF_ERROR(alloc(attnScale_, T * 4));         // f32 [T]
  QCC_RETURN_IF_ERROR(alloc(gu_, T * 2 * I * 2));        // bf16 [T][2I] = [gate | up]
  QCC_RETURN_IF_ERROR(alloc(act_, T * I * 2));           // bf16 or codes [T][I]
  QCC_RETURN_IF_ERROR(alloc(actScale_, T * 4));          // f32 [T]
  QCC_RETURN_IF_ERROR(alloc(logits_, T * c.vocabSize * 2)); // bf16 [T][V]
  rows_ = rows;
  return Status::ok();
}

Status CudaExecutor::launch(const KernelSpec &spec, int64_t rows, std::vector<void *> args) {
  return submit(functions_.at(kernelName(spec)), launchDims(spec, rows), args.data());
}

// Launches now, or appends the launch to the graph being built.
Status CudaExecutor::submit(CUfunction f, const LaunchDims &d, void **args) {
  if (building_) return dev_->addToGraph(*building_, f, d.grid, d.block, 0, args);
  return dev_->launch(f, d.grid, d.block, 0, args);
}

Status CudaExecutor::runGemm(const Gemm &g, CUdeviceptr a, CUdeviceptr tokScale, CUdeviceptr residual,
                             CUdeviceptr out, int64_t rows) {
  const KernelSpec &spec = g.kernels.forRows(rows);
  CUfunction f = rows <= kDecodeRows ? g.decode : g.prefill;
  CUdeviceptr w = g.weights.ptr(), ch = g.scales.ptr();
  // Only int8 / fp8 read per-token activation scales.
  if (spec.format != GemmFormat::INT8 && spec.format != GemmFormat::FP8) tokScale = 0;
  int m = int(rows);
  void *args[] = {&a, &w, &tokScale, &ch, &residual, &out, &m};
  return submit(f, launchDims(spec, rows), args);
}

// One forward over `tokens` at positions position_.. (all rows at once).
Status CudaExecutor::forward(const std::vector<int64_t> &tokens, std::vector<float> *logits) {
  const ModelConfig &c = config_;
  const int64_t T = int64_t(tokens.size());
  if (T == 0) return Status::error("no tokens");
  if (position_ + T > maxSeq_)
    return Status::error("sequence of " + std::to_string(position_ + T) + " positions exceeds the maximum " +
                         std::to_string(maxSeq_));
  QCC_RETURN_IF_ERROR(ensureRows(T));
  if (poison_)
    for (DeviceBuffer *b : {&x_, &x2_, &h_, &hScale_, &qkv_, &attn_, &attnQ_, &attnScale_, &gu_, &act_, &actScale_,
                            &logits_})
      QCC_RETURN_IF_ERROR(dev_->fill(*b, 0xff));
  std::vector<int32_t> hostIds(static_cast<size_t>(T)), hostPos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    if (tokens[size_t(t)] < 0 || tokens[size_t(t)] >= c.vocabSize)
      return Status::error("token " + std::to_string(tokens[size_t(t)]) + " is outside the vocabulary [0, " +
                           std::to_string(c.vocabSize) + ")");
    hostIds[size_t(t)] = int32_t(tokens[size_t(t)]);
    hostPos[size_t(t)] = int32_t(position_ + t);
  }
  QCC_RETURN_IF_ERROR(dev_->upload(ids_, hostIds.data(), size_t(T) * 4));
  QCC_RETURN_IF_ERROR(dev_->upload(pos_, hostPos.data(), size_t(T) * 4));

  if (T == 1 && graphs_) {
    // Decode: every argument is a buffer address or a constant for T = 1 (the
    // token and its position are read from ids_ / pos_), so one graph serves
    // every step until the buffers are reallocated.
    if (!decodeGraph_.instantiated()) {
      auto g = dev_->createGraph();
      if (!g) return g.status();
      building_ = &*g;
      Status s = enqueueKernels(1);
      building_ = nullptr;
      QCC_RETURN_IF_ERROR(s);
      QCC_RETURN_IF_ERROR(dev_->instantiate(*g));
      decodeGraph_ = std::move(*g);
      ++graphBuilds_;
    }
    QCC_RETURN_IF_ERROR(dev_->launchGraph(decodeGraph_));
  } else {
    QCC_RETURN_IF_ERROR(enqueueKernels(T));
  }
  QCC_RETURN_IF_ERROR(dev_->synchronize());

  const int64_t V = c.vocabSize;
  std::vector<uint16_t> bits(size_t(T * V));
  QCC_RETURN_IF_ERROR(dev_->download(bits.data(), logits_, bits.size() * 2));
  logits->resize(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) (*logits)[i] = fm::bf16ToFloat(bits[i]);
  position_ += T;
  return Status::ok();
}

// The forward's launches for T tokens over the current buffers: embedding, the
// layers, the final norm and lm_head (see LayerKernels for the data flow).
Status CudaExecutor::enqueueKernels(int64_t T) {
  const ModelConfig &c = config_;
  const int64_t D = c.headDim, HQ = c.numHeads, HKV = c.numKvHeads, I = c.intermediateSize;
  float eps = float(c.rmsNormEps);
  CUdeviceptr ids = ids_.ptr(), posp = pos_.ptr(), embed = embed_.ptr();
  CUdeviceptr x = x_.ptr(), x2 = x2_.ptr(), h = h_.ptr(), hs = hScale_.ptr();
  CUdeviceptr qkv = qkv_.ptr(), attn = attn_.ptr(), attnQ = attnQ_.ptr(), attnS = attnScale_.ptr();
  CUdeviceptr gu = gu_.ptr(), act = act_.ptr(), actS = actScale_.ptr();
  // Slices of the fused rows: k and v after q; up after gate.
  CUdeviceptr kp = qkv + CUdeviceptr(HQ * D * 2), vp = qkv + CUdeviceptr((HQ + HKV) * D * 2);
  CUdeviceptr up = gu + CUdeviceptr(I * 2);

  QCC_RETURN_IF_ERROR(launch(plan_.embed, T, {&ids, &embed, &x}));
  for (size_t l = 0; l < layers_.size(); ++l) {
    const LayerKernels &k = plan_.layers[l];
    Layer &L = *layers_[l];
    CUdeviceptr n1 = L.inputNorm.ptr(), n2 = L.postNorm.ptr(), kc = L.kcache.ptr(), vc = L.vcache.ptr();
    QCC_RETURN_IF_ERROR(launch(k.inputNorm, T, {&x, &n1, &eps, &h, &hs}));
    QCC_RETURN_IF_ERROR(runGemm(L.qkv, h, hs, 0, qkv, T));
    QCC_RETURN_IF_ERROR(launch(k.rope, T, {&qkv, &kp, &posp}));
    QCC_RETURN_IF_ERROR(launch(k.kvStore, T, {&kp, &vp, &posp, &kc, &vc}));
    QCC_RETURN_IF_ERROR(launch(k.attention, T, {&qkv, &kc, &vc, &posp, &attn}));
    if (k.quantizeAttn) {
      QCC_RETURN_IF_ERROR(launch(k.attnQuantize, T, {&attn, &attnQ, &attnS}));
      QCC_RETURN_IF_ERROR(runGemm(L.o, attnQ, attnS, x, x2, T));
    } else {
      QCC_RETURN_IF_ERROR(runGemm(L.o, attn, 0, x, x2, T));
    }
    std::swap(x, x2); // x = x + o(attn)
    QCC_RETURN_IF_ERROR(launch(k.postNorm, T, {&x, &n2, &eps, &h, &hs}));
    QCC_RETURN_IF_ERROR(runGemm(L.gateUp, h, hs, 0, gu, T));
    QCC_RETURN_IF_ERROR(launch(k.swiglu, T, {&gu, &up, &act, &actS}));
    QCC_RETURN_IF_ERROR(runGemm(L.down, act, actS, x, x2, T));
    std::swap(x, x2); // x = x + down(act)
  }
  CUdeviceptr fn = finalNorm_.ptr(), lg = logits_.ptr();
  QCC_RETURN_IF_ERROR(launch(plan_.finalNorm, T, {&x, &fn, &eps, &h, &hs}));
  return runGemm(*lmHead_, h, hs, 0, lg, T);
}

Expected<std::vector<float>> CudaExecutor::prefill(const std::vector<int64_t> &tokens) {
  std::vector<float> logits;
  QCC_RETURN_IF_ERROR(forward(tokens, &logits));
  return logits;
}

Expected<std::vector<float>> CudaExecutor::decode(int64_t token) {
  std::vector<float> logits;
  QCC_RETURN_IF_ERROR(forward({token}, &logits));
  return logits;
}

} // namespace qcc::cuda
