#include "passes/CalibrationData.h"

#include "frontends/llama/TextData.h"
#include "frontends/llama/TokenIds.h"
#include "passes/Params.h"
#include "support/Hash.h"
#include "support/MappedFile.h"

#include "mlir/IR/Builders.h"

namespace qcc {

Expected<std::vector<std::vector<int64_t>>> loadCalibrationSamples(const CalibrationSpec &spec,
                                                                   const ModelConfig &config, mlir::ModuleOp module) {
  if (spec.samples <= 0 || spec.seqLen <= 1) return Status::error("calibration needs samples >= 1 and seq-len >= 2");
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
    auto recorded = recordedTokenizerFile(module, "tokenizer.json");
    if (!recorded) return recorded.status();
    if (!*recorded)
      return Status::error(spec.source + ": text calibration needs the model's tokenizer.json (the module records none)");
    auto file = openRecordedFile(**recorded);
    if (!file) return file.status();
    auto tokenizer = loadTokenizer((*recorded)->path);
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

static Expected<std::string> fileHash(const std::string &path) {
  auto f = MappedFile::open(path);
  if (!f) return f.status();
  return contentHash((*f)->data(), (*f)->size());
}

Status setCalibrationSpec(mlir::ModuleOp module, const CalibrationSpec &spec) {
  mlir::Builder b(module.getContext());
  std::string hash;
  if (spec.source != "random") {
    auto h = fileHash(spec.source);
    if (!h) return h.status();
    hash = *h;
  }
  module->setAttr("qcc.calibration",
                  b.getDictionaryAttr({b.getNamedAttr("source", b.getStringAttr(spec.source)),
                                       b.getNamedAttr("hash", b.getStringAttr(hash)),
                                       b.getNamedAttr("samples", b.getI64IntegerAttr(spec.samples)),
                                       b.getNamedAttr("seq_len", b.getI64IntegerAttr(spec.seqLen)),
                                       b.getNamedAttr("seed", b.getI64IntegerAttr(static_cast<int64_t>(spec.seed)))}));
  return Status::ok();
}

Expected<CalibrationSpec> getCalibrationSpec(mlir::ModuleOp module) {
  auto dict = module->getAttrOfType<mlir::DictionaryAttr>("qcc.calibration");
  if (!dict) return Status::error("no calibration data: run qcc-calibrate first");
  CalibrationSpec spec;
  auto source = dict.getAs<mlir::StringAttr>("source");
  auto hash = dict.getAs<mlir::StringAttr>("hash");
  auto samples = dict.getAs<mlir::IntegerAttr>("samples");
  auto seqLen = dict.getAs<mlir::IntegerAttr>("seq_len");
  auto seed = dict.getAs<mlir::IntegerAttr>("seed");
  if (!source || !hash || !samples || !seqLen || !seed)
    return Status::error("malformed `qcc.calibration` attribute (needs source, hash, samples, seq_len, seed)");
  spec.source = source.str();
  spec.samples = samples.getInt();
  spec.seqLen = seqLen.getInt();
  spec.seed = static_cast<uint64_t>(seed.getInt());
  if (spec.source != "random") {
    auto h = fileHash(spec.source);
    if (!h) return h.status().withContext("calibration data");
    if (*h != hash.str())
      return Status::error(spec.source + ": the calibration file changed since qcc-calibrate chose it (hash " + *h +
                           ", recorded " + hash.str() + ")");
  }
  return spec;
}

} // namespace qcc
