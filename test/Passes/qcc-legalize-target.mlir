// RUN: qcc-opt %s -qcc-legalize-target="targets=sm89,h100" | FileCheck %s --check-prefix=OK
// RUN: qcc-opt %s -qcc-legalize-target="targets=a100 allow-fp8-weight-only=true" | FileCheck %s --check-prefix=WEIGHTONLY
// RUN: qcc-opt %s -qcc-legalize-target="targets=sm86" -verify-diagnostics -o /dev/null
// RUN: not qcc-opt %s -qcc-legalize-target="targets=sm75" 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not qcc-opt %s -qcc-legalize-target="targets=" 2>&1 | FileCheck %s --check-prefix=NONE

// The pass fuses and lowers a copy of the graph for every target, as
// qcc-fuse and qcc-lower-to-kernels will, so that an impossible layer fails
// here, before calibration; the module itself is unchanged but for the
// targets it was checked for.

// OK: module attributes {qcc.passes = [{{.*}}], qcc.targets = ["sm89", "sm90"]}
// OK-NOT: qcck.
// OK-NOT: qcc.fused_linear
// WEIGHTONLY: module attributes {qcc.fp8_weight_only, qcc.passes = [{{.*}}], qcc.targets = ["sm80"]}
// UNKNOWN: error: qcc-legalize-target: unknown target 'sm75' (expected sm80, sm86, sm89, sm90 or a100, a6000, l40s, h100, h200)
// NONE: error: qcc-legalize-target: empty entry in target list ''

// One decoder layer: fp8 attention projections, w4a16 MLP, bf16 elsewhere.
func.func @forward(%ids: tensor<?xi64>, %pos: tensor<?xi64>) -> tensor<?x256xf32> {
  %table = qcc.weight "model.embed_tokens.weight" {value = dense<0.5> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %h = qcc.embedding %table[%ids] : tensor<256x128xbf16>, tensor<?xi64> -> tensor<?x128xbf16>
  %n1 = qcc.weight "model.layers.0.input_layernorm.weight" {value = dense<1.0> : tensor<128xbf16>} : tensor<128xbf16>
  %x = qcc.rms_norm %h, %n1 {epsilon = 1.0e-05 : f64, qcc.block = 0 : i64} : tensor<?x128xbf16>, tensor<128xbf16>
  %wq = qcc.weight "model.layers.0.self_attn.q_proj.weight" {value = dense<0.25> : tensor<128x128xbf16>} : tensor<128x128xbf16>
  // expected-error @+1 {{layers model.layers.0.self_attn.q_proj, model.layers.0.self_attn.k_proj, model.layers.0.self_attn.v_proj: format fp8 (W8A8) needs fp8 tensor cores (sm_89 or newer); target sm_86 has none: use w4a16 or int8, or allow fp8 weights with bf16 math (--fp8-weight-only)}}
  %q = qcc.linear %x, %wq {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.q_proj", qcc.block = 0 : i64} : (tensor<?x128xbf16>, tensor<128x128xbf16>) -> tensor<?x128xbf16>
  %wk = qcc.weight "model.layers.0.self_attn.k_proj.weight" {value = dense<0.25> : tensor<64x128xbf16>} : tensor<64x128xbf16>
  %k = qcc.linear %x, %wk {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.k_proj", qcc.block = 0 : i64} : (tensor<?x128xbf16>, tensor<64x128xbf16>) -> tensor<?x64xbf16>
  %wv = qcc.weight "model.layers.0.self_attn.v_proj.weight" {value = dense<0.25> : tensor<64x128xbf16>} : tensor<64x128xbf16>
  %v = qcc.linear %x, %wv {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.v_proj", qcc.block = 0 : i64} : (tensor<?x128xbf16>, tensor<64x128xbf16>) -> tensor<?x64xbf16>
  %qr = qcc.rope %q at %pos {head_dim = 64 : i64, heads = array<i64: 2>, theta = 5.0e+05 : f64, qcc.block = 0 : i64} : (tensor<?x128xbf16>, tensor<?xi64>) -> tensor<?x128xbf16>
  %kr = qcc.rope %k at %pos {head_dim = 64 : i64, heads = array<i64: 1>, theta = 5.0e+05 : f64, qcc.block = 0 : i64} : (tensor<?x64xbf16>, tensor<?xi64>) -> tensor<?x64xbf16>
  %a = qcc.attention %qr, %kr, %v at %pos {cache = 0 : i64, head_dim = 64 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, qcc.block = 0 : i64} : tensor<?x128xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?xi64> -> tensor<?x128xbf16>
  %wo = qcc.weight "model.layers.0.self_attn.o_proj.weight" {value = dense<0.25> : tensor<128x128xbf16>} : tensor<128x128xbf16>
  %o = qcc.linear %a, %wo {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.o_proj", qcc.block = 0 : i64} : (tensor<?x128xbf16>, tensor<128x128xbf16>) -> tensor<?x128xbf16>
  %h1 = qcc.add %h, %o {qcc.block = 0 : i64} : tensor<?x128xbf16>
  %n2 = qcc.weight "model.layers.0.post_attention_layernorm.weight" {value = dense<1.0> : tensor<128xbf16>} : tensor<128xbf16>
  %x2 = qcc.rms_norm %h1, %n2 {epsilon = 1.0e-05 : f64, qcc.block = 0 : i64} : tensor<?x128xbf16>, tensor<128xbf16>
  %wg = qcc.weight "model.layers.0.mlp.gate_proj.weight" {value = dense<0.25> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %g = qcc.linear %x2, %wg {format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.mlp.gate_proj", qcc.block = 0 : i64} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  %wu = qcc.weight "model.layers.0.mlp.up_proj.weight" {value = dense<0.25> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %u = qcc.linear %x2, %wu {format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.mlp.up_proj", qcc.block = 0 : i64} : (tensor<?x128xbf16>, tensor<256x128xbf16>) -> tensor<?x256xbf16>
  %s = qcc.swiglu %g, %u {qcc.block = 0 : i64} : tensor<?x256xbf16>
  %wd = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<0.25> : tensor<128x256xbf16>} : tensor<128x256xbf16>
  %d = qcc.linear %s, %wd {format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.mlp.down_proj", qcc.block = 0 : i64} : (tensor<?x256xbf16>, tensor<128x256xbf16>) -> tensor<?x128xbf16>
  %h2 = qcc.add %h1, %d {qcc.block = 0 : i64} : tensor<?x128xbf16>
  %nf = qcc.weight "model.norm.weight" {value = dense<1.0> : tensor<128xbf16>} : tensor<128xbf16>
  %y = qcc.rms_norm %h2, %nf {epsilon = 1.0e-05 : f64} : tensor<?x128xbf16>, tensor<128xbf16>
  %head = qcc.weight "lm_head.weight" {value = dense<0.125> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %logits = qcc.logits %y, %head {format = #qcc.format<bf16>} : tensor<?x128xbf16>, tensor<256x128xbf16> -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}
