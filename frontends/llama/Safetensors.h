// Reading (and, for tests and tools, writing) safetensors files.
//
// Layout: u64 little-endian header length N, N bytes of JSON header, then the
// data section. The header maps tensor names to {dtype, shape, data_offsets}
// (offsets relative to the data section) plus an optional "__metadata__"
// string->string map.
//
// open() validates everything before any tensor is handed out:
//   - the file holds at least the 8-byte length; N <= 100,000,000 and the
//     header lies inside the file;
//   - the header is valid UTF-8 JSON (strict: see StrictJson.h), an object,
//     with no duplicate names; "__metadata__" is an object of strings;
//   - each entry is an object with exactly dtype, shape, data_offsets;
//     dtype is known (BF16, F16, F32, F64, F8_E4M3, I8, I16, I32, I64,
//     U8, U16, U32, U64, BOOL); shape dims are non-negative integers whose
//     product (times the dtype size) does not overflow;
//   - end - begin == numel * dtype size; sorted by begin, the ranges start at
//     0, are contiguous (no gap, no overlap) and end exactly at the end of the
//     file.
// The file is mmap'ed; tensor data is never copied. TensorRef::data points
// into the mapping and may be unaligned (consumers memcpy).
#pragma once

#include "runtime/Tensor.h"
#include "support/MappedFile.h"
#include "support/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qcc {

constexpr uint64_t kSafetensorsMaxHeaderSize = 100000000;

// "BF16" -> DType::BF16, ...; nullopt-like failure as a Status.
Expected<DType> parseSafetensorsDtype(const std::string &name);

class SafetensorsFile {
public:
  static Expected<std::unique_ptr<SafetensorsFile>> open(const std::string &path);
  // The same checks on bytes already in memory (they must outlive the
  // result); `name` stands for the path in errors. The fuzzer uses this.
  static Expected<std::unique_ptr<SafetensorsFile>> parse(const uint8_t *bytes, size_t size, const std::string &name);

  // nullptr when absent.
  const TensorRef *find(const std::string &name) const;
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  size_t size() const { return tensors_.size(); }
  const std::map<std::string, std::string> &metadata() const { return metadata_; }

  const std::string &path() const { return path_; }
  uint64_t fileSize() const { return size_; }
  // The raw JSON header bytes (for provenance hashing).
  std::string_view headerBytes() const;

private:
  SafetensorsFile() = default;
  std::unique_ptr<MappedFile> file_; // null for parse()
  std::string path_;
  const uint8_t *base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t headerSize_ = 0;
  std::map<std::string, TensorRef> tensors_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: `data` holds shape-product * dtypeSize(dtype) bytes.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr;
};

// Streams a safetensors file: the header (every name, dtype and shape, in
// file order) is written first, then each tensor's bytes in that order, in
// one or more pieces; nothing appears at `path` unless finish() succeeds
// (AtomicFileWriter). Peak memory is the header plus the caller's piece.
//
//   auto w = SafetensorsWriter::create("x.safetensors", {{"a", DType::F32, {2, 3}}, ...});
//   (*w)->append(bytesOfA, 24);   // a's bytes, possibly in several appends
//   (*w)->finish();               // every tensor complete: fsync + rename
class SafetensorsWriter {
public:
  struct Decl {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
  };
  static Expected<std::unique_ptr<SafetensorsWriter>> create(const std::string &path, std::vector<Decl> tensors,
                                                             const std::map<std::string, std::string> &metadata = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter &) = delete;
  SafetensorsWriter &operator=(const SafetensorsWriter &) = delete;

  // The next bytes of the data section (of the current tensor and possibly
  // the ones after it); more than the declared total is an error.
  Status append(const void *data, size_t bytes);
  // The whole tensor `name`, which must be the next one to write.
  Status write(const std::string &name, const void *data, size_t bytes);
  // The name of the tensor the next byte belongs to; empty once all are written.
  std::string nextTensor() const;
  Status finish();

private:
  SafetensorsWriter() = default;
  std::string path_;
  std::vector<Decl> decls_;
  std::vector<uint64_t> ends_; // end offset of each tensor in the data section
  uint64_t written_ = 0;
  std::unique_ptr<AtomicFileWriter> out_;
};

// Writes `tensors` (in the given order, data packed back to back) and
// `metadata` atomically to `path`. The header is padded with spaces to a
// multiple of 8 bytes, as the reference implementation does.
Status writeSafetensors(const std::string &path, const std::vector<SafetensorsEntry> &tensors,
                        const std::map<std::string, std::string> &metadata = {});

// Escapes `s` as a JSON string literal (with quotes).
std::string jsonQuote(std::string_view s);

} // namespace qcc
