// RUN: qcc-opt %s -split-input-file -qcc-quantize-weights | FileCheck %s
// RUN: not qcc-opt %s -split-input-file -qcc-quantize-weights="method=gptq" 2>&1 | FileCheck %s --check-prefix=GPTQ

// Round-to-nearest on tiny inline weights. Expected codes are worked out by
// hand: scales are exact powers of two here, so every quotient is exact and
// the ties show round-half-to-even.

// int8 per channel: row 0 absmax 127 -> scale 1; row 1 absmax 63.5 -> scale 0.5.
// CHECK-LABEL: func.func @int8
// CHECK: qcc.quantized_weight "model.layers.0.self_attn.q_proj.weight" {codes = dense<{{\[\[}}127, 2, -4, 2], [-127, 20, 0, 2]]> : tensor<2x4xi8>, format = #qcc.format<int8>, method = #qcc<quant_method rtn>, scales = dense<[1.000000e+00, 5.000000e-01]> : tensor<2xf32>} : tensor<2x4xi8>
// CHECK-NOT: qcc.weight
// CHECK: qcc.linear %arg0, %{{.*}} {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.q_proj"} : (tensor<?x4xf32>, tensor<2x4xi8>) -> tensor<?x2xf32>
func.func @int8(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = qcc.weight "model.layers.0.self_attn.q_proj.weight" {value = dense<[[127.0, 2.5, -3.5, 1.5], [-63.5, 10.0, 0.25, 1.0]]> : tensor<2x4xf32>} : tensor<2x4xf32>
  %y = qcc.linear %x, %w {format = #qcc.format<int8>, layer = "model.layers.0.self_attn.q_proj"} : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// w4a16, group 8: group 0 absmax 7 -> scale 1, group 1 absmax 14 -> scale 2.
// CHECK-LABEL: func.func @w4a16
// CHECK: qcc.quantized_weight "model.layers.0.mlp.down_proj.weight" {codes = dense<{{\[\[}}7, -7, 0, 2, 2, 0, 3, -7, 7, 0, 2, 2, -7, 0, 0, 1]]> : tensor<1x16xi4>, format = #qcc.format<w4a16, group = 8>, method = #qcc<quant_method rtn>, scales = dense<{{\[\[}}1.000000e+00, 2.000000e+00]]> : tensor<1x2xf32>} : tensor<1x16xi4>
func.func @w4a16(%x: tensor<?x16xf32>) -> tensor<?x1xf32> {
  %w = qcc.weight "model.layers.0.mlp.down_proj.weight" {value = dense<[[7.0, -7.0, 0.5, 1.5, 2.5, -0.5, 3.49, -6.51, 14.0, 1.0, 3.0, 5.0, -14.0, 0.0, 0.9, 2.1]]> : tensor<1x16xf32>} : tensor<1x16xf32>
  %y = qcc.linear %x, %w {format = #qcc.format<w4a16, group = 8>, layer = "model.layers.0.mlp.down_proj"} : (tensor<?x16xf32>, tensor<1x16xf32>) -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

// -----

// fp8 e4m3 per channel: absmax 448 -> scale 1. 1.0625 ties to 1.0, 17 ties to
// 16 (even mantissas), -300 rounds to -288, 0.001 rounds up to the smallest
// subnormal 2^-9.
// CHECK-LABEL: func.func @fp8
// CHECK: qcc.quantized_weight "lm_head.weight" {codes = dense<{{\[\[}}4.480000e+02, 1.000000e+00, 1.600000e+01, -2.880000e+02, 1.953130e-03]]> : tensor<1x5xf8E4M3FN>, format = #qcc.format<fp8>, method = #qcc<quant_method rtn>, scales = dense<1.000000e+00> : tensor<1xf32>} : tensor<1x5xf8E4M3FN>
// CHECK: qcc.logits {{.*}} {format = #qcc.format<fp8>} : tensor<?x5xf32>, tensor<1x5xf8E4M3FN> -> tensor<?x1xf32>
func.func @fp8(%x: tensor<?x5xf32>) -> tensor<?x1xf32> {
  %w = qcc.weight "model.embed_tokens.weight" {value = dense<[[448.0, 1.0625, 17.0, -300.0, 0.001]]> : tensor<1x5xf32>} : tensor<1x5xf32>
  %y = qcc.logits %x, %w {format = #qcc.format<fp8>} : tensor<?x5xf32>, tensor<1x5xf32> -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

// -----

// bf16 layers are left alone.
// CHECK-LABEL: func.func @bf16
// CHECK: qcc.weight "w"
// CHECK-NOT: qcc.quantized_weight
func.func @bf16(%x: tensor<?x4xf32>) -> tensor<?x1xf32> {
  %w = qcc.weight "w" {value = dense<[[1.0, 2.0, 3.0, 4.0]]> : tensor<1x4xf32>} : tensor<1x4xf32>
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "l"} : (tensor<?x4xf32>, tensor<1x4xf32>) -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

// GPTQ: error: qcc-quantize-weights: inline weights are quantized with method rtn only
