// RUN: qcc-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of the qcc dialect.

func.func @weight_empty_name() {
  // expected-error @+1 {{needs a non-empty weight name}}
  %w = qcc.weight "" : tensor<2x2xf32>
  return
}

// -----

func.func @weight_inline_type_mismatch() {
  // expected-error @+1 {{inline value of type 'tensor<1x2xf32>' does not match the result type 'tensor<2x2xf32>'}}
  %w = qcc.weight "w" {value = dense<[[1.0, 2.0]]> : tensor<1x2xf32>} : tensor<2x2xf32>
  return
}

// -----

func.func @quantized_weight_bf16() {
  // expected-error @+1 {{needs a quantized format, got bf16}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<bf16>, method = #qcc<quant_method rtn>} : tensor<8x128xi8>
  return
}

// -----

func.func @quantized_weight_wrong_storage() {
  // expected-error @+1 {{format w4a16 stores 'i4' codes, got 'i8'}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<w4a16, group = 128>, method = #qcc<quant_method gptq>} : tensor<8x128xi8>
  return
}

// -----

func.func @quantized_weight_group_does_not_divide() {
  // expected-error @+1 {{group size 128 does not divide the input dimension 200}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<w4a16, group = 128>, method = #qcc<quant_method gptq>} : tensor<8x200xi4>
  return
}

// -----

func.func @quantized_weight_awq_int8() {
  // expected-error @+1 {{method awq is only defined for w4a16}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<int8>, method = #qcc<quant_method awq>} : tensor<8x128xi8>
  return
}

// -----

func.func @format_group_not_multiple_of_8() {
  // expected-error @+1 {{w4a16 needs a positive group size that is a multiple of 8, got 100}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<w4a16, group = 100>, method = #qcc<quant_method rtn>} : tensor<8x200xi4>
  return
}

// -----

func.func @format_group_on_per_channel() {
  // expected-error @+1 {{format int8 is per-channel and takes no group size}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<int8, group = 128>, method = #qcc<quant_method rtn>} : tensor<8x128xi8>
  return
}

// -----

func.func @format_unknown() {
  // expected-error @+1 {{unknown format 'int4' (expected bf16, fp8, int8 or w4a16)}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<int4>, method = #qcc<quant_method rtn>} : tensor<8x128xi8>
  return
}

// -----

func.func @embedding_width(%ids: tensor<?xi64>) {
  %t = qcc.weight "t" : tensor<16x8xf32>
  // expected-error @+1 {{result width 4 differs from the table width 8}}
  %e = qcc.embedding %t[%ids] : tensor<16x8xf32>, tensor<?xi64> -> tensor<?x4xf32>
  return
}

// -----

func.func @embedding_rows(%ids: tensor<3xi64>) {
  %t = qcc.weight "t" : tensor<16x8xf32>
  // expected-error @+1 {{result rows differ from the number of token ids}}
  %e = qcc.embedding %t[%ids] : tensor<16x8xf32>, tensor<3xi64> -> tensor<4x8xf32>
  return
}

// -----

func.func @rms_norm_width(%x: tensor<?x8xf32>) {
  %w = qcc.weight "n" : tensor<6xf32>
  // expected-error @+1 {{weight length 6 differs from the feature dimension 8}}
  %y = qcc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<6xf32>
  return
}

// -----

func.func @rms_norm_epsilon(%x: tensor<?x8xf32>) {
  %w = qcc.weight "n" : tensor<8xf32>
  // expected-error @+1 {{epsilon must be positive}}
  %y = qcc.rms_norm %x, %w {epsilon = 0.0 : f64} : tensor<?x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @linear_k_mismatch(%x: tensor<?x8xf32>) {
  %w = qcc.weight "w" : tensor<4x6xf32>
  // expected-error @+1 {{input features 8 differ from the weight's input dimension 6 (weights are [N, K])}}
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "l"} : tensor<?x8xf32>, tensor<4x6xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @linear_n_mismatch(%x: tensor<?x8xf32>) {
  %w = qcc.weight "w" : tensor<4x8xf32>
  // expected-error @+1 {{result features 5 differ from the weight's output dimension 4}}
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "l"} : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x5xf32>
  return
}

// -----

func.func @linear_rows(%x: tensor<3x8xf32>) {
  %w = qcc.weight "w" : tensor<4x8xf32>
  // expected-error @+1 {{result rows differ from the input rows}}
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "l"} : tensor<3x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @linear_codes_vs_format(%x: tensor<?x128xbf16>) {
  %w = qcc.quantized_weight "w" {format = #qcc.format<int8>, method = #qcc<quant_method rtn>} : tensor<4x128xi8>
  // expected-error @+1 {{weight of element type 'i8' does not match format w4a16 (expects 'i4')}}
  %y = qcc.linear %x, %w {format = #qcc.format<w4a16, group = 128>, layer = "l"} : tensor<?x128xbf16>, tensor<4x128xi8> -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_codes_with_bf16(%x: tensor<?x128xbf16>) {
  %w = qcc.quantized_weight "w" {format = #qcc.format<int8>, method = #qcc<quant_method rtn>} : tensor<4x128xi8>
  // expected-error @+1 {{weight of element type 'i8' is quantized but the format is bf16}}
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "l"} : tensor<?x128xbf16>, tensor<4x128xi8> -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_group(%x: tensor<?x96xbf16>) {
  %w = qcc.weight "w" : tensor<4x96xbf16>
  // expected-error @+1 {{group size 64 does not divide the input dimension 96}}
  %y = qcc.linear %x, %w {format = #qcc.format<w4a16, group = 64>, layer = "l"} : tensor<?x96xbf16>, tensor<4x96xbf16> -> tensor<?x4xbf16>
  return
}

// -----

func.func @rope_odd_head_dim(%x: tensor<?x6xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{head_dim must be even for rotate-half pairs, got 3}}
  %y = qcc.rope %x, %p {num_heads = 2 : i64, head_dim = 3 : i64, theta = 1.0e+04 : f64} : tensor<?x6xf32>, tensor<?xi64>
  return
}

// -----

func.func @rope_width(%x: tensor<?x8xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{feature dimension 8 is not num_heads (2) x head_dim (8)}}
  %y = qcc.rope %x, %p {num_heads = 2 : i64, head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>, tensor<?xi64>
  return
}

// -----

func.func @rope_nonpositive(%x: tensor<?x8xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{num_heads and head_dim must be positive}}
  %y = qcc.rope %x, %p {num_heads = 0 : i64, head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>, tensor<?xi64>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x8xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{theta must be positive}}
  %y = qcc.rope %x, %p {num_heads = 1 : i64, head_dim = 8 : i64, theta = 0.0 : f64} : tensor<?x8xf32>, tensor<?xi64>
  return
}

// -----

func.func @rope_positions(%x: tensor<3x8xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{positions differ in length from the input rows}}
  %y = qcc.rope %x, %p {num_heads = 1 : i64, head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<3x8xf32>, tensor<4xi64>
  return
}

// -----

func.func @rope_scaling_factor(%x: tensor<?x8xf32>, %p: tensor<?xi64>) {
  // expected-error @+2 {{llama3 rope scaling factor must be >= 1, got 5.000000e-01}}
  %y = qcc.rope %x, %p {num_heads = 1 : i64, head_dim = 8 : i64, theta = 1.0e+04 : f64,
         scaling = #qcc.llama3_rope_scaling<factor = 0.5, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position_embeddings = 8192>} : tensor<?x8xf32>, tensor<?xi64>
  return
}

// -----

func.func @rope_scaling_band(%x: tensor<?x8xf32>, %p: tensor<?xi64>) {
  // expected-error @+2 {{llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor}}
  %y = qcc.rope %x, %p {num_heads = 1 : i64, head_dim = 8 : i64, theta = 1.0e+04 : f64,
         scaling = #qcc.llama3_rope_scaling<factor = 8.0, low_freq_factor = 4.0, high_freq_factor = 1.0, original_max_position_embeddings = 8192>} : tensor<?x8xf32>, tensor<?xi64>
  return
}

// -----

func.func @rope_scaling_original(%x: tensor<?x8xf32>, %p: tensor<?xi64>) {
  // expected-error @+2 {{original_max_position_embeddings must be positive, got 0}}
  %y = qcc.rope %x, %p {num_heads = 1 : i64, head_dim = 8 : i64, theta = 1.0e+04 : f64,
         scaling = #qcc.llama3_rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position_embeddings = 0>} : tensor<?x8xf32>, tensor<?xi64>
  return
}

// -----

func.func @attention_heads_divide(%q: tensor<?x24xf32>, %k: tensor<?x16xf32>) {
  // expected-error @+1 {{num_kv_heads (2) must divide num_heads (3)}}
  %o = qcc.attention %q, %k, %k {num_heads = 3 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, layer_index = 0 : i64} : tensor<?x24xf32>, tensor<?x16xf32>, tensor<?x16xf32>
  return
}

// -----

func.func @attention_nonpositive(%q: tensor<?x24xf32>, %k: tensor<?x16xf32>) {
  // expected-error @+1 {{num_heads, num_kv_heads and head_dim must be positive}}
  %o = qcc.attention %q, %k, %k {num_heads = 3 : i64, num_kv_heads = 0 : i64, head_dim = 8 : i64, layer_index = 0 : i64} : tensor<?x24xf32>, tensor<?x16xf32>, tensor<?x16xf32>
  return
}

// -----

func.func @attention_query_width(%q: tensor<?x24xf32>, %k: tensor<?x8xf32>) {
  // expected-error @+1 {{query width 24 is not num_heads (4) x head_dim (8)}}
  %o = qcc.attention %q, %k, %k {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, layer_index = 0 : i64} : tensor<?x24xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  return
}

// -----

func.func @attention_kv_width(%q: tensor<?x32xf32>, %k: tensor<?x8xf32>, %v: tensor<?x16xf32>) {
  // expected-error @+1 {{value width 16 is not num_kv_heads (1) x head_dim (8)}}
  %o = qcc.attention %q, %k, %v {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, layer_index = 0 : i64} : tensor<?x32xf32>, tensor<?x8xf32>, tensor<?x16xf32>
  return
}

// -----

func.func @attention_kv_rows(%q: tensor<3x32xf32>, %k: tensor<4x8xf32>) {
  // expected-error @+1 {{key rows differ from the query rows}}
  %o = qcc.attention %q, %k, %k {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, layer_index = 0 : i64} : tensor<3x32xf32>, tensor<4x8xf32>, tensor<4x8xf32>
  return
}

// -----

func.func @logits_hidden(%x: tensor<?x8xf32>) {
  %w = qcc.weight "lm_head.weight" : tensor<32x6xf32>
  // expected-error @+1 {{input features 8 differ from the head's hidden dimension 6}}
  %l = qcc.logits %x, %w {format = #qcc.format<bf16>} : tensor<?x8xf32>, tensor<32x6xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @logits_vocab(%x: tensor<?x8xf32>) {
  %w = qcc.weight "lm_head.weight" : tensor<32x8xf32>
  // expected-error @+1 {{result width 30 differs from the vocabulary size 32}}
  %l = qcc.logits %x, %w {format = #qcc.format<bf16>} : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x30xf32>
  return
}

// -----

func.func @quantize_w4a16(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{activations are quantized only for fp8 and int8, not w4a16}}
  %q, %s = qcc.quantize %x {format = #qcc.format<w4a16, group = 8>} : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return
}

// -----

func.func @quantize_codes_type(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{codes of element type 'i8' do not match format fp8}}
  %q, %s = qcc.quantize %x {format = #qcc.format<fp8>} : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return
}

// -----

func.func @quantize_shape(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{codes must have the shape of the input}}
  %q, %s = qcc.quantize %x {format = #qcc.format<int8>} : tensor<?x8xf32> -> tensor<?x4xi8>, tensor<?xf32>
  return
}

// -----

func.func @quantize_scales(%x: tensor<3x8xf32>) {
  // expected-error @+1 {{there must be one scale per token row}}
  %q, %s = qcc.quantize %x {format = #qcc.format<int8>} : tensor<3x8xf32> -> tensor<3x8xi8>, tensor<2xf32>
  return
}

// -----

func.func @dequantize_shape(%q: tensor<?x8xi8>, %s: tensor<?xf32>) {
  // expected-error @+1 {{result must have the shape of the codes}}
  %x = qcc.dequantize %q, %s : tensor<?x8xi8>, tensor<?xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @dequantize_scales(%q: tensor<3x8xi8>, %s: tensor<2xf32>) {
  // expected-error @+1 {{there must be one scale per token row}}
  %x = qcc.dequantize %q, %s : tensor<3x8xi8>, tensor<2xf32> -> tensor<3x8xf32>
  return
}

// -----

func.func @quantized_weight_codes_without_scales() {
  // expected-error @+1 {{inline codes and scales come together}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<int8>, method = #qcc<quant_method rtn>, codes = dense<1> : tensor<2x8xi8>} : tensor<2x8xi8>
  return
}

// -----

func.func @quantized_weight_codes_type() {
  // expected-error @+1 {{inline codes of type 'tensor<2x4xi8>' do not match the result type 'tensor<2x8xi8>'}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<int8>, method = #qcc<quant_method rtn>, codes = dense<1> : tensor<2x4xi8>, scales = dense<1.0> : tensor<2xf32>} : tensor<2x8xi8>
  return
}

// -----

func.func @quantized_weight_scales_shape() {
  // expected-error @+1 {{inline scales must be f32 of shape [2, 2], got 'tensor<2xf32>'}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<w4a16, group = 8>, method = #qcc<quant_method rtn>, codes = dense<1> : tensor<2x16xi4>, scales = dense<1.0> : tensor<2xf32>} : tensor<2x16xi4>
  return
}
