// RUN: qcc-opt %s -split-input-file -qcc-fuse | FileCheck %s

// qcc-fuse rewrites by use-def patterns, on any graph: per-token quantization
// is made explicit and fused into the RMSNorm or SwiGLU that produces it;
// linears of one input in one format (and method) become one fused_linear;
// the two ropes at the same positions become one; an add of a linear's only
// use becomes the linear's residual epilogue. Weights are not touched.

// CHECK-LABEL: func.func @int8_layer
// CHECK-SAME: (%[[H:.*]]: tensor<?x16xbf16>, %[[POS:.*]]: tensor<?xi64>)
// CHECK: %[[C:.*]], %[[S:.*]] = qcc.rms_norm_quantize %[[H]], %{{.*}} {epsilon = 1.000000e-05 : f64, format = #qcc.format<int8>} : tensor<?x16xbf16>, tensor<16xbf16> -> tensor<?x16xi8>, tensor<?xf32>
// CHECK: %[[QKV:.*]]:3 = qcc.fused_linear %[[C]] scales %[[S]], %{{.*}}, %{{.*}}, %{{.*}} {format = #qcc.format<int8>, layers = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj"]} : (tensor<?x16xi8>, tensor<?xf32>, tensor<16x16xbf16>, tensor<8x16xbf16>, tensor<8x16xbf16>) -> (tensor<?x16xbf16>, tensor<?x8xbf16>, tensor<?x8xbf16>)
// CHECK-NEXT: %[[R:.*]]:2 = qcc.rope %[[QKV]]#0, %[[QKV]]#1 at %[[POS]] {head_dim = 8 : i64, heads = array<i64: 2, 1>, theta = 5.000000e+05 : f64}
// CHECK-NEXT: %[[A:.*]] = qcc.attention %[[R]]#0, %[[R]]#1, %[[QKV]]#2 at %[[POS]]
// CHECK: %[[AC:.*]], %[[AS:.*]] = qcc.quantize %[[A]] {format = #qcc.format<int8>}
// CHECK-NEXT: %[[H1:.*]] = qcc.linear %[[AC]] scales %[[AS]], %{{.*}} residual %[[H]] {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.o_proj"}
// CHECK: %[[C2:.*]], %[[S2:.*]] = qcc.rms_norm_quantize %[[H1]]
// CHECK: %[[GU:.*]]:2 = qcc.fused_linear %[[C2]] scales %[[S2]], %{{.*}}, %{{.*}} {format = #qcc.format<int8>, layers = ["model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"]}
// CHECK: %[[SC:.*]], %[[SS:.*]] = qcc.swiglu_quantize %[[GU]]#0, %[[GU]]#1 {format = #qcc.format<int8>} : tensor<?x32xbf16> -> tensor<?x32xi8>, tensor<?xf32>
// CHECK-NEXT: %[[H2:.*]] = qcc.linear %[[SC]] scales %[[SS]], %{{.*}} residual %[[H1]] {format = #qcc.format<int8>, layer = "model.layers.0.mlp.down_proj"}
// CHECK-NEXT: return %[[H2]]
// CHECK-NOT: qcc.add
func.func @int8_layer(%h: tensor<?x16xbf16>, %pos: tensor<?xi64>) -> tensor<?x16xbf16> {
  %n1 = qcc.weight "model.layers.0.input_layernorm.weight" {value = dense<1.0> : tensor<16xbf16>} : tensor<16xbf16>
  %x = qcc.rms_norm %h, %n1 {epsilon = 1.0e-05 : f64} : tensor<?x16xbf16>, tensor<16xbf16>
  %wq = qcc.weight "model.layers.0.self_attn.q_proj.weight" {value = dense<0.5> : tensor<16x16xbf16>} : tensor<16x16xbf16>
  %q = qcc.linear %x, %wq {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.q_proj"} : (tensor<?x16xbf16>, tensor<16x16xbf16>) -> tensor<?x16xbf16>
  %wk = qcc.weight "model.layers.0.self_attn.k_proj.weight" {value = dense<0.5> : tensor<8x16xbf16>} : tensor<8x16xbf16>
  %k = qcc.linear %x, %wk {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.k_proj"} : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
  %wv = qcc.weight "model.layers.0.self_attn.v_proj.weight" {value = dense<0.5> : tensor<8x16xbf16>} : tensor<8x16xbf16>
  %v = qcc.linear %x, %wv {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.v_proj"} : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
  %qr = qcc.rope %q at %pos {head_dim = 8 : i64, heads = array<i64: 2>, theta = 5.0e+05 : f64} : (tensor<?x16xbf16>, tensor<?xi64>) -> tensor<?x16xbf16>
  %kr = qcc.rope %k at %pos {head_dim = 8 : i64, heads = array<i64: 1>, theta = 5.0e+05 : f64} : (tensor<?x8xbf16>, tensor<?xi64>) -> tensor<?x8xbf16>
  %a = qcc.attention %qr, %kr, %v at %pos {cache = 0 : i64, head_dim = 8 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64} : tensor<?x16xbf16>, tensor<?x8xbf16>, tensor<?x8xbf16>, tensor<?xi64> -> tensor<?x16xbf16>
  %wo = qcc.weight "model.layers.0.self_attn.o_proj.weight" {value = dense<0.5> : tensor<16x16xbf16>} : tensor<16x16xbf16>
  %o = qcc.linear %a, %wo {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.o_proj"} : (tensor<?x16xbf16>, tensor<16x16xbf16>) -> tensor<?x16xbf16>
  %h1 = qcc.add %h, %o : tensor<?x16xbf16>
  %n2 = qcc.weight "model.layers.0.post_attention_layernorm.weight" {value = dense<1.0> : tensor<16xbf16>} : tensor<16xbf16>
  %x2 = qcc.rms_norm %h1, %n2 {epsilon = 1.0e-05 : f64} : tensor<?x16xbf16>, tensor<16xbf16>
  %wg = qcc.weight "model.layers.0.mlp.gate_proj.weight" {value = dense<0.5> : tensor<32x16xbf16>} : tensor<32x16xbf16>
  %g = qcc.linear %x2, %wg {format = #qcc.format<int8>, layer = "model.layers.0.mlp.gate_proj"} : (tensor<?x16xbf16>, tensor<32x16xbf16>) -> tensor<?x32xbf16>
  %wu = qcc.weight "model.layers.0.mlp.up_proj.weight" {value = dense<0.5> : tensor<32x16xbf16>} : tensor<32x16xbf16>
  %u = qcc.linear %x2, %wu {format = #qcc.format<int8>, layer = "model.layers.0.mlp.up_proj"} : (tensor<?x16xbf16>, tensor<32x16xbf16>) -> tensor<?x32xbf16>
  %s = qcc.swiglu %g, %u : tensor<?x32xbf16>
  %wd = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<0.5> : tensor<16x32xbf16>} : tensor<16x32xbf16>
  %d = qcc.linear %s, %wd {format = #qcc.format<int8>, layer = "model.layers.0.mlp.down_proj"} : (tensor<?x32xbf16>, tensor<16x32xbf16>) -> tensor<?x16xbf16>
  %h2 = qcc.add %h1, %d : tensor<?x16xbf16>
  return %h2 : tensor<?x16xbf16>
}

// -----

// Weight-only formats take float activations: nothing is quantized.
// CHECK-LABEL: func.func @w4a16_layer
// CHECK: %[[X:.*]] = qcc.rms_norm
// CHECK: qcc.fused_linear %[[X]], %{{.*}}, %{{.*}}, %{{.*}} {format = #qcc.format<w4a16, group = 8>, layers = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj"]}
// CHECK: qcc.linear %{{.*}}, %{{.*}} residual %{{.*}} {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.self_attn.o_proj"}
// CHECK: qcc.swiglu %{{.*}}, %{{.*}} : tensor<?x32xbf16>
// CHECK-NOT: qcc.quantize
// CHECK-NOT: _quantize
func.func @w4a16_layer(%h: tensor<?x16xbf16>, %pos: tensor<?xi64>) -> tensor<?x16xbf16> {
  %n1 = qcc.weight "model.layers.0.input_layernorm.weight" {value = dense<1.0> : tensor<16xbf16>} : tensor<16xbf16>
  %x = qcc.rms_norm %h, %n1 {epsilon = 1.0e-05 : f64} : tensor<?x16xbf16>, tensor<16xbf16>
  %wq = qcc.weight "model.layers.0.self_attn.q_proj.weight" {value = dense<0.5> : tensor<16x16xbf16>} : tensor<16x16xbf16>
  %q = qcc.linear %x, %wq {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.self_attn.q_proj"} : (tensor<?x16xbf16>, tensor<16x16xbf16>) -> tensor<?x16xbf16>
  %wk = qcc.weight "model.layers.0.self_attn.k_proj.weight" {value = dense<0.5> : tensor<8x16xbf16>} : tensor<8x16xbf16>
  %k = qcc.linear %x, %wk {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.self_attn.k_proj"} : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
  %wv = qcc.weight "model.layers.0.self_attn.v_proj.weight" {value = dense<0.5> : tensor<8x16xbf16>} : tensor<8x16xbf16>
  %v = qcc.linear %x, %wv {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.self_attn.v_proj"} : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
  %qr = qcc.rope %q at %pos {head_dim = 8 : i64, heads = array<i64: 2>, theta = 5.0e+05 : f64} : (tensor<?x16xbf16>, tensor<?xi64>) -> tensor<?x16xbf16>
  %kr = qcc.rope %k at %pos {head_dim = 8 : i64, heads = array<i64: 1>, theta = 5.0e+05 : f64} : (tensor<?x8xbf16>, tensor<?xi64>) -> tensor<?x8xbf16>
  %a = qcc.attention %qr, %kr, %v at %pos {cache = 0 : i64, head_dim = 8 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64} : tensor<?x16xbf16>, tensor<?x8xbf16>, tensor<?x8xbf16>, tensor<?xi64> -> tensor<?x16xbf16>
  %wo = qcc.weight "model.layers.0.self_attn.o_proj.weight" {value = dense<0.5> : tensor<16x16xbf16>} : tensor<16x16xbf16>
  %o = qcc.linear %a, %wo {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.self_attn.o_proj"} : (tensor<?x16xbf16>, tensor<16x16xbf16>) -> tensor<?x16xbf16>
  %h1 = qcc.add %h, %o : tensor<?x16xbf16>
  %n2 = qcc.weight "model.layers.0.post_attention_layernorm.weight" {value = dense<1.0> : tensor<16xbf16>} : tensor<16xbf16>
  %x2 = qcc.rms_norm %h1, %n2 {epsilon = 1.0e-05 : f64} : tensor<?x16xbf16>, tensor<16xbf16>
  %wg = qcc.weight "model.layers.0.mlp.gate_proj.weight" {value = dense<0.5> : tensor<32x16xbf16>} : tensor<32x16xbf16>
  %g = qcc.linear %x2, %wg {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.mlp.gate_proj"} : (tensor<?x16xbf16>, tensor<32x16xbf16>) -> tensor<?x32xbf16>
  %wu = qcc.weight "model.layers.0.mlp.up_proj.weight" {value = dense<0.5> : tensor<32x16xbf16>} : tensor<32x16xbf16>
  %u = qcc.linear %x2, %wu {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.mlp.up_proj"} : (tensor<?x16xbf16>, tensor<32x16xbf16>) -> tensor<?x32xbf16>
  %s = qcc.swiglu %g, %u : tensor<?x32xbf16>
  %wd = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<0.5> : tensor<16x32xbf16>} : tensor<16x32xbf16>
  %d = qcc.linear %s, %wd {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.mlp.down_proj"} : (tensor<?x32xbf16>, tensor<16x32xbf16>) -> tensor<?x16xbf16>
  %h2 = qcc.add %h1, %d : tensor<?x16xbf16>
  return %h2 : tensor<?x16xbf16>
}

// -----

// Per-layer formats: only q and v agree (int8), so they fuse and k (fp8)
// stays alone; the norm feeds two formats, so its output is quantized twice
// and the norm itself is not fused. o_proj is bf16; gate and up (fp8) fuse
// with their norm, but down_proj is w4a16: the SwiGLU stays float.
// CHECK-LABEL: func.func @mixed_layer
// CHECK: %[[X:.*]] = qcc.rms_norm %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64}
// CHECK: %[[C:.*]], %[[S:.*]] = qcc.quantize %[[X]] {format = #qcc.format<int8>}
// CHECK: %[[QV:.*]]:2 = qcc.fused_linear %[[C]] scales %[[S]], %{{.*}}, %{{.*}} {format = #qcc.format<int8>, layers = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"]}
// CHECK: %[[C8:.*]], %[[S8:.*]] = qcc.quantize %[[X]] {format = #qcc.format<fp8>}
// CHECK: %[[K:.*]] = qcc.linear %[[C8]] scales %[[S8]], %{{.*}} {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.k_proj"}
// CHECK-NEXT: %[[R:.*]]:2 = qcc.rope %[[QV]]#0, %[[K]] at
// CHECK-NEXT: qcc.attention %[[R]]#0, %[[R]]#1, %[[QV]]#1 at
// CHECK: qcc.linear %{{.*}}, %{{.*}} residual %{{.*}} {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.o_proj"}
// CHECK: qcc.rms_norm_quantize %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64, format = #qcc.format<fp8>}
// CHECK: qcc.fused_linear %{{.*}} scales %{{.*}}, %{{.*}}, %{{.*}} {format = #qcc.format<fp8>, layers = ["model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"]}
// CHECK-NEXT: qcc.swiglu %{{.*}}, %{{.*}} : tensor<?x32xbf16>
// CHECK: qcc.linear %{{.*}}, %{{.*}} residual %{{.*}} {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.mlp.down_proj"}
func.func @mixed_layer(%h: tensor<?x16xbf16>, %pos: tensor<?xi64>) -> tensor<?x16xbf16> {
  %n1 = qcc.weight "model.layers.0.input_layernorm.weight" {value = dense<1.0> : tensor<16xbf16>} : tensor<16xbf16>
  %x = qcc.rms_norm %h, %n1 {epsilon = 1.0e-05 : f64} : tensor<?x16xbf16>, tensor<16xbf16>
  %wq = qcc.weight "model.layers.0.self_attn.q_proj.weight" {value = dense<0.5> : tensor<16x16xbf16>} : tensor<16x16xbf16>
  %q = qcc.linear %x, %wq {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.q_proj"} : (tensor<?x16xbf16>, tensor<16x16xbf16>) -> tensor<?x16xbf16>
  %wk = qcc.weight "model.layers.0.self_attn.k_proj.weight" {value = dense<0.5> : tensor<8x16xbf16>} : tensor<8x16xbf16>
  %k = qcc.linear %x, %wk {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.k_proj"} : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
  %wv = qcc.weight "model.layers.0.self_attn.v_proj.weight" {value = dense<0.5> : tensor<8x16xbf16>} : tensor<8x16xbf16>
  %v = qcc.linear %x, %wv {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.v_proj"} : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
  %qr = qcc.rope %q at %pos {head_dim = 8 : i64, heads = array<i64: 2>, theta = 5.0e+05 : f64} : (tensor<?x16xbf16>, tensor<?xi64>) -> tensor<?x16xbf16>
  %kr = qcc.rope %k at %pos {head_dim = 8 : i64, heads = array<i64: 1>, theta = 5.0e+05 : f64} : (tensor<?x8xbf16>, tensor<?xi64>) -> tensor<?x8xbf16>
  %a = qcc.attention %qr, %kr, %v at %pos {cache = 0 : i64, head_dim = 8 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64} : tensor<?x16xbf16>, tensor<?x8xbf16>, tensor<?x8xbf16>, tensor<?xi64> -> tensor<?x16xbf16>
  %wo = qcc.weight "model.layers.0.self_attn.o_proj.weight" {value = dense<0.5> : tensor<16x16xbf16>} : tensor<16x16xbf16>
  %o = qcc.linear %a, %wo {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.o_proj"} : (tensor<?x16xbf16>, tensor<16x16xbf16>) -> tensor<?x16xbf16>
  %h1 = qcc.add %h, %o : tensor<?x16xbf16>
  %n2 = qcc.weight "model.layers.0.post_attention_layernorm.weight" {value = dense<1.0> : tensor<16xbf16>} : tensor<16xbf16>
  %x2 = qcc.rms_norm %h1, %n2 {epsilon = 1.0e-05 : f64} : tensor<?x16xbf16>, tensor<16xbf16>
  %wg = qcc.weight "model.layers.0.mlp.gate_proj.weight" {value = dense<0.5> : tensor<32x16xbf16>} : tensor<32x16xbf16>
  %g = qcc.linear %x2, %wg {format = #qcc.format<fp8>, layer = "model.layers.0.mlp.gate_proj"} : (tensor<?x16xbf16>, tensor<32x16xbf16>) -> tensor<?x32xbf16>
  %wu = qcc.weight "model.layers.0.mlp.up_proj.weight" {value = dense<0.5> : tensor<32x16xbf16>} : tensor<32x16xbf16>
  %u = qcc.linear %x2, %wu {format = #qcc.format<fp8>, layer = "model.layers.0.mlp.up_proj"} : (tensor<?x16xbf16>, tensor<32x16xbf16>) -> tensor<?x32xbf16>
  %s = qcc.swiglu %g, %u : tensor<?x32xbf16>
  %wd = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<0.5> : tensor<16x32xbf16>} : tensor<16x32xbf16>
  %d = qcc.linear %s, %wd {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.mlp.down_proj"} : (tensor<?x32xbf16>, tensor<16x32xbf16>) -> tensor<?x16xbf16>
  %h2 = qcc.add %h1, %d : tensor<?x16xbf16>
  return %h2 : tensor<?x16xbf16>
}

// -----

// Linears of one input in different methods do not fuse. An add becomes
// the epilogue of the linear whose only use it is (b), with the other
// operand (a, also returned) as the residual. A lone rope stays alone.
// CHECK-LABEL: func.func @not_fused
// CHECK: %[[Y:.*]] = qcc.linear %{{.*}}, %{{.*}} {format = #qcc.format<w4a16, group = 8>, layer = "a"}
// CHECK-NEXT: %[[Z:.*]] = qcc.linear %{{.*}}, %{{.*}} residual %[[Y]] {format = #qcc.format<w4a16, group = 8>, layer = "b"}
// CHECK-NEXT: %[[R:.*]] = qcc.rope %[[Z]] at
// CHECK-NEXT: return %[[R]], %[[Y]]
func.func @not_fused(%h: tensor<?x16xbf16>, %pos: tensor<?xi64>) -> (tensor<?x16xbf16>, tensor<?x16xbf16>) {
  %wa = qcc.quantized_weight "a.weight" {format = #qcc.format<w4a16, group = 8>, method = #qcc<quant_method gptq>, codes = dense<1> : tensor<16x16xi4>, scales = dense<0.5> : tensor<16x2xf32>} : tensor<16x16xi4>
  %wb = qcc.quantized_weight "b.weight" {format = #qcc.format<w4a16, group = 8>, method = #qcc<quant_method awq>, codes = dense<1> : tensor<16x16xi4>, scales = dense<0.5> : tensor<16x2xf32>} : tensor<16x16xi4>
  %y = qcc.linear %h, %wa {format = #qcc.format<w4a16, group = 8>, layer = "a"} : (tensor<?x16xbf16>, tensor<16x16xi4>) -> tensor<?x16xbf16>
  %z = qcc.linear %h, %wb {format = #qcc.format<w4a16, group = 8>, layer = "b"} : (tensor<?x16xbf16>, tensor<16x16xi4>) -> tensor<?x16xbf16>
  %sum = qcc.add %z, %y : tensor<?x16xbf16>
  %r = qcc.rope %sum at %pos {head_dim = 8 : i64, heads = array<i64: 2>, theta = 5.0e+05 : f64} : (tensor<?x16xbf16>, tensor<?xi64>) -> tensor<?x16xbf16>
  return %r, %y : tensor<?x16xbf16>, tensor<?x16xbf16>
}
