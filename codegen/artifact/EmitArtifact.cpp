#include "codegen/artifact/EmitArtifact.h"

#include "codegen/cuda/Compile.h"
#include "codegen/cuda/KernelOps.h"
#include "dialects/qcc/QccDialect.h"
#include "dialects/qcck/QcckDialect.h"
#include "passes/Params.h"
#include "passes/PassRecord.h"
#include "passes/ToProgram.h"
#include "runtime/artifact/ArtifactWriter.h"
#include "support/Hash.h"
#include "support/MappedFile.h"

#include <atomic>
#include <cstring>
#include <optional>
#include <thread>

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
  case QuantMethod::imported: return artifact::QuantMethod::Imported;
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

// The launch list of one qcck.program (kernels not compiled yet: their
// generated sources are returned alongside, by kernel index).
struct TargetTranslation {
  artifact::TargetDecl decl;
  const cuda::GpuTarget *gpu = nullptr;
  std::vector<cuda::GeneratedKernel> sources;
};

Expected<TargetTranslation> translateProgram(qcck::ProgramOp program, const TranslatedProgram &cpu) {
  using artifact::ArgKind;
  using artifact::DeviceWeightLayout;
  using artifact::LaunchArg;
  TargetTranslation out;
  artifact::TargetDecl &t = out.decl;
  t.target = program.getTarget().str();
  auto gpu = cuda::findTarget(t.target);
  if (!gpu) return gpu.status();
  out.gpu = *gpu;
  t.maxSeq = program.getMaxSeq();
  if (auto tiles = program.getTileTableAttr()) t.tileTable = tiles.str();
  auto bytes = program.getBufferBytesPerRowAttr();
  if (!bytes) return Status::error("qcck.program " + t.target + " has no buffer plan (run qcc-plan-buffers)");
  for (int64_t b : bytes.asArrayRef()) t.bufferBytesPerRow.push_back(uint64_t(b));

  Block &body = program.getBody().front();
  const std::string where = "target " + t.target;
  // Where each device value lives.
  auto valueArg = [&](Value v) -> Expected<LaunchArg> {
    LaunchArg a;
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      a.kind = arg.getArgNumber() == 0 ? ArgKind::TokenIds : ArgKind::Positions;
      return a;
    }
    Operation *def = v.getDefiningOp();
    auto buffers = def->getAttrOfType<DenseI64ArrayAttr>("qcck.buffers");
    auto offsets = def->getAttrOfType<DenseI64ArrayAttr>("qcck.offsets");
    // Results that live on the device, in order, are what the plan lists.
    size_t slot = 0;
    for (Value r : def->getResults()) {
      if (r == v) break;
      ++slot;
    }
    if (!buffers || !offsets || slot >= size_t(buffers.size()))
      return Status::error(where + ": a value of '" + def->getName().getStringRef().str() + "' has no buffer");
    a.kind = ArgKind::Buffer;
    a.index = uint32_t(buffers[slot]);
    a.offset = uint64_t(offsets[slot]);
    return a;
  };
  // Device weights: each (tensors, layout) once.
  auto weightArg = [&](ValueRange ws, DeviceWeightLayout layout) -> Expected<LaunchArg> {
    artifact::DeviceWeightDecl d;
    d.layout = layout;
    for (Value w : ws) {
      auto it = cpu.tensorByIdentity.find(weightIdentity(w));
      if (it == cpu.tensorByIdentity.end())
        return Status::error(where + ": a kernel reads a weight the CPU program does not have");
      d.tensors.push_back(it->second);
    }
    LaunchArg a;
    a.kind = ArgKind::Weight;
    auto found = std::find(t.weights.begin(), t.weights.end(), d);
    a.index = uint32_t(found - t.weights.begin());
    if (found == t.weights.end()) t.weights.push_back(std::move(d));
    return a;
  };
  auto null = [] { return LaunchArg{}; };
  auto f32 = [](double v) {
    LaunchArg a;
    a.kind = ArgKind::F32;
    a.f32 = float(v);
    return a;
  };
  auto rows = [] {
    LaunchArg a;
    a.kind = ArgKind::Rows;
    return a;
  };
  auto cache = [](ArgKind k, int64_t c) {
    LaunchArg a;
    a.kind = k;
    a.index = uint32_t(c);
    return a;
  };
  std::map<std::string, uint32_t> kernelIndex;
  std::map<int64_t, artifact::KvCacheDecl> caches;

  for (Operation &opRef : body) {
    Operation *op = &opRef;
    auto variants = op->getAttrOfType<ArrayAttr>("variants");
    if (!variants) {
      if (isa<qcck::ReturnOp>(op)) {
        auto logits = valueArg(cast<qcck::ReturnOp>(op).getLogits());
        if (!logits) return logits.status();
        t.logits = *logits;
      }
      continue; // weights, slices
    }
    artifact::LaunchDecl l;
    std::vector<Expected<LaunchArg>> args;
    auto in = [&](Value v) { args.push_back(v ? valueArg(v) : Expected<LaunchArg>(null())); };
    if (auto e = dyn_cast<qcck::EmbeddingOp>(op)) {
      l.name = "embedding";
      in(e.getIds());
      args.push_back(weightArg(e.getTable(), DeviceWeightLayout::Bf16));
      in(e.getResult());
    } else if (auto n = dyn_cast<qcck::RMSNormOp>(op)) {
      l.name = "rms_norm";
      in(n.getInput());
      args.push_back(weightArg(n.getWeight(), DeviceWeightLayout::Bf16));
      args.push_back(f32(n.getEpsilon().convertToDouble()));
      in(n.getResults()[0]);
      in(n.getResults().size() > 1 ? n.getResults()[1] : Value());
    } else if (auto q = dyn_cast<qcck::QuantizeOp>(op)) {
      l.name = "quantize";
      in(q.getInput());
      in(q.getCodes());
      in(q.getScales());
    } else if (auto g = dyn_cast<qcck::GemmOp>(op)) {
      l.name = g.getLayer().str();
      const auto format = cuda::GemmFormat(g.getFormat());
      in(g.getA());
      if (format == cuda::GemmFormat::BF16) {
        args.push_back(weightArg(g.getWeights(), DeviceWeightLayout::Bf16));
        in(g.getScales());
        args.push_back(null());
      } else {
        const bool w4 = format == cuda::GemmFormat::W4A16;
        args.push_back(weightArg(g.getWeights(), w4 ? DeviceWeightLayout::W4A16Codes : DeviceWeightLayout::Codes));
        in(g.getScales());
        args.push_back(weightArg(g.getWeights(), w4 ? DeviceWeightLayout::W4A16Scales : DeviceWeightLayout::Scales));
      }
      in(g.getResidual());
      in(g.getResult());
      args.push_back(rows());
    } else if (auto r = dyn_cast<qcck::RopeOp>(op)) {
      l.name = "rope";
      in(r.getQ());
      in(r.getK());
      in(r.getPositions());
    } else if (auto kv = dyn_cast<qcck::KVStoreOp>(op)) {
      l.name = "kv_store";
      caches[int64_t(kv.getCache())] = {int64_t(kv.getKvHeads()), int64_t(kv.getHeadDim())};
      in(kv.getK());
      in(kv.getV());
      in(kv.getPositions());
      args.push_back(cache(ArgKind::KCache, kv.getCache()));
      args.push_back(cache(ArgKind::VCache, kv.getCache()));
    } else if (auto a = dyn_cast<qcck::AttentionOp>(op)) {
      l.name = "attention";
      in(a.getQ());
      args.push_back(cache(ArgKind::KCache, a.getCache()));
      args.push_back(cache(ArgKind::VCache, a.getCache()));
      in(a.getPositions());
      in(a.getResult());
    } else if (auto w = dyn_cast<qcck::SwiGLUOp>(op)) {
      l.name = "swiglu";
      in(w.getGate());
      in(w.getUp());
      in(w.getResults()[0]);
      in(w.getResults().size() > 1 ? w.getResults()[1] : Value());
    } else if (auto add = dyn_cast<qcck::AddOp>(op)) {
      l.name = "add";
      in(add.getLhs());
      in(add.getRhs());
      in(add.getResult());
      args.push_back(rows());
    } else {
      return Status::error(where + ": no launch for '" + op->getName().getStringRef().str() + "'");
    }
    for (auto &a : args) {
      if (!a) return a.status();
      l.args.push_back(*a);
    }
    // Kernels: each distinct one once, its source generated from the op.
    for (Attribute attr : variants) {
      auto v = cast<qcck::VariantAttr>(attr);
      auto spec = cuda::kernelSpecOf(op, v, t.maxSeq);
      if (!spec) return spec.status();
      auto gen = cuda::generateKernel(*spec, *out.gpu);
      if (!gen) return gen.status().withContext(where);
      if (gen->name != v.getKernel())
        return Status::error(where + ": kernel " + v.getKernel().str() + " of the IR is " + gen->name +
                             " when generated (the IR was lowered by another qcc version)");
      auto [it, added] = kernelIndex.try_emplace(gen->name, uint32_t(out.sources.size()));
      if (added) out.sources.push_back(std::move(*gen));
      artifact::KernelVariant kv;
      kv.kernel = it->second;
      kv.maxRows = v.getMaxRows();
      kv.block = uint32_t(v.getBlock());
      for (size_t d = 0; d < 3; ++d) {
        qcck::GridDimAttr g = v.getGrid()[d];
        kv.grid[d] = {uint32_t(g.getConstant()), uint32_t(g.getRowsMul()), uint32_t(g.getRowsDiv())};
      }
      l.variants.push_back(kv);
    }
    t.launches.push_back(std::move(l));
  }
  for (const auto &[c, decl] : caches) {
    if (c != int64_t(t.caches.size())) return Status::error(where + ": KV caches are not numbered 0, 1, ...");
    t.caches.push_back(decl);
  }
  return out;
}

// Every target's kernels compiled by NVRTC (through the kernel cache), all
// (target, kernel) pairs on every core.
Status compileTargets(std::vector<TargetTranslation> &targets, const std::string &cacheDir) {
  struct Job {
    size_t target, kernel;
  };
  std::vector<Job> jobs;
  for (size_t t = 0; t < targets.size(); ++t)
    for (size_t k = 0; k < targets[t].sources.size(); ++k) jobs.push_back({t, k});
  if (jobs.empty()) return Status::ok();
  Expected<const cuda::Nvrtc *> nvrtc = cuda::Nvrtc::get(); // load once, before the threads
  if (!nvrtc) return nvrtc.status().withContext("cannot compile the CUDA kernels");
  cuda::CompileOptions options;
  options.cacheDir = cacheDir;
  std::vector<std::optional<Expected<cuda::CompiledKernel>>> results(jobs.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++)
      results[i] = cuda::compileKernel(targets[jobs[i].target].sources[jobs[i].kernel], *targets[jobs[i].target].gpu,
                                       options);
  };
  const unsigned n = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), unsigned(jobs.size())));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread &th : pool) th.join();
  std::string errors;
  for (auto &t : targets) t.decl.kernels.resize(t.sources.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    Expected<cuda::CompiledKernel> &r = *results[i];
    TargetTranslation &t = targets[jobs[i].target];
    if (!r) {
      errors += (errors.empty() ? "" : "\n") + t.decl.target + ": " + r.message();
      continue;
    }
    const cuda::GeneratedKernel &src = t.sources[jobs[i].kernel];
    artifact::KernelDecl &k = t.decl.kernels[jobs[i].kernel];
    k.name = r->name;
    k.sourceHash = contentHash(src.source.data(), src.source.size());
    k.ptx = std::move(r->ptx);
    k.cubin = std::move(r->cubin);
    k.block = {src.threads, 1, 1};
  }
  if (!errors.empty()) return Status::error(errors);
  return Status::ok();
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

  // The tokenizer's files the importer recorded (tokenizer.json,
  // tokenizer_config.json, chat_template.jinja), each checked against its
  // hash, as role-tokenizer byte blobs under their file names.
  auto recorded = recordedTokenizerFiles(module);
  if (!recorded) return recorded.status();
  std::vector<std::unique_ptr<MappedFile>> tokenizerFiles;
  for (const RecordedFile &r : *recorded) {
    auto file = openRecordedFile(r);
    if (!file) return file.status();
    TensorDecl d;
    d.name = r.name;
    d.role = TensorRole::Tokenizer;
    d.dtype = DType::U8;
    d.shape = {static_cast<int64_t>((*file)->size())};
    spec.tensors.push_back(std::move(d));
    tokenizerFiles.push_back(std::move(*file));
  }

  // Per target: its launch list and kernels.
  std::vector<TargetTranslation> targets;
  for (auto program : module.getOps<qcck::ProgramOp>()) {
    auto t = translateProgram(program, *translated);
    if (!t) return t.status();
    targets.push_back(std::move(*t));
  }
  QCC_RETURN_IF_ERROR(compileTargets(targets, options.kernelCacheDir));
  for (TargetTranslation &t : targets) spec.targets.push_back(std::move(t.decl));

  if (auto name = module->getAttrOfType<StringAttr>("qcc.model_name")) spec.provenance.source = name.str();
  if (auto hash = module->getAttrOfType<StringAttr>("qcc.checkpoint_hash")) spec.provenance.checkpointHash = hash.str();
  spec.provenance.qccVersion = "0.2.0";
  spec.provenance.options = recordedPasses(module);

  auto writer = options.inMemory ? artifact::ArtifactWriter::createInMemory(options.outputPath, spec)
                                 : artifact::ArtifactWriter::create(options.outputPath, spec);
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
  for (size_t i = 0; i < tokenizerFiles.size(); ++i)
    QCC_RETURN_IF_ERROR((*writer)->writeTensor((*recorded)[i].name, tokenizerFiles[i]->data(), tokenizerFiles[i]->size()));
  QCC_RETURN_IF_ERROR((*writer)->finish());
  summary.fileSize = (*writer)->fileSize();
  summary.memoryFd = (*writer)->releaseFd();
  summary.tensors = spec.tensors.size();
  for (const artifact::TargetDecl &t : spec.targets) summary.targets.push_back(t.target);
  return summary;
}

} // namespace qcc
