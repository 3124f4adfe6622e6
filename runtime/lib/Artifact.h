// qcc::rt — the plain runtime API (no MLIR, no LLVM, no NVRTC):
//
//   auto a = qcc::rt::Artifact::open("model.qcc");            // verified load (mmap)
//   auto s = qcc::rt::Session::create(**a, {Device::Auto, /*maxSeqLen*/ 512, /*batch*/ 1});
//   auto logits = (*s)->prefill({1, 2, 3});                   // [T, V]
//   auto next = (*s)->decode(42);                             // [V]
//   (*s)->close();
#pragma once

#include "runtime/Tensor.h"
#include "runtime/artifact/ArtifactFile.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/formats/Formats.h"

#include <memory>

namespace qcc::rt {

// An opened artifact; also the CPU interpreter's source of weights (the
// program's tensor indices are the artifact's tensors).
class Artifact : public cpu::WeightSource {
public:
  // Opens and fully verifies `path` (ArtifactFile::open: header, ranges,
  // program, launch lists).
  static Expected<std::unique_ptr<Artifact>> open(const std::string &path);

  const artifact::ArtifactFile &file() const { return *file_; }
  const ModelConfig &config() const { return file_->config(); }
  const program::Program &program() const { return file_->spec().program; }
  const std::string &path() const { return file_->name(); }
  int64_t vocabSize() const { return program().values[program().logits].cols; }

  // WeightSource: dense tensors point into the mapping; quantized linears
  // are copied out (validated by formats::validate).
  size_t count() const override { return file_->tensors().size(); }
  Expected<cpu::WeightData> weight(uint32_t index) const override;
  // The embedded tokenizer.json bytes; empty when the artifact carries none.
  std::string tokenizerJson() const;

private:
  Artifact() = default;
  std::unique_ptr<artifact::ArtifactFile> file_;
};

} // namespace qcc::rt
