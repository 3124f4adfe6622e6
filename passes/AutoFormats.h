// `--format auto`: per-layer formats chosen under a budget from a table of
// measured sensitivities (passes/Sensitivity.h, `qcc sensitivity`).
//
// Problem: every linear the selection covers (lm_head too with
// include-lm-head) takes one of the formats it has a measured KL for that is
// legal for it (w4a16's group divides K; every GPU target accepts the format,
// support/Targets.h: no W8A8 fp8 on sm80/sm86 without fp8-weight-only). The
// cost of an assignment is the sum of the layers' KLs (each measured with that
// layer alone quantized); the solver (quant/MixedPrecision.h) minimises it
// exactly under one budget:
//   bits=B          effective bits of the covered linears <= B
//                   (8 * their weight bytes, codes + fp32 scales / their weights)
//   size=BYTES      all weight bytes of the model <= BYTES (the covered linears as
//                   chosen, every other weight as the IR holds it); K/M/G (1000)
//                   and KiB/MiB/GiB suffixes
//   latency=US@GPU  estimated decode (M=1) time of all linears on GPU <= US
//                   microseconds (quant/CostModel.h; GPU a6000, a100, l40s, h100,
//                   h200 or sm80/86/89/90)
// Fusion: linears that read the same value (q|k|v, gate|up) are one knapsack
// group whose choices are all combinations of their formats. qcc-fuse stacks
// the members that share a format into one GEMM and leaves the others
// separate, so a mixed group is legal; its latency is that of the GEMMs it
// becomes (a shared format saves re-reading the input), which is why the
// members are chosen together rather than forced to one format.
#pragma once

#include "quant/CostModel.h"
#include "support/Status.h"
#include "support/Targets.h"

#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qcc {

// Measured sensitivities: per layer (Hugging Face module name, "lm_head"),
// per format (as rules spell it: bf16 fp8 int8 w4a16:G), the mean KL in nats
// per token of the model with that layer alone quantized. A missing entry:
// the format is not available for the layer.
struct SensitivityTable {
  std::vector<std::string> candidates;
  std::map<std::string, std::map<std::string, double>> kl;
  std::string checkpointHash; // the checkpoint it was measured on; may be empty
  std::string identity;       // for provenance: "sensitivity.json@<hash>" or "measured"
};

// The module attribute that carries a table into qcc-select-formats:
//   qcc.sensitivity = {candidates = [...], checkpoint_hash = "...",
//                      layers = {"model.layers.0.mlp.up_proj" = {fp8 = 1.5e-05 : f64, ...}}}
constexpr const char *kSensitivityAttr = "qcc.sensitivity";
void setSensitivityAttr(mlir::ModuleOp module, const SensitivityTable &table);
Expected<SensitivityTable> getSensitivityAttr(mlir::ModuleOp module);
// The `qcc sensitivity` JSON (sensitivity.json); errors name the file and field.
Expected<SensitivityTable> readSensitivityFile(const std::string &path);

struct Budget {
  enum class Kind { Bits, Size, Latency } kind = Kind::Bits;
  double value = 0;
  const quant::GpuSpec *gpu = nullptr; // Latency
  std::string text;                    // as given
};
Expected<Budget> parseBudget(const std::string &text);

struct AutoFormatOptions {
  std::vector<TargetInfo> targets; // legality; empty: CPU only
  bool allowFp8WeightOnly = false;
  bool includeLmHead = false;
  int64_t groupSize = 128;  // of a bare "w4a16"
  std::string tilesFile;    // measured GEMM times replace estimates
  bool uniformGroups = false; // a fusion group's members take one format (vLLM's fused modules)
};

// One chosen (or given) assignment and what it costs.
struct FormatAssignment {
  std::vector<std::string> formats; // per covered layer (AutoProblem::layers order)
  double predictedKl = 0;           // sum of the layers' KLs
  double effectiveBits = 0;         // over the covered linears
  int64_t linearBytes = 0;          // the covered linears
  int64_t modelBytes = 0;           // every weight
  std::vector<double> decodeUs, prefillUs; // per quant::gpuSpecs(), all linears
  bool coarsened = false;           // the solver rounded weights up (see MixedPrecision.h)
};

class AutoProblem {
public:
  struct Layer {
    std::string name;
    mlir::Operation *op = nullptr; // qcc.linear or qcc.logits
    int64_t n = 0, k = 0;
    std::vector<std::string> formats; // legal, measured, in the table's candidate order
    std::vector<double> kl;           // per format
  };

  static Expected<std::unique_ptr<AutoProblem>> build(mlir::ModuleOp module, const SensitivityTable &table,
                                                      const AutoFormatOptions &options);
  const std::vector<Layer> &layers() const { return layers_; }
  // The least-KL assignment within the budget; an error giving the smallest
  // value of the budget any assignment reaches when none fits.
  Expected<FormatAssignment> solve(const Budget &budget) const;
  // The costs of a given assignment (format names per layer, legal ones).
  Expected<FormatAssignment> evaluate(const std::vector<std::string> &formats) const;
  // Every layer in `format` where legal, else its nearest legal fallback
  // (the first legal of int8, bf16): what a uniform compile does.
  std::vector<std::string> uniform(const std::string &format) const;
  // The estimated time of one layer alone in `format` on quant::gpuSpecs()[gpu] at M rows.
  double layerMicros(size_t layer, const std::string &format, size_t gpu, int64_t m) const;
  // Least and greatest effective bits any assignment has.
  double minBits() const, maxBits() const;

private:
  struct Fixed {
    formats::FormatSpec format;
    std::vector<quant::GemmShape> shapes;
  };
  double groupMicros(size_t gpu, const std::vector<size_t> &members, const std::vector<std::string> &formats,
                     int64_t m) const;
  std::vector<Layer> layers_;
  std::vector<std::vector<size_t>> groups_; // fusion groups of layer indices
  std::vector<Fixed> fixedGemms_;           // linears not covered (one GEMM each)
  int64_t coveredWeights_ = 0, otherBytes_ = 0;
  int64_t groupSize_ = 128;
  bool uniformGroups_ = false;
  quant::MeasuredTime measured_;
};

// Parses "bf16" "fp8" "int8" "w4a16" "w4a16:G" (defaultGroup for a bare w4a16).
Expected<formats::FormatSpec> parseRuleFormat(const std::string &text, int64_t defaultGroup);
// "w4a16:128" for w4a16, else the bare name.
std::string ruleFormatName(const formats::FormatSpec &spec);

// A rules file (ordered YAML, first match wins) that gives exactly this
// assignment: one exact (regular expression) rule per layer.
std::string assignmentRulesYaml(const AutoProblem &problem, const FormatAssignment &assignment,
                                const std::string &header);
// One line: effective bits, predicted KL, bytes, decode/prefill estimates.
std::string describeAssignment(const FormatAssignment &assignment);

// qcc-select-formats with default-format=auto: the table comes from
// `sensitivityFile` (a `qcc sensitivity` JSON) or, without one, from the
// module's qcc.sensitivity (removed afterwards). Sets every covered layer's
// format, records the budget, effective bits and estimates in qcc.passes (the
// artifact's provenance) and reports the assignment in a remark.
mlir::LogicalResult selectFormatsAutomatically(mlir::ModuleOp module, const std::string &budget,
                                               const std::string &sensitivityFile, const AutoFormatOptions &options);

} // namespace qcc
