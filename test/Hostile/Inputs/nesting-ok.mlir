func.func @nested(%x: tensor<4x8xf32>) -> tensor<4x8xf32> attributes {a = [[[1, 2], [3]], {b = [[4]]}]} {
  return %x : tensor<4x8xf32>
}
