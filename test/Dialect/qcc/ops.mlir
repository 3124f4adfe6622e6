// RUN: qcc-opt %s | FileCheck %s
// RUN: qcc-opt %s | qcc-opt | FileCheck %s
// RUN: qcc-opt -mlir-print-op-generic %s | qcc-opt | FileCheck %s

// Round trip of every qcc op: one Llama-3.1 decoder layer (GQA 4:1, llama3
// rope scaling) as imported, and the same layer quantized and fused.

// CHECK: qcc.archive @checkpoint "/models/llama"
qcc.archive @checkpoint "/models/llama"
// CHECK: qcc.archive @quantized "/tmp/m.params/qcc-quantize-weights-0123456789abcdef.safetensors"
qcc.archive @quantized "/tmp/m.params/qcc-quantize-weights-0123456789abcdef.safetensors"

// CHECK-LABEL: func.func @imported_layer
func.func @imported_layer(%ids: tensor<?xi64>, %pos: tensor<?xi64>) -> tensor<?x512xf32> {
  // CHECK: qcc.weight "model.embed_tokens.weight" {param = #qcc.param<@checkpoint["model.embed_tokens.weight"], "000102030405060708090a0b0c0d0e0f">} : tensor<512x256xbf16>
  %table = qcc.weight "model.embed_tokens.weight" {param = #qcc.param<@checkpoint["model.embed_tokens.weight"], "000102030405060708090a0b0c0d0e0f">} : tensor<512x256xbf16>
  // CHECK: qcc.embedding %{{.*}}[%{{.*}}] : tensor<512x256xbf16>, tensor<?xi64> -> tensor<?x256xbf16>
  %h = qcc.embedding %table[%ids] : tensor<512x256xbf16>, tensor<?xi64> -> tensor<?x256xbf16>
  %ln = qcc.weight "model.layers.0.input_layernorm.weight" {value = dense<1.0> : tensor<256xbf16>} : tensor<256xbf16>
  // CHECK: qcc.rms_norm %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64, qcc.block = 0 : i64} : tensor<?x256xbf16>, tensor<256xbf16>
  %x = qcc.rms_norm %h, %ln {epsilon = 1.0e-05 : f64, qcc.block = 0 : i64} : tensor<?x256xbf16>, tensor<256xbf16>
  %wq = qcc.weight "model.layers.0.self_attn.q_proj.weight" {value = dense<0.5> : tensor<256x256xbf16>} : tensor<256x256xbf16>
  // CHECK: qcc.linear %{{.*}}, %{{.*}} {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.q_proj"} : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %q = qcc.linear %x, %wq {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.q_proj"}
       : (tensor<?x256xbf16>, tensor<256x256xbf16>) -> tensor<?x256xbf16>
  %wk = qcc.weight "model.layers.0.self_attn.k_proj.weight" {value = dense<0.25> : tensor<64x256xbf16>} : tensor<64x256xbf16>
  %k = qcc.linear %x, %wk {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.k_proj"}
       : (tensor<?x256xbf16>, tensor<64x256xbf16>) -> tensor<?x64xbf16>
  %v = qcc.linear %x, %wk {format = #qcc.format<bf16>, layer = "model.layers.0.self_attn.v_proj"}
       : (tensor<?x256xbf16>, tensor<64x256xbf16>) -> tensor<?x64xbf16>
  // CHECK: qcc.rope %{{.*}} at %{{.*}} {head_dim = 64 : i64, heads = array<i64: 4>, scaling = #qcc.llama3_rope_scaling<factor = 8.000000e+00, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_max_position_embeddings = 8192>, theta = 5.000000e+05 : f64} : (tensor<?x256xbf16>, tensor<?xi64>) -> tensor<?x256xbf16>
  %qr = qcc.rope %q at %pos {heads = array<i64: 4>, head_dim = 64 : i64, theta = 5.0e+05 : f64,
          scaling = #qcc.llama3_rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position_embeddings = 8192>}
          : (tensor<?x256xbf16>, tensor<?xi64>) -> tensor<?x256xbf16>
  // CHECK: qcc.rope %{{.*}} at %{{.*}} {head_dim = 64 : i64, heads = array<i64: 1>, theta = 1.000000e+04 : f64} : (tensor<?x64xbf16>, tensor<?xi64>) -> tensor<?x64xbf16>
  %kr = qcc.rope %k at %pos {heads = array<i64: 1>, head_dim = 64 : i64, theta = 1.0e+04 : f64} : (tensor<?x64xbf16>, tensor<?xi64>) -> tensor<?x64xbf16>
  // CHECK: qcc.attention %{{.*}}, %{{.*}}, %{{.*}} at %{{.*}} {cache = 0 : i64, head_dim = 64 : i64, num_heads = 4 : i64, num_kv_heads = 1 : i64} : tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?xi64> -> tensor<?x256xbf16>
  %o = qcc.attention %qr, %kr, %v at %pos {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 64 : i64, cache = 0 : i64}
       : tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?xi64> -> tensor<?x256xbf16>
  // CHECK: qcc.add %{{.*}}, %{{.*}} : tensor<?x256xbf16>
  %h2 = qcc.add %h, %o : tensor<?x256xbf16>
  %wg = qcc.weight "model.layers.0.mlp.gate_proj.weight" {value = dense<0.125> : tensor<768x256xbf16>} : tensor<768x256xbf16>
  %g = qcc.linear %h2, %wg {format = #qcc.format<bf16>, layer = "model.layers.0.mlp.gate_proj"}
       : (tensor<?x256xbf16>, tensor<768x256xbf16>) -> tensor<?x768xbf16>
  // CHECK: qcc.swiglu %{{.*}}, %{{.*}} : tensor<?x768xbf16>
  %a = qcc.swiglu %g, %g : tensor<?x768xbf16>
  %wd = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<0.125> : tensor<256x768xbf16>} : tensor<256x768xbf16>
  %d = qcc.linear %a, %wd {format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.mlp.down_proj"}
       : (tensor<?x768xbf16>, tensor<256x768xbf16>) -> tensor<?x256xbf16>
  %h3 = qcc.add %h2, %d : tensor<?x256xbf16>
  // CHECK: qcc.logits %{{.*}}, %{{.*}} {format = #qcc.format<bf16>} : tensor<?x256xbf16>, tensor<512x256xbf16> -> tensor<?x512xf32>
  %logits = qcc.logits %h3, %table {format = #qcc.format<bf16>} : tensor<?x256xbf16>, tensor<512x256xbf16> -> tensor<?x512xf32>
  return %logits : tensor<?x512xf32>
}

// CHECK-LABEL: func.func @quantized_fused_layer
func.func @quantized_fused_layer(%h: tensor<?x256xbf16>, %pos: tensor<?xi64>) -> tensor<?x256xbf16> {
  %ln = qcc.weight "model.layers.0.input_layernorm.weight" {value = dense<1.0> : tensor<256xbf16>} : tensor<256xbf16>
  // CHECK: %[[C:.*]], %[[S:.*]] = qcc.rms_norm_quantize %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64, format = #qcc.format<int8>} : tensor<?x256xbf16>, tensor<256xbf16> -> tensor<?x256xi8>, tensor<?xf32>
  %c, %s = qcc.rms_norm_quantize %h, %ln {epsilon = 1.0e-05 : f64, format = #qcc.format<int8>}
           : tensor<?x256xbf16>, tensor<256xbf16> -> tensor<?x256xi8>, tensor<?xf32>
  // CHECK: qcc.quantized_weight "model.layers.0.self_attn.q_proj.weight" {format = #qcc.format<int8>, method = #qcc<quant_method gptq>, param = #qcc.param<@quantized["model.layers.0.self_attn.q_proj.weight"], "ffeeddccbbaa99887766554433221100">} : tensor<256x256xi8>
  %wq = qcc.quantized_weight "model.layers.0.self_attn.q_proj.weight" {format = #qcc.format<int8>, method = #qcc<quant_method gptq>,
          param = #qcc.param<@quantized["model.layers.0.self_attn.q_proj.weight"], "ffeeddccbbaa99887766554433221100">} : tensor<256x256xi8>
  %dk = qcc.weight "model.layers.0.self_attn.k_proj.weight" {value = dense<0.5> : tensor<64x256xbf16>} : tensor<64x256xbf16>
  // CHECK: qcc.quantize_weight "model.layers.0.self_attn.k_proj.weight" %{{.*}} {format = #qcc.format<int8>, mse_clip} : tensor<64x256xbf16> -> tensor<64x256xi8>
  %wk = qcc.quantize_weight "model.layers.0.self_attn.k_proj.weight" %dk {format = #qcc.format<int8>, mse_clip}
        : tensor<64x256xbf16> -> tensor<64x256xi8>
  // CHECK: qcc.fused_linear %[[C]] scales %[[S]], %{{.*}}, %{{.*}}, %{{.*}} {format = #qcc.format<int8>, layers = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj"]} : (tensor<?x256xi8>, tensor<?xf32>, tensor<256x256xi8>, tensor<64x256xi8>, tensor<64x256xi8>) -> (tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>)
  %q, %k, %v = qcc.fused_linear %c scales %s, %wq, %wk, %wk {format = #qcc.format<int8>,
                 layers = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj"]}
               : (tensor<?x256xi8>, tensor<?xf32>, tensor<256x256xi8>, tensor<64x256xi8>, tensor<64x256xi8>)
               -> (tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>)
  // CHECK: qcc.rope %{{.*}}, %{{.*}} at %{{.*}} {head_dim = 64 : i64, heads = array<i64: 4, 1>, theta = 5.000000e+05 : f64} : (tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?xi64>) -> (tensor<?x256xbf16>, tensor<?x64xbf16>)
  %qr, %kr = qcc.rope %q, %k at %pos {heads = array<i64: 4, 1>, head_dim = 64 : i64, theta = 5.0e+05 : f64}
             : (tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?xi64>) -> (tensor<?x256xbf16>, tensor<?x64xbf16>)
  %o = qcc.attention %qr, %kr, %v at %pos {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 64 : i64, cache = 0 : i64}
       : tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?xi64> -> tensor<?x256xbf16>
  // CHECK: %[[OC:.*]], %[[OS:.*]] = qcc.quantize %{{.*}} {format = #qcc.format<fp8>} : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?xf32>
  %oc, %os = qcc.quantize %o {format = #qcc.format<fp8>} : tensor<?x256xbf16> -> tensor<?x256xf8E4M3FN>, tensor<?xf32>
  %do = qcc.weight "model.layers.0.self_attn.o_proj.weight" {value = dense<0.5> : tensor<256x256xbf16>} : tensor<256x256xbf16>
  %wo = qcc.quantize_weight "model.layers.0.self_attn.o_proj.weight" %do {format = #qcc.format<fp8>}
        : tensor<256x256xbf16> -> tensor<256x256xf8E4M3FN>
  // CHECK: qcc.linear %[[OC]] scales %[[OS]], %{{.*}} residual %{{.*}} {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.o_proj"} : (tensor<?x256xf8E4M3FN>, tensor<?xf32>, tensor<256x256xf8E4M3FN>, tensor<?x256xbf16>) -> tensor<?x256xbf16>
  %h2 = qcc.linear %oc scales %os, %wo residual %h {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.o_proj"}
        : (tensor<?x256xf8E4M3FN>, tensor<?xf32>, tensor<256x256xf8E4M3FN>, tensor<?x256xbf16>) -> tensor<?x256xbf16>
  // CHECK: qcc.swiglu_quantize %{{.*}}, %{{.*}} {format = #qcc.format<int8>} : tensor<?x256xbf16> -> tensor<?x256xi8>, tensor<?xf32>
  %ac, %as = qcc.swiglu_quantize %h2, %h2 {format = #qcc.format<int8>} : tensor<?x256xbf16> -> tensor<?x256xi8>, tensor<?xf32>
  // CHECK: qcc.quantized_weight "model.layers.0.mlp.down_proj.weight" {codes = dense<1> : tensor<4x256xi4>, format = #qcc.format<w4a16, group = 128>, method = #qcc<quant_method awq>, mse_clip, scales = dense<5.000000e-01> : tensor<4x2xf32>} : tensor<4x256xi4>
  %wd = qcc.quantized_weight "model.layers.0.mlp.down_proj.weight" {format = #qcc.format<w4a16, group = 128>,
          method = #qcc<quant_method awq>, mse_clip, codes = dense<1> : tensor<4x256xi4>, scales = dense<0.5> : tensor<4x2xf32>}
        : tensor<4x256xi4>
  %d = qcc.linear %h2, %wd {format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.mlp.down_proj"}
       : (tensor<?x256xbf16>, tensor<4x256xi4>) -> tensor<?x4xbf16>
  return %h2 : tensor<?x256xbf16>
}

// Tiny inline weights are allowed for tests only.
// CHECK-LABEL: func.func @inline_weight
// CHECK: qcc.weight "tiny" {value = dense<{{\[\[}}1.000000e+00, 2.000000e+00]]> : tensor<1x2xf32>} : tensor<1x2xf32>
func.func @inline_weight() -> tensor<1x2xf32> {
  %w = qcc.weight "tiny" {value = dense<[[1.0, 2.0]]> : tensor<1x2xf32>} : tensor<1x2xf32>
  return %w : tensor<1x2xf32>
}
