// RUN: qcc-opt %s -qcc-legalize-target="targets=sm89,h100" | FileCheck %s --check-prefix=OK
// RUN: qcc-opt %s -qcc-legalize-target="targets=a100 allow-fp8-weight-only=true" | FileCheck %s --check-prefix=WEIGHTONLY
// RUN: qcc-opt %s -qcc-legalize-target="targets=sm86" -verify-diagnostics
// RUN: not qcc-opt %s -qcc-legalize-target="targets=sm75" 2>&1 | FileCheck %s --check-prefix=UNKNOWN

// OK: module attributes {qcc.targets = ["sm89", "sm90"]}
// WEIGHTONLY: module attributes {qcc.fp8_weight_only, qcc.targets = ["sm80"]}
// UNKNOWN: unknown target 'sm75' (expected sm80, sm86, sm89, sm90 or a100, a6000, l40s, h100, h200)

// One error per illegal (format, target), at the first layer that uses it.
func.func @layers(%x: tensor<?x128xbf16>) -> tensor<?x64xbf16> {
  %w0 = qcc.weight "model.layers.0.self_attn.q_proj.weight" : tensor<128x128xbf16>
  // expected-error @+1 {{layer model.layers.0.self_attn.q_proj (and 1 more): format fp8 (W8A8-FP) needs fp8 tensor cores (sm89 or newer); target sm86 (A6000) has none: use --format w4a16 or --format int8, or pass --fp8-weight-only for e4m3 weights with bf16 math}}
  %y0 = qcc.linear %x, %w0 {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.q_proj"} : tensor<?x128xbf16>, tensor<128x128xbf16> -> tensor<?x128xbf16>
  %w1 = qcc.weight "model.layers.0.self_attn.k_proj.weight" : tensor<64x128xbf16>
  %y1 = qcc.linear %y0, %w1 {format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.self_attn.k_proj"} : tensor<?x128xbf16>, tensor<64x128xbf16> -> tensor<?x64xbf16>
  %w2 = qcc.weight "model.layers.0.self_attn.v_proj.weight" : tensor<128x128xbf16>
  %y2 = qcc.linear %x, %w2 {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.v_proj"} : tensor<?x128xbf16>, tensor<128x128xbf16> -> tensor<?x128xbf16>
  return %y1 : tensor<?x64xbf16>
}
