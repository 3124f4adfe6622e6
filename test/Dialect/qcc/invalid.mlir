// RUN: qcc-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of the qcc dialect (ops and attributes).

// expected-error @+1 {{needs a path}}
qcc.archive @a ""

// -----

// param_unknown_archive
func.func @f() {
  // expected-error @+1 {{parameter archive @nowhere is not a qcc.archive of the module}}
  %w = qcc.weight "w" {param = #qcc.param<@nowhere["w"], "000102030405060708090a0b0c0d0e0f">} : tensor<2x2xf32>
  return
}

// -----

// param_bad_hash
qcc.archive @a "/models/m"
func.func @f() {
  // expected-error @+1 {{parameter hash 'abc' is not 32 lowercase hex digits (XXH3-128)}}
  %w = qcc.weight "w" {param = #qcc.param<@a["w"], "abc">} : tensor<2x2xf32>
  return
}

// -----

// param_empty_key
qcc.archive @a "/models/m"
func.func @f() {
  // expected-error @+1 {{a parameter needs a non-empty key}}
  %w = qcc.weight "w" {param = #qcc.param<@a[""], "000102030405060708090a0b0c0d0e0f">} : tensor<2x2xf32>
  return
}

// -----

func.func @weight_empty_name() {
  // expected-error @+1 {{needs a non-empty weight name}}
  %w = qcc.weight "" {value = dense<1.0> : tensor<2x2xf32>} : tensor<2x2xf32>
  return
}

// -----

func.func @weight_neither_param_nor_value() {
  // expected-error @+1 {{needs either a parameter or an inline value}}
  %w = qcc.weight "w" : tensor<2x2xf32>
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
  %w = qcc.quantized_weight "w" {format = #qcc.format<bf16>, method = #qcc<quant_method gptq>} : tensor<8x128xi8>
  return
}

// -----

func.func @quantized_weight_wrong_storage() {
  // expected-error @+1 {{format w4a16 stores 'i4' codes, got 'i8'}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<w4a16, group = 128>, method = #qcc<quant_method gptq>} : tensor<8x128xi8>
  return
}

// -----

// quantized_weight_group_does_not_divide
qcc.archive @a "/tmp/q.safetensors"
func.func @f() {
  // expected-error @+1 {{group size 128 does not divide the input dimension 200}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<w4a16, group = 128>, method = #qcc<quant_method gptq>,
         param = #qcc.param<@a["w"], "000102030405060708090a0b0c0d0e0f">} : tensor<8x200xi4>
  return
}

// -----

func.func @quantized_weight_awq_int8() {
  // expected-error @+1 {{method awq is only defined for w4a16}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<int8>, method = #qcc<quant_method awq>} : tensor<8x128xi8>
  return
}

// -----

func.func @quantized_weight_neither() {
  // expected-error @+1 {{needs either a parameter or inline codes and scales}}
  %w = qcc.quantized_weight "w" {format = #qcc.format<int8>, method = #qcc<quant_method gptq>} : tensor<8x128xi8>
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

// -----

func.func @quantize_weight_bf16() {
  %d = qcc.weight "d" {value = dense<1.0> : tensor<8x16xf32>} : tensor<8x16xf32>
  // expected-error @+1 {{needs a quantized format, got bf16}}
  %q = qcc.quantize_weight "d" %d {format = #qcc.format<bf16>} : tensor<8x16xf32> -> tensor<8x16xi8>
  return
}

// -----

func.func @quantize_weight_storage() {
  %d = qcc.weight "d" {value = dense<1.0> : tensor<8x16xf32>} : tensor<8x16xf32>
  // expected-error @+1 {{format fp8 stores 'f8E4M3FN' codes, got 'i8'}}
  %q = qcc.quantize_weight "d" %d {format = #qcc.format<fp8>} : tensor<8x16xf32> -> tensor<8x16xi8>
  return
}

// -----

func.func @quantize_weight_shape() {
  %d = qcc.weight "d" {value = dense<1.0> : tensor<8x16xf32>} : tensor<8x16xf32>
  // expected-error @+1 {{codes must have the shape of the weight}}
  %q = qcc.quantize_weight "d" %d {format = #qcc.format<int8>} : tensor<8x16xf32> -> tensor<8x8xi8>
  return
}

// -----

func.func @quantize_weight_group() {
  %d = qcc.weight "d" {value = dense<1.0> : tensor<8x24xf32>} : tensor<8x24xf32>
  // expected-error @+1 {{group size 16 does not divide the input dimension 24}}
  %q = qcc.quantize_weight "d" %d {format = #qcc.format<w4a16, group = 16>} : tensor<8x24xf32> -> tensor<8x24xi4>
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

func.func @rope_scaling_factor() {
  // expected-error @+1 {{llama3 rope scaling factor must be >= 1, got 5.000000e-01}}
  %w = qcc.weight "w" {value = dense<1.0> : tensor<2xf32>, s = #qcc.llama3_rope_scaling<factor = 0.5, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position_embeddings = 8192>} : tensor<2xf32>
  return
}

// -----

func.func @rope_scaling_freq_factors() {
  // expected-error @+1 {{llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor}}
  %w = qcc.weight "w" {value = dense<1.0> : tensor<2xf32>, s = #qcc.llama3_rope_scaling<factor = 8.0, low_freq_factor = 4.0, high_freq_factor = 1.0, original_max_position_embeddings = 8192>} : tensor<2xf32>
  return
}

// -----

func.func @rope_scaling_original() {
  // expected-error @+1 {{original_max_position_embeddings must be positive, got 0}}
  %w = qcc.weight "w" {value = dense<1.0> : tensor<2xf32>, s = #qcc.llama3_rope_scaling<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_position_embeddings = 0>} : tensor<2xf32>
  return
}

// -----

func.func @embedding_width(%ids: tensor<?xi64>) {
  %t = qcc.weight "t" {value = dense<1.0> : tensor<16x8xf32>} : tensor<16x8xf32>
  // expected-error @+1 {{result width 4 differs from the table width 8}}
  %e = qcc.embedding %t[%ids] : tensor<16x8xf32>, tensor<?xi64> -> tensor<?x4xf32>
  return
}

// -----

func.func @embedding_rows(%ids: tensor<3xi64>) {
  %t = qcc.weight "t" {value = dense<1.0> : tensor<16x8xf32>} : tensor<16x8xf32>
  // expected-error @+1 {{result rows differ from the number of token ids}}
  %e = qcc.embedding %t[%ids] : tensor<16x8xf32>, tensor<3xi64> -> tensor<4x8xf32>
  return
}

// -----

func.func @rms_norm_width(%x: tensor<?x8xf32>) {
  %n = qcc.weight "n" {value = dense<1.0> : tensor<6xf32>} : tensor<6xf32>
  // expected-error @+1 {{weight length 6 differs from the feature dimension 8}}
  %y = qcc.rms_norm %x, %n {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<6xf32>
  return
}

// -----

func.func @rms_norm_epsilon(%x: tensor<?x8xf32>) {
  %n = qcc.weight "n" {value = dense<1.0> : tensor<8xf32>} : tensor<8xf32>
  // expected-error @+1 {{epsilon must be in (0, 1), got 0}}
  %y = qcc.rms_norm %x, %n {epsilon = 0.0 : f64} : tensor<?x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @rms_norm_quantize_format(%x: tensor<?x8xf32>) {
  %n = qcc.weight "n" {value = dense<1.0> : tensor<8xf32>} : tensor<8xf32>
  // expected-error @+1 {{activations are quantized only for fp8 and int8, not w4a16}}
  %c, %s = qcc.rms_norm_quantize %x, %n {epsilon = 1.0e-05 : f64, format = #qcc.format<w4a16, group = 8>} : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xi8>, tensor<?xf32>
  return
}

// -----

func.func @linear_input_features(%x: tensor<?x8xf32>) {
  %w = qcc.weight "w" {value = dense<1.0> : tensor<4x6xf32>} : tensor<4x6xf32>
  // expected-error @+1 {{input features 8 differ from the weight's input dimension 6 (weights are [N, K])}}
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "l"} : (tensor<?x8xf32>, tensor<4x6xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @linear_result_features(%x: tensor<?x8xf32>) {
  %w = qcc.weight "w" {value = dense<1.0> : tensor<4x8xf32>} : tensor<4x8xf32>
  // expected-error @+1 {{result features 5 differ from the weight's output dimension 4}}
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "l"} : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x5xf32>
  return
}

// -----

func.func @linear_result_rows(%x: tensor<3x8xf32>) {
  %w = qcc.weight "w" {value = dense<1.0> : tensor<4x8xf32>} : tensor<4x8xf32>
  // expected-error @+1 {{result rows differ from the input rows}}
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "l"} : (tensor<3x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @linear_storage_mismatch(%x: tensor<?x128xbf16>, %w: tensor<4x128xi8>) {
  // expected-error @+1 {{weight of element type 'i8' does not match format w4a16 (expects 'i4')}}
  %y = qcc.linear %x, %w {format = #qcc.format<w4a16, group = 128>, layer = "l"} : (tensor<?x128xbf16>, tensor<4x128xi8>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_quantized_but_bf16(%x: tensor<?x128xbf16>, %w: tensor<4x128xi8>) {
  // expected-error @+1 {{weight of element type 'i8' is quantized but the format is bf16}}
  %y = qcc.linear %x, %w {format = #qcc.format<bf16>, layer = "l"} : (tensor<?x128xbf16>, tensor<4x128xi8>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_group(%x: tensor<?x96xbf16>, %w: tensor<4x96xbf16>) {
  // expected-error @+1 {{group size 64 does not divide the input dimension 96}}
  %y = qcc.linear %x, %w {format = #qcc.format<w4a16, group = 64>, layer = "l"} : (tensor<?x96xbf16>, tensor<4x96xbf16>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_scales_with_float_input(%x: tensor<?x8xbf16>, %s: tensor<?xf32>, %w: tensor<4x8xi8>) {
  // expected-error @+1 {{token scales are given with a float input}}
  %y = qcc.linear %x scales %s, %w {format = #qcc.format<int8>, layer = "l"} : (tensor<?x8xbf16>, tensor<?xf32>, tensor<4x8xi8>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_codes_into_w4a16(%x: tensor<?x8xi8>, %s: tensor<?xf32>, %w: tensor<4x8xi4>) {
  // expected-error @+1 {{a w4a16 linear takes float activations, not quantized codes}}
  %y = qcc.linear %x scales %s, %w {format = #qcc.format<w4a16, group = 8>, layer = "l"} : (tensor<?x8xi8>, tensor<?xf32>, tensor<4x8xi4>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_codes_of_other_format(%x: tensor<?x8xi8>, %s: tensor<?xf32>, %w: tensor<4x8xf8E4M3FN>) {
  // expected-error @+1 {{input codes of element type 'i8' do not match format fp8}}
  %y = qcc.linear %x scales %s, %w {format = #qcc.format<fp8>, layer = "l"} : (tensor<?x8xi8>, tensor<?xf32>, tensor<4x8xf8E4M3FN>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_codes_without_scales(%x: tensor<?x8xi8>, %w: tensor<4x8xi8>) {
  // expected-error @+1 {{quantized input codes need their token scales}}
  %y = qcc.linear %x, %w {format = #qcc.format<int8>, layer = "l"} : (tensor<?x8xi8>, tensor<4x8xi8>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_scales_rows(%x: tensor<3x8xi8>, %s: tensor<2xf32>, %w: tensor<4x8xi8>) {
  // expected-error @+1 {{there must be one token scale per input row}}
  %y = qcc.linear %x scales %s, %w {format = #qcc.format<int8>, layer = "l"} : (tensor<3x8xi8>, tensor<2xf32>, tensor<4x8xi8>) -> tensor<3x4xbf16>
  return
}

// -----

func.func @linear_residual_type(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>, %r: tensor<?x4xf32>) {
  // expected-error @+1 {{the residual must have the result's type}}
  %y = qcc.linear %x, %w residual %r {format = #qcc.format<bf16>, layer = "l"} : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<?x4xf32>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @fused_linear_one_weight(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>) {
  // expected-error @+1 {{fuses at least two weights}}
  %y = qcc.fused_linear %x, %w {format = #qcc.format<bf16>, layers = ["a"]} : (tensor<?x8xbf16>, tensor<4x8xbf16>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @fused_linear_results(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>) {
  // expected-error @+1 {{needs one result per weight}}
  %y = qcc.fused_linear %x, %w, %w {format = #qcc.format<bf16>, layers = ["a", "b"]} : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @fused_linear_layers(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>) {
  // expected-error @+1 {{needs one layer name per weight}}
  %y:2 = qcc.fused_linear %x, %w, %w {format = #qcc.format<bf16>, layers = ["a"]} : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>) -> (tensor<?x4xbf16>, tensor<?x4xbf16>)
  return
}

// -----

func.func @fused_linear_result_types(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>) {
  // expected-error @+1 {{results must share one element type}}
  %y:2 = qcc.fused_linear %x, %w, %w {format = #qcc.format<bf16>, layers = ["a", "b"]} : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>) -> (tensor<?x4xbf16>, tensor<?x4xf32>)
  return
}

// -----

func.func @fused_linear_shapes(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>) {
  // expected-error @+1 {{result features 5 differ from the weight's output dimension 4}}
  %y:2 = qcc.fused_linear %x, %w, %w {format = #qcc.format<bf16>, layers = ["a", "b"]} : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>) -> (tensor<?x4xbf16>, tensor<?x5xbf16>)
  return
}

// -----

func.func @rope_head_dim_odd(%x: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{head_dim must be even for rotate-half pairs, got 3}}
  %y = qcc.rope %x at %pos {heads = array<i64: 2>, head_dim = 3 : i64, theta = 1.0e+04 : f64} : (tensor<?x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @rope_head_dim_zero(%x: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{head_dim must be positive}}
  %y = qcc.rope %x at %pos {heads = array<i64: 2>, head_dim = 0 : i64, theta = 1.0e+04 : f64} : (tensor<?x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @rope_features(%x: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{feature dimension 16 is not heads (4) x head_dim (8)}}
  %y = qcc.rope %x at %pos {heads = array<i64: 4>, head_dim = 8 : i64, theta = 1.0e+04 : f64} : (tensor<?x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @rope_heads_positive(%x: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{head counts must be positive}}
  %y = qcc.rope %x at %pos {heads = array<i64: 0>, head_dim = 8 : i64, theta = 1.0e+04 : f64} : (tensor<?x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @rope_heads_count(%x: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{needs one head count per input}}
  %y = qcc.rope %x at %pos {heads = array<i64: 2, 2>, head_dim = 8 : i64, theta = 1.0e+04 : f64} : (tensor<?x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{theta must be a positive number}}
  %y = qcc.rope %x at %pos {heads = array<i64: 2>, head_dim = 8 : i64, theta = 0.0 : f64} : (tensor<?x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @rope_result_type(%x: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{each result has the type of its input}}
  %y = qcc.rope %x at %pos {heads = array<i64: 2>, head_dim = 8 : i64, theta = 1.0e+04 : f64} : (tensor<?x16xf32>, tensor<?xi64>) -> tensor<?x16xbf16>
  return
}

// -----

func.func @rope_positions(%x: tensor<3x16xf32>, %pos: tensor<4xi64>) {
  // expected-error @+1 {{positions differ in length from the input rows}}
  %y = qcc.rope %x at %pos {heads = array<i64: 2>, head_dim = 8 : i64, theta = 1.0e+04 : f64} : (tensor<3x16xf32>, tensor<4xi64>) -> tensor<3x16xf32>
  return
}

// -----

func.func @rope_three_inputs(%x: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{rotates one or two tensors}}
  %y:3 = qcc.rope %x, %x, %x at %pos {heads = array<i64: 2, 2, 2>, head_dim = 8 : i64, theta = 1.0e+04 : f64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?xi64>) -> (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>)
  return
}

// -----

func.func @rope_results_count(%x: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{needs one result per input}}
  %y = qcc.rope %x, %x at %pos {heads = array<i64: 2, 2>, head_dim = 8 : i64, theta = 1.0e+04 : f64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @attention_positive(%q: tensor<?x32xf32>, %k: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{num_heads, num_kv_heads and head_dim must be positive}}
  %o = qcc.attention %q, %k, %k at %pos {num_heads = 0 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, cache = 0 : i64} : tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?xi64> -> tensor<?x32xf32>
  return
}

// -----

func.func @attention_gqa(%q: tensor<?x32xf32>, %k: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{num_kv_heads (3) must divide num_heads (4)}}
  %o = qcc.attention %q, %k, %k at %pos {num_heads = 4 : i64, num_kv_heads = 3 : i64, head_dim = 8 : i64, cache = 0 : i64} : tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?xi64> -> tensor<?x32xf32>
  return
}

// -----

func.func @attention_cache(%q: tensor<?x32xf32>, %k: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{cache must be non-negative}}
  %o = qcc.attention %q, %k, %k at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, cache = -1 : i64} : tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?xi64> -> tensor<?x32xf32>
  return
}

// -----

func.func @attention_query_width(%q: tensor<?x32xf32>, %k: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{query width 32 is not num_heads (2) x head_dim (8)}}
  %o = qcc.attention %q, %k, %k at %pos {num_heads = 2 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, cache = 0 : i64} : tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?xi64> -> tensor<?x32xf32>
  return
}

// -----

func.func @attention_kv_width(%q: tensor<?x32xf32>, %k: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{key width 16 is not num_kv_heads (1) x head_dim (8)}}
  %o = qcc.attention %q, %k, %k at %pos {num_heads = 4 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, cache = 0 : i64} : tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?xi64> -> tensor<?x32xf32>
  return
}

// -----

func.func @attention_rows(%q: tensor<3x32xf32>, %k: tensor<2x16xf32>, %pos: tensor<3xi64>) {
  // expected-error @+1 {{key rows differ from the query rows}}
  %o = qcc.attention %q, %k, %k at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, cache = 0 : i64} : tensor<3x32xf32>, tensor<2x16xf32>, tensor<2x16xf32>, tensor<3xi64> -> tensor<3x32xf32>
  return
}

// -----

func.func @attention_result(%q: tensor<?x32xf32>, %k: tensor<?x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{the result has the query's type}}
  %o = qcc.attention %q, %k, %k at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, cache = 0 : i64} : tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?xi64> -> tensor<?x32xbf16>
  return
}

// -----

func.func @attention_positions(%q: tensor<3x32xf32>, %k: tensor<3x16xf32>, %pos: tensor<2xi64>) {
  // expected-error @+1 {{positions differ in length from the query rows}}
  %o = qcc.attention %q, %k, %k at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, cache = 0 : i64} : tensor<3x32xf32>, tensor<3x16xf32>, tensor<3x16xf32>, tensor<2xi64> -> tensor<3x32xf32>
  return
}

// -----

func.func @logits_hidden(%x: tensor<?x8xf32>) {
  %h = qcc.weight "h" {value = dense<1.0> : tensor<32x6xf32>} : tensor<32x6xf32>
  // expected-error @+1 {{input features 8 differ from the head's hidden dimension 6}}
  %l = qcc.logits %x, %h {format = #qcc.format<bf16>} : tensor<?x8xf32>, tensor<32x6xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @logits_vocab(%x: tensor<?x8xf32>) {
  %h = qcc.weight "h" {value = dense<1.0> : tensor<32x8xf32>} : tensor<32x8xf32>
  // expected-error @+1 {{result width 30 differs from the vocabulary size 32}}
  %l = qcc.logits %x, %h {format = #qcc.format<bf16>} : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x30xf32>
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
