// RUN: qcc-opt %s | FileCheck %s
// RUN: qcc-opt %s | qcc-opt | FileCheck %s
// RUN: qcc-opt -mlir-print-op-generic %s | qcc-opt | FileCheck %s

// Round trip of every qcc op: one Llama-3.1 decoder layer (GQA 4:1, llama3
// rope scaling) in bf16 and after quantization.

// CHECK-LABEL: func.func @decoder_layer
func.func @decoder_layer(%ids: tensor<?xi64>, %pos: tensor<?xi64>) -> tensor<?x512xf32> {
  // CHECK: qcc.weight "model.embed_tokens.weight" : tensor<512x256xbf16>
  %table = qcc.weight "model.embed_tokens.weight" : tensor<512x256xbf16>
  // CHECK: qcc.embedding %{{.*}}[%{{.*}}] : tensor<512x256xbf16>, tensor<?xi64> -> tensor<?x256xbf16>
  %h = qcc.embedding %table[%ids] : tensor<512x256xbf16>, tensor<?xi64> -> tensor<?x256xbf16>
  %ln = qcc.weight "model.layers.0.input_layernorm.weight" : tensor<256xbf16>
  // CHECK: qcc.rms_norm %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64} : tensor<?x256xbf16>, tensor<256xbf16>
  %x = qcc.rms_norm %h, %ln {epsilon = 1.0e-05 : f64} : tensor<?x256xbf16>, tensor<256xbf16>
  %wq = qcc.weight "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xbf16>
  // CHECK: qcc.linear %{{.*}}, %{{.*}} {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.q_proj"}
  %q = qcc.linear %x, %wq {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.q_proj"}
       : tensor<?x256xbf16>, tensor<256x256xbf16> -> tensor<?x256xbf16>
  // CHECK: qcc.quantized_weight "model.layers.0.self_attn.k_proj.weight" {format = #qcc.format<int8>, method = #qcc<quant_method gptq>} : tensor<64x256xi8>
  %wk = qcc.quantized_weight "model.layers.0.self_attn.k_proj.weight" {format = #qcc.format<int8>, method = #qcc<quant_method gptq>} : tensor<64x256xi8>
  %k = qcc.linear %x, %wk {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.k_proj"}
       : tensor<?x256xbf16>, tensor<64x256xi8> -> tensor<?x64xbf16>
  // CHECK: qcc.quantized_weight "model.layers.0.self_attn.v_proj.weight" {format = #qcc.format<w4a16, group = 128>, method = #qcc<quant_method awq>, mse_clip} : tensor<64x256xi4>
  %wv = qcc.quantized_weight "model.layers.0.self_attn.v_proj.weight" {format = #qcc.format<w4a16, group = 128>, method = #qcc<quant_method awq>, mse_clip} : tensor<64x256xi4>
  %v = qcc.linear %x, %wv {format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.self_attn.v_proj"}
       : tensor<?x256xbf16>, tensor<64x256xi4> -> tensor<?x64xbf16>
  // CHECK: qcc.rope %{{.*}}, %{{.*}} {head_dim = 64 : i64, num_heads = 4 : i64, scaling = #qcc.llama3_rope_scaling<factor = 8.000000e+00, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_max_position_embeddings = 8192>, theta = 5.000000e+05 : f64}
  %qr = qcc.rope %q, %pos {num_heads = 4 : i64, head_dim = 64 : i64, theta = 5.0e+05 : f64,
          scaling = #qcc.llama3_rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position_embeddings = 8192>}
          : tensor<?x256xbf16>, tensor<?xi64>
  // CHECK: qcc.rope %{{.*}}, %{{.*}} {head_dim = 64 : i64, num_heads = 1 : i64, theta = 1.000000e+04 : f64} : tensor<?x64xbf16>, tensor<?xi64>
  %kr = qcc.rope %k, %pos {num_heads = 1 : i64, head_dim = 64 : i64, theta = 1.0e+04 : f64} : tensor<?x64xbf16>, tensor<?xi64>
  // CHECK: qcc.attention %{{.*}}, %{{.*}}, %{{.*}} {head_dim = 64 : i64, layer_index = 0 : i64, num_heads = 4 : i64, num_kv_heads = 1 : i64} : tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>
  %o = qcc.attention %qr, %kr, %v {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 64 : i64, layer_index = 0 : i64}
       : tensor<?x256xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>
  // CHECK: qcc.add %{{.*}}, %{{.*}} : tensor<?x256xbf16>
  %h2 = qcc.add %h, %o : tensor<?x256xbf16>
  %wg = qcc.weight "model.layers.0.mlp.gate_proj.weight" : tensor<768x256xbf16>
  %g = qcc.linear %h2, %wg {format = #qcc.format<bf16>, layer = "model.layers.0.mlp.gate_proj"}
       : tensor<?x256xbf16>, tensor<768x256xbf16> -> tensor<?x768xbf16>
  // CHECK: qcc.swiglu %{{.*}}, %{{.*}} : tensor<?x768xbf16>
  %a = qcc.swiglu %g, %g : tensor<?x768xbf16>
  // CHECK: %[[CODES:.*]], %[[SCALES:.*]] = qcc.quantize %{{.*}} {format = #qcc.format<int8>} : tensor<?x768xbf16> -> tensor<?x768xi8>, tensor<?xf32>
  %aq, %as = qcc.quantize %a {format = #qcc.format<int8>} : tensor<?x768xbf16> -> tensor<?x768xi8>, tensor<?xf32>
  // CHECK: qcc.dequantize %[[CODES]], %[[SCALES]] : tensor<?x768xi8>, tensor<?xf32> -> tensor<?x768xbf16>
  %ad = qcc.dequantize %aq, %as : tensor<?x768xi8>, tensor<?xf32> -> tensor<?x768xbf16>
  %f8q, %f8s = qcc.quantize %a {format = #qcc.format<fp8>} : tensor<?x768xbf16> -> tensor<?x768xf8E4M3FN>, tensor<?xf32>
  %wd = qcc.weight "model.layers.0.mlp.down_proj.weight" : tensor<256x768xbf16>
  %d = qcc.linear %ad, %wd {format = #qcc.format<w4a16, group = 128>, layer = "model.layers.0.mlp.down_proj"}
       : tensor<?x768xbf16>, tensor<256x768xbf16> -> tensor<?x256xbf16>
  %h3 = qcc.add %h2, %d : tensor<?x256xbf16>
  // CHECK: qcc.weight "lm_head.weight" : tensor<512x256xbf16>
  %head = qcc.weight "lm_head.weight" : tensor<512x256xbf16>
  // CHECK: qcc.logits %{{.*}}, %{{.*}} {format = #qcc.format<bf16>} : tensor<?x256xbf16>, tensor<512x256xbf16> -> tensor<?x512xf32>
  %logits = qcc.logits %h3, %head {format = #qcc.format<bf16>} : tensor<?x256xbf16>, tensor<512x256xbf16> -> tensor<?x512xf32>
  return %logits : tensor<?x512xf32>
}

// Tiny inline weights are allowed for tests only.
// CHECK-LABEL: func.func @inline_weight
// CHECK: qcc.weight "tiny" {value = dense<{{\[\[}}1.000000e+00, 2.000000e+00]]> : tensor<1x2xf32>} : tensor<1x2xf32>
func.func @inline_weight() -> tensor<1x2xf32> {
  %w = qcc.weight "tiny" {value = dense<[[1.0, 2.0]]> : tensor<1x2xf32>} : tensor<1x2xf32>
  return %w : tensor<1x2xf32>
}
