// Finiteness of stored weights: a NaN or infinity in a checkpoint tensor
// would flow through every method (RTN, GPTQ, AWQ, bf16 pass-through) into
// the artifact and come out as a -nan perplexity with exit 0, so weights are
// checked once, where they are read.
#pragma once

#include "runtime/Tensor.h"
#include "support/Status.h"

#include <string>

namespace qcc::formats {

// Every element of a floating tensor (F32, F64, BF16, F16, F8_E4M3) is
// finite. The error names the tensor, the first bad element by index and
// coordinates, and what it is:
//   "tensor 'model.norm.weight': element 5 [5] is nan"
// Integer and boolean tensors pass. The bytes may be unaligned.
Status checkFinite(const TensorRef &tensor, const std::string &name);

} // namespace qcc::formats
