#include "quant/Calibrate.h"

#include "quant/Stats.h"

#include <map>

namespace qcc::quant {

using formats::Format;
using program::Op;
using program::OpKind;

const char *methodName(Method m) {
  switch (m) {
  case Method::RTN: return "rtn";
  case Method::GPTQ: return "gptq";
  case Method::AWQ: return "awq";
  }
  return "?";
}

Expected<Method> parseMethod(const std::string &name) {
  if (name == "rtn") return Method::RTN;
  if (name == "gptq") return Method::GPTQ;
  if (name == "awq") return Method::AWQ;
  return Status::error("unknown quantization method '" + name + "' (expected rtn, gptq or awq)");
}

namespace {

// Statistics of one input value (shared by the linears reading it), kept in
// the coordinates of the current, possibly folded, model: fold(s) turns them
// into the statistics of x / s.
struct InputStats {
  int64_t K = 0;
  std::vector<float> absMax, meanAbs; // [K]
  std::vector<float> hessian;         // [K][K] or empty

  void fold(const std::vector<float> &s) {
    divideElements(absMax.data(), s);
    divideElements(meanAbs.data(), s);
    if (!hessian.empty()) rescaleHessian(hessian, s);
  }
};

// The linears of a segment that read one value, and where a scale of that
// value can be folded (the op producing it).
struct InputGroup {
  uint32_t value = 0;
  std::vector<size_t> linears;         // op indices, program order
  std::optional<uint32_t> normTensor;  // RmsNorm weight producing the value
  std::optional<uint32_t> producerRows; // linear whose output rows scale the value
  std::string unfoldable;              // why no producer takes the scale
};

bool quantized(const LinearPlan &p) { return p.format.format != Format::BF16; }

std::string opLabel(const Op &op, size_t i) {
  return op.name.empty() ? std::string(program::opKindName(op.kind)) + " " + std::to_string(i) : op.name;
}

// Folds x -> x / s into the group: W diag(s) for its linears, 1/s into the producer.
Status foldScales(cpu::Interpreter &model, const InputGroup &g, const std::vector<float> &s,
                  CalibrationReport &report) {
  const program::Program &p = model.program();
  for (size_t op : g.linears) {
    const uint32_t t = p.ops[op].weights[0];
    std::vector<float> w = model.denseLinearWeights(t);
    const int64_t K = static_cast<int64_t>(s.size()), N = static_cast<int64_t>(w.size()) / K;
    scaleColumns(w.data(), N, K, s);
    QCC_RETURN_IF_ERROR(model.setDenseLinear(t, std::move(w)).withContext(p.ops[op].name));
    report.rescaled.insert(t);
  }
  if (g.normTensor) {
    std::vector<float> nw = *model.normWeight(*g.normTensor);
    divideElements(nw.data(), s);
    QCC_RETURN_IF_ERROR(model.setNormWeight(*g.normTensor, std::move(nw)));
    report.rescaled.insert(*g.normTensor);
  } else {
    std::vector<float> w = model.denseLinearWeights(*g.producerRows);
    const int64_t N = static_cast<int64_t>(s.size()), K = static_cast<int64_t>(w.size()) / N;
    divideRows(w.data(), N, K, s);
    QCC_RETURN_IF_ERROR(model.setDenseLinear(*g.producerRows, std::move(w)));
    report.rescaled.insert(*g.producerRows);
  }
  return Status::ok();
}

std::vector<WeightView> views(const std::vector<std::vector<float>> &ws, int64_t K) {
  std::vector<WeightView> v;
  for (const auto &w : ws) v.push_back({w.data(), static_cast<int64_t>(w.size()) / K, K});
  return v;
}

// The op writing each value, and how many ops read it.
struct Uses {
  std::vector<int64_t> def;
  std::vector<int> readers;
  explicit Uses(const program::Program &p) : def(p.values.size(), -1), readers(p.values.size(), 0) {
    for (size_t i = 0; i < p.ops.size(); ++i) {
      for (uint32_t v : p.ops[i].outputs) def[v] = int64_t(i);
      for (uint32_t v : p.ops[i].inputs) ++readers[v];
    }
  }
};

// Where a scale on `value` folds: the RMSNorm producing it; the linear
// producing SwiGLU's `up` (silu(gate) * up is linear in up); the linear
// producing attention's values when no key/value head is shared (output
// channel j of attention is a mix of value channel j only then).
void findProducer(const program::Program &p, const Uses &uses, InputGroup &g) {
  const int64_t d = uses.def[g.value];
  if (d < 0) {
    g.unfoldable = "its input is a program input";
    return;
  }
  const Op &op = p.ops[size_t(d)];
  auto singleUseLinear = [&](uint32_t v) -> std::optional<uint32_t> {
    const int64_t pd = uses.def[v];
    if (pd < 0 || uses.readers[v] != 1) return std::nullopt;
    const Op &prod = p.ops[size_t(pd)];
    if (prod.kind != OpKind::Linear || prod.weights.size() != 1 || prod.residual) return std::nullopt;
    return prod.weights[0];
  };
  switch (op.kind) {
  case OpKind::RmsNorm:
    if (uses.readers[g.value] == int(g.linears.size())) g.normTensor = op.weights[0];
    else g.unfoldable = "its RMSNorm output is read by more than these linears";
    return;
  case OpKind::SwiGLU:
    if (auto t = singleUseLinear(op.inputs[1]); t && uses.readers[g.value] == int(g.linears.size()))
      g.producerRows = *t;
    else g.unfoldable = "the linear feeding SwiGLU's up input is shared";
    return;
  case OpKind::Attention:
    if (op.numHeads != op.numKvHeads) {
      g.unfoldable = "input scaling cannot be folded (grouped-query attention)";
      return;
    }
    if (auto t = singleUseLinear(op.inputs[3]); t && uses.readers[g.value] == int(g.linears.size()))
      g.producerRows = *t;
    else g.unfoldable = "the linear feeding attention's values is shared";
    return;
  default:
    g.unfoldable = std::string("its input comes from a ") + program::opKindName(op.kind) + " op";
    return;
  }
}

} // namespace

Expected<CalibrationReport> calibrateAndQuantize(cpu::Interpreter &model,
                                                 const std::vector<std::vector<int64_t>> &samples,
                                                 const CalibrationOptions &options) {
  if (!options.planFor) return Status::error("calibrate: no quantization plan");
  const program::Program &p = model.program();
  const Uses uses(p);
  CalibrationReport report;

  // Plans, checked before any work.
  std::map<size_t, LinearPlan> plans;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const Op &op = p.ops[i];
    if (op.kind != OpKind::Linear && op.kind != OpKind::Logits) continue;
    if (op.kind == OpKind::Linear && (op.weights.size() != 1 || op.residual ||
                                      program::isQuantizedActivation(p.values[op.inputs[0]].kind)))
      return Status::error("calibrate: " + opLabel(op, i) +
                           " is a fused linear; calibrate the graph before it is fused");
    LinearPlan plan = options.planFor(i, op);
    const cpu::Linear *l = model.linear(op.weights[0]);
    if (quantized(plan) && plan.format.format == Format::W4A16 &&
        (plan.format.groupSize <= 0 || l->K % plan.format.groupSize != 0))
      return Status::error("calibrate: " + opLabel(op, i) + ": " + std::to_string(l->K) +
                           " input channels are not a multiple of the group size " +
                           std::to_string(plan.format.groupSize));
    plans[i] = plan;
  }

  // Segments: runs of consecutive ops with one block number.
  std::vector<std::pair<size_t, size_t>> segments;
  for (size_t i = 0; i < p.ops.size();) {
    size_t j = i + 1;
    while (j < p.ops.size() && p.ops[j].block == p.ops[i].block) ++j;
    segments.push_back({i, j});
    i = j;
  }
  int blocks = 0;
  for (const Op &op : p.ops) blocks = std::max(blocks, op.block + 1);

  // One frame per sample: the values live between segments.
  std::vector<cpu::Frame> frames;
  for (const std::vector<int64_t> &tokens : samples) {
    if (tokens.empty()) return Status::error("calibrate: empty calibration sample");
    auto f = model.newFrame(tokens, 0);
    if (!f) return f.status().withContext("calibrate");
    frames.push_back(std::move(*f));
    report.tokens += static_cast<int64_t>(tokens.size());
  }
  report.samples = static_cast<int64_t>(samples.size());
  if (frames.empty()) return Status::error("calibrate: no calibration samples");

  auto runSegment = [&](size_t first, size_t last, cpu::Frame &f, const cpu::LinearObserver *observer) -> Status {
    cpu::KvCaches caches = model.newCaches(f.T, first, last);
    return model.run(first, last, f, caches, observer).withContext("calibrate");
  };
  std::map<size_t, LinearReport> byOp;

  for (const auto &[first, last] : segments) {
    // The linears of the segment, grouped by the value they read.
    std::vector<InputGroup> groups;
    bool needHessian = false, anyQuantized = false;
    for (size_t i = first; i < last; ++i) {
      const Op &op = p.ops[i];
      if (op.kind != OpKind::Linear) continue;
      const LinearPlan &plan = plans[i];
      needHessian |= quantized(plan) && plan.method == Method::GPTQ;
      anyQuantized |= quantized(plan);
      byOp[i] = {i, op.weights[0], op.name, formats::formatSpecName(plan.format),
                 quantized(plan) ? methodName(plan.method) : "bf16", -1, -1, ""};
      auto g = std::find_if(groups.begin(), groups.end(), [&](const InputGroup &x) { return x.value == op.inputs[0]; });
      if (g == groups.end()) {
        groups.push_back({op.inputs[0], {}, std::nullopt, std::nullopt, ""});
        g = groups.end() - 1;
      }
      g->linears.push_back(i);
    }
    bool anySmooth = false;
    for (InputGroup &g : groups) {
      findProducer(p, uses, g);
      anySmooth |= plans[g.linears.front()].smoothQuantAlpha.has_value();
    }
    if (!anyQuantized && !anySmooth) { // nothing to calibrate: advance
      for (cpu::Frame &f : frames) QCC_RETURN_IF_ERROR(runSegment(first, last, f, nullptr));
      if (p.ops[first].block >= 0 && options.onBlockDone) options.onBlockDone(p.ops[first].block, blocks);
      continue;
    }

    // 1. Statistics of each group's input (observed on the group's first linear).
    CalibrationCollector collector(CollectOptions{needHessian, 0});
    std::map<size_t, uint32_t> observedOps; // first linear of a group -> value
    for (const InputGroup &g : groups) observedOps[g.linears.front()] = g.value;
    cpu::LinearObserver observer = [&](const Op &, size_t index, const float *x, int64_t rows, int64_t cols) {
      if (observedOps.count(index)) collector.observe(std::to_string(observedOps[index]), x, rows, cols);
    };
    for (const cpu::Frame &f : frames) {
      cpu::Frame scratch = f;
      QCC_RETURN_IF_ERROR(runSegment(first, last, scratch, &observer));
    }
    QCC_RETURN_IF_ERROR(collector.status().withContext("calibrate"));
    std::map<uint32_t, InputStats> stats; // by value
    for (const InputGroup &g : groups) {
      const LinearStats *ls = collector.find(std::to_string(g.value));
      if (!ls) return Status::error("calibrate: " + p.ops[g.linears.front()].name + " was never observed");
      InputStats &st = stats[g.value];
      st.K = ls->channels.cols();
      st.absMax = ls->channels.absMax();
      st.meanAbs = ls->channels.meanAbs();
      if (ls->hessian) st.hessian = ls->hessian->hessian();
    }

    // 2. SmoothQuant on norm-fed inputs.
    for (const InputGroup &g : groups) {
      const LinearPlan &lead = plans[g.linears.front()];
      if (!lead.smoothQuantAlpha || !g.normTensor) continue;
      InputStats &st = stats[g.value];
      std::vector<std::vector<float>> ws;
      for (size_t op : g.linears) ws.push_back(model.denseLinearWeights(p.ops[op].weights[0]));
      Expected<std::vector<float>> s =
          smoothQuantScales(st.absMax, views(ws, st.K), SmoothQuantOptions{*lead.smoothQuantAlpha});
      if (!s) return s.status().withContext("calibrate: " + p.ops[g.linears.front()].name);
      QCC_RETURN_IF_ERROR(foldScales(model, g, *s, report).withContext("calibrate"));
      st.fold(*s);
      for (size_t op : g.linears) byOp[op].smoothAlpha = *lead.smoothQuantAlpha;
    }

    // 3. AWQ: search s per input whose first linear asks for it, on the error
    //    of the segment's outputs (the group's linears replaced by
    //    Q(W diag s) / s, every other linear still unquantized), then fold it.
    std::vector<cpu::Frame> awqIn;                 // the first samples
    std::vector<std::vector<std::vector<float>>> awqRef; // their segment outputs
    std::vector<uint32_t> outputs;                 // values the segment leaves for later ops
    {
      std::vector<int64_t> last_ = program::lastUses(p);
      for (size_t i = first; i < last; ++i)
        for (uint32_t v : p.ops[i].outputs)
          if (last_[v] >= int64_t(last)) outputs.push_back(v);
    }
    auto segmentOutputs = [&](cpu::Frame f) -> Expected<std::vector<std::vector<float>>> {
      QCC_RETURN_IF_ERROR(runSegment(first, last, f, nullptr));
      std::vector<std::vector<float>> out;
      for (uint32_t v : outputs) out.push_back(std::move(f.data[v]));
      return out;
    };
    for (const InputGroup &g : groups) {
      const LinearPlan &lead = plans[g.linears.front()];
      if (!quantized(lead) || lead.method != Method::AWQ) continue;
      if (!g.normTensor && !g.producerRows) {
        for (size_t op : g.linears) byOp[op].remark = "awq: " + g.unfoldable + "; round-to-nearest without scaling";
        continue;
      }
      if (awqIn.empty()) {
        int64_t rows = 0;
        for (size_t i = 0; i < frames.size() && (i == 0 || rows < options.awqSampleRows); ++i) {
          awqIn.push_back(frames[i]);
          auto ref = segmentOutputs(frames[i]);
          if (!ref) return ref.status();
          awqRef.push_back(std::move(*ref));
          rows += frames[i].T;
        }
      }
      InputStats &st = stats[g.value];
      std::vector<std::vector<float>> ws;
      for (size_t op : g.linears) ws.push_back(model.denseLinearWeights(p.ops[op].weights[0]));
      auto layerError = [&](const std::vector<float> &s) -> Expected<double> {
        for (size_t i = 0; i < g.linears.size(); ++i) {
          const LinearPlan &plan = plans[g.linears[i]];
          if (!quantized(plan)) continue;
          const int64_t K = static_cast<int64_t>(s.size());
          Expected<std::vector<float>> eff =
              awqEffectiveWeights({ws[i].data(), static_cast<int64_t>(ws[i].size()) / K, K}, s, plan.format);
          if (!eff) return eff.status();
          QCC_RETURN_IF_ERROR(model.setDenseLinear(p.ops[g.linears[i]].weights[0], std::move(eff.value())));
        }
        double err = 0.0;
        for (size_t k = 0; k < awqIn.size(); ++k) {
          auto out = segmentOutputs(awqIn[k]);
          if (!out) return out.status();
          for (size_t o = 0; o < out->size(); ++o)
            for (size_t j = 0; j < (*out)[o].size(); ++j) {
              const double d = static_cast<double>((*out)[o][j]) - awqRef[k][o][j];
              err += d * d;
            }
        }
        return err;
      };
      Expected<AwqResult> r = awqSearchWith(st.meanAbs, layerError);
      for (size_t i = 0; i < g.linears.size(); ++i) // undo the trial weights
        QCC_RETURN_IF_ERROR(model.setDenseLinear(p.ops[g.linears[i]].weights[0], ws[i]).withContext("calibrate"));
      if (!r) return r.status().withContext("calibrate: awq: " + p.ops[g.linears.front()].name);
      QCC_RETURN_IF_ERROR(foldScales(model, g, r->scales, report).withContext("calibrate"));
      st.fold(r->scales);
      for (size_t op : g.linears) byOp[op].awqAlpha = r->alpha;
    }

    // 4. Quantize and install.
    for (const InputGroup &g : groups) {
      const InputStats &st = stats[g.value];
      for (size_t op : g.linears) {
        const LinearPlan &plan = plans[op];
        if (!quantized(plan)) continue;
        const uint32_t t = p.ops[op].weights[0];
        std::vector<float> w = model.denseLinearWeights(t);
        const int64_t K = st.K, N = static_cast<int64_t>(w.size()) / K;
        formats::QuantizedLinear q;
        if (plan.method == Method::GPTQ) {
          GptqOptions go = plan.gptq;
          go.mseClip = plan.mseClip;
          Expected<GptqResult> r = gptqQuantize(w.data(), N, K, st.hessian.data(), plan.format, go);
          if (!r) return r.status().withContext("calibrate: " + p.ops[op].name);
          if (!r->remark.empty()) byOp[op].remark = r->remark;
          q = std::move(r->linear);
        } else {
          Expected<formats::QuantizedLinear> r = quantizeRtn(w.data(), N, K, plan.format, plan.mseClip);
          if (!r) return r.status().withContext("calibrate: " + p.ops[op].name);
          q = std::move(r.value());
        }
        QCC_RETURN_IF_ERROR(model.setLinear(t, std::move(q)).withContext("calibrate: " + p.ops[op].name));
        report.quantized.insert(t);
        report.rescaled.erase(t);
      }
    }

    // 5. Later segments see this one's quantized outputs.
    for (cpu::Frame &f : frames) QCC_RETURN_IF_ERROR(runSegment(first, last, f, nullptr));
    if (p.ops[first].block >= 0 && options.onBlockDone) options.onBlockDone(p.ops[first].block, blocks);
  }

  // Heads: round-to-nearest (no calibration statistics are gathered for them).
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const Op &op = p.ops[i];
    if (op.kind != OpKind::Logits) continue;
    const LinearPlan &plan = plans[i];
    byOp[i] = {i, op.weights[0], op.name.empty() ? std::string("lm_head") : op.name,
               formats::formatSpecName(plan.format), quantized(plan) ? "rtn" : "bf16", -1, -1, ""};
    if (!quantized(plan)) continue;
    if (plan.method != Method::RTN)
      byOp[i].remark = std::string(methodName(plan.method)) + " is not supported for the head; used round-to-nearest";
    const cpu::Linear *l = model.linear(op.weights[0]);
    std::vector<float> w = model.denseLinearWeights(op.weights[0]);
    Expected<formats::QuantizedLinear> r = quantizeRtn(w.data(), l->N, l->K, plan.format, plan.mseClip);
    if (!r) return r.status().withContext("calibrate: " + byOp[i].name);
    QCC_RETURN_IF_ERROR(model.setLinear(op.weights[0], std::move(r.value())).withContext("calibrate: " + byOp[i].name));
    report.quantized.insert(op.weights[0]);
  }
  for (auto &[op, r] : byOp) report.linears.push_back(std::move(r));
  return report;
}

} // namespace qcc::quant
