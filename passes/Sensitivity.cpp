#include "passes/Sensitivity.h"

#include "passes/CalibrationData.h"
#include "passes/PassRecord.h"
#include "passes/ToProgram.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstdio>

using namespace mlir;

namespace qcc {

namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// log-sum-exp of a row, in double.
double logSumExp(const float *row, int64_t V) {
  double maxv = -INFINITY;
  for (int64_t i = 0; i < V; ++i) maxv = std::max(maxv, double(row[i]));
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp(double(row[i]) - maxv);
  return maxv + std::log(sum);
}

bool isLinearOp(const program::Op &op) {
  return op.kind == program::OpKind::Linear || op.kind == program::OpKind::Logits;
}

} // namespace

SensitivityTable SensitivityResult::table() const {
  SensitivityTable t;
  t.candidates = candidates;
  for (const LayerSensitivity &l : layers) t.kl[l.name] = l.kl;
  t.checkpointHash = checkpointHash;
  // For provenance (no spaces: qcc.passes records are space separated).
  t.identity = "measured:" + calibration + ":" + std::to_string(samples) + "seq";
  return t;
}

Expected<double> SensitivityRun::klOfSample(size_t s, const std::vector<float> &logits) const {
  const int64_t V = base_->vocabSize();
  const int64_t T = int64_t(samples_[s].size());
  const std::vector<float> &ref = refLogits_[s];
  double kl = 0;
  for (int64_t t = 0; t + 1 < T; ++t) {
    const float *q = logits.data() + t * V;
    const float *r = ref.data() + t * V;
    const double lseQ = logSumExp(q, V), lseR = refLse_[s][size_t(t)];
    double d = 0;
    for (int64_t i = 0; i < V; ++i) {
      const double lr = double(r[i]) - lseR;
      d += std::exp(lr) * (lr - (double(q[i]) - lseQ));
    }
    kl += d;
  }
  if (!std::isfinite(kl)) return Status::error("the KL is not finite");
  return kl;
}

Expected<std::unique_ptr<SensitivityRun>> SensitivityRun::measure(ModuleOp module, const SensitivityOptions &options) {
  auto say = [&](const std::string &line) {
    if (options.progress) options.progress(line);
  };
  const QuantizationOptions &q = options.quant;
  if (q.method == "awq" || q.smoothQuantAlpha)
    return Status::error(std::string(q.method == "awq" ? "--method awq" : "--smoothquant") +
                         " folds scales into layers shared with others, so a layer cannot be quantized alone: "
                         "measure sensitivity with rtn or gptq");
  std::unique_ptr<SensitivityRun> run(new SensitivityRun());
  SensitivityResult &r = run->result_;
  for (const std::string &c : options.candidates) {
    auto spec = parseRuleFormat(c, q.groupSize);
    if (!spec) return Status::error("--candidates: " + spec.message());
    const std::string name = ruleFormatName(*spec);
    if (std::find(r.candidates.begin(), r.candidates.end(), name) != r.candidates.end())
      return Status::error("--candidates: " + name + " is listed twice");
    r.candidates.push_back(name);
  }
  if (r.candidates.empty()) return Status::error("--candidates: no format given");
  if (auto hash = module->getAttrOfType<StringAttr>("qcc.checkpoint_hash")) r.checkpointHash = hash.str();

  // f32 activations unless asked otherwise: with bf16 rounding after every op,
  // any change to one layer flips roundings everywhere downstream, which adds a
  // floor to every layer's KL and breaks their additivity (docs/MIXED_PRECISION.md).
  cpu::ExecutorOptions exec = options.exec;
  if (!exec.actDtype) exec.actDtype = cpu::ActDType::F32;
  auto base = interpretModule(module, exec);
  if (!base) return base.status();
  run->base_ = std::move(*base);
  const cpu::Interpreter &model = *run->base_;
  const program::Program &prog = model.program();

  auto config = modelConfigOf(module);
  if (!config) return config.status();
  CalibrationSpec spec;
  spec.source = q.calibSource, spec.samples = q.calibSamples, spec.seqLen = q.calibSeqLen, spec.seed = q.calibSeed;
  auto samples = loadCalibrationSamples(spec, *config, module);
  if (!samples) return samples.status();
  run->samples_ = std::move(*samples);
  r.calibration = spec.source == "random" ? "random(seed=" + std::to_string(spec.seed) + ")" : fileIdentity(spec.source);
  r.samples = int64_t(run->samples_.size());
  for (const auto &s : run->samples_) r.tokens += std::max<int64_t>(0, int64_t(s.size()) - 1);
  if (r.tokens == 0) return Status::error("the calibration data predicts no tokens (every sequence is shorter than 2 ids)");

  // 1. The reference.
  auto t0 = Clock::now();
  const int64_t V = model.vocabSize();
  for (const auto &ids : run->samples_) {
    auto logits = model.forward(ids);
    if (!logits) return logits.status().withContext("the unquantized model");
    std::vector<double> lse(ids.size());
    for (size_t t = 0; t < ids.size(); ++t) lse[t] = logSumExp(logits->data() + t * V, V);
    run->refLogits_.push_back(std::move(*logits));
    run->refLse_.push_back(std::move(lse));
  }
  r.referenceSeconds = secondsSince(t0);
  say("reference: " + std::to_string(r.samples) + " sequences, " + std::to_string(r.tokens) + " predicted positions");

  // The layers, in program order.
  for (size_t i = 0; i < prog.ops.size(); ++i) {
    const program::Op &op = prog.ops[i];
    if (!isLinearOp(op) || (op.kind == program::OpKind::Logits && !q.includeLmHead)) continue;
    const cpu::Linear *l = model.linear(op.weights[0]);
    if (!l) return Status::error("op " + op.name + " has no linear weight");
    LayerSensitivity layer;
    layer.name = op.kind == program::OpKind::Logits ? "lm_head" : op.name;
    layer.n = l->N, layer.k = l->K, layer.block = op.block;
    if (l->format != formats::Format::BF16) continue; // stored quantized: its format is fixed
    r.layers.push_back(std::move(layer));
    run->linearOps_.push_back(i);
  }
  if (r.layers.empty()) return Status::error("the model has no unquantized linear layer to measure");

  // 2. Each candidate's quantized weights, from the uniform pipeline.
  t0 = Clock::now();
  for (const std::string &format : r.candidates) {
    if (format == "bf16") {
      r.uniformKl[format] = 0;
      for (LayerSensitivity &l : r.layers) l.kl[format] = 0;
      continue;
    }
    const formats::FormatSpec want = *parseRuleFormat(format, q.groupSize);
    OwningOpRef<ModuleOp> copy(cast<ModuleOp>(module->clone()));
    QuantizationOptions uniform = q;
    uniform.format = format;
    uniform.layerFormatsFile.clear();
    uniform.targets.clear();
    std::string remarks;
    {
      ScopedDiagnosticHandler quiet(module.getContext(), [&](Diagnostic &d) {
        if (d.getSeverity() == DiagnosticSeverity::Error) remarks += d.str() + "\n";
        return success();
      });
      PassManager pm(module.getContext());
      buildQuantizationPipeline(pm, uniform);
      if (failed(pm.run(*copy)))
        return Status::error("quantizing the model to " + format + " failed" + (remarks.empty() ? "" : ": " + remarks));
    }
    auto quantized = interpretModule(*copy, exec);
    if (!quantized) return quantized.status().withContext(format);
    const program::Program &qprog = (*quantized)->program();
    std::map<std::string, uint32_t> tensorOf;
    for (const program::Op &op : qprog.ops)
      if (isLinearOp(op)) tensorOf[op.kind == program::OpKind::Logits ? "lm_head" : op.name] = op.weights[0];
    for (size_t i = 0; i < r.layers.size(); ++i) {
      LayerSensitivity &l = r.layers[i];
      auto it = tensorOf.find(l.name);
      const cpu::Linear *ql = it == tensorOf.end() ? nullptr : (*quantized)->linear(it->second);
      if (!ql || ql->format != want.format ||
          (want.format == formats::Format::W4A16 && ql->quant.groupSize != want.groupSize)) {
        l.unavailable[format] = want.format == formats::Format::W4A16 && l.k % want.groupSize != 0
                                    ? "group " + std::to_string(want.groupSize) + " does not divide K=" + std::to_string(l.k)
                                    : "the " + format + " compile does not quantize this layer to " + format;
        continue;
      }
      run->quantized_[{i, format}] = ql->quant;
    }
    // The uniform model's own KL (what `qcc eval --format F` measures).
    double kl = 0;
    for (size_t s = 0; s < run->samples_.size(); ++s) {
      auto logits = (*quantized)->forward(run->samples_[s]);
      if (!logits) return logits.status().withContext(format);
      auto d = run->klOfSample(s, *logits);
      if (!d) return d.status().withContext(format);
      kl += *d;
    }
    r.uniformKl[format] = kl / double(r.tokens);
    char buf[160];
    std::snprintf(buf, sizeof buf, "quantized to %s (%s): uniform KL %.4g", format.c_str(), q.method.c_str(),
                  r.uniformKl[format]);
    say(buf);
  }
  r.quantizeSeconds = secondsSince(t0);

  // 3. One layer at a time, from the start of its block.
  t0 = Clock::now();
  auto startOf = [&](size_t opIndex) {
    const int32_t block = prog.ops[opIndex].block;
    if (block < 0) return opIndex;
    size_t start = opIndex;
    while (start > 0 && prog.ops[start - 1].block == block) --start;
    return start;
  };
  std::vector<cpu::Frame> frames;
  for (const auto &ids : run->samples_) {
    auto f = model.newFrame(ids, 0);
    if (!f) return f.status();
    frames.push_back(std::move(*f));
  }
  size_t at = 0; // the ops before `at` have run in every frame
  int64_t pairs = 0, pairsDone = 0;
  for (const LayerSensitivity &l : r.layers)
    for (const std::string &format : r.candidates) pairs += format != "bf16" && !l.unavailable.count(format);
  const size_t numOps = prog.ops.size();
  // Multiply-adds per token of the linear ops from op i to the end: what a
  // run from i costs, next to a full forward (suffix[0]).
  std::vector<int64_t> suffixMacs(numOps + 1, 0);
  for (size_t i = numOps; i-- > 0;) {
    const program::Op &op = prog.ops[i];
    const cpu::Linear *l = isLinearOp(op) ? model.linear(op.weights[0]) : nullptr;
    suffixMacs[i] = suffixMacs[i + 1] + (l ? l->N * l->K : 0);
  }
  for (size_t i = 0; i < r.layers.size(); ++i) {
    LayerSensitivity &l = r.layers[i];
    const size_t opIndex = run->linearOps_[i];
    const size_t start = startOf(opIndex);
    if (start > at) {
      for (size_t s = 0; s < frames.size(); ++s) {
        cpu::KvCaches caches = model.newCaches(int64_t(run->samples_[s].size()), at, start);
        QCC_RETURN_IF_ERROR(model.run(at, start, frames[s], caches));
      }
      at = start;
    }
    const uint32_t tensor = prog.ops[opIndex].weights[0];
    for (const std::string &format : r.candidates) {
      if (format == "bf16" || l.unavailable.count(format)) continue;
      const auto t1 = Clock::now();
      cpu::Linear swapped = cpu::Linear::fromQuantized(run->quantized_.at({i, format}));
      QCC_RETURN_IF_ERROR(run->base_->swapLinear(tensor, swapped)); // `swapped` holds the original now
      double kl = 0;
      for (size_t s = 0; s < frames.size(); ++s) {
        cpu::Frame f = frames[s];
        cpu::KvCaches caches = model.newCaches(int64_t(run->samples_[s].size()), start, numOps);
        Status st = model.run(start, numOps, f, caches);
        if (!st) return st.withContext(l.name + " in " + format);
        auto d = run->klOfSample(s, f.data[prog.logits]);
        if (!d) return d.status().withContext(l.name + " in " + format);
        kl += *d;
        const int64_t tokens = int64_t(run->samples_[s].size());
        r.opsRun += suffixMacs[start] * tokens;
        r.opsFull += suffixMacs[0] * tokens;
      }
      QCC_RETURN_IF_ERROR(run->base_->swapLinear(tensor, swapped));
      l.kl[format] = kl / double(r.tokens);
      ++r.layerRuns;
      char buf[256];
      std::snprintf(buf, sizeof buf, "sensitivity %lld/%lld: %s %s KL %.4g (%.2f s)", (long long)++pairsDone,
                    (long long)pairs, l.name.c_str(), format.c_str(), l.kl[format], secondsSince(t1));
      say(buf);
    }
  }
  r.layerSeconds = secondsSince(t0);
  return run;
}

Expected<double> SensitivityRun::measureAssignment(const std::map<std::string, std::string> &formatOf) {
  const program::Program &prog = base_->program();
  std::vector<std::pair<uint32_t, cpu::Linear>> saved; // the originals, swapped out
  Status status = Status::ok();
  for (size_t i = 0; i < result_.layers.size() && status; ++i) {
    auto it = formatOf.find(result_.layers[i].name);
    if (it == formatOf.end() || it->second == "bf16") continue;
    auto q = quantized_.find({i, it->second});
    if (q == quantized_.end()) {
      status = Status::error("layer " + result_.layers[i].name + " has no measured " + it->second + " weights");
      break;
    }
    const uint32_t tensor = prog.ops[linearOps_[i]].weights[0];
    cpu::Linear swapped = cpu::Linear::fromQuantized(q->second);
    status = base_->swapLinear(tensor, swapped);
    if (status) saved.push_back({tensor, std::move(swapped)});
  }
  double kl = 0;
  for (size_t s = 0; s < samples_.size() && status; ++s) {
    auto logits = base_->forward(samples_[s]);
    if (!logits) {
      status = logits.status();
      break;
    }
    auto d = klOfSample(s, *logits);
    if (!d) status = d.status();
    else kl += *d;
  }
  for (auto &[tensor, original] : saved) {
    Status restored = base_->swapLinear(tensor, original);
    if (!restored && status) status = restored;
  }
  if (!status) return status;
  return kl / double(result_.tokens);
}

} // namespace qcc
