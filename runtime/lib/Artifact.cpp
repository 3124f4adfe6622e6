#include "runtime/lib/Artifact.h"

#include <cstring>

namespace qcc::rt {

using namespace qcc::artifact;

static_assert(sizeof(float) == 4, "scales are stored as 4-byte IEEE floats");

Expected<std::unique_ptr<Artifact>> Artifact::open(const std::string &path) {
  auto file = ArtifactFile::open(path);
  if (!file) return file.status();
  std::unique_ptr<Artifact> a(new Artifact());
  a->file_ = std::move(*file);
  return a;
}

Expected<cpu::WeightData> Artifact::weight(uint32_t index) const {
  if (index >= file_->tensors().size()) return Status::error(path() + ": no tensor " + std::to_string(index));
  const LoadedTensor &t = file_->tensors()[index];
  cpu::WeightData w;
  w.name = t.decl.name;
  if (t.decl.format == WeightFormat::Dense) {
    w.dense = TensorRef{t.dataType, t.decl.shape, t.data};
    return w;
  }
  formats::QuantizedLinear q;
  switch (t.decl.format) {
  case WeightFormat::BF16: q.format = formats::Format::BF16; break;
  case WeightFormat::FP8: q.format = formats::Format::FP8; break;
  case WeightFormat::INT8: q.format = formats::Format::INT8; break;
  case WeightFormat::W4A16: q.format = formats::Format::W4A16; break;
  case WeightFormat::Dense: break;
  }
  q.outFeatures = t.decl.shape[0];
  q.inFeatures = t.decl.shape[1];
  q.groupSize = t.decl.format == WeightFormat::W4A16 ? t.decl.groupSize : 0;
  q.weights.assign(t.data, t.data + t.dataRange.size);
  q.scales.resize(t.scaleRange.size / 4);
  if (t.scaleRange.size) std::memcpy(q.scales.data(), t.scales, t.scaleRange.size); // little-endian host
  if (Status s = formats::validate(q); !s) return s.withContext(path() + ": tensor '" + t.decl.name + "'");
  w.quantized = std::move(q);
  return w;
}

std::string Artifact::tokenizerJson() const {
  for (const LoadedTensor &t : file_->tensors())
    if (t.decl.role == TensorRole::Tokenizer)
      return std::string(reinterpret_cast<const char *>(t.data), t.dataRange.size);
  return std::string();
}

} // namespace qcc::rt
