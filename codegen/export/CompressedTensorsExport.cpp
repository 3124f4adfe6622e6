#include "codegen/export/CompressedTensorsExport.h"

#include "dialects/qcc/QccDialect.h"
#include "passes/Params.h"
#include "passes/ToProgram.h"
#include "support/MappedFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <set>
#include <sys/stat.h>

using namespace mlir;

namespace qcc {

using compressed_tensors::ExportEntry;

namespace {

Expected<DType> denseDtypeOf(Value v, const std::string &name) {
  Type t = cast<RankedTensorType>(v.getType()).getElementType();
  if (t.isBF16()) return DType::BF16;
  if (t.isF16()) return DType::F16;
  if (t.isF32()) return DType::F32;
  std::string text;
  llvm::raw_string_ostream os(text);
  t.print(os);
  return Status::error("'" + name + "' is a dense weight of element type " + os.str() +
                       "; compressed-tensors stores dense weights as F32, BF16 or F16");
}

std::vector<int64_t> shapeOf(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  return {t.getShape().begin(), t.getShape().end()};
}

bool isWeightOp(Operation *op) { return op && isa<WeightOp, QuantizedWeightOp, QuantizeWeightOp>(op); }

// Whether GPTQ ran in static act order: qcc-quantize-weights records its
// options in `qcc.passes` ("qcc-quantize-weights{act-order=true ...}"); the
// last run is the one whose codes the IR holds.
bool recordedActOrder(ModuleOp module) {
  bool actOrder = false;
  if (auto passes = module->getAttrOfType<ArrayAttr>("qcc.passes"))
    for (Attribute a : passes)
      if (auto s = dyn_cast<StringAttr>(a); s && s.getValue().starts_with("qcc-quantize-weights"))
        actOrder = s.getValue().contains("act-order=true");
  return actOrder;
}

class Planner {
public:
  Planner(ModuleOp module, bool requireQuantized) : module_(module), requireQuantized_(requireQuantized) {}

  Expected<CompressedTensorsPlan> run() {
    auto config = modelConfigOf(module_);
    if (!config) return config.status();
    plan_.config = *config;
    auto fn = forwardFunction(module_);
    if (!fn) return fn.status();
    actOrder_ = recordedActOrder(module_);
    for (Operation &opRef : fn->getBody().front()) {
      Operation *op = &opRef;
      if (isWeightOp(op)) continue; // planned where they are read
      Status s = Status::ok();
      if (auto e = dyn_cast<EmbeddingOp>(op)) {
        s = dense(e.getTable());
        embedding_ = e.getTable();
      } else if (auto n = dyn_cast<RMSNormOp>(op)) {
        s = dense(n.getWeight());
      } else if (auto n = dyn_cast<RMSNormQuantizeOp>(op)) {
        s = dense(n.getWeight());
      } else if (auto l = dyn_cast<LinearOp>(op)) {
        s = linear(l.getLayer().str(), l.getFormat(), l.getWeight());
      } else if (auto f = dyn_cast<FusedLinearOp>(op)) {
        for (size_t i = 0; i < f.getWeights().size() && s.isOk(); ++i)
          s = linear(cast<StringAttr>(f.getLayers()[i]).str(), f.getFormat(), f.getWeights()[i]);
      } else if (auto h = dyn_cast<LogitsOp>(op)) {
        s = head(h);
      } else {
        for (Value operand : op->getOperands())
          if (isWeightOp(operand.getDefiningOp()))
            return Status::error("'" + op->getName().getStringRef().str() + "' reads weight '" + nameOf(operand) +
                                 "', which has no place in a compressed-tensors Llama checkpoint");
      }
      if (!s) return s;
    }
    return std::move(plan_);
  }

private:
  static std::string nameOf(Value w) {
    std::string name;
    weightIdentity(w, &name);
    return name;
  }

  // The embedding table and the norms: dense tensors under their own names.
  Status dense(Value w) {
    auto def = w.getDefiningOp<WeightOp>();
    if (!def) {
      const std::string name = nameOf(w);
      return Status::error("'" + (name.empty() ? std::string("an embedding or norm weight") : name) +
                           "' is not a dense weight op; compressed-tensors stores embeddings and norms dense");
    }
    const std::string name = def.getName().str();
    const std::string identity = weightIdentity(w);
    if (auto it = denseIdentity_.find(name); it != denseIdentity_.end()) {
      if (it->second == identity) return Status::ok(); // the same tensor read twice
      return Status::error("two different tensors are named '" + name + "'");
    }
    denseIdentity_[name] = identity;
    auto dtype = denseDtypeOf(w, name);
    if (!dtype) return dtype.status();
    plan_.entries.push_back(ExportEntry::dense(name, *dtype, shapeOf(w)));
    plan_.weights.push_back(w);
    return Status::ok();
  }

  Status linear(const std::string &module, FormatAttr format, Value w) {
    const std::vector<int64_t> shape = shapeOf(w);
    if (shape.size() != 2) return Status::error("linear '" + module + "' has a weight that is not 2-D");
    ExportEntry e = ExportEntry::linear(module, formatSpecOf(format), shape[0], shape[1]);
    Operation *def = w.getDefiningOp();
    if (auto q = dyn_cast_or_null<QuantizedWeightOp>(def)) {
      e.mseClip = q.getMseClip();
      e.actOrder = actOrder_ && q.getMethod() == QuantMethod::gptq;
    } else if (auto r = dyn_cast_or_null<QuantizeWeightOp>(def)) {
      e.mseClip = r.getMseClip();
    } else if (isa_and_nonnull<WeightOp>(def)) {
      if (format.isQuantized() && requireQuantized_)
        return Status::error("linear '" + module + "' is " + formats::formatSpecName(e.format) +
                             " but its weight is not quantized yet (run qcc-quantize-weights first)");
      auto dtype = denseDtypeOf(w, module + ".weight");
      if (!dtype) return dtype.status();
      e.dtype = *dtype;
    } else {
      return Status::error("linear '" + module + "' reads a weight that no weight op defines");
    }
    plan_.entries.push_back(std::move(e));
    plan_.weights.push_back(w);
    return Status::ok();
  }

  // The head: an unquantized lm_head, or nothing when tied to the embedding
  // table (compressed-tensors and vLLM then read the table itself).
  Status head(LogitsOp h) {
    const formats::FormatSpec spec = formatSpecOf(h.getFormat());
    const std::string fix = "; export lm_head in bf16 (without --include-lm-head, and with the layer rule "
                            "`lm_head: bf16` ahead of any rule that matches it)";
    if (plan_.config.tieWordEmbeddings) {
      if (h.getFormat().isQuantized())
        return Status::error("lm_head is " + formats::formatSpecName(spec) +
                             " but the model ties it to model.embed_tokens.weight: compressed-tensors and vLLM "
                             "read a tied head as the embedding table itself, which is not quantized" + fix);
      if (!embedding_ || weightIdentity(h.getWeight()) != weightIdentity(embedding_))
        return Status::error("the model ties lm_head to model.embed_tokens.weight, but the head reads '" +
                             nameOf(h.getWeight()) + "'");
      return Status::ok();
    }
    if (h.getFormat().isQuantized())
      return Status::error("lm_head is " + formats::formatSpecName(spec) +
                           ", but vLLM serves compressed-tensors checkpoints with an unquantized head (its "
                           "ParallelLMHead takes no compressed-tensors scheme)" + fix);
    return linear("lm_head", h.getFormat(), h.getWeight());
  }

  ModuleOp module_;
  bool requireQuantized_;
  bool actOrder_ = false;
  CompressedTensorsPlan plan_;
  Value embedding_;
  std::map<std::string, std::string> denseIdentity_; // name -> weightIdentity
};

// generation_config.json of the checkpoint folder the importer named
// @checkpoint, when there is one: vLLM and transformers take their default
// sampling settings (and Instruct models' end-of-turn ids) from it. The import
// does not record it, so it is read as it is now; "" when absent.
Expected<std::string> checkpointGenerationConfig(ModuleOp module) {
  for (auto archive : module.getOps<ArchiveOp>()) {
    if (archive.getSymName() != "checkpoint") continue;
    const std::string path = archive.getPath().str() + "/generation_config.json";
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::string();
    auto file = MappedFile::open(path);
    if (!file) return file.status();
    return std::string(reinterpret_cast<const char *>((*file)->data()), (*file)->size());
  }
  return std::string();
}

} // namespace

Expected<CompressedTensorsPlan> planCompressedTensorsExport(ModuleOp module, bool requireQuantized) {
  return Planner(module, requireQuantized).run();
}

Expected<ExportSummary> translateToCompressedTensors(ModuleOp module, const ExportTranslateOptions &options) {
  auto plan = planCompressedTensorsExport(module, /*requireQuantized=*/true);
  if (!plan) return plan.status();
  // The tokenizer's files, checked against their hashes before anything is written.
  auto recorded = recordedTokenizerFiles(module);
  if (!recorded) return recorded.status();
  std::vector<std::unique_ptr<MappedFile>> files;
  for (const RecordedFile &r : *recorded) {
    auto file = openRecordedFile(r);
    if (!file) return file.status();
    files.push_back(std::move(*file));
  }

  auto generationConfig = checkpointGenerationConfig(module);
  if (!generationConfig) return generationConfig.status();

  compressed_tensors::ExportOptions writerOptions;
  writerOptions.overwrite = options.overwrite;
  writerOptions.maxShardBytes = options.maxShardBytes;
  // No source folder: only what the IR records (and has checked) is copied.
  auto writer = compressed_tensors::ExportWriter::create(options.outputDir, plan->config, /*sourceDir=*/"",
                                                         plan->entries, writerOptions);
  if (!writer) return writer.status();
  ExportSummary summary;
  summary.shards = (*writer)->shardNames();
  for (size_t i = 0; i < recorded->size(); ++i) {
    QCC_RETURN_IF_ERROR((*writer)->writeFile((*recorded)[i].name, files[i]->data(), files[i]->size()));
    summary.files.push_back((*recorded)[i].name);
  }
  files.clear();
  if (!generationConfig->empty()) {
    QCC_RETURN_IF_ERROR((*writer)->writeFile("generation_config.json", generationConfig->data(),
                                             generationConfig->size()));
    summary.files.push_back("generation_config.json");
  }

  const int64_t total = static_cast<int64_t>(plan->entries.size());
  for (size_t i = 0; i < plan->entries.size(); ++i) {
    const ExportEntry &e = plan->entries[i];
    auto w = evaluateWeight(plan->weights[i]);
    if (!w) return w.status();
    if (w->quantized) {
      const formats::QuantizedLinear &q = *w->quantized;
      QCC_RETURN_IF_ERROR((*writer)->writeLinear(e.name, q));
      const uint64_t bytes = q.weights.size() + q.scales.size() * sizeof(float);
      summary.bytesByFormat[formats::formatSpecName(e.format)] += bytes;
      summary.tensorBytes += bytes;
      ++summary.linears;
      ++summary.quantizedLinears;
    } else {
      const TensorRef &t = w->dense;
      if (t.dtype != e.dtype)
        return Status::error("'" + w->name + "' holds " + dtypeName(t.dtype) + " bytes but its IR type is " +
                             dtypeName(e.dtype));
      if (e.kind == ExportEntry::Kind::Linear) {
        QCC_RETURN_IF_ERROR((*writer)->writeDenseLinear(e.name, t.data, t.byteSize()));
        ++summary.linears;
      } else {
        QCC_RETURN_IF_ERROR((*writer)->writeDense(e.name, t.data, t.byteSize()));
      }
      summary.bytesByFormat[dtypeName(t.dtype)] += t.byteSize();
      summary.tensorBytes += t.byteSize();
      // Streamed once: only file-backed pages can be dropped (inline values live on the heap).
      if (w->storage.empty()) releasePages(t.data, t.byteSize());
    }
    if (options.onEntryWritten) options.onEntryWritten(static_cast<int64_t>(i) + 1, total);
  }
  QCC_RETURN_IF_ERROR((*writer)->finish());
  return summary;
}

} // namespace qcc
