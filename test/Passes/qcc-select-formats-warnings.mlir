// RUN: qcc-opt %s -qcc-select-formats="rules-file=%S/Inputs/layer-formats-unused.yaml" -verify-diagnostics | FileCheck %s
// RUN: not qcc-opt %s -qcc-select-formats="default-format=w4a16 group-size=7" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not qcc-opt %s -qcc-select-formats="rules=*.q_proj=w4a16:7" 2>&1 | FileCheck %s --check-prefix=SUFFIX

// Rules that decide nothing get a warning naming each: one that matches no
// layer, one that repeats an earlier pattern, one that every layer it
// matches is taken by an earlier rule.
// expected-warning @+3 {{qcc-select-formats: rule 'layers.9.*' (}}
// expected-warning @+2 {{qcc-select-formats: rule '*.q_proj' (}}
// expected-warning @+1 {{qcc-select-formats: rule 'layers.0.self_attn.*' (}}
module {
func.func @one_layer(%x: tensor<?x256xbf16>) -> tensor<?x256xbf16> {
  %wq = qcc.weight "model.layers.0.self_attn.q_proj.weight" {value = dense<1.0> : tensor<256x256xbf16>} : tensor<256x256xbf16>
  %q = qcc.linear %x, %wq {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.q_proj"} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  return %q : tensor<?x256xbf16>
}
}

// CHECK: format = #qcc.format<int8>, layer = "model.layers.0.self_attn.q_proj"

// The group size has one rule wherever it is given (flag, option, ":G").
// GROUP: qcc-select-formats: group-size: group size 7 is not a positive multiple of 8 (at most 1048576)
// SUFFIX: bad rule '*.q_proj=w4a16:7': bad group size in 'w4a16:7' (a positive multiple of 8, at most 1048576)
