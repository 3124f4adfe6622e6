// RUN: qcc-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of the qcck dialect.

// expected-error @+1 {{takes token ids and positions}}
qcck.program "sm_90a" attributes {max_seq = 16 : i64} {
^bb0(%ids: tensor<?xi64>):
  %t = qcc.weight "t" {value = dense<1.0> : tensor<4x4xf32>} : tensor<4x4xf32>
  qcck.return %t : tensor<4x4xf32>
}

// -----

// expected-error @+1 {{max_seq must be positive}}
qcck.program "sm_90a" attributes {max_seq = 0 : i64} {
^bb0(%ids: tensor<?xi64>, %pos: tensor<?xi64>):
  %t = qcc.weight "t" {value = dense<1.0> : tensor<4x4xf32>} : tensor<4x4xf32>
  qcck.return %t : tensor<4x4xf32>
}

// -----

qcck.program "sm_90a" attributes {max_seq = 16 : i64} {
^bb0(%ids: tensor<?xi64>, %pos: tensor<?xi64>):
  %t = qcc.weight "t" {value = dense<1.0> : tensor<4x8xbf16>} : tensor<4x8xbf16>
  // expected-error @+1 {{columns [6, 10) are outside the source's 8}}
  %s = qcck.slice %t {offset = 6 : i64} : tensor<4x8xbf16> -> tensor<4x4xbf16>
  qcck.return %s : tensor<4x4xbf16>
}

// -----

qcck.program "sm_90a" attributes {max_seq = 16 : i64} {
^bb0(%ids: tensor<?xi64>, %pos: tensor<?xi64>):
  %x = qcc.weight "x" {value = dense<1.0> : tensor<4x8xbf16>} : tensor<4x8xbf16>
  %w = qcc.weight "w" {value = dense<1.0> : tensor<8xbf16>} : tensor<8xbf16>
  // expected-error @+1 {{quant 1 gives 2 results}}
  %n = qcck.rms_norm %x, %w {epsilon = 1.0e-05 : f64, quant = 1 : i64, threads = 32 : i64, variants = [], width = 8 : i64} : (tensor<4x8xbf16>, tensor<8xbf16>) -> tensor<4x8xbf16>
  qcck.return %n : tensor<4x8xbf16>
}

// -----

qcck.program "sm_90a" attributes {max_seq = 16 : i64} {
^bb0(%ids: tensor<?xi64>, %pos: tensor<?xi64>):
  %x = qcc.weight "x" {value = dense<1.0> : tensor<4x8xbf16>} : tensor<4x8xbf16>
  // expected-error @+1 {{unknown quant 3 (0 none, 1 int8, 2 fp8)}}
  %s = qcck.swiglu %x, %x {ldg = 8 : i64, ldu = 8 : i64, quant = 3 : i64, threads = 32 : i64, variants = [], width = 8 : i64} : (tensor<4x8xbf16>, tensor<4x8xbf16>) -> tensor<4x8xbf16>
  qcck.return %s : tensor<4x8xbf16>
}

// -----

qcck.program "sm_90a" attributes {max_seq = 16 : i64} {
^bb0(%ids: tensor<?xi64>, %pos: tensor<?xi64>):
  %x = qcc.weight "x" {value = dense<1.0> : tensor<4x8xbf16>} : tensor<4x8xbf16>
  %w = qcc.weight "w" {value = dense<1.0> : tensor<8x8xbf16>} : tensor<8x8xbf16>
  // expected-error @+1 {{unknown GEMM format}}
  %y = qcck.gemm %x, weights(%w) {format = 7 : i64, group = 128 : i64, k = 8 : i64, layer = "l", n = 8 : i64, variants = []} : (tensor<4x8xbf16>, tensor<8x8xbf16>) -> tensor<4x8xbf16>
  qcck.return %y : tensor<4x8xbf16>
}

// -----

qcck.program "sm_90a" attributes {max_seq = 16 : i64} {
^bb0(%ids: tensor<?xi64>, %pos: tensor<?xi64>):
  %x = qcc.weight "x" {value = dense<1.0> : tensor<4x8xbf16>} : tensor<4x8xbf16>
  %w = qcc.weight "w" {value = dense<1.0> : tensor<8x8xbf16>} : tensor<8x8xbf16>
  // expected-error @+1 {{int8 and fp8 GEMMs (and only they) read token scales}}
  %y = qcck.gemm %x, weights(%w) {format = 1 : i64, group = 128 : i64, k = 8 : i64, layer = "l", n = 8 : i64, variants = []} : (tensor<4x8xbf16>, tensor<8x8xbf16>) -> tensor<4x8xbf16>
  qcck.return %y : tensor<4x8xbf16>
}

// -----

qcck.program "sm_90a" attributes {max_seq = 16 : i64} {
^bb0(%ids: tensor<?xi64>, %pos: tensor<?xi64>):
  %x = qcc.weight "x" {value = dense<1.0> : tensor<4x8xbf16>} : tensor<4x8xbf16>
  // expected-error @+1 {{a kernel variant's grid has 3 dimensions}}
  %y = qcck.embedding %ids, %x {variants = [#qcck.variant<max_rows = 0, tile = [], kernel = "k", grid = [#qcck.dim<1>], block = 32>], vocab = 4 : i64, width = 8 : i64} : (tensor<?xi64>, tensor<4x8xbf16>) -> tensor<?x8xbf16>
  qcck.return %y : tensor<?x8xbf16>
}
