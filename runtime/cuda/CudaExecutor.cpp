#include "runtime/cuda/CudaExecutor.h"

#include "runtime/cuda/Packing.h"
#include "runtime/formats/Formats.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace qcc::cuda {

using artifact::ArgKind;
using artifact::ArtifactFile;
using artifact::DeviceWeightLayout;
using artifact::LoadedTensor;
using artifact::WeightFormat;
namespace fm = qcc::formats;

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

// The quantized tensors stacked along N (codes rows, then scale rows).
Expected<fm::QuantizedLinear> stacked(const ArtifactFile &file, const std::vector<uint32_t> &tensors) {
  fm::QuantizedLinear q;
  const LoadedTensor &first = file.tensors()[tensors.front()];
  q.format = first.decl.format == WeightFormat::INT8    ? fm::Format::INT8
             : first.decl.format == WeightFormat::W4A16 ? fm::Format::W4A16
                                                        : fm::Format::FP8;
  q.inFeatures = first.decl.shape[1];
  q.groupSize = q.format == fm::Format::W4A16 ? first.decl.groupSize : 0;
  for (uint32_t i : tensors) {
    const LoadedTensor &t = file.tensors()[i];
    q.outFeatures += t.decl.shape[0];
    q.weights.insert(q.weights.end(), t.data, t.data + t.dataRange.size);
    const size_t ns = t.scaleRange.size / 4;
    const size_t at = q.scales.size();
    q.scales.resize(at + ns);
    if (ns) std::memcpy(q.scales.data() + at, t.scales, ns * 4); // little-endian host
  }
  if (Status s = fm::validate(q); !s) return s.withContext("tensor '" + first.decl.name + "'");
  return q;
}

// One device weight in its layout.
Expected<DeviceBuffer> uploadWeight(CudaDevice &dev, const ArtifactFile &file, const artifact::DeviceWeightDecl &w) {
  switch (w.layout) {
  case DeviceWeightLayout::Bf16: {
    std::vector<uint16_t> all;
    for (uint32_t i : w.tensors) {
      auto v = denseBf16(file.tensors()[i]);
      if (!v) return v.status();
      all.insert(all.end(), v->begin(), v->end());
    }
    return toDevice(dev, all);
  }
  case DeviceWeightLayout::Codes:
  case DeviceWeightLayout::Scales: {
    auto q = stacked(file, w.tensors);
    if (!q) return q.status();
    return w.layout == DeviceWeightLayout::Codes ? toDevice(dev, q->weights) : toDevice(dev, q->scales);
  }
  case DeviceWeightLayout::W4A16Codes:
  case DeviceWeightLayout::W4A16Scales: {
    auto q = stacked(file, w.tensors);
    if (!q) return q.status();
    auto p = packW4A16ForKernel(*q);
    if (!p) return p.status().withContext("tensor '" + file.tensors()[w.tensors.front()].decl.name + "'");
    return w.layout == DeviceWeightLayout::W4A16Codes ? toDevice(dev, p->weights) : toDevice(dev, p->scales);
  }
  }
  return Status::error("unknown device weight layout");
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

Expected<std::unique_ptr<CudaExecutor>> CudaExecutor::create(const ArtifactFile &file, CudaDevice &device,
                                                             const CudaExecutorOptions &options) {
  const artifact::ArtifactSpec &spec = file.spec();
  std::unique_ptr<CudaExecutor> ex(new CudaExecutor());
  ex->dev_ = &device;
  ex->vocab_ = spec.program.values[spec.program.logits].cols;

  const std::vector<artifact::TargetDecl> &targets = options.targets ? *options.targets : spec.targets;
  const artifact::TargetDecl *chosen = chooseKernelTarget(targets, device.ccMajor(), device.ccMinor());
  if (!chosen) {
    std::string offered;
    for (const artifact::TargetDecl &t : targets)
      if (!t.kernels.empty()) offered += (offered.empty() ? "" : ", ") + t.target;
    return Status::error(file.name() + ": no kernels run on this " + device.name() + " (" + device.archName() +
                         "); the artifact has kernels for: " + (offered.empty() ? "no target" : offered) +
                         "; recompile with --target for this GPU");
  }
  if (options.targets) {
    artifact::ArtifactSpec check = spec;
    check.targets = {*chosen};
    QCC_RETURN_IF_ERROR(artifact::validateSpec(check).withContext("kernels for " + chosen->target));
  }

  // Kernels: one module each (the image the device takes best).
  for (const artifact::KernelDecl &k : chosen->kernels) {
    auto m = device.loadBest({KernelImage{k.name, chosen->target, k.ptx, k.cubin}});
    if (!m) return m.status().withContext(file.name());
    ex->modules_.push_back(std::move(*m));
    auto f = device.function(ex->modules_.back(), k.name);
    if (!f) return f.status().withContext(file.name());
    ex->functions_.push_back(*f);
  }
  ex->target_ = *chosen;
  for (artifact::KernelDecl &k : ex->target_.kernels) k.ptx.clear(), k.cubin.clear();

  ex->maxSeq_ = ex->target_.maxSeq;
  ex->poison_ = options.poisonActivations;
  ex->graphs_ = options.cudaGraphs && device.supportsGraphs();
  if (options.maxSeqLen > 0) {
    if (options.maxSeqLen > ex->target_.maxSeq)
      return Status::error(file.name() + ": max sequence length " + std::to_string(options.maxSeqLen) +
                           " exceeds the " + std::to_string(ex->target_.maxSeq) +
                           " the artifact's kernels support");
    ex->maxSeq_ = options.maxSeqLen;
  }

  for (const artifact::DeviceWeightDecl &w : ex->target_.weights) {
    auto b = uploadWeight(device, file, w);
    if (!b) return b.status().withContext(file.name());
    ex->weights_.push_back(std::move(*b));
  }
  for (const artifact::KvCacheDecl &c : ex->target_.caches) {
    const size_t bytes = size_t(c.kvHeads * ex->target_.maxSeq * c.headDim * 2); // bf16 [kvHeads][S][headDim]
    for (std::vector<DeviceBuffer> *v : {&ex->kcache_, &ex->vcache_}) {
      auto b = device.alloc(bytes);
      if (!b) return b.status();
      if (ex->poison_) QCC_RETURN_IF_ERROR(device.fill(*b, 0xff)); // never read a position not yet stored
      v->push_back(std::move(*b));
    }
  }
  QCC_RETURN_IF_ERROR(ex->ensureRows(16));
  return ex;
}

CudaExecutor::~CudaExecutor() = default;

Status CudaExecutor::ensureRows(int64_t rows) {
  if (rows <= rows_) return Status::ok();
  decodeGraph_ = KernelGraph(); // it holds the old buffers' addresses
  buffers_.clear();
  for (uint64_t bytesPerRow : target_.bufferBytesPerRow) {
    auto b = dev_->alloc(size_t(std::max<uint64_t>(uint64_t(rows) * bytesPerRow, 16)));
    if (!b) return b.status();
    buffers_.push_back(std::move(*b));
  }
  for (DeviceBuffer *b : {&ids_, &positions_}) {
    auto r = dev_->alloc(size_t(rows * 4)); // int32 [rows]
    if (!r) return r.status();
    *b = std::move(*r);
  }
  rows_ = rows;
  return Status::ok();
}

Expected<CUdeviceptr> CudaExecutor::argPointer(const artifact::LaunchArg &a) const {
  switch (a.kind) {
  case ArgKind::Buffer: return buffers_[a.index].ptr() + CUdeviceptr(a.offset);
  case ArgKind::Weight: return weights_[a.index].ptr();
  case ArgKind::KCache: return kcache_[a.index].ptr();
  case ArgKind::VCache: return vcache_[a.index].ptr();
  case ArgKind::TokenIds: return ids_.ptr();
  case ArgKind::Positions: return positions_.ptr();
  case ArgKind::Null: return CUdeviceptr(0);
  default: return Status::error("not a pointer argument");
  }
}

// The launches of one forward over `rows` tokens, over the current buffers.
Status CudaExecutor::enqueue(int64_t rows) {
  for (const artifact::LaunchDecl &l : target_.launches) {
    const artifact::KernelVariant *v = &l.variants.back();
    for (const artifact::KernelVariant &c : l.variants)
      if (c.maxRows == 0 || rows <= c.maxRows) {
        v = &c;
        break;
      }
    // Argument values, in slots that outlive the call (the driver copies them).
    std::vector<uint64_t> slots(l.args.size());
    std::vector<void *> args(l.args.size());
    for (size_t i = 0; i < l.args.size(); ++i) {
      const artifact::LaunchArg &a = l.args[i];
      if (a.kind == ArgKind::Rows) {
        const int32_t m = int32_t(rows);
        std::memcpy(&slots[i], &m, 4);
      } else if (a.kind == ArgKind::F32) {
        std::memcpy(&slots[i], &a.f32, 4);
      } else {
        auto p = argPointer(a);
        if (!p) return p.status().withContext(l.name);
        slots[i] = uint64_t(*p);
      }
      args[i] = &slots[i];
    }
    unsigned grid[3];
    for (int d = 0; d < 3; ++d) {
      const uint64_t g = v->grid[d].at(rows);
      if (g == 0 || g > 0x7fffffffu) return Status::error(l.name + ": grid dimension " + std::to_string(g) + " for " +
                                                          std::to_string(rows) + " tokens is out of range");
      grid[d] = unsigned(g);
    }
    CUfunction f = functions_[v->kernel];
    Status s = building_ ? dev_->addToGraph(*building_, f, grid, v->block, 0, args.data())
                         : dev_->launch(f, grid, v->block, 0, args.data());
    QCC_RETURN_IF_ERROR(s.withContext(l.name));
  }
  return Status::ok();
}

// One forward over `tokens` at positions position_.. (all rows at once).
Status CudaExecutor::forward(const std::vector<int64_t> &tokens, std::vector<float> *logits) {
  const int64_t T = int64_t(tokens.size());
  if (T == 0) return Status::error("no tokens");
  if (position_ + T > maxSeq_)
    return Status::error("sequence of " + std::to_string(position_ + T) + " positions exceeds the maximum " +
                         std::to_string(maxSeq_));
  QCC_RETURN_IF_ERROR(ensureRows(T));
  if (poison_)
    for (const DeviceBuffer &b : buffers_) QCC_RETURN_IF_ERROR(dev_->fill(b, 0xff));
  std::vector<int32_t> hostIds(static_cast<size_t>(T)), hostPos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    if (tokens[size_t(t)] < 0 || tokens[size_t(t)] >= vocab_)
      return Status::error("token " + std::to_string(tokens[size_t(t)]) + " is outside the vocabulary [0, " +
                           std::to_string(vocab_) + ")");
    hostIds[size_t(t)] = int32_t(tokens[size_t(t)]);
    hostPos[size_t(t)] = int32_t(position_ + t);
  }
  QCC_RETURN_IF_ERROR(dev_->upload(ids_, hostIds.data(), size_t(T) * 4));
  QCC_RETURN_IF_ERROR(dev_->upload(positions_, hostPos.data(), size_t(T) * 4));

  if (T == 1 && graphs_) {
    // Decode: every argument is a buffer address or a constant for one token
    // (the token and its position are read from ids_ / positions_), so one
    // graph serves every step until the buffers are reallocated.
    if (!decodeGraph_.instantiated()) {
      auto g = dev_->createGraph();
      if (!g) return g.status();
      building_ = &*g;
      Status s = enqueue(1);
      building_ = nullptr;
      QCC_RETURN_IF_ERROR(s);
      QCC_RETURN_IF_ERROR(dev_->instantiate(*g));
      decodeGraph_ = std::move(*g);
      ++graphBuilds_;
    }
    QCC_RETURN_IF_ERROR(dev_->launchGraph(decodeGraph_));
  } else {
    QCC_RETURN_IF_ERROR(enqueue(T));
  }
  QCC_RETURN_IF_ERROR(dev_->synchronize());

  std::vector<uint16_t> bits(size_t(T * vocab_));
  QCC_RETURN_IF_ERROR(
      dev_->download(bits.data(), buffers_[target_.logits.index], bits.size() * 2, size_t(target_.logits.offset)));
  logits->resize(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) (*logits)[i] = fm::bf16ToFloat(bits[i]);
  position_ += T;
  return Status::ok();
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
