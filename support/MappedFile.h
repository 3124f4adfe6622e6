// Reading and writing files that come from or go to a user: a read-only
// memory mapping of an input (weights are never read whole), and the atomic
// writer every output goes through.
#pragma once

#include "support/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace qcc {

// "a folder", "a FIFO", "a character device", ... for a st_mode.
const char *fileTypeName(unsigned mode);

class MappedFile {
public:
  // Maps `path` read-only. The file is opened with O_NONBLOCK and its type is
  // checked with fstat before anything is read, so a FIFO, socket, device or
  // folder is an error ("not a regular file (a FIFO)"), never a hang.
  // `maxBytes` (0: none) is the calling reader's size limit, checked before
  // anything is mapped; `kind` names the file in that error ("config.json").
  // An empty file maps to size() == 0, data() == nullptr.
  static Expected<std::unique_ptr<MappedFile>> open(const std::string &path, uint64_t maxBytes = 0,
                                                    const std::string &kind = "file");
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

// Where an output may go, decided before any work is done (the rule every
// writer follows):
//   * a regular file, or a name that does not exist yet, in a folder this
//     process can create files in (probed by creating an unnamed file there);
//     a symbolic link is followed and the file it points to is replaced (the
//     link stays);
//   * a character device such as /dev/null: written through, never replaced;
//   * anything else (a folder, FIFO, socket, block device, a link to nothing)
//     is an error naming what it is.
struct OutputTarget {
  enum class Kind { NewFile, RegularFile, CharDevice };
  Kind kind = Kind::NewFile;
  std::string path;  // where the bytes go: `path` with symbolic links resolved
  uint64_t device = 0, inode = 0; // of the existing file (RegularFile, CharDevice)
};
Expected<OutputTarget> checkOutputTarget(const std::string &path);

// Writes a file atomically. The bytes go to an unnamed temporary file
// (O_TMPFILE) in the destination folder, which is fsync'ed, given a name
// (linkat) and renamed over the target by commit(): nothing of a killed
// process (even kill -9) remains, and the target is untouched until the
// rename. Where the filesystem has no O_TMPFILE, the temporary is named
// ".<name>.qcc-tmp.<host>.<pid>.XXXXXX"; such files left by a process of this
// host that no longer runs are removed when the next writer starts there, and
// removeTemporariesOnFatalSignals() removes the live ones on SIGINT, SIGTERM,
// SIGHUP and SIGPIPE. A character device target is written through (no
// temporary, no rename). The target is checked again just before the rename:
// a non-regular file is never replaced.
class AtomicFileWriter {
public:
  struct Options {
    bool useTmpfile = true; // false: the named-temporary fallback (tests)
  };
  static Expected<std::unique_ptr<AtomicFileWriter>> create(const std::string &path);
  static Expected<std::unique_ptr<AtomicFileWriter>> create(const std::string &path, const Options &options);
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
  // Overwrites bytes already written (offset + n <= offset()); e.g. a header
  // whose checksums are known only at the end.
  Status writeAt(uint64_t offset, const void *bytes, size_t n);
  uint64_t offset() const { return offset_; }
  Status commit(); // fsync + link + rename; the writer is closed afterwards.

  bool writesThrough() const { return target_.kind == OutputTarget::Kind::CharDevice; }
  // The named temporary (fallback only; empty with O_TMPFILE or a device).
  const std::string &temporaryPath() const { return tempPath_; }

private:
  AtomicFileWriter() = default;
  std::string path_, tempPath_;
  OutputTarget target_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  bool committed_ = false;
  bool inMemory_ = false;
  int liveSlot_ = -1; // in the registry of temporaries a fatal signal removes
};

// Installs handlers (once per process) that unlink every live named
// temporary, then die of the signal as before. For tools: an interrupted
// `qcc compile` leaves neither output nor temporary.
void removeTemporariesOnFatalSignals();

// Removes the named temporaries ".*.qcc-tmp.<host>.<pid>.*" in `dir` whose
// host is this one and whose process no longer runs; returns how many.
int removeStaleTemporaries(const std::string &dir);

} // namespace qcc
