// qcc::rt — the plain runtime API (no MLIR, no LLVM):
//
//   auto a = qcc::rt::Artifact::open("model.qcc");            // verified load (mmap)
//   auto s = qcc::rt::Session::create(**a, {Device::Auto, /*maxSeqLen*/ 512, /*batch*/ 1});
//   auto logits = (*s)->prefill({1, 2, 3});                   // [T, V]
//   auto next = (*s)->decode(42);                             // [V]
//   (*s)->close();
#pragma once

#include "runtime/Tensor.h"
#include "runtime/artifact/ArtifactFile.h"
#include "runtime/formats/Formats.h"

#include <map>
#include <memory>

namespace qcc::rt {

class Artifact : public WeightProvider {
public:
  // Opens and fully verifies `path` (ArtifactFile::open), then checks that it
  // describes a Llama decoder this runtime executes: the canonical schedule
  // (buildLlamaSchedule) and every tensor's role and format where it belongs.
  static Expected<std::unique_ptr<Artifact>> open(const std::string &path);

  const artifact::ArtifactFile &file() const { return *file_; }
  const ModelConfig &config() const { return file_->config(); }
  const std::string &path() const { return file_->name(); }

  // WeightProvider over the dense tensors (Dense and BF16 formats), pointing
  // into the mapping. Quantized linears are not found here: see quantizedLinear.
  const TensorRef *find(const std::string &name) const override;
  // The linears stored as FP8 / INT8 / W4A16, in schedule order.
  const std::vector<std::string> &quantizedLinearNames() const { return quantized_; }
  // Copies one quantized linear out of the mapping (validated by formats::validate).
  Expected<formats::QuantizedLinear> quantizedLinear(const std::string &name) const;
  // The embedded tokenizer.json bytes; empty when the artifact carries none.
  std::string tokenizerJson() const;

private:
  Artifact() = default;
  std::unique_ptr<artifact::ArtifactFile> file_;
  std::map<std::string, TensorRef> dense_;
  std::vector<std::string> quantized_;
};

} // namespace qcc::rt
