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

    `default-format=auto` chooses every layer's format instead
    (passes/AutoFormats.h): the least summed sensitivity under `budget`,
    from the table in `sensitivity` or the module attribute
    `qcc.sensitivity` (which it then removes), respecting the legality of
    `targets`; the choice is reported in a remark and recorded in
    `qcc.passes`.
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
    Option<"budget", "budget", "std::string", /*default=*/"\"\"",
           "default-format=auto: bits=B, size=BYTES or latency=MICROSECONDS@GPU">,
    Option<"sensitivity", "sensitivity", "std::string", /*default=*/"\"\"",
           "default-format=auto: a `qcc sensitivity` JSON table (default: the module's qcc.sensitivity)">,
    Option<"targets", "targets", "std::string", /*default=*/"\"\"",
           "default-format=auto: targets whose legality the choice respects (empty: CPU only)">,
    Option<"allowFp8WeightOnly", "allow-fp8-weight-only", "bool", /*default=*/"false",
           "default-format=auto: fp8 is legal as weight-only on targets without fp8 tensor cores">,
    Option<"tilesFile", "tiles", "std::string", /*default=*/"\"\"",
           "default-format=auto: a `qcc tune` table whose measured times replace the latency estimates">,
    Option<"uniformGroups", "uniform-groups", "bool", /*default=*/"false",
           "default-format=auto: linears that read the same input (q|k|v, gate|up) share one format "
           "(what vLLM's fused modules need: qcc export)">,
  ];
}

def QccLegalizeTarget : Pass<"qcc-legalize-target", "::mlir::ModuleOp"> {
  let summary = "check that the graph lowers to kernels on every target, before any calibration";
  let description = [{
    Runs what qcc-fuse and qcc-lower-to-kernels will run later on a copy of
    the module, for each target in `targets`, and discards the copy: the
    conversion target of the lowering holds every legality rule (format x
    target, w4a16 group, K chunk, each kernel template's shapes), so a layer
    that cannot run is an error here, naming it, before hours of
    calibration. W8A8 fp8 needs fp8 tensor cores (sm89+): on sm80/sm86 it is
    an error naming the alternative, unless `allow-fp8-weight-only` runs e4m3
    weights with bf16 activations there. Records the targets on the module as
    `qcc.targets`.
  }];
  let options = [
    Option<"targets", "targets", "std::string", /*default=*/"\"sm90\"",
           "comma-separated targets: sm80, sm86, sm89, sm90 or a100, a6000, l40s, h100, h200">,
    Option<"allowFp8WeightOnly", "allow-fp8-weight-only", "bool", /*default=*/"false",
           "accept fp8 on targets without fp8 tensor cores as weight-only">,
    Option<"tilesFile", "tiles", "std::string", /*default=*/"\"\"",
           "a `qcc tune` tile table, as qcc-lower-to-kernels will use it">,
  ];
  let dependentDialects = ["::qcc::qcck::QcckDialect"];
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

def QccFuse : Pass<"qcc-fuse", "::mlir::ModuleOp"> {
  let summary = "fuse the graph into the ops one kernel launch computes";
  let description = [{
    Rewrites found by use-def patterns, whatever the model:
    1. the per-token activation quantization of W8A8 linears (fp8, int8)
       becomes explicit: one `qcc.quantize` per value and format;
    2. linears that read the same value and agree in format and method
       (and take no residual) become one `qcc.fused_linear` (q|k|v,
       gate|up: one GEMM over the stacked weights); linears that differ stay
       apart;
    3. two single-tensor `qcc.rope` of the same positions and frequencies
       (queries and keys) become one;
    4. a `qcc.quantize` of an RMSNorm or SwiGLU result that nothing else
       reads becomes `qcc.rms_norm_quantize` / `qcc.swiglu_quantize`;
    5. a `qcc.add` of a linear's result that nothing else reads becomes the
       linear's residual epilogue.
    The CPU computes every fused op exactly as the ops it replaces.
  }];
}

def QccLowerToKernels : Pass<"qcc-lower-to-kernels", "::mlir::ModuleOp"> {
  let summary = "lower @forward to one qcck.program of kernel launches per target";
  let description = [{
    A dialect conversion of a copy of @forward into a `qcck.program` for each
    target: every graph op becomes the kernel launch(es) that compute it on
    that GPU (a GEMM per linear or fused linear, with a decode and a prefill
    tile; RMSNorm and SwiGLU with their output quantization; RoPE; KV-cache
    store and attention; embedding; add), with the kernel template's
    parameters, tiles and grids. The conversion target is where legality
    lives: a GEMM is legal on a target only in a format it runs (fp8 W8A8
    needs fp8 tensor cores, sm_89+, unless `allow-fp8-weight-only`, which
    runs fp8 weights with bf16 activations there), with a w4a16 group that is
    a multiple of 128 dividing K, and K a multiple of the format's k chunk;
    every other kernel only with shapes its template takes. An op that
    cannot be lowered is an error naming the layer and the rule.
    qcc-legalize-target runs this conversion on a copy before calibration.
  }];
  let options = [
    Option<"targets", "targets", "std::string", /*default=*/"\"sm90\"",
           "comma-separated targets: sm80, sm86, sm89, sm90 or a100, a6000, l40s, h100, h200">,
    Option<"allowFp8WeightOnly", "allow-fp8-weight-only", "bool", /*default=*/"false",
           "on targets without fp8 tensor cores, run fp8 linears with bf16 activations">,
    Option<"tilesFile", "tiles", "std::string", /*default=*/"\"\"",
           "a `qcc tune` tile table (JSON) overriding the built-in tiles where an entry matches">,
    Option<"maxSeq", "max-seq", "int64_t", /*default=*/"0",
           "KV-cache positions the attention kernels hold (0: max_position_embeddings, at most 8192)">,
  ];
  let dependentDialects = ["::qcc::qcck::QcckDialect"];
}

def QccPlanBuffers : Pass<"qcc-plan-buffers", "::mlir::ModuleOp"> {
  let summary = "assign device buffers to the values of each qcck.program by liveness";
  let description = [{
    Walks each program in order: a launch's results get buffers (the
    smallest free one wide enough, grown when none is) before the buffers of
    operands it reads last are freed, so no kernel writes a buffer it reads;
    slices and RoPE results share their source's buffer. Records
    `buffers`/`offsets` (bytes) on every value-producing op and
    `buffer_bytes_per_row` on the program. Device bytes per row: 2 for a
    bf16 activation (every float activation is bf16 on the GPU), 1 for int8
    / e4m3 codes, 4 for a token scale.
  }];
}

#endif // QCC_PASSES_TD
