// Read-only memory mapping of a whole file (weights are never read whole).
#pragma once

#include "support/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace qcc {

class MappedFile {
public:
  // Maps `path` read-only. An empty file maps to size() == 0, data() == nullptr.
  static Expected<std::unique_ptr<MappedFile>> open(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &path() const { return path_; }

private:
  MappedFile() = default;
  std::string path_;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

// Tells the kernel the pages wholly inside [data, data + size) of a read-only
// mapping are not needed now (they are read again from the file if touched),
// so streaming through a large checkpoint keeps its resident set small.
void releasePages(const void *data, size_t size);

// Writes a file atomically: the bytes go to a temporary file in the same
// directory, are fsync'ed, then renamed over `path`. On any failure the
// temporary is removed and `path` is untouched; after
// removeTemporariesOnFatalSignals(), also when the process is killed by
// SIGINT, SIGTERM, SIGHUP or SIGPIPE.
class AtomicFileWriter {
public:
  static Expected<std::unique_ptr<AtomicFileWriter>> create(const std::string &path);
  // An anonymous in-memory file (memfd) named `name` for messages: commit()
  // keeps it open, releaseFd() hands it over (an artifact compiled just in
  // time for `qcc run MODEL_DIR` never touches the disk).
  static Expected<std::unique_ptr<AtomicFileWriter>> createInMemory(const std::string &name);
  int releaseFd();
  ~AtomicFileWriter(); // Discards the temporary unless commit() succeeded.
  AtomicFileWriter(const AtomicFileWriter &) = delete;
  AtomicFileWriter &operator=(const AtomicFileWriter &) = delete;

  Status write(const void *bytes, size_t n);
  Status writeZeros(size_t n);
  uint64_t offset() const { return offset_; }
  Status commit(); // fsync + rename; the writer is closed afterwards.

private:
  AtomicFileWriter() = default;
  std::string path_, tempPath_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  bool committed_ = false;
  bool inMemory_ = false;
  int liveSlot_ = -1; // in the registry of temporaries a fatal signal removes
};

// Installs handlers (once per process) that unlink every live
// AtomicFileWriter temporary, then die of the signal as before. For tools:
// an interrupted `qcc compile` leaves neither output nor temporary.
void removeTemporariesOnFatalSignals();

} // namespace qcc
