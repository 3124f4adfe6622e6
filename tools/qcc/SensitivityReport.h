// What `qcc sensitivity` writes: sensitivity.json, and two hand-written SVG
// plots (a heat map of layers x formats, the Pareto curve of effective bits
// and estimated latency against KL).
#pragma once

#include "passes/AutoFormats.h"
#include "passes/Sensitivity.h"

#include <optional>
#include <string>
#include <vector>

namespace qcc::cli {

// One assignment on the curve.
struct ParetoPoint {
  std::string label;          // "fp8" for a uniform format, "" on the curve
  FormatAssignment assignment;
  std::optional<double> measuredKl;
};

struct SensitivityReport {
  const SensitivityResult *result = nullptr;
  const AutoProblem *problem = nullptr;
  std::string model;
  std::string method;
  std::vector<ParetoPoint> curve;   // the solver's optima over a sweep of bit budgets
  std::vector<ParetoPoint> uniform; // every candidate everywhere (measured: the uniform compile)
  std::optional<ParetoPoint> chosen; // for --budget
  std::string budget;
  size_t latencyGpu = 0;           // index into quant::gpuSpecs() for the plots
};

std::string sensitivityJson(const SensitivityReport &report);
std::string heatmapSvg(const SensitivityReport &report);
std::string paretoSvg(const SensitivityReport &report);

} // namespace qcc::cli
