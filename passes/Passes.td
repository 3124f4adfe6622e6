//===- Passes.td - qcc passes ---------------------------------------------===//
//
// Every qcc pass: one file in passes/, one lit test in test/Passes/ named
// after it, options declared here. Pipelines are explicit ordered lists
// (see Pipelines.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef QCC_PASSES_TD
#define QCC_PASSES_TD

include "mlir/Pass/PassBase.td"

def QccSelectFormats : Pass<"qcc-select-formats", "::mlir::ModuleOp"> {
  let summary = "choose the numeric format of every linear layer";
  let description = [{
    Sets the `format` of each `qcc.linear` (and of `qcc.logits` when
    `include-lm-head` is set, or a rule names `lm_head`) from a default format
    and an ordered list of per-layer rules. Rules come from a YAML or JSON
    mapping `pattern: format` (first match wins); a pattern is a glob over the
    Hugging Face module name (with or without the leading `model.`), or a
    regular expression when written `re:...`. Formats: bf16, fp8, int8, w4a16,
    `w4a16:G` for group size G. Layers whose shape cannot take the chosen
    format (w4a16 with a group that does not divide K) fall back to `int8`
    per channel and get a remark saying so; a rule that names such a layer
    explicitly is an error instead.
  }];
  let options = [
    Option<"defaultFormat", "default-format", "std::string", /*default=*/"\"bf16\"",
           "format for layers no rule matches (bf16, fp8, int8, w4a16[:G])">,
    Option<"rulesFile", "rules-file", "std::string", /*default=*/"\"\"",
           "YAML or JSON file of ordered `pattern: format` rules">,
    ListOption<"rules", "rules", "std::string",
               "inline rules `pattern=format`, applied before rules-file">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "group size of w4a16 when a format names none">,
    Option<"includeLmHead", "include-lm-head", "bool", /*default=*/"false",
           "apply the default format to lm_head too (it stays bf16 otherwise)">,
  ];
}

def QccLegalizeTarget : Pass<"qcc-legalize-target", "::mlir::ModuleOp"> {
  let summary = "check that every layer's format runs on every target";
  let description = [{
    Consults the legality table (support/Targets.h) for each target in
    `targets` and each linear layer's format. W8A8 fp8 needs fp8 tensor cores
    (sm89+): on sm80/sm86 it is an error naming the alternatives, unless
    `allow-fp8-weight-only` accepts e4m3 weights with bf16 math. Records the
    targets on the module as `qcc.targets`.
  }];
  let options = [
    Option<"targets", "targets", "std::string", /*default=*/"\"sm90\"",
           "comma-separated targets: sm80, sm86, sm89, sm90 or a100, a6000, l40s, h100, h200">,
    Option<"allowFp8WeightOnly", "allow-fp8-weight-only", "bool", /*default=*/"false",
           "accept fp8 on targets without fp8 tensor cores as weight-only">,
  ];
}

def QccCalibrate : Pass<"qcc-calibrate", "::mlir::ModuleOp"> {
  let summary = "choose calibration data and collect activation ranges";
  let description = [{
    Loads the calibration token ids (a token-id file with one sequence per
    line, or `random` tokens) and records them on the module as
    `qcc.calibration` (with the file's hash) for the passes after it. With
    `collect-ranges`, it runs the graph as it is now through the CPU
    interpreter and collects the per-channel absolute maximum of every
    RMSNorm output that linears read (SmoothQuant's statistic), written to a
    parameter archive and attached to the norm as `qcc.output_absmax`.
    GPTQ's Hessians are collected later, block by block, by
    qcc-quantize-weights, so that each block sees the outputs of the
    already-quantized blocks before it.
  }];
  let options = [
    Option<"source", "source", "std::string", /*default=*/"\"random\"",
           "`random` or a token-id file (one sequence per line)">,
    Option<"samples", "samples", "int64_t", /*default=*/"32", "number of sequences">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"128", "tokens per sequence (longer lines are cut)">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0", "seed of the random tokens">,
    Option<"collectRanges", "collect-ranges", "bool", /*default=*/"true",
           "run the model to collect activation ranges (only SmoothQuant needs them)">,
    Option<"paramDir", "param-dir", "std::string", /*default=*/"\"\"",
           "folder for the parameter archive this pass writes (default: the module's qcc.param_dir)">,
  ];
}

def QccFoldSmoothQuant : Pass<"qcc-fold-smoothquant", "::mlir::ModuleOp"> {
  let summary = "fold SmoothQuant scales into the RMSNorm weights";
  let description = [{
    For every `qcc.rms_norm` whose output only linears read and whose range
    qcc-calibrate measured (`qcc.output_absmax`): s[j] = max|X_j|^alpha /
    max|W_:,j|^(1-alpha) over those linears. Their weights become W diag(s)
    and the norm weight w / s, which is exact in exact arithmetic; the new
    tensors go to a parameter archive and the weight ops point at them. The
    affected linears and norms are marked `qcc.smoothquant_alpha`.
  }];
  let options = [
    Option<"alpha", "alpha", "double", /*default=*/"0.5", "migration strength in [0, 1]">,
    Option<"paramDir", "param-dir", "std::string", /*default=*/"\"\"",
           "folder for the parameter archive this pass writes (default: the module's qcc.param_dir)">,
  ];
}

def QccQuantizeWeights : Pass<"qcc-quantize-weights", "::mlir::ModuleOp"> {
  let summary = "quantize every linear layer to its chosen format";
  let description = [{
    Quantizes the weights of each `qcc.linear` (and `qcc.logits`) whose
    format is fp8, int8 or w4a16 and replaces its `qcc.weight` with a
    `qcc.quantized_weight`. Methods: `rtn` (round to nearest), `gptq`
    (block 128, dampening 0.01 x mean diag H, optional static act order) and
    `awq` (w4a16 only); `mse-clip` picks each channel's or group's scale by
    the MSE-optimal shrink search. Round-to-nearest weights become
    `qcc.quantize_weight` ops (a pure function of the dense parameter,
    evaluated where the codes are needed). GPTQ and AWQ run the graph through
    the CPU interpreter over the calibration data of qcc-calibrate, block by
    block (`qcc.block`): block b is calibrated on the outputs of the
    already-quantized blocks before it; their codes and scales, and the
    tensors AWQ rescales, go to a parameter archive. fp8 is always
    round-to-nearest (per channel), as in the study. Tiny inline weights (lit
    tests) are quantized in place with `rtn` and carry their codes inline.
  }];
  let options = [
    Option<"method", "method", "std::string", /*default=*/"\"rtn\"", "rtn, gptq or awq">,
    Option<"mseClip", "mse-clip", "bool", /*default=*/"false", "MSE-optimal clipping of the scales">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false", "GPTQ static act order">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128", "GPTQ block size">,
    Option<"dampening", "dampening", "double", /*default=*/"0.01", "GPTQ dampening fraction">,
    Option<"paramDir", "param-dir", "std::string", /*default=*/"\"\"",
           "folder for the parameter archive this pass writes (default: the module's qcc.param_dir)">,
  ];
}

#endif // QCC_PASSES_TD
