#include "runtime/artifact/Artifact.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace qcc::artifact {

const char *formatName(WeightFormat f) {
  switch (f) {
  case WeightFormat::Dense: return "dense";
  case WeightFormat::BF16: return "bf16";
  case WeightFormat::FP8: return "fp8";
  case WeightFormat::INT8: return "int8";
  case WeightFormat::W4A16: return "w4a16";
  }
  return "?";
}

const char *methodName(QuantMethod m) {
  switch (m) {
  case QuantMethod::None: return "none";
  case QuantMethod::RTN: return "rtn";
  case QuantMethod::GPTQ: return "gptq";
  case QuantMethod::AWQ: return "awq";
  case QuantMethod::Imported: return "imported";
  }
  return "?";
}

const char *roleName(TensorRole r) {
  switch (r) {
  case TensorRole::Other: return "other";
  case TensorRole::Embedding: return "embedding";
  case TensorRole::Norm: return "norm";
  case TensorRole::Linear: return "linear";
  case TensorRole::LmHead: return "lm_head";
  case TensorRole::Tokenizer: return "tokenizer";
  }
  return "?";
}

const char *deviceWeightLayoutName(DeviceWeightLayout l) {
  switch (l) {
  case DeviceWeightLayout::Bf16: return "bf16";
  case DeviceWeightLayout::Codes: return "codes";
  case DeviceWeightLayout::Scales: return "scales";
  case DeviceWeightLayout::W4A16Codes: return "w4a16 codes";
  case DeviceWeightLayout::W4A16Scales: return "w4a16 scales";
  }
  return "?";
}

const std::vector<std::string> &knownTargets() {
  static const std::vector<std::string> targets = {"sm_80", "sm_86", "sm_89", "sm_90a"};
  return targets;
}

bool isKnownTarget(const std::string &target) {
  const auto &t = knownTargets();
  return std::find(t.begin(), t.end(), target) != t.end();
}

static std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Dimensions are capped so that every product below fits in 64 bits.
static constexpr int64_t kMaxDim = int64_t(1) << 40;
static constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 48;

Expected<TensorLayout> layoutOf(const TensorDecl &d) {
  const std::string where = "tensor '" + d.name + "'";
  if (d.shape.empty() || d.shape.size() > 4)
    return Status::error(where + ": rank " + std::to_string(d.shape.size()) + " is not in [1, 4]");
  uint64_t numel = 1;
  for (int64_t dim : d.shape) {
    if (dim <= 0 || dim > kMaxDim)
      return Status::error(where + ": bad dimension in shape " + shapeString(d.shape));
    if (numel > kMaxTensorBytes / uint64_t(dim))
      return Status::error(where + ": shape " + shapeString(d.shape) + " is too large");
    numel *= uint64_t(dim);
  }
  TensorLayout l;
  if (d.format == WeightFormat::Dense) {
    size_t es = dtypeSize(d.dtype);
    if (es == 0) return Status::error(where + ": unknown dtype");
    if (d.groupSize != 0) return Status::error(where + ": group size on a dense tensor");
    l.dataType = d.dtype;
    l.dataBytes = numel * es;
    return l;
  }
  if (d.role != TensorRole::Linear && d.role != TensorRole::LmHead)
    return Status::error(where + ": format " + formatName(d.format) + " on a " + roleName(d.role) +
                         " tensor (only linears are quantized)");
  if (d.shape.size() != 2)
    return Status::error(where + ": format " + std::string(formatName(d.format)) +
                         " needs shape [N, K], got " + shapeString(d.shape));
  const uint64_t n = uint64_t(d.shape[0]), k = uint64_t(d.shape[1]);
  if (d.format != WeightFormat::W4A16 && d.groupSize != 0)
    return Status::error(where + ": group size " + std::to_string(d.groupSize) + " with format " +
                         formatName(d.format));
  switch (d.format) {
  case WeightFormat::BF16:
    l.dataType = DType::BF16, l.dataBytes = n * k * 2;
    break;
  case WeightFormat::FP8:
    l.dataType = DType::F8E4M3, l.dataBytes = n * k, l.scaleBytes = n * 4;
    break;
  case WeightFormat::INT8:
    l.dataType = DType::I8, l.dataBytes = n * k, l.scaleBytes = n * 4;
    break;
  case WeightFormat::W4A16:
    if (d.groupSize <= 0 || k % uint64_t(d.groupSize) != 0)
      return Status::error(where + ": w4a16 group size " + std::to_string(d.groupSize) +
                           " does not divide K = " + std::to_string(k));
    if (k % 2 != 0) return Status::error(where + ": w4a16 needs an even K, got " + std::to_string(k));
    l.dataType = DType::U8, l.dataBytes = n * k / 2, l.scaleBytes = n * (k / uint64_t(d.groupSize)) * 4;
    break;
  default:
    return Status::error(where + ": unknown format " + std::to_string(int(d.format)));
  }
  return l;
}

// The config's ranges are ModelConfig's own (runtime/ModelConfig.h), the same
// that config.json parsing applies.
static Status validateConfig(const ModelConfig &c) { return checkModelConfig(c).withContext("config"); }

// The launch list of one target: every index in range, buffers and weights
// fitting what reads them, the logits in a buffer.
static Status validateLaunches(const ArtifactSpec &spec, const TargetDecl &t) {
  if (t.launches.empty() && t.kernels.empty()) return Status::ok();
  if (t.launches.empty()) return Status::error("kernels without a launch list");
  if (t.maxSeq <= 0 || t.maxSeq > (int64_t(1) << 24)) return Status::error("max_seq " + std::to_string(t.maxSeq) + " is out of range");
  for (size_t i = 0; i < t.bufferBytesPerRow.size(); ++i)
    if (t.bufferBytesPerRow[i] == 0 || t.bufferBytesPerRow[i] > (uint64_t(1) << 32))
      return Status::error("buffer " + std::to_string(i) + ": " + std::to_string(t.bufferBytesPerRow[i]) +
                           " bytes per row is out of range");
  for (size_t i = 0; i < t.weights.size(); ++i) {
    const DeviceWeightDecl &w = t.weights[i];
    const std::string where = "device weight " + std::to_string(i);
    if (uint8_t(w.layout) > uint8_t(DeviceWeightLayout::W4A16Scales))
      return Status::error(where + ": unknown layout " + std::to_string(int(w.layout)));
    if (w.tensors.empty()) return Status::error(where + ": no tensors");
    int64_t K = -1;
    for (uint32_t x : w.tensors) {
      if (x >= spec.tensors.size()) return Status::error(where + ": tensor " + std::to_string(x) + " does not exist");
      const TensorDecl &d = spec.tensors[x];
      const bool quantized = d.format == WeightFormat::FP8 || d.format == WeightFormat::INT8 ||
                             d.format == WeightFormat::W4A16;
      const bool needsQuantized = w.layout != DeviceWeightLayout::Bf16;
      const bool w4 = w.layout == DeviceWeightLayout::W4A16Codes || w.layout == DeviceWeightLayout::W4A16Scales;
      if (quantized != needsQuantized || (needsQuantized && w4 != (d.format == WeightFormat::W4A16)))
        return Status::error(where + ": tensor '" + d.name + "' (" + formatName(d.format) + ") cannot be laid out as " +
                             deviceWeightLayoutName(w.layout));
      const int64_t k = d.shape.size() == 2 ? d.shape[1] : 1;
      if (K >= 0 && k != K) return Status::error(where + ": stacked tensors differ in width");
      if (w4 && x != w.tensors.front() && d.groupSize != spec.tensors[w.tensors.front()].groupSize)
        return Status::error(where + ": stacked w4a16 tensors differ in group size");
      K = k;
    }
  }
  for (const KvCacheDecl &c : t.caches)
    if (c.kvHeads <= 0 || c.kvHeads > 4096 || c.headDim <= 0 || c.headDim > 4096)
      return Status::error("a KV cache has a bad shape");
  auto argOk = [&](const LaunchArg &a) -> bool {
    switch (a.kind) {
    case ArgKind::Buffer:
      return a.index < t.bufferBytesPerRow.size() && a.offset < t.bufferBytesPerRow[a.index];
    case ArgKind::Weight: return a.index < t.weights.size();
    case ArgKind::KCache:
    case ArgKind::VCache: return a.index < t.caches.size();
    case ArgKind::TokenIds:
    case ArgKind::Positions:
    case ArgKind::Rows:
    case ArgKind::F32:
    case ArgKind::Null: return true;
    }
    return false;
  };
  for (size_t i = 0; i < t.launches.size(); ++i) {
    const LaunchDecl &l = t.launches[i];
    const std::string where = "launch " + std::to_string(i) + (l.name.empty() ? "" : " (" + l.name + ")");
    if (l.variants.empty()) return Status::error(where + ": no kernel");
    for (size_t v = 0; v < l.variants.size(); ++v) {
      const KernelVariant &k = l.variants[v];
      if (k.kernel >= t.kernels.size()) return Status::error(where + ": kernel " + std::to_string(k.kernel) + " does not exist");
      if (k.block == 0 || k.block > 1024) return Status::error(where + ": block of " + std::to_string(k.block) + " threads");
      if (k.maxRows < 0 || (k.maxRows == 0 && v + 1 != l.variants.size()))
        return Status::error(where + ": only the last kernel variant may take any number of rows");
      for (const GridDim &g : k.grid)
        if ((g.rowsDiv == 0 && g.constant == 0) || (g.rowsDiv != 0 && g.rowsMul == 0))
          return Status::error(where + ": a grid dimension is empty");
    }
    if (l.variants.back().maxRows != 0) return Status::error(where + ": no kernel variant takes any number of rows");
    for (size_t a = 0; a < l.args.size(); ++a)
      if (uint8_t(l.args[a].kind) > uint8_t(ArgKind::Null) || !argOk(l.args[a]))
        return Status::error(where + ": argument " + std::to_string(a) + " refers to nothing");
  }
  if (t.logits.kind != ArgKind::Buffer || !argOk(t.logits))
    return Status::error("the logits are not in a device buffer");
  const uint64_t logitsBytes = uint64_t(spec.program.values[spec.program.logits].cols) * 2;
  if (t.logits.offset + logitsBytes > t.bufferBytesPerRow[t.logits.index])
    return Status::error("the logits do not fit their buffer");
  return Status::ok();
}

Status validateSpec(const ArtifactSpec &spec) {
  QCC_RETURN_IF_ERROR(validateConfig(spec.config));

  std::set<std::string> names;
  for (const TensorDecl &t : spec.tensors) {
    if (t.name.empty()) return Status::error("tensor with an empty name");
    if (!names.insert(t.name).second) return Status::error("duplicate tensor '" + t.name + "'");
    if (uint8_t(t.role) > uint8_t(TensorRole::Tokenizer))
      return Status::error("tensor '" + t.name + "': unknown role " + std::to_string(int(t.role)));
    if (uint8_t(t.method) > uint8_t(QuantMethod::Imported))
      return Status::error("tensor '" + t.name + "': unknown method " + std::to_string(int(t.method)));
    if (!std::isfinite(t.smoothquantAlpha) || t.smoothquantAlpha > 1)
      return Status::error("tensor '" + t.name + "': smoothquant alpha is not in [0, 1]");
    auto layout = layoutOf(t);
    if (!layout) return layout.status();
  }

  // The program, over the tensors' logical shapes.
  std::vector<program::WeightShape> shapes;
  for (const TensorDecl &t : spec.tensors)
    shapes.push_back({t.shape, t.format != WeightFormat::Dense && t.format != WeightFormat::BF16});
  QCC_RETURN_IF_ERROR(program::validate(spec.program, shapes));
  for (const program::Op &op : spec.program.ops)
    for (uint32_t w : op.weights) {
      const TensorDecl &t = spec.tensors[w];
      if (t.role == TensorRole::Tokenizer || t.role == TensorRole::Other)
        return Status::error("program op " + std::string(program::opKindName(op.kind)) + " " + op.name +
                             ": tensor '" + t.name + "' is not a weight");
    }

  std::set<std::string> targets;
  for (const TargetDecl &t : spec.targets) {
    if (!isKnownTarget(t.target)) {
      std::string known;
      for (const auto &k : knownTargets()) known += (known.empty() ? "" : ", ") + k;
      return Status::error("unknown target '" + t.target + "' (known: " + known + ")");
    }
    if (!targets.insert(t.target).second) return Status::error("duplicate target '" + t.target + "'");
    std::set<std::string> kernelNames;
    for (const KernelDecl &k : t.kernels) {
      if (k.name.empty()) return Status::error("target " + t.target + ": kernel with an empty name");
      if (!kernelNames.insert(k.name).second)
        return Status::error("target " + t.target + ": duplicate kernel '" + k.name + "'");
      if (k.ptx.empty() && k.cubin.empty())
        return Status::error("target " + t.target + ": kernel '" + k.name + "' has neither ptx nor cubin");
    }
    QCC_RETURN_IF_ERROR(validateLaunches(spec, t).withContext("target " + t.target));
  }
  return Status::ok();
}

} // namespace qcc::artifact
