// The compiler half of ExecutorCheck.h: random checkpoints compiled by the real
// compiler into the artifacts the runtime half checks.
#include "ExecutorCheck.h"

#include "CompiledModel.h"
#include "codegen/cuda/Targets.h"
#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Safetensors.h"
#include "runtime/artifact/ArtifactFile.h"
#include "runtime/formats/Formats.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace qcc::cuda::testing {

namespace fm = qcc::formats;

namespace {

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

QuantizationOptions optionsFor(const std::string &format, const LayerRules &rules,
                               const std::string &targets, const std::string &dir, const std::string &tag) {
  QuantizationOptions o;
  o.format = format;
  o.targets = targets;
  o.fp8WeightOnly = true;
  if (!rules.empty()) {
    o.layerFormatsFile = dir + "/" + tag + "-rules.yaml";
    std::ofstream f(o.layerFormatsFile);
    for (const auto &[pattern, fmt] : rules) f << '"' << pattern << "\": " << fmt << "\n";
  }
  return o;
}

// The model the weight-only kernels compute: the checkpoint in `dir` with
// every fp8 weight of the artifact replaced by its dequantized values (f32),
// written to `refDir`.
Status writeDequantizedFp8Checkpoint(const std::string &dir, const artifact::ArtifactFile &art,
                                     const std::string &refDir) {
  auto ckpt = Checkpoint::open(dir);
  if (!ckpt) return ckpt.status();
  ::mkdir(refDir.c_str(), 0755);
  {
    std::ifstream in(dir + "/config.json", std::ios::binary);
    std::ofstream out(refDir + "/config.json", std::ios::binary);
    out << in.rdbuf();
  }
  std::vector<std::vector<float>> storage;
  std::vector<SafetensorsEntry> entries;
  for (const std::string &name : (*ckpt)->tensorNames()) {
    const TensorRef *t = (*ckpt)->find(name);
    const artifact::LoadedTensor *q = art.find(name);
    if (q && q->decl.format == artifact::WeightFormat::FP8) {
      fm::QuantizedLinear ql;
      ql.format = fm::Format::FP8;
      ql.outFeatures = q->decl.shape[0];
      ql.inFeatures = q->decl.shape[1];
      ql.weights.assign(q->data, q->data + q->dataRange.size);
      ql.scales.resize(q->scaleRange.size / 4);
      std::memcpy(ql.scales.data(), q->scales, q->scaleRange.size);
      QCC_RETURN_IF_ERROR(fm::validate(ql));
      storage.push_back(fm::dequantize(ql));
      entries.push_back({name, DType::F32, t->shape, nullptr});
    } else {
      entries.push_back({name, t->dtype, t->shape, t->data});
    }
  }
  size_t next = 0;
  for (SafetensorsEntry &e : entries)
    if (!e.data) e.data = storage[next++].data();
  return writeSafetensors(refDir + "/model.safetensors", entries);
}


bool hasFormat(const artifact::ArtifactFile &art, artifact::WeightFormat f) {
  for (const artifact::LoadedTensor &t : art.tensors())
    if (t.decl.format == f) return true;
  return false;
}

// Whether any / every listed target has fp8 tensor cores.
Expected<std::pair<bool, bool>> fp8MmaOf(const std::string &targets) {
  bool any = false, all = true;
  std::stringstream list(targets);
  std::string t;
  while (std::getline(list, t, ',')) {
    auto gpu = findTarget(t);
    if (!gpu) return gpu.status();
    any |= (*gpu)->hasFp8Mma;
    all &= (*gpu)->hasFp8Mma;
  }
  return std::make_pair(any, all);
}

ModelConfig executorCheckConfig() {
  ModelConfig c;
  c.hiddenSize = 256;
  c.intermediateSize = 768;
  c.numLayers = 2;
  c.numHeads = 4;
  c.numKvHeads = 1;
  c.headDim = 64;
  c.vocabSize = kExecutorCheckVocab;
  c.bosTokenId = 0;
  c.eosTokenIds = {1};
  c.maxPositionEmbeddings = kExecutorCheckMaxSeq; // the kernels' KV cache length
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = true;
  c.ropeScaling.originalMaxPositionEmbeddings = 16;
  return c;
}

Status compileTo(const std::string &checkpoint, const QuantizationOptions &o, const std::string &path,
                 const std::function<Status(const qcc::test::CompiledModel &)> &onCompiled) {
  auto m = qcc::test::compileCheckpoint(checkpoint, o, path);
  if (!m) return m.status().withContext(path);
  if (onCompiled) QCC_RETURN_IF_ERROR(onCompiled(*m));
  return Status::ok();
}

} // namespace

Expected<ExecutorArtifacts> prepareExecutorArtifacts(const std::string &dir, const std::string &name,
                                                     const std::string &format, const LayerRules &rules,
                                                     const std::string &targets, unsigned seed,
                                                     const std::function<Status(const qcc::test::CompiledModel &)>
                                                         &onCompiled) {
  auto fp8Mma = fp8MmaOf(targets);
  if (!fp8Mma) return fp8Mma.status();
  const auto [anyFp8Mma, allFp8Mma] = *fp8Mma;
  ::mkdir(dir.c_str(), 0755);
  ExecutorArtifacts a;
  a.label = format + (rules.empty() ? "" : " with per-layer rules");
  a.seed = seed;
  const std::string tag = std::to_string(seed);
  const std::string ckpt = dir + "/checkpoint-" + tag;
  if (!exists(ckpt + "/model.safetensors")) {
    // Attention scores and logits of standard deviation ~1: peakier ones turn
    // the executors' bf16 roundings into larger logit differences.
    qcc::test::RandomWeightScales scales;
    scales.qk = 1.0f;
    scales.lmHead = 1.0f / 16; // 1/sqrt(hidden)
    QCC_RETURN_IF_ERROR(qcc::test::writeRandomCheckpoint(ckpt, executorCheckConfig(), seed, scales));
  }
  a.model = dir + "/" + name + ".qcc";
  QCC_RETURN_IF_ERROR(compileTo(ckpt, optionsFor(format, rules, targets, dir, name), a.model, onCompiled));
  a.dense = dir + "/dense-" + tag + ".qcc"; // shared by the cases of one checkpoint
  if (!exists(a.dense)) QCC_RETURN_IF_ERROR(compileTo(ckpt, optionsFor("bf16", {}, "", dir, "dense"), a.dense, {}));

  auto file = artifact::ArtifactFile::open(a.model);
  if (!file) return file.status();
  const bool fp8 = hasFormat(**file, artifact::WeightFormat::FP8);
  const bool int8 = hasFormat(**file, artifact::WeightFormat::INT8);
  if (fp8 && !allFp8Mma) { // targets that run fp8 weight-only
    const std::string refCkpt = dir + "/" + name + "-reference-checkpoint";
    QCC_RETURN_IF_ERROR(writeDequantizedFp8Checkpoint(ckpt, **file, refCkpt));
    auto asDense = [](std::string f) { return f == "fp8" ? std::string("bf16") : f; };
    LayerRules refRules = rules;
    for (auto &rule : refRules) rule.second = asDense(rule.second);
    a.reference = dir + "/" + name + "-reference.qcc";
    QCC_RETURN_IF_ERROR(
        compileTo(refCkpt, optionsFor(asDense(format), refRules, "", dir, name + "-reference"), a.reference, {}));
  }
  // A model mixing W8A8 layers with others: its W8A8 layers alone.
  if (!rules.empty()) {
    auto only = [&](bool keepFp8, const std::string &path) -> Status {
      auto w8a8 = [&](const std::string &f) {
        return f == "int8" || (f == "fp8" && keepFp8) ? f : std::string("bf16");
      };
      LayerRules r = rules;
      for (auto &rule : r) rule.second = w8a8(rule.second);
      return compileTo(ckpt, optionsFor(w8a8(format), r, "", dir, name + "-w8a8"), path, {});
    };
    if (anyFp8Mma && (int8 || fp8)) {
      a.w8a8Only = dir + "/" + name + "-w8a8-only.qcc";
      QCC_RETURN_IF_ERROR(only(true, a.w8a8Only));
    }
    if (!allFp8Mma && int8) {
      a.w8a8OnlyWithoutFp8 = dir + "/" + name + "-w8a8-only-without-fp8.qcc";
      QCC_RETURN_IF_ERROR(only(false, a.w8a8OnlyWithoutFp8));
    }
  }
  return a;
}

Expected<std::string> prepareModelArtifact(const std::string &checkpointDir, const std::string &path,
                                           const std::string &format, const LayerRules &rules,
                                           const std::string &targets,
                                           const std::function<Status(const qcc::test::CompiledModel &)>
                                               &onCompiled) {
  const std::string dir = path.substr(0, path.rfind('/'));
  QCC_RETURN_IF_ERROR(compileTo(checkpointDir, optionsFor(format, rules, targets, dir, "model"), path, onCompiled));
  return path;
}

} // namespace qcc::cuda::testing
