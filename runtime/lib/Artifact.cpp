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
  const ArtifactFile &f = *a->file_;

  // The schedule must be the one the executors implement, over these tensors.
  ArtifactSpec canonical;
  canonical.config = f.config();
  canonical.tensors = f.spec().tensors;
  if (Status s = buildLlamaSchedule(canonical); !s)
    return s.withContext(path + ": not a Llama decoder artifact");
  if (!(canonical.schedule == f.spec().schedule))
    return Status::error(path + ": the schedule is not the Llama decoder schedule this runtime executes");
  for (size_t i = 0; i < canonical.buffers.size(); ++i)
    if (canonical.buffers[i].name != f.spec().buffers.at(i).name ||
        canonical.buffers[i].cols != f.spec().buffers[i].cols)
      return Status::error(path + ": buffer '" + f.spec().buffers[i].name + "' does not match the Llama schedule");
  if (canonical.buffers.size() != f.spec().buffers.size())
    return Status::error(path + ": unexpected number of buffers");

  for (const LoadedTensor &t : f.tensors()) {
    const TensorDecl &d = t.decl;
    switch (d.format) {
    case WeightFormat::Dense:
    case WeightFormat::BF16:
      if (d.role != TensorRole::Tokenizer && d.role != TensorRole::Other) {
        DType dt = t.dataType;
        if (dt != DType::F32 && dt != DType::BF16 && dt != DType::F16)
          return Status::error(path + ": tensor '" + d.name + "' has dtype " + dtypeName(dt) +
                               " (weights are F32, BF16 or F16)");
        a->dense_[d.name] = TensorRef{dt, d.shape, t.data};
      }
      break;
    default:
      a->quantized_.push_back(d.name);
      break;
    }
  }
  return a;
}

const TensorRef *Artifact::find(const std::string &name) const {
  auto it = dense_.find(name);
  return it == dense_.end() ? nullptr : &it->second;
}

Expected<formats::QuantizedLinear> Artifact::quantizedLinear(const std::string &name) const {
  const LoadedTensor *t = file_->find(name);
  if (!t) return Status::error(path() + ": no tensor '" + name + "'");
  formats::QuantizedLinear q;
  switch (t->decl.format) {
  case WeightFormat::BF16: q.format = formats::Format::BF16; break;
  case WeightFormat::FP8: q.format = formats::Format::FP8; break;
  case WeightFormat::INT8: q.format = formats::Format::INT8; break;
  case WeightFormat::W4A16: q.format = formats::Format::W4A16; break;
  case WeightFormat::Dense: return Status::error(path() + ": tensor '" + name + "' is not a quantized linear");
  }
  q.outFeatures = t->decl.shape[0];
  q.inFeatures = t->decl.shape[1];
  q.groupSize = t->decl.format == WeightFormat::W4A16 ? t->decl.groupSize : 0;
  q.weights.assign(t->data, t->data + t->dataRange.size);
  q.scales.resize(t->scaleRange.size / 4);
  if (t->scaleRange.size) std::memcpy(q.scales.data(), t->scales, t->scaleRange.size); // little-endian host
  if (Status s = formats::validate(q); !s) return s.withContext(path() + ": tensor '" + name + "'");
  return q;
}

std::string Artifact::tokenizerJson() const {
  for (const LoadedTensor &t : file_->tensors())
    if (t.decl.role == TensorRole::Tokenizer)
      return std::string(reinterpret_cast<const char *>(t.data), t.dataRange.size);
  return std::string();
}

} // namespace qcc::rt
