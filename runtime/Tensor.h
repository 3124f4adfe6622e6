// A non-owning view of a tensor's bytes, as stored in a checkpoint or artifact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qcc {

enum class DType : uint8_t { F32, F16, BF16, F8E4M3, I8, I32, U8, F64, I16, I64, U16, U32, U64, BOOL };

// Size in bytes of one element.
inline size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F64: case DType::I64: case DType::U64: return 8;
  case DType::F32: case DType::I32: case DType::U32: return 4;
  case DType::F16: case DType::BF16: case DType::I16: case DType::U16: return 2;
  case DType::F8E4M3: case DType::I8: case DType::U8: case DType::BOOL: return 1;
  }
  return 0;
}

const char *dtypeName(DType t); // "BF16", "F32", ... (safetensors spelling)

struct TensorRef {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr; // little-endian, row-major, not necessarily aligned
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  size_t byteSize() const { return static_cast<size_t>(numel()) * dtypeSize(dtype); }
};

// Where executors and passes get weights from, by Hugging Face tensor name
// ("model.layers.0.self_attn.q_proj.weight"). Implemented by the checkpoint
// reader (mmap'ed safetensors) and by the artifact loader.
class WeightProvider {
public:
  virtual ~WeightProvider() = default;
  // nullptr when absent.
  virtual const TensorRef *find(const std::string &name) const = 0;
};

} // namespace qcc
