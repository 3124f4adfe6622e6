#include "tools/qcc/SensitivityReport.h"

#include "quant/CostModel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace qcc::cli {

namespace {

std::string num(double v, const char *fmt = "%.9g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string quoted(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += "\\u00" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    else out += c;
  }
  return out + "\"";
}

std::string xml(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string perGpu(const std::vector<double> &us) {
  std::string out = "{";
  for (size_t g = 0; g < us.size(); ++g)
    out += (g ? ", " : "") + quoted(quant::gpuSpecs()[g].name) + ": " + num(us[g], "%.6g");
  return out + "}";
}

std::string assignmentJson(const SensitivityReport &r, const ParetoPoint &p, const std::string &indent) {
  const FormatAssignment &a = p.assignment;
  std::string out = "{";
  if (!p.label.empty()) out += "\"format\": " + quoted(p.label) + ", ";
  out += "\"effective_bits\": " + num(a.effectiveBits, "%.6g") + ", \"predicted_kl\": " + num(a.predictedKl);
  if (p.measuredKl) out += ", \"measured_kl\": " + num(*p.measuredKl);
  out += ", \"linear_bytes\": " + std::to_string(a.linearBytes) + ", \"model_bytes\": " + std::to_string(a.modelBytes);
  out += ",\n" + indent + " \"decode_us\": " + perGpu(a.decodeUs) + ",\n" + indent + " \"prefill_us\": " + perGpu(a.prefillUs);
  if (p.label.empty()) {
    out += ",\n" + indent + " \"formats\": {";
    for (size_t i = 0; i < a.formats.size(); ++i)
      out += (i ? ", " : "") + quoted(r.problem->layers()[i].name) + ": " + quoted(a.formats[i]);
    out += "}";
  }
  return out + "}";
}

// A colour from white (low) through yellow to dark red (high), t in [0, 1].
std::string heat(double t) {
  t = std::clamp(t, 0.0, 1.0);
  double r, g, b;
  if (t < 0.5) r = 255, g = 255, b = 255 * (1 - 2 * t);
  else r = 255 - 100 * (2 * t - 1), g = 255 * (1 - (2 * t - 1)), b = 0;
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(r), int(g), int(b));
  return buf;
}

} // namespace

std::string sensitivityJson(const SensitivityReport &r) {
  const SensitivityResult &s = *r.result;
  std::string out = "{\n  \"qcc_sensitivity\": 1,\n";
  out += "  \"model\": " + quoted(r.model) + ",\n";
  out += "  \"checkpoint_hash\": " + quoted(s.checkpointHash) + ",\n";
  out += "  \"method\": " + quoted(r.method) + ",\n";
  out += "  \"calibration\": {\"source\": " + quoted(s.calibration) + ", \"sequences\": " + std::to_string(s.samples) +
         ", \"predicted_positions\": " + std::to_string(s.tokens) + "},\n";
  out += "  \"kl\": \"mean KL(p_unquantized || p_quantized) in nats per predicted position, one layer quantized at a time\",\n";
  out += "  \"times\": \"estimated GEMM time in microseconds, roofline of published peak bandwidth and dense tensor "
         "throughput (quant/CostModel.h), decode M=1, prefill M=2048\",\n";
  out += "  \"candidates\": [";
  for (size_t i = 0; i < s.candidates.size(); ++i) out += (i ? ", " : "") + quoted(s.candidates[i]);
  out += "],\n  \"gpus\": [";
  for (size_t g = 0; g < quant::gpuSpecs().size(); ++g)
    out += (g ? ", " : "") + quoted(std::string(quant::gpuSpecs()[g].name) + ": " + quant::gpuSpecs()[g].product);
  out += "],\n  \"layers\": [\n";
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const LayerSensitivity &l = s.layers[i];
    out += "    {\"name\": " + quoted(l.name) + ", \"n\": " + std::to_string(l.n) + ", \"k\": " + std::to_string(l.k) +
           ", \"block\": " + std::to_string(l.block) + ", \"formats\": {";
    bool first = true;
    for (const std::string &f : s.candidates) {
      out += std::string(first ? "" : ",") + "\n      " + quoted(f) + ": ";
      first = false;
      auto why = l.unavailable.find(f);
      if (why != l.unavailable.end()) {
        out += "{\"unavailable\": " + quoted(why->second) + "}";
        continue;
      }
      auto spec = *parseRuleFormat(f, 128);
      std::vector<double> decode, prefill;
      for (const quant::GpuSpec &g : quant::gpuSpecs()) {
        decode.push_back(quant::gemmMicros(g, spec, {{l.n, l.k}}, quant::kDecodeRows));
        prefill.push_back(quant::gemmMicros(g, spec, {{l.n, l.k}}, quant::kPrefillRows));
      }
      out += "{\"kl\": " + num(l.kl.at(f)) + ", \"bytes\": " + std::to_string(quant::linearWeightBytes(spec, l.n, l.k)) +
             ",\n        \"decode_us\": " + perGpu(decode) + ",\n        \"prefill_us\": " + perGpu(prefill) + "}";
    }
    out += "}}" + std::string(i + 1 < s.layers.size() ? "," : "") + "\n";
  }
  out += "  ],\n  \"uniform\": [\n";
  for (size_t i = 0; i < r.uniform.size(); ++i)
    out += "    " + assignmentJson(r, r.uniform[i], "    ") + (i + 1 < r.uniform.size() ? ",\n" : "\n");
  out += "  ],\n  \"pareto\": [\n";
  for (size_t i = 0; i < r.curve.size(); ++i)
    out += "    " + assignmentJson(r, r.curve[i], "    ") + (i + 1 < r.curve.size() ? ",\n" : "\n");
  out += "  ]";
  if (r.chosen) out += ",\n  \"budget\": " + quoted(r.budget) + ",\n  \"chosen\": " + assignmentJson(r, *r.chosen, "  ");
  out += ",\n  \"cost\": {\"reference_seconds\": " + num(s.referenceSeconds, "%.3f") +
         ", \"quantize_seconds\": " + num(s.quantizeSeconds, "%.3f") + ", \"layer_seconds\": " +
         num(s.layerSeconds, "%.3f") + ", \"layer_runs\": " + std::to_string(s.layerRuns) +
         ", \"linear_macs_run\": " + std::to_string(s.opsRun) + ", \"linear_macs_of_full_forwards\": " + std::to_string(s.opsFull) + "}\n}\n";
  return out;
}

std::string heatmapSvg(const SensitivityReport &r) {
  const SensitivityResult &s = *r.result;
  const int cellW = 110, cellH = 18, left = 300, top = 70;
  const int width = left + cellW * int(s.candidates.size()) + 40;
  const int height = top + cellH * int(s.layers.size()) + 90;
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (const LayerSensitivity &l : s.layers)
    for (const auto &[f, kl] : l.kl)
      if (kl > 0) lo = std::min(lo, kl), hi = std::max(hi, kl);
  if (!(hi > 0)) lo = 1e-9, hi = 1e-8;
  const double llo = std::log10(lo), lhi = std::max(std::log10(hi), llo + 1e-9);
  std::map<std::string, std::string> chosen;
  if (r.chosen)
    for (size_t i = 0; i < r.problem->layers().size(); ++i) chosen[r.problem->layers()[i].name] = r.chosen->assignment.formats[i];

  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out += "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">" +
         xml("Sensitivity: KL(unquantized || one layer quantized), nats/token - " + r.model) + "</text>\n";
  out += "<text x=\"10\" y=\"38\">" +
         xml("method " + r.method + ", " + std::to_string(s.samples) + " calibration sequences, " +
             std::to_string(s.tokens) + " positions" + (r.chosen ? "; outlined: chosen for " + r.budget : "")) +
         "</text>\n";
  for (size_t c = 0; c < s.candidates.size(); ++c)
    out += "<text x=\"" + std::to_string(left + int(c) * cellW + cellW / 2) + "\" y=\"" + std::to_string(top - 8) +
           "\" text-anchor=\"middle\" font-weight=\"bold\">" + xml(s.candidates[c]) + "</text>\n";
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const LayerSensitivity &l = s.layers[i];
    const int y = top + int(i) * cellH;
    out += "<text x=\"" + std::to_string(left - 6) + "\" y=\"" + std::to_string(y + 13) + "\" text-anchor=\"end\">" +
           xml(l.name) + "</text>\n";
    for (size_t c = 0; c < s.candidates.size(); ++c) {
      const std::string &f = s.candidates[c];
      const int x = left + int(c) * cellW;
      std::string fill = "#d0d0d0", label = "n/a", title;
      auto kl = l.kl.find(f);
      if (kl != l.kl.end()) {
        fill = kl->second > 0 ? heat((std::log10(kl->second) - llo) / (lhi - llo)) : "#ffffff";
        label = kl->second > 0 ? num(kl->second, "%.2e") : "0";
        title = l.name + " " + f + ": KL " + num(kl->second, "%.6g");
      } else if (l.unavailable.count(f)) {
        title = l.name + " " + f + ": " + l.unavailable.at(f);
      }
      auto ch = chosen.find(l.name);
      const bool isChosen = ch != chosen.end() && ch->second == f;
      out += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"" + std::to_string(cellW) +
             "\" height=\"" + std::to_string(cellH) + "\" fill=\"" + fill + "\" stroke=\"" +
             (isChosen ? "black\" stroke-width=\"2.5" : "#999999\" stroke-width=\"0.5") + "\"><title>" + xml(title) +
             "</title></rect>\n";
      out += "<text x=\"" + std::to_string(x + cellW / 2) + "\" y=\"" + std::to_string(y + 13) +
             "\" text-anchor=\"middle\">" + label + "</text>\n";
    }
  }
  // Legend: the colour scale.
  const int ly = top + cellH * int(s.layers.size()) + 30, lw = 300;
  out += "<defs><linearGradient id=\"scale\">";
  for (int i = 0; i <= 10; ++i)
    out += "<stop offset=\"" + std::to_string(i * 10) + "%\" stop-color=\"" + heat(i / 10.0) + "\"/>";
  out += "</linearGradient></defs>\n";
  out += "<rect x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(ly) + "\" width=\"" + std::to_string(lw) +
         "\" height=\"14\" fill=\"url(#scale)\" stroke=\"#999999\"/>\n";
  out += "<text x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(ly + 28) + "\">" + num(lo, "%.1e") + "</text>\n";
  out += "<text x=\"" + std::to_string(left + lw) + "\" y=\"" + std::to_string(ly + 28) + "\" text-anchor=\"end\">" +
         num(hi, "%.1e") + "</text>\n";
  out += "<text x=\"" + std::to_string(left + lw / 2) + "\" y=\"" + std::to_string(ly + 28) +
         "\" text-anchor=\"middle\">KL (log scale); grey: not available</text>\n";
  return out + "</svg>\n";
}

std::string paretoSvg(const SensitivityReport &r) {
  const int panelW = 460, panelH = 340, margin = 60, top = 60;
  const int width = 2 * (panelW + margin) + 40, height = top + panelH + 110;
  const size_t gpu = r.latencyGpu;
  // Points with a positive KL (log scale): predicted for the curve, measured where measured.
  std::vector<const ParetoPoint *> all;
  for (const ParetoPoint &p : r.curve) all.push_back(&p);
  for (const ParetoPoint &p : r.uniform) all.push_back(&p);
  if (r.chosen) all.push_back(&*r.chosen);
  double klLo = std::numeric_limits<double>::infinity(), klHi = 0;
  double bitsLo = 16, bitsHi = 0, usLo = std::numeric_limits<double>::infinity(), usHi = 0;
  for (const ParetoPoint *p : all) {
    for (double kl : {p->assignment.predictedKl, p->measuredKl.value_or(0)})
      if (kl > 0) klLo = std::min(klLo, kl), klHi = std::max(klHi, kl);
    bitsLo = std::min(bitsLo, p->assignment.effectiveBits), bitsHi = std::max(bitsHi, p->assignment.effectiveBits);
    usLo = std::min(usLo, p->assignment.decodeUs[gpu]), usHi = std::max(usHi, p->assignment.decodeUs[gpu]);
  }
  if (!(klHi > 0)) klLo = 1e-6, klHi = 1e-5;
  const double yLo = std::floor(std::log10(klLo)), yHi = std::ceil(std::log10(klHi) + 1e-9);
  if (!(bitsHi > bitsLo)) bitsHi = bitsLo + 1;
  if (!(usHi > usLo)) usHi = usLo + 1;
  bitsLo -= 0.3, bitsHi += 0.3;
  const double usPad = (usHi - usLo) * 0.05;
  usLo -= usPad, usHi += usPad;

  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out += "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">" +
         xml("Pareto curve: size and estimated latency against KL - " + r.model) + "</text>\n";
  out += "<text x=\"10\" y=\"38\">" +
         xml("blue: the solver's optimum per bit budget, KL predicted (sum of per-layer KLs); orange: the same "
             "assignments measured; black: uniform formats (measured); red: the chosen budget") +
         "</text>\n";
  auto panel = [&](int x0, const std::string &xLabel, double xLo, double xHi, auto xOf) {
    const int y0 = top;
    auto px = [&](double x) { return x0 + (x - xLo) / (xHi - xLo) * panelW; };
    auto py = [&](double kl) {
      const double l = kl > 0 ? std::log10(kl) : yLo;
      return y0 + panelH - (l - yLo) / (yHi - yLo) * panelH;
    };
    std::string g = "<rect x=\"" + std::to_string(x0) + "\" y=\"" + std::to_string(y0) + "\" width=\"" +
                    std::to_string(panelW) + "\" height=\"" + std::to_string(panelH) +
                    "\" fill=\"none\" stroke=\"black\"/>\n";
    for (double e = yLo; e <= yHi + 1e-9; e += 1) {
      const double y = py(std::pow(10.0, e));
      g += "<line x1=\"" + num(x0) + "\" x2=\"" + num(x0 + panelW) + "\" y1=\"" + num(y) + "\" y2=\"" + num(y) +
           "\" stroke=\"#e0e0e0\"/>\n<text x=\"" + num(x0 - 5) + "\" y=\"" + num(y + 4) +
           "\" text-anchor=\"end\">1e" + num(e, "%.0f") + "</text>\n";
    }
    for (int i = 0; i <= 5; ++i) {
      const double x = xLo + (xHi - xLo) * i / 5;
      g += "<text x=\"" + num(px(x)) + "\" y=\"" + num(y0 + panelH + 16) + "\" text-anchor=\"middle\">" +
           num(x, "%.3g") + "</text>\n";
    }
    g += "<text x=\"" + num(x0 + panelW / 2) + "\" y=\"" + num(y0 + panelH + 36) + "\" text-anchor=\"middle\">" +
         xml(xLabel) + "</text>\n";
    g += "<text x=\"" + num(x0 - 45) + "\" y=\"" + num(y0 + panelH / 2) + "\" transform=\"rotate(-90 " + num(x0 - 45) +
         " " + num(y0 + panelH / 2) + ")\" text-anchor=\"middle\">KL, nats/token (log)</text>\n";
    auto polyline = [&](bool measured, const char *colour) {
      std::string pts;
      for (const ParetoPoint &p : r.curve) {
        const double kl = measured ? p.measuredKl.value_or(0) : p.assignment.predictedKl;
        if (kl > 0) pts += num(px(xOf(p)), "%.1f") + "," + num(py(kl), "%.1f") + " ";
      }
      std::string s = "<polyline fill=\"none\" stroke=\"" + std::string(colour) + "\" stroke-width=\"1.5\" points=\"" +
                      pts + "\"/>\n";
      for (const ParetoPoint &p : r.curve) {
        const double kl = measured ? p.measuredKl.value_or(0) : p.assignment.predictedKl;
        if (kl > 0)
          s += "<circle cx=\"" + num(px(xOf(p)), "%.1f") + "\" cy=\"" + num(py(kl), "%.1f") + "\" r=\"2.5\" fill=\"" +
               colour + "\"/>\n";
      }
      return s;
    };
    g += polyline(false, "#1f77b4");
    g += polyline(true, "#ff7f0e");
    for (const ParetoPoint &p : r.uniform) {
      const double kl = p.measuredKl.value_or(p.assignment.predictedKl);
      const double x = px(xOf(p)), y = py(kl);
      const bool nearRight = x > x0 + panelW - 90; // label to the left, inside the panel
      g += "<rect x=\"" + num(x - 4, "%.1f") + "\" y=\"" + num(y - 4, "%.1f") +
           "\" width=\"8\" height=\"8\" fill=\"black\"/>\n<text x=\"" + num(nearRight ? x - 6 : x + 6, "%.1f") +
           "\" y=\"" + num(y - 6, "%.1f") + "\"" + (nearRight ? " text-anchor=\"end\"" : "") + ">" +
           xml(p.label + (kl > 0 ? "" : " (KL 0)")) + "</text>\n";
    }
    if (r.chosen) {
      const double kl = r.chosen->measuredKl.value_or(r.chosen->assignment.predictedKl);
      g += "<circle cx=\"" + num(px(xOf(*r.chosen)), "%.1f") + "\" cy=\"" + num(py(kl), "%.1f") +
           "\" r=\"6\" fill=\"none\" stroke=\"red\" stroke-width=\"2\"/>\n";
    }
    return g;
  };
  out += panel(margin, "effective bits of the linear layers", bitsLo, bitsHi,
               [](const ParetoPoint &p) { return p.assignment.effectiveBits; });
  out += panel(2 * margin + panelW + 20,
               std::string("estimated decode time of the linears on ") + quant::gpuSpecs()[gpu].name + ", us (M=1)",
               usLo, usHi, [&](const ParetoPoint &p) { return p.assignment.decodeUs[gpu]; });
  return out + "</svg>\n";
}

} // namespace qcc::cli
