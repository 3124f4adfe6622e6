#include "passes/WeightStore.h"

#include "dialects/qcc/QccDialect.h"
#include "frontends/llama/TextData.h"
#include "frontends/llama/TokenIds.h"
#include "quant/Rtn.h"
#include "support/MappedFile.h"

#include "mlir/IR/Builders.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <thread>

namespace qcc {

WeightStore::WeightStore(std::unique_ptr<Checkpoint> checkpoint) : checkpoint_(std::move(checkpoint)) {}

const TensorRef *WeightStore::find(const std::string &name) const {
  auto it = dense_.find(name);
  if (it != dense_.end()) return &it->second->ref;
  return checkpoint_->find(name);
}

// Converts elements [begin, end) of a float tensor to fp32 (bf16 and f16 are exact in fp32).
static void convertToFloat(const TensorRef &t, int64_t begin, int64_t end, float *out) {
  const uint8_t *bytes = static_cast<const uint8_t *>(t.data);
  for (int64_t i = begin; i < end; ++i, ++out) {
    switch (t.dtype) {
    case DType::F32: std::memcpy(out, bytes + 4 * i, 4); break;
    case DType::BF16: {
      uint16_t b;
      std::memcpy(&b, bytes + 2 * i, 2);
      *out = formats::bf16ToFloat(b);
      break;
    }
    case DType::F16: {
      uint16_t h;
      std::memcpy(&h, bytes + 2 * i, 2);
      *out = formats::f16ToFloat(h);
      break;
    }
    default: *out = 0; break; // the checkpoint reader admits only float weights
    }
  }
}

std::vector<float> WeightStore::readFloat(const std::string &name) const {
  const TensorRef *t = find(name);
  if (!t || (t->dtype != DType::F32 && t->dtype != DType::BF16 && t->dtype != DType::F16)) return {};
  std::vector<float> out(static_cast<size_t>(t->numel()));
  convertToFloat(*t, 0, t->numel(), out.data());
  return out;
}

Status WeightStore::setDense(const std::string &name, std::vector<float> values) {
  const TensorRef *old = find(name);
  if (!old) return Status::error("no tensor '" + name + "' to replace");
  if (static_cast<int64_t>(values.size()) != old->numel())
    return Status::error("replacement for '" + name + "' has " + std::to_string(values.size()) +
                         " values, expected " + std::to_string(old->numel()));
  auto entry = std::make_unique<DenseEntry>();
  entry->values = std::move(values);
  entry->ref.dtype = DType::F32;
  entry->ref.shape = old->shape;
  entry->ref.data = entry->values.data();
  dense_[name] = std::move(entry);
  return Status::ok();
}

void WeightStore::setQuantized(const std::string &name, formats::QuantizedLinear q) {
  recipes_.erase(name);
  quantized_[name] = std::move(q);
}

void WeightStore::setQuantizedRecipe(const std::string &name, RtnRecipe recipe) {
  quantized_.erase(name);
  recipes_[name] = std::move(recipe);
}

bool WeightStore::hasQuantized(const std::string &name) const {
  return quantized_.count(name) || recipes_.count(name);
}

// Round-to-nearest of W[N, K] (every rule is per row: per-channel scales, or
// groups inside a row), split over the cores in blocks of whole rows; the
// blocks' codes and scales are concatenated, so the result does not depend on
// the split.
static Expected<formats::QuantizedLinear> quantizeRowsInParallel(const TensorRef &w, const formats::FormatSpec &spec,
                                                                 bool mseClip) {
  const int64_t N = w.shape[0], K = w.shape[1];
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(std::thread::hardware_concurrency(), N / 64));
  const int64_t rowsPer = (N + threads - 1) / threads;
  std::vector<formats::QuantizedLinear> parts(static_cast<size_t>(threads));
  std::vector<Status> status(static_cast<size_t>(threads), Status::ok());
  auto work = [&](int64_t t) {
    const int64_t r0 = t * rowsPer, r1 = std::min(N, r0 + rowsPer);
    if (r0 >= r1) return;
    std::vector<float> rows(static_cast<size_t>((r1 - r0) * K)); // [r1 - r0, K]
    convertToFloat(w, r0 * K, r1 * K, rows.data());
    auto q = quant::quantizeRtn(rows.data(), r1 - r0, K, spec, mseClip);
    if (!q) status[size_t(t)] = q.status();
    else parts[size_t(t)] = std::move(*q);
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread &th : pool) th.join();
  for (const Status &st : status)
    if (!st) return st;
  formats::QuantizedLinear out = std::move(parts[0]);
  out.outFeatures = N;
  for (size_t t = 1; t < parts.size(); ++t) {
    out.weights.insert(out.weights.end(), parts[t].weights.begin(), parts[t].weights.end());
    out.scales.insert(out.scales.end(), parts[t].scales.begin(), parts[t].scales.end());
  }
  return out;
}

Expected<formats::QuantizedLinear> WeightStore::quantizedLinear(const std::string &name) const {
  if (auto it = quantized_.find(name); it != quantized_.end()) return it->second;
  auto it = recipes_.find(name);
  if (it == recipes_.end()) return Status::error("no quantized weight '" + name + "'");
  const TensorRef *source = find(it->second.source);
  if (!source || source->shape.size() != 2)
    return Status::error("no 2-d weight '" + it->second.source + "' to quantize");
  auto q = quantizeRowsInParallel(*source, it->second.spec, it->second.mseClip);
  // Streamed once: keep the resident set small. Only file-backed pages may be
  // dropped (an overlay tensor lives on the heap).
  if (source == checkpoint_->find(it->second.source)) releasePages(source->data, source->byteSize());
  if (!q) return q.status().withContext(name);
  return std::move(*q);
}

std::vector<std::string> WeightStore::quantizedNames() const {
  std::vector<std::string> names;
  for (const auto &[n, q] : quantized_) names.push_back(n);
  for (const auto &[n, r] : recipes_) names.push_back(n);
  std::sort(names.begin(), names.end());
  return names;
}

Expected<std::unique_ptr<cpu::LlamaModel>> WeightStore::buildExecutor(const cpu::ExecutorOptions &options) const {
  auto model = cpu::LlamaModel::create(config(), *this, options);
  if (!model) return model.status();
  for (const std::string &name : quantizedNames()) {
    auto q = quantizedLinear(name);
    if (!q) return q.status();
    Status s = (*model)->setLinear(name, std::move(*q));
    if (!s) return s;
  }
  return model;
}

namespace {
struct Registry {
  std::mutex mutex;
  std::map<mlir::Operation *, std::shared_ptr<WeightStore>> attached;
  std::map<std::string, std::shared_ptr<WeightStore>> byPath;
};
Registry &registry() {
  static Registry r;
  return r;
}
} // namespace

void WeightStore::attach(mlir::ModuleOp module, std::shared_ptr<WeightStore> store) {
  std::lock_guard<std::mutex> lock(registry().mutex);
  registry().attached[module.getOperation()] = std::move(store);
}

void WeightStore::detach(mlir::ModuleOp module) {
  std::lock_guard<std::mutex> lock(registry().mutex);
  registry().attached.erase(module.getOperation());
}

Expected<std::shared_ptr<WeightStore>> WeightStore::forModule(mlir::ModuleOp module) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.attached.find(module.getOperation());
  if (it != r.attached.end()) return it->second;
  auto path = module->getAttrOfType<mlir::StringAttr>("qcc.checkpoint");
  if (!path)
    return Status::error("the module has no `qcc.checkpoint` attribute: its weights are unknown "
                         "(import it with `qcc import MODEL_DIR`)");
  auto cached = r.byPath.find(path.str());
  if (cached != r.byPath.end()) return cached->second;
  auto checkpoint = Checkpoint::open(path.str());
  if (!checkpoint) return checkpoint.status();
  auto store = std::make_shared<WeightStore>(std::move(*checkpoint));
  r.byPath[path.str()] = store;
  r.attached[module.getOperation()] = store;
  return store;
}

Expected<std::vector<std::vector<int64_t>>> loadCalibrationSamples(const CalibrationSpec &spec,
                                                                   const ModelConfig &config,
                                                                   const std::string &modelDir) {
  if (spec.samples <= 0 || spec.seqLen <= 1)
    return Status::error("calibration needs samples >= 1 and seq-len >= 2");
  std::vector<std::vector<int64_t>> samples;
  if (spec.source == "random") {
    // splitmix64: a fixed, portable generator (std distributions are not).
    uint64_t state = spec.seed;
    auto next = [&]() {
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    };
    for (int64_t s = 0; s < spec.samples; ++s) {
      std::vector<int64_t> seq;
      seq.push_back(config.bosTokenId >= 0 ? config.bosTokenId : 0);
      while (static_cast<int64_t>(seq.size()) < spec.seqLen)
        seq.push_back(static_cast<int64_t>(next() % static_cast<uint64_t>(config.vocabSize)));
      samples.push_back(std::move(seq));
    }
    return samples;
  }
  if (isTextDataFile(spec.source)) {
    if (modelDir.empty()) return Status::error(spec.source + ": text calibration needs the checkpoint's tokenizer.json");
    auto tokenizer = loadTokenizer(modelDir + "/tokenizer.json");
    if (!tokenizer) return tokenizer.status().withContext("calibration text " + spec.source);
    auto windows = loadTextWindows(*tokenizer, spec.source, spec.seqLen, spec.samples, config.bosTokenId);
    if (!windows) return windows.status();
    for (const auto &w : *windows)
      for (int64_t id : w)
        if (id >= config.vocabSize)
          return Status::error(spec.source + ": encodes to id " + std::to_string(id) +
                               ", outside the model's vocabulary [0, " + std::to_string(config.vocabSize) + ")");
    return windows;
  }
  auto lines = readTokenIdLines(spec.source, config.vocabSize);
  if (!lines) return lines.status();
  for (auto &line : *lines) {
    if (static_cast<int64_t>(samples.size()) == spec.samples) break;
    if (static_cast<int64_t>(line.size()) > spec.seqLen) line.resize(static_cast<size_t>(spec.seqLen));
    samples.push_back(std::move(line));
  }
  if (samples.empty()) return Status::error(spec.source + ": no calibration sequences");
  return samples;
}

void setCalibrationSpec(mlir::ModuleOp module, const CalibrationSpec &spec) {
  mlir::Builder b(module.getContext());
  module->setAttr("qcc.calibration",
                  b.getDictionaryAttr({b.getNamedAttr("source", b.getStringAttr(spec.source)),
                                       b.getNamedAttr("samples", b.getI64IntegerAttr(spec.samples)),
                                       b.getNamedAttr("seq_len", b.getI64IntegerAttr(spec.seqLen)),
                                       b.getNamedAttr("seed", b.getI64IntegerAttr(static_cast<int64_t>(spec.seed)))}));
}

Expected<CalibrationSpec> getCalibrationSpec(mlir::ModuleOp module) {
  auto dict = module->getAttrOfType<mlir::DictionaryAttr>("qcc.calibration");
  if (!dict) return Status::error("no calibration data: run qcc-calibrate first");
  CalibrationSpec spec;
  auto source = dict.getAs<mlir::StringAttr>("source");
  auto samples = dict.getAs<mlir::IntegerAttr>("samples");
  auto seqLen = dict.getAs<mlir::IntegerAttr>("seq_len");
  auto seed = dict.getAs<mlir::IntegerAttr>("seed");
  if (!source || !samples || !seqLen || !seed)
    return Status::error("malformed `qcc.calibration` attribute (needs source, samples, seq_len, seed)");
  spec.source = source.str();
  spec.samples = samples.getInt();
  spec.seqLen = seqLen.getInt();
  spec.seed = static_cast<uint64_t>(seed.getInt());
  return spec;
}

cpu::ExecutorOptions executorOptionsFor(mlir::ModuleOp module) {
  cpu::ExecutorOptions options;
  module.walk([&](EmbeddingOp op) {
    options.actDtype = op.getType().getElementType().isF32() ? cpu::ActDType::F32 : cpu::ActDType::BF16;
    return mlir::WalkResult::interrupt();
  });
  return options;
}

} // namespace qcc
