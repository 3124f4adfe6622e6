#include "quant/Calibrate.h"

#include "quant/Stats.h"

#include <map>

namespace qcc::quant {

using formats::Format;

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

// Statistics of one input (shared by the linears of a group), kept in the
// coordinates of the current, possibly folded, model: fold(s) turns them into
// the statistics of x / s.
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

// Linears reading the same input, and the op that produces that input.
struct InputGroup {
  std::vector<std::string> linears; // first one is observed
  std::string norm;                 // RMSNorm producing the input, or empty
  std::string producer;             // linear whose output rows feed the input, or empty
};

std::vector<InputGroup> layerGroups(const ModelConfig &cfg, int layer) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  std::vector<InputGroup> g;
  g.push_back({{p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
               p + "input_layernorm", ""});
  // o_proj's input channel j is v_proj's output channel j only without GQA
  // sharing (each query head has its own kv head); otherwise it cannot be folded.
  g.push_back({{p + "self_attn.o_proj"}, "",
               cfg.numHeads == cfg.numKvHeads ? p + "self_attn.v_proj" : ""});
  g.push_back({{p + "mlp.gate_proj", p + "mlp.up_proj"}, p + "post_attention_layernorm", ""});
  // down_proj reads silu(gate) * up, linear in up's output.
  g.push_back({{p + "mlp.down_proj"}, "", p + "mlp.up_proj"});
  return g;
}

bool quantized(const LinearPlan &p) { return p.format.format != Format::BF16; }

// Folds x -> x / s into the group: W diag(s) for its linears, 1/s into the producer.
Status foldScales(cpu::LlamaModel &model, const InputGroup &g, const std::vector<float> &s) {
  for (const std::string &name : g.linears) {
    std::vector<float> w = model.denseLinearWeights(name);
    const int64_t K = static_cast<int64_t>(s.size()), N = static_cast<int64_t>(w.size()) / K;
    scaleColumns(w.data(), N, K, s);
    QCC_RETURN_IF_ERROR(model.setDenseLinear(name, std::move(w)).withContext(name));
  }
  if (!g.norm.empty()) {
    std::vector<float> nw = model.normWeight(g.norm);
    divideElements(nw.data(), s);
    QCC_RETURN_IF_ERROR(model.setNormWeight(g.norm, std::move(nw)).withContext(g.norm));
  } else {
    std::vector<float> w = model.denseLinearWeights(g.producer);
    const int64_t N = static_cast<int64_t>(s.size()), K = static_cast<int64_t>(w.size()) / N;
    divideRows(w.data(), N, K, s);
    QCC_RETURN_IF_ERROR(model.setDenseLinear(g.producer, std::move(w)).withContext(g.producer));
  }
  return Status::ok();
}

std::vector<WeightView> views(const std::vector<std::vector<float>> &ws, int64_t K) {
  std::vector<WeightView> v;
  for (const auto &w : ws) v.push_back({w.data(), static_cast<int64_t>(w.size()) / K, K});
  return v;
}

} // namespace

Expected<CalibrationReport> calibrateAndQuantize(cpu::LlamaModel &model,
                                                 const std::vector<std::vector<int64_t>> &samples,
                                                 const CalibrationOptions &options) {
  if (!options.planFor) return Status::error("calibrate: no quantization plan");
  const ModelConfig &cfg = model.config();
  CalibrationReport report;
  for (const std::string &name : model.linearNames()) {
    LinearPlan p = options.planFor(name);
    if (quantized(p) && p.format.format == Format::W4A16 &&
        (p.format.groupSize <= 0 || model.linearShape(name)->second % p.format.groupSize != 0))
      return Status::error("calibrate: " + name + ": " +
                           std::to_string(model.linearShape(name)->second) +
                           " input channels are not a multiple of the group size " +
                           std::to_string(p.format.groupSize));
  }

  // hidden[s]: the residual stream of sample s entering the current layer [T, D].
  std::vector<std::vector<float>> hidden;
  for (const std::vector<int64_t> &tokens : samples) {
    if (tokens.empty()) return Status::error("calibrate: empty calibration sample");
    Expected<std::vector<float>> h = model.embed(tokens);
    if (!h) return h.status().withContext("calibrate");
    hidden.push_back(std::move(h.value()));
    report.tokens += static_cast<int64_t>(tokens.size());
  }
  report.samples = static_cast<int64_t>(samples.size());
  if (hidden.empty()) return Status::error("calibrate: no calibration samples");

  std::map<std::string, LinearReport> byName;
  for (int layer = 0; layer < cfg.numLayers; ++layer) {
    const std::vector<InputGroup> groups = layerGroups(cfg, layer);
    std::map<std::string, LinearPlan> plan;
    bool needHessian = false;
    for (const InputGroup &g : groups)
      for (const std::string &name : g.linears) {
        LinearPlan p = options.planFor(name);
        needHessian |= quantized(p) && p.method == Method::GPTQ;
        plan[name] = p;
        byName[name] = {name, formats::formatSpecName(p.format),
                        quantized(p) ? methodName(p.method) : "bf16", -1, -1, ""};
      }

    // 1. Statistics of each group's input (observed under the group's first name).
    CalibrationCollector collector(CollectOptions{needHessian, 0});
    std::map<std::string, bool> observed;
    for (const InputGroup &g : groups) observed[g.linears.front()] = true;
    cpu::LinearObserver observer = [&](const std::string &name, const float *x, int64_t rows,
                                       int64_t cols) {
      if (observed.count(name)) collector.observe(name, x, rows, cols);
    };
    for (const std::vector<float> &h : hidden) {
      std::vector<float> scratch = h;
      QCC_RETURN_IF_ERROR(model.runLayer(layer, scratch, &observer).withContext("calibrate"));
    }
    QCC_RETURN_IF_ERROR(collector.status().withContext("calibrate"));

    std::map<std::string, InputStats> stats; // by the group's first linear
    for (const InputGroup &g : groups) {
      const LinearStats *ls = collector.find(g.linears.front());
      if (!ls) return Status::error("calibrate: " + g.linears.front() + " was never observed");
      InputStats &st = stats[g.linears.front()];
      st.K = ls->channels.cols();
      st.absMax = ls->channels.absMax();
      st.meanAbs = ls->channels.meanAbs();
      if (ls->hessian) st.hessian = ls->hessian->hessian();
    }

    // 2. SmoothQuant on the norm-fed groups.
    for (const InputGroup &g : groups) {
      const LinearPlan &lead = plan[g.linears.front()];
      if (g.norm.empty() || !lead.smoothQuantAlpha) continue;
      InputStats &st = stats[g.linears.front()];
      std::vector<std::vector<float>> ws;
      for (const std::string &n : g.linears) ws.push_back(model.denseLinearWeights(n));
      Expected<std::vector<float>> s =
          smoothQuantScales(st.absMax, views(ws, st.K), SmoothQuantOptions{*lead.smoothQuantAlpha});
      if (!s) return s.status().withContext("calibrate: " + g.linears.front());
      QCC_RETURN_IF_ERROR(foldScales(model, g, *s).withContext("calibrate"));
      st.fold(*s);
      for (const std::string &n : g.linears) byName[n].smoothAlpha = *lead.smoothQuantAlpha;
    }

    // 3. AWQ: search s per group whose lead linear asks for it, on the error
    //    of this layer's output (the group's linears replaced by Q(W diag s) / s,
    //    every other linear still unquantized), then fold it.
    std::vector<std::vector<float>> awqIn, awqRef; // [T, D] per sample of the search subset
    for (const InputGroup &g : groups) {
      const LinearPlan &lead = plan[g.linears.front()];
      if (!quantized(lead) || lead.method != Method::AWQ) continue;
      if (g.norm.empty() && g.producer.empty()) {
        for (const std::string &n : g.linears)
          byName[n].remark = "awq: input scaling cannot be folded (grouped-query attention); "
                             "round-to-nearest without scaling";
        continue;
      }
      if (awqIn.empty()) { // first samples up to awqSampleRows tokens, and their outputs
        int64_t rows = 0;
        for (size_t i = 0; i < hidden.size() && (i == 0 || rows < options.awqSampleRows); ++i) {
          awqIn.push_back(hidden[i]);
          awqRef.push_back(hidden[i]);
          QCC_RETURN_IF_ERROR(model.runLayer(layer, awqRef.back()).withContext("calibrate"));
          rows += static_cast<int64_t>(hidden[i].size()) / cfg.hiddenSize;
        }
      }
      InputStats &st = stats[g.linears.front()];
      std::vector<std::vector<float>> ws;
      for (const std::string &n : g.linears) ws.push_back(model.denseLinearWeights(n));
      auto layerError = [&](const std::vector<float> &s) -> Expected<double> {
        for (size_t i = 0; i < g.linears.size(); ++i) {
          const LinearPlan &p = plan[g.linears[i]];
          if (!quantized(p)) continue;
          const int64_t K = static_cast<int64_t>(s.size());
          Expected<std::vector<float>> eff = awqEffectiveWeights(
              {ws[i].data(), static_cast<int64_t>(ws[i].size()) / K, K}, s, p.format);
          if (!eff) return eff.status();
          QCC_RETURN_IF_ERROR(model.setDenseLinear(g.linears[i], std::move(eff.value())));
        }
        double err = 0.0;
        for (size_t k = 0; k < awqIn.size(); ++k) {
          std::vector<float> h = awqIn[k];
          QCC_RETURN_IF_ERROR(model.runLayer(layer, h));
          for (size_t j = 0; j < h.size(); ++j) {
            const double d = static_cast<double>(h[j]) - awqRef[k][j];
            err += d * d;
          }
        }
        return err;
      };
      Expected<AwqResult> r = awqSearchWith(st.meanAbs, layerError);
      for (size_t i = 0; i < g.linears.size(); ++i) // undo the trial weights
        QCC_RETURN_IF_ERROR(model.setDenseLinear(g.linears[i], ws[i]).withContext("calibrate"));
      if (!r) return r.status().withContext("calibrate: awq: " + g.linears.front());
      QCC_RETURN_IF_ERROR(foldScales(model, g, r->scales).withContext("calibrate"));
      st.fold(r->scales);
      for (const std::string &n : g.linears) byName[n].awqAlpha = r->alpha;
    }

    // 4. Quantize and install.
    for (const InputGroup &g : groups) {
      const InputStats &st = stats[g.linears.front()];
      for (const std::string &name : g.linears) {
        const LinearPlan &p = plan[name];
        if (!quantized(p)) continue;
        std::vector<float> w = model.denseLinearWeights(name);
        const int64_t K = st.K, N = static_cast<int64_t>(w.size()) / K;
        formats::QuantizedLinear q;
        if (p.method == Method::GPTQ) {
          GptqOptions go = p.gptq;
          go.mseClip = p.mseClip;
          Expected<GptqResult> r = gptqQuantize(w.data(), N, K, st.hessian.data(), p.format, go);
          if (!r) return r.status().withContext("calibrate: " + name);
          if (!r->remark.empty()) byName[name].remark = r->remark;
          q = std::move(r->linear);
        } else {
          Expected<formats::QuantizedLinear> r = quantizeRtn(w.data(), N, K, p.format, p.mseClip);
          if (!r) return r.status().withContext("calibrate: " + name);
          q = std::move(r.value());
        }
        QCC_RETURN_IF_ERROR(model.setLinear(name, std::move(q)).withContext("calibrate: " + name));
      }
    }

    // 5. The next layer sees this layer's quantized outputs.
    for (std::vector<float> &h : hidden)
      QCC_RETURN_IF_ERROR(model.runLayer(layer, h, nullptr).withContext("calibrate"));
    if (options.onLayerDone) options.onLayerDone(layer);
  }

  // lm_head: round-to-nearest (no calibration statistics are gathered for it).
  {
    const std::string name = "lm_head";
    LinearPlan p = options.planFor(name);
    byName[name] = {name, formats::formatSpecName(p.format),
                    quantized(p) ? "rtn" : "bf16", -1, -1, ""};
    if (quantized(p)) {
      if (p.method != Method::RTN)
        byName[name].remark = std::string(methodName(p.method)) +
                              " is not supported for lm_head; used round-to-nearest";
      std::vector<float> w = model.denseLinearWeights(name);
      auto shape = model.linearShape(name);
      Expected<formats::QuantizedLinear> r =
          quantizeRtn(w.data(), shape->first, shape->second, p.format, p.mseClip);
      if (!r) return r.status().withContext("calibrate: " + name);
      QCC_RETURN_IF_ERROR(model.setLinear(name, std::move(r.value())).withContext("calibrate: lm_head"));
    }
  }
  for (const std::string &name : model.linearNames())
    if (byName.count(name)) report.linears.push_back(byName[name]);
  return report;
}

} // namespace qcc::quant
