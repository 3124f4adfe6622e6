// Streaming, atomic, deterministic writer of model.qcc.
//
//   auto w = ArtifactWriter::create("model.qcc", spec);   // plans every offset, writes the header
//   for (each tensor in spec.tensors order)                // e.g. as each layer is quantized
//     w->writeTensor(name, codes, codesBytes, scales, scaleBytes);
//   w->finish();                                           // fsync + rename
//
// Peak memory is the header plus whatever the caller holds for one tensor.
// Each tensor's bytes are hashed as they are written; finish() rewrites the
// header with those hashes (ContentHashes.h) in place of the placeholders it
// was first written with. Nothing appears at `path` unless finish() succeeds
// (support/MappedFile.h's AtomicFileWriter). Same spec and bytes give the
// same file, byte for byte.
#pragma once

#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/ContentHashes.h"

#include <memory>

namespace qcc {
class AtomicFileWriter;
}

namespace qcc::artifact {

class ArtifactWriter {
public:
  // Validates `spec` (validateSpec) and writes preamble + header + padding.
  static Expected<std::unique_ptr<ArtifactWriter>> create(const std::string &path, ArtifactSpec spec);
  // The same into an anonymous in-memory file (memfd; `name` for messages).
  // After finish(), releaseFd() hands over its descriptor (map it to run it).
  static Expected<std::unique_ptr<ArtifactWriter>> createInMemory(const std::string &name, ArtifactSpec spec);
  int releaseFd();
  ~ArtifactWriter(); // without finish(): the temporary file is removed
  ArtifactWriter(const ArtifactWriter &) = delete;
  ArtifactWriter &operator=(const ArtifactWriter &) = delete;

  // Tensors must come in spec.tensors order; `scales` only for FP8/INT8/W4A16.
  // Sizes must be exactly those of layoutOf().
  Status writeTensor(const std::string &name, const void *data, size_t dataBytes, const void *scales = nullptr,
                     size_t scaleBytes = 0);
  // The name writeTensor expects next; empty once all are written.
  std::string nextTensor() const;
  Status finish();

  const ArtifactSpec &spec() const { return spec_; }
  uint64_t rawOffset() const { return rawOffset_; }
  uint64_t fileSize() const { return rawOffset_ + rawSize_; }
  // Planned ranges (relative to the raw section), parallel to spec().tensors.
  const std::vector<ByteRange> &dataRanges() const { return data_; }
  const std::vector<ByteRange> &scaleRanges() const { return scales_; }

private:
  ArtifactWriter() = default;
  static Expected<std::unique_ptr<ArtifactWriter>> create(const std::string &path, ArtifactSpec spec, bool inMemory);
  Status padTo(uint64_t rawPos);

  std::string path_;
  ArtifactSpec spec_;
  std::vector<ByteRange> data_, scales_;
  uint64_t rawOffset_ = 0, rawSize_ = 0, headerBytes_ = 0;
  std::vector<TensorHashes> hashes_; // parallel to spec_.tensors, filled as they are written
  size_t next_ = 0;
  bool finished_ = false;
  std::unique_ptr<AtomicFileWriter> out_;
};

// Serialises the header FlatBuffer for `spec` with the given ranges and
// tensor hashes (parallel to spec.tensors; nullptr: placeholders). Kernel
// image hashes come from the kernels themselves. Used by the writer; exposed
// for tests that craft corrupt files.
std::vector<uint8_t> encodeHeader(const ArtifactSpec &spec, const std::vector<ByteRange> &data,
                                  const std::vector<ByteRange> &scales, uint64_t rawSize,
                                  const std::vector<TensorHashes> *hashes = nullptr);

} // namespace qcc::artifact
