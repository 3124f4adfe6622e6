#include "codegen/artifact/EmitArtifact.h"

#include "codegen/cuda/ArtifactKernels.h"

#include "dialects/qcc/QccDialect.h"
#include "runtime/artifact/ArtifactWriter.h"
#include "support/MappedFile.h"

#include <cstring>

using namespace mlir;

namespace qcc {
namespace {

using artifact::QuantMethod;
using artifact::TensorDecl;
using artifact::TensorRole;
using artifact::WeightFormat;

// What the IR says about one tensor.
struct IrTensor {
  TensorRole role = TensorRole::Other;
  WeightFormat format = WeightFormat::Dense;
  int64_t groupSize = 0;
  QuantMethod method = QuantMethod::None;
  bool mseClip = false;
  float smoothquantAlpha = -1;
};

WeightFormat toArtifactFormat(FormatKind k) {
  switch (k) {
  case FormatKind::fp8: return WeightFormat::FP8;
  case FormatKind::int8: return WeightFormat::INT8;
  case FormatKind::w4a16: return WeightFormat::W4A16;
  case FormatKind::bf16: break;
  }
  return WeightFormat::Dense;
}

QuantMethod toArtifactMethod(::qcc::QuantMethod m) {
  switch (m) {
  case ::qcc::QuantMethod::rtn: return QuantMethod::RTN;
  case ::qcc::QuantMethod::gptq: return QuantMethod::GPTQ;
  case ::qcc::QuantMethod::awq: return QuantMethod::AWQ;
  }
  return QuantMethod::None;
}

// Reads the tensors of the module: which weight each op uses, in what role.
Expected<std::map<std::string, IrTensor>> collectTensors(ModuleOp module) {
  std::map<std::string, IrTensor> tensors;
  auto nameOf = [](Value w) -> std::string {
    if (auto d = w.getDefiningOp<WeightOp>()) return d.getName().str();
    if (auto q = w.getDefiningOp<QuantizedWeightOp>()) return q.getName().str();
    return "";
  };
  auto record = [&](Value w, TensorRole role, float alpha) {
    IrTensor t;
    t.role = role;
    t.smoothquantAlpha = alpha;
    if (auto q = w.getDefiningOp<QuantizedWeightOp>()) {
      t.format = toArtifactFormat(q.getFormat().getKind());
      t.groupSize = q.getFormat().getGroupSize();
      t.method = toArtifactMethod(q.getMethod());
      t.mseClip = q.getMseClip();
    }
    // A tied head shares the embedding's tensor: the embedding role wins.
    std::string name = nameOf(w);
    if (!tensors.count(name) || role == TensorRole::Embedding) tensors[name] = t;
  };
  module.walk([&](Operation *op) {
    auto alphaOf = [&](Operation *o) {
      auto a = o->getAttrOfType<FloatAttr>("qcc.smoothquant_alpha");
      return a ? static_cast<float>(a.getValueAsDouble()) : -1.0f;
    };
    if (auto e = dyn_cast<EmbeddingOp>(op)) record(e.getTable(), TensorRole::Embedding, -1);
    else if (auto n = dyn_cast<RMSNormOp>(op)) record(n.getWeight(), TensorRole::Norm, alphaOf(op));
    else if (auto l = dyn_cast<LinearOp>(op)) record(l.getWeight(), TensorRole::Linear, alphaOf(op));
    else if (auto h = dyn_cast<LogitsOp>(op)) record(h.getWeight(), TensorRole::LmHead, -1);
  });
  if (tensors.count("")) return Status::error("a weight operand is not a qcc.weight or qcc.quantized_weight");
  return tensors;
}

// Converts fp32 values to the dtype a dense tensor is stored in.
std::vector<uint8_t> encodeDense(const std::vector<float> &values, DType dtype) {
  std::vector<uint8_t> out(values.size() * dtypeSize(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::F32) {
      std::memcpy(&out[4 * i], &values[i], 4);
    } else {
      uint16_t bits = dtype == DType::BF16 ? formats::floatToBf16(values[i]) : formats::floatToF16(values[i]);
      std::memcpy(&out[2 * i], &bits, 2);
    }
  }
  return out;
}

} // namespace

Expected<EmitSummary> emitArtifact(ModuleOp module, const WeightStore &store, const EmitOptions &options) {
  auto irTensors = collectTensors(module);
  if (!irTensors) return irTensors.status();
  const ModelConfig &config = store.config();

  // Raw-section order: embeddings, each layer's norms and linears, final norm,
  // head; the order they are produced in.
  std::vector<std::pair<std::string, int64_t>> order; // name, layer
  order.push_back({"model.embed_tokens.weight", -1});
  for (int64_t l = 0; l < config.numLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    order.push_back({p + "input_layernorm.weight", l});
    for (const std::string &name : artifact::llamaLinearNames(l)) {
      order.push_back({name, l});
      if (name.find("o_proj") != std::string::npos) order.push_back({p + "post_attention_layernorm.weight", l});
    }
  }
  order.push_back({"model.norm.weight", -1});
  if (irTensors->count("lm_head.weight")) order.push_back({"lm_head.weight", -1});

  artifact::ArtifactSpec spec;
  spec.config = config;
  spec.provenance = options.provenance;
  for (const auto &[name, layer] : order) {
    auto it = irTensors->find(name);
    if (it == irTensors->end())
      return Status::error("the module is not the canonical Llama graph: no op uses '" + name + "'");
    TensorDecl d;
    d.name = name;
    d.role = it->second.role;
    d.format = it->second.format;
    d.groupSize = it->second.groupSize;
    d.method = it->second.method;
    d.mseClip = it->second.mseClip;
    d.smoothquantAlpha = it->second.smoothquantAlpha;
    if (d.format == WeightFormat::Dense) {
      const TensorRef *original = store.checkpoint().find(name);
      if (!original) return Status::error("no tensor '" + name + "' in the checkpoint");
      d.dtype = original->dtype;
      d.shape = original->shape;
    } else {
      if (!store.hasQuantized(name)) return Status::error("no quantized weights for '" + name + "' (run qcc-quantize-weights)");
      const TensorRef *source = store.find(name);
      // The quantized head of a tied model has no dense twin of its own name.
      if (!source && name == "lm_head.weight") source = store.find("model.embed_tokens.weight");
      if (!source) return Status::error("no source shape for '" + name + "'");
      d.shape = source->shape;
    }
    spec.tensors.push_back(std::move(d));
  }
  // The tokenizer's files, as role-tokenizer byte blobs named by file name.
  std::map<std::string, std::string> tokenizerBytes;
  std::vector<std::string> tokenizerPaths = options.tokenizerExtraPaths;
  if (!options.tokenizerJsonPath.empty()) tokenizerPaths.insert(tokenizerPaths.begin(), options.tokenizerJsonPath);
  for (const std::string &path : tokenizerPaths) {
    auto file = MappedFile::open(path);
    if (!file) return file.status();
    TensorDecl d;
    d.name = path.substr(path.find_last_of('/') + 1);
    std::string &bytes = tokenizerBytes[d.name];
    bytes.assign(reinterpret_cast<const char *>((*file)->data()), (*file)->size());
    d.role = TensorRole::Tokenizer;
    d.dtype = DType::U8;
    d.shape = {static_cast<int64_t>(bytes.size())};
    spec.tensors.push_back(std::move(d));
  }
  QCC_RETURN_IF_ERROR(artifact::buildLlamaSchedule(spec));
  // Every kernel the schedule needs, compiled by NVRTC for every target (cached).
  if (!options.targets.empty()) {
    auto kernels = cuda::compileArtifactKernels(spec, options.targets, options.fp8WeightOnly, /*cacheDir=*/"",
                                                options.tiles);
    if (!kernels)
      return Status::error(kernels.message() + " (compile with --no-kernels for an artifact that runs on the CPU only)");
    spec.targets = std::move(*kernels);
  }

  auto writer = artifact::ArtifactWriter::create(options.outputPath, spec);
  if (!writer) return writer.status();
  EmitSummary summary;
  int64_t lastLayer = -2;
  for (const TensorDecl &d : spec.tensors) {
    if (d.role == TensorRole::Tokenizer) {
      const std::string &bytes = tokenizerBytes.at(d.name);
      QCC_RETURN_IF_ERROR((*writer)->writeTensor(d.name, bytes.data(), bytes.size()));
      continue;
    }
    int64_t layer = -1;
    for (const auto &[name, l] : order)
      if (name == d.name) layer = l;
    if (layer != lastLayer && lastLayer >= 0 && options.onLayerWritten) options.onLayerWritten(lastLayer);
    lastLayer = layer;

    if (d.format == WeightFormat::Dense) {
      const TensorRef *current = store.find(d.name);
      if (current->dtype == d.dtype) {
        // Straight from the mmap'ed checkpoint (or the pass's overlay).
        QCC_RETURN_IF_ERROR((*writer)->writeTensor(d.name, current->data, current->byteSize()));
      } else {
        std::vector<uint8_t> bytes = encodeDense(store.readFloat(d.name), d.dtype);
        QCC_RETURN_IF_ERROR((*writer)->writeTensor(d.name, bytes.data(), bytes.size()));
      }
      summary.bytesByFormat[dtypeName(d.dtype)] += current->numel() * dtypeSize(d.dtype);
      // Only file-backed pages may be dropped: an overlay tensor lives on the heap.
      if (current == store.checkpoint().find(d.name)) releasePages(current->data, current->byteSize());
    } else {
      auto q = store.quantizedLinear(d.name);
      if (!q) return q.status();
      QCC_RETURN_IF_ERROR((*writer)->writeTensor(d.name, q->weights.data(), q->weights.size(), q->scales.data(),
                                                 q->scales.size() * sizeof(float)));
      summary.bytesByFormat[artifact::formatName(d.format)] += q->weights.size() + q->scales.size() * sizeof(float);
    }
  }
  if (lastLayer >= 0 && options.onLayerWritten) options.onLayerWritten(lastLayer);
  QCC_RETURN_IF_ERROR((*writer)->finish());
  summary.fileSize = (*writer)->fileSize();
  summary.tensors = spec.tensors.size();
  return summary;
}

} // namespace qcc
