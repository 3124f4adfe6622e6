// Loader of model.qcc: the file is untrusted input.
//
// open() mmaps the file, checks the preamble, runs flatbuffers::Verifier with
// explicit limits, decodes the header into plain structs (Artifact.h), then
// runs the semantic checks: every range aligned, inside the raw section,
// non-overlapping and of the size its shape and format imply; config sane;
// schedule references valid; targets known. Then, unless told not to, it
// verifies the content: every tensor's data and scales and every kernel image
// against its XXH3-128 hash in the header (ContentHashes.h, several threads),
// and the raw section's padding all zero. Any failure is an error that names
// the file and the problem; nothing aborts.
#pragma once

#include "runtime/artifact/Artifact.h"

#include <map>
#include <memory>

namespace qcc {
class MappedFile;
}

namespace qcc::artifact {

struct LoadLimits {
  uint64_t maxHeaderBytes = uint64_t(1) << 30; // the FlatBuffer (kernels included)
  uint32_t maxDepth = 16;                      // nesting of tables/vectors (the schema needs 5)
  uint32_t maxTables = 1u << 22;               // tables visited by the verifier
  bool verifyContent = true;                   // hash every tensor and kernel at open
};

// What verifyContent() covered.
struct ContentCheck {
  size_t tensors = 0, kernels = 0;
  uint64_t bytes = 0; // hashed (tensor data and scales, ptx and cubin)
};

// A tensor of a loaded artifact; pointers are into the mapping.
struct LoadedTensor {
  TensorDecl decl;
  DType dataType = DType::F32; // element type of `data`
  ByteRange dataRange, scaleRange;
  const uint8_t *data = nullptr;   // not necessarily more aligned than 64 bytes
  const uint8_t *scales = nullptr; // f32 little-endian, nullptr when none
  std::string dataHash, scalesHash; // as stored in the header (scalesHash empty when no scales)
};

class ArtifactFile {
public:
  static Expected<std::unique_ptr<ArtifactFile>> open(const std::string &path, const LoadLimits &limits = {});
  // Parses bytes already in memory (they must outlive the result); the fuzzer uses this.
  static Expected<std::unique_ptr<ArtifactFile>> parse(const uint8_t *bytes, size_t size, const std::string &name,
                                                       const LoadLimits &limits = {});
  ~ArtifactFile();

  const std::string &name() const { return name_; }
  uint32_t formatVersion() const { return version_; }
  uint64_t fileSize() const { return size_; }
  uint64_t headerBytes() const { return headerBytes_; }
  uint64_t rawOffset() const { return rawOffset_; }
  uint64_t rawSize() const { return size_ - rawOffset_; }

  // The decoded header; tensors in raw-section order.
  const ArtifactSpec &spec() const { return spec_; }
  const ModelConfig &config() const { return spec_.config; }
  const std::vector<LoadedTensor> &tensors() const { return tensors_; }
  const LoadedTensor *find(const std::string &name) const;

  // Hashes every tensor (data, scales) and kernel image and compares with the
  // header; checks the raw section's padding is zero. open() runs it unless
  // LoadLimits::verifyContent is false. Errors name the tensor or kernel:
  //   "m.qcc: tensor 'lm_head.weight': scales do not match their hash (corrupt file)"
  Expected<ContentCheck> verifyContent() const;

private:
  ArtifactFile() = default;
  std::string name_;
  std::unique_ptr<MappedFile> file_;
  std::vector<uint8_t> alignedHeader_; // copy of the header when the input is misaligned
  uint32_t version_ = 0;
  uint64_t size_ = 0, headerBytes_ = 0, rawOffset_ = 0;
  const uint8_t *raw_ = nullptr; // the raw section
  ArtifactSpec spec_;
  std::vector<std::string> kernelHashes_; // stored image hashes, targets then kernels in order
  std::vector<LoadedTensor> tensors_;
  std::map<std::string, size_t> byName_;
};

} // namespace qcc::artifact
