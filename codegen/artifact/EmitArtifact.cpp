#include "codegen/artifact/EmitArtifact.h"

#include "dialects/qcc/QccDialect.h"
#include "passes/Params.h"
#include "passes/PassRecord.h"
#include "passes/ToProgram.h"
#include "runtime/artifact/ArtifactWriter.h"
#include "support/Hash.h"
#include "support/MappedFile.h"

#include <cstring>

using namespace mlir;

namespace qcc {

using artifact::TensorDecl;
using artifact::TensorRole;
using artifact::WeightFormat;

namespace {

WeightFormat artifactFormat(FormatKind k) {
  switch (k) {
  case FormatKind::fp8: return WeightFormat::FP8;
  case FormatKind::int8: return WeightFormat::INT8;
  case FormatKind::w4a16: return WeightFormat::W4A16;
  case FormatKind::bf16: break;
  }
  return WeightFormat::Dense;
}

artifact::QuantMethod artifactMethod(QuantMethod m) {
  switch (m) {
  case QuantMethod::rtn: return artifact::QuantMethod::RTN;
  case QuantMethod::gptq: return artifact::QuantMethod::GPTQ;
  case QuantMethod::awq: return artifact::QuantMethod::AWQ;
  }
  return artifact::QuantMethod::None;
}

DType denseDtype(Type t) {
  if (t.isBF16()) return DType::BF16;
  if (t.isF16()) return DType::F16;
  return DType::F32;
}

// The tensor table entry of program weight `i`: its role from the first op
// that reads it, its format and method from the op that defines it.
TensorDecl declare(const TranslatedProgram &t, uint32_t i) {
  TensorDecl d;
  d.name = t.weightNames[i];
  Value w = t.weights[i];
  auto type = cast<RankedTensorType>(w.getType());
  d.shape.assign(type.getShape().begin(), type.getShape().end());
  for (const program::Op &op : t.program.ops) {
    if (std::find(op.weights.begin(), op.weights.end(), i) == op.weights.end()) continue;
    d.role = op.kind == program::OpKind::Embedding ? TensorRole::Embedding
             : op.kind == program::OpKind::RmsNorm ? TensorRole::Norm
             : op.kind == program::OpKind::Logits  ? TensorRole::LmHead
                                                   : TensorRole::Linear;
    break;
  }
  if (auto q = w.getDefiningOp<QuantizedWeightOp>()) {
    d.format = artifactFormat(q.getFormat().getKind());
    d.groupSize = q.getFormat().getGroupSize();
    d.method = artifactMethod(q.getMethod());
    d.mseClip = q.getMseClip();
  } else if (auto r = w.getDefiningOp<QuantizeWeightOp>()) {
    d.format = artifactFormat(r.getFormat().getKind());
    d.groupSize = r.getFormat().getGroupSize();
    d.method = artifact::QuantMethod::RTN;
    d.mseClip = r.getMseClip();
  } else {
    d.dtype = denseDtype(type.getElementType());
  }
  // SmoothQuant marks the ops that read the tensor.
  for (OpOperand *use : t.weightUses[i])
    if (auto a = use->getOwner()->getAttrOfType<FloatAttr>("qcc.smoothquant_alpha"))
      d.smoothquantAlpha = static_cast<float>(a.getValueAsDouble());
  return d;
}

} // namespace

Expected<TranslateSummary> translateToArtifact(ModuleOp module, const TranslateOptions &options) {
  auto fn = forwardFunction(module);
  if (!fn) return fn.status();
  auto translated = translateToProgram(*fn);
  if (!translated) return translated.status();
  auto config = modelConfigOf(module);
  if (!config) return config.status();

  artifact::ArtifactSpec spec;
  spec.config = *config;
  spec.program = translated->program;
  for (uint32_t i = 0; i < translated->weights.size(); ++i) spec.tensors.push_back(declare(*translated, i));

  // The tokenizer the importer recorded, checked against its hash.
  std::unique_ptr<MappedFile> tokenizer;
  if (auto dict = module->getAttrOfType<DictionaryAttr>("qcc.tokenizer")) {
    auto path = dict.getAs<StringAttr>("path");
    auto hash = dict.getAs<StringAttr>("hash");
    if (!path || !hash) return Status::error("malformed qcc.tokenizer attribute (needs path and hash)");
    auto file = MappedFile::open(path.str());
    if (!file) return file.status();
    if (contentHash((*file)->data(), (*file)->size()) != hash.str())
      return Status::error(path.str() + ": the tokenizer changed since the model was imported");
    tokenizer = std::move(*file);
    TensorDecl d;
    d.name = "tokenizer.json";
    d.role = TensorRole::Tokenizer;
    d.dtype = DType::U8;
    d.shape = {static_cast<int64_t>(tokenizer->size())};
    spec.tensors.push_back(std::move(d));
  }

  if (auto name = module->getAttrOfType<StringAttr>("qcc.model_name")) spec.provenance.source = name.str();
  if (auto hash = module->getAttrOfType<StringAttr>("qcc.checkpoint_hash")) spec.provenance.checkpointHash = hash.str();
  spec.provenance.qccVersion = "0.2.0";
  spec.provenance.options = recordedPasses(module);

  auto writer = artifact::ArtifactWriter::create(options.outputPath, spec);
  if (!writer) return writer.status();
  TranslateSummary summary;
  const int64_t total = static_cast<int64_t>(translated->weights.size());
  for (uint32_t i = 0; i < translated->weights.size(); ++i) {
    const TensorDecl &d = spec.tensors[i];
    auto w = evaluateWeight(translated->weights[i]);
    if (!w) return w.status();
    if (w->quantized) {
      const formats::QuantizedLinear &q = *w->quantized;
      QCC_RETURN_IF_ERROR((*writer)->writeTensor(d.name, q.weights.data(), q.weights.size(), q.scales.data(),
                                                 q.scales.size() * sizeof(float)));
      summary.bytesByFormat[artifact::formatName(d.format)] += q.weights.size() + q.scales.size() * sizeof(float);
    } else {
      QCC_RETURN_IF_ERROR((*writer)->writeTensor(d.name, w->dense.data, w->dense.byteSize()));
      summary.bytesByFormat[dtypeName(d.dtype)] += w->dense.byteSize();
      // Streamed once: only file-backed pages can be dropped (inline values live on the heap).
      if (w->storage.empty()) releasePages(w->dense.data, w->dense.byteSize());
    }
    if (options.onTensorWritten) options.onTensorWritten(i + 1, total);
  }
  if (tokenizer) QCC_RETURN_IF_ERROR((*writer)->writeTensor("tokenizer.json", tokenizer->data(), tokenizer->size()));
  QCC_RETURN_IF_ERROR((*writer)->finish());
  summary.fileSize = (*writer)->fileSize();
  summary.tensors = spec.tensors.size();
  for (const artifact::TargetDecl &t : spec.targets) summary.targets.push_back(t.target);
  return summary;
}

} // namespace qcc
