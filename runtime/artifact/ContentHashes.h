// The content hashes an artifact carries (format version 2), shared by the
// writer and the loader: XXH3-128 (support/Hash.h), 32 lowercase hex digits.
//   Tensor.data_hash    of the data bytes
//   Tensor.scales_hash  of the scale bytes (absent when there are none)
//   Kernel.image_hash   of the ptx and the cubin, each length-prefixed
#pragma once

#include "runtime/artifact/Artifact.h"
#include "support/Hash.h"

#include <string>

namespace qcc::artifact {

// Hashes of one tensor's data and scale bytes (scales: empty when none).
struct TensorHashes {
  std::string data, scales;
};

inline std::string kernelImageHash(const KernelDecl &k) {
  ContentHasher h;
  h.updateString(k.ptx);
  h.updateU64(k.cubin.size());
  h.update(k.cubin.data(), k.cubin.size());
  return h.hex();
}

// Stands in for a tensor's hashes until its bytes are written (same length,
// so the header keeps its size when the real ones are filled in).
inline const std::string &placeholderHash() {
  static const std::string zeros(32, '0');
  return zeros;
}

} // namespace qcc::artifact
