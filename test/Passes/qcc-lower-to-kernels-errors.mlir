// RUN: qcc-opt %s -split-input-file -qcc-lower-to-kernels="targets=sm86" -verify-diagnostics -o /dev/null

// What the kernels cannot run is an error at the op that needs it, naming
// the layer and the target (qcc-legalize-target reports the same before
// calibration). Each case lowers a minimal @forward: embed, the op, logits.

// W8A8 fp8 needs fp8 tensor cores.
func.func @forward(%ids: tensor<?xi64>, %pos: tensor<?xi64>) -> tensor<?x256xf32> {
  %table = qcc.weight "model.embed_tokens.weight" {value = dense<0.5> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %h = qcc.embedding %table[%ids] : tensor<256x128xbf16>, tensor<?xi64> -> tensor<?x128xbf16>
  %w = qcc.weight "model.layers.0.self_attn.o_proj.weight" {value = dense<0.5> : tensor<128x128xbf16>} : tensor<128x128xbf16>
  // expected-error @+1 {{layer model.layers.0.self_attn.o_proj: format fp8 (W8A8) needs fp8 tensor cores (sm_89 or newer); target sm_86 has none: use w4a16 or int8, or allow fp8 weights with bf16 math (--fp8-weight-only)}}
  %y = qcc.linear %h, %w {format = #qcc.format<fp8>, layer = "model.layers.0.self_attn.o_proj"} : (tensor<?x128xbf16>, tensor<128x128xbf16>) -> tensor<?x128xbf16>
  %logits = qcc.logits %y, %table {format = #qcc.format<bf16>} : tensor<?x128xbf16>, tensor<256x128xbf16> -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}

// -----

// The w4a16 kernels dequantize groups of 128 (or a multiple).
func.func @forward(%ids: tensor<?xi64>, %pos: tensor<?xi64>) -> tensor<?x256xf32> {
  %table = qcc.weight "model.embed_tokens.weight" {value = dense<0.5> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %h = qcc.embedding %table[%ids] : tensor<256x128xbf16>, tensor<?xi64> -> tensor<?x128xbf16>
  %w = qcc.weight "model.layers.0.self_attn.o_proj.weight" {value = dense<0.5> : tensor<128x128xbf16>} : tensor<128x128xbf16>
  // expected-error @+1 {{layer model.layers.0.self_attn.o_proj: w4a16 group size 64 is not supported by the CUDA kernels (they need a multiple of 128 dividing k = 128)}}
  %y = qcc.linear %h, %w {format = #qcc.format<w4a16, group = 64>, layer = "model.layers.0.self_attn.o_proj"} : (tensor<?x128xbf16>, tensor<128x128xbf16>) -> tensor<?x128xbf16>
  %logits = qcc.logits %y, %table {format = #qcc.format<bf16>} : tensor<?x128xbf16>, tensor<256x128xbf16> -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}

// -----

// The attention kernel's tiles need head_dim to be a multiple of 32.
func.func @forward(%ids: tensor<?xi64>, %pos: tensor<?xi64>) -> tensor<?x256xf32> {
  %table = qcc.weight "model.embed_tokens.weight" {value = dense<0.5> : tensor<256x128xbf16>} : tensor<256x128xbf16>
  %h = qcc.embedding %table[%ids] : tensor<256x128xbf16>, tensor<?xi64> -> tensor<?x128xbf16>
  // expected-error @+1 {{op qcck.attention: kernel qcc_attention_hq8_hkv8_d16_s8192_ld128: head_dim must be a multiple of 32 (target sm_86)}}
  %y = qcc.attention %h, %h, %h at %pos {cache = 0 : i64, head_dim = 16 : i64, num_heads = 8 : i64, num_kv_heads = 8 : i64} : tensor<?x128xbf16>, tensor<?x128xbf16>, tensor<?x128xbf16>, tensor<?xi64> -> tensor<?x128xbf16>
  %logits = qcc.logits %y, %table {format = #qcc.format<bf16>} : tensor<?x128xbf16>, tensor<256x128xbf16> -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}
