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

#endif // QCC_PASSES_TD
