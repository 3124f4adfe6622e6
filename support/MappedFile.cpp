#include "support/MappedFile.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qcc {

static std::string errnoText() { return std::strerror(errno); }

Expected<std::unique_ptr<MappedFile>> MappedFile::open(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::error(path + ": cannot open: " + errnoText());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string e = errnoText();
    ::close(fd);
    return Status::error(path + ": cannot stat: " + e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(path + ": not a regular file");
  }
  std::unique_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void *p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      std::string e = errnoText();
      ::close(fd);
      return Status::error(path + ": cannot mmap: " + e);
    }
    file->data_ = static_cast<const uint8_t *>(p);
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t *>(data_), size_);
}

void releasePages(const void *data, size_t size) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

// Temporaries a fatal signal must remove. A slot's path is written before its
// flag is raised, so the handler reads only complete paths; the handler uses
// async-signal-safe calls only (unlink, sigaction, raise).
namespace {
constexpr int kLiveSlots = 64;
constexpr size_t kLivePathBytes = 4096;
struct LiveTemporary {
  std::atomic<bool> used{false};
  std::atomic<bool> live{false};
  char path[kLivePathBytes];
};
LiveTemporary liveTemporaries[kLiveSlots];

int registerTemporary(const std::string &path) {
  if (path.size() >= kLivePathBytes) return -1; // not removable on a signal; removed on every other path
  for (int i = 0; i < kLiveSlots; ++i) {
    bool expected = false;
    if (liveTemporaries[i].used.compare_exchange_strong(expected, true)) {
      std::memcpy(liveTemporaries[i].path, path.c_str(), path.size() + 1);
      liveTemporaries[i].live.store(true);
      return i;
    }
  }
  return -1;
}

void unregisterTemporary(int slot) {
  if (slot < 0) return;
  liveTemporaries[slot].live.store(false);
  liveTemporaries[slot].used.store(false);
}

void removeTemporariesAndDie(int sig) {
  for (LiveTemporary &t : liveTemporaries)
    if (t.live.load()) ::unlink(t.path);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
}
} // namespace

void removeTemporariesOnFatalSignals() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
      struct sigaction old;
      if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue; // e.g. nohup
      struct sigaction sa;
      std::memset(&sa, 0, sizeof sa);
      sa.sa_handler = removeTemporariesAndDie;
      sigemptyset(&sa.sa_mask);
      ::sigaction(sig, &sa, nullptr);
    }
  });
}

Expected<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::create(const std::string &path) {
  std::unique_ptr<AtomicFileWriter> w(new AtomicFileWriter());
  w->path_ = path;
  std::string tmpl = path + ".tmp.XXXXXX";
  std::string buf = tmpl;
  int fd = ::mkstemp(buf.data());
  if (fd < 0) return Status::error(path + ": cannot create temporary file: " + errnoText());
  w->fd_ = fd;
  w->tempPath_ = buf.c_str();
  w->liveSlot_ = registerTemporary(w->tempPath_);
  return w;
}

Expected<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::createInMemory(const std::string &name) {
  std::unique_ptr<AtomicFileWriter> w(new AtomicFileWriter());
  w->path_ = name;
  w->inMemory_ = true;
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return Status::error(name + ": cannot create an in-memory file: " + errnoText());
  w->fd_ = fd;
  return w;
}

int AtomicFileWriter::releaseFd() {
  if (!inMemory_ || !committed_) return -1;
  int fd = fd_;
  fd_ = -1;
  return fd;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tempPath_.empty()) ::unlink(tempPath_.c_str());
  unregisterTemporary(liveSlot_);
}

Status AtomicFileWriter::write(const void *bytes, size_t n) {
  if (fd_ < 0) return Status::error(path_ + ": write after close");
  const char *p = static_cast<const char *>(bytes);
  while (n > 0) {
    ssize_t k = ::write(fd_, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return Status::error(path_ + ": write failed: " + errnoText());
    }
    p += k;
    n -= static_cast<size_t>(k);
    offset_ += static_cast<uint64_t>(k);
  }
  return Status::ok();
}

Status AtomicFileWriter::writeZeros(size_t n) {
  static const char zeros[4096] = {};
  while (n > 0) {
    size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
    QCC_RETURN_IF_ERROR(write(zeros, k));
    n -= k;
  }
  return Status::ok();
}

Status AtomicFileWriter::commit() {
  if (fd_ < 0) return Status::error(path_ + ": commit after close");
  if (inMemory_) {
    committed_ = true;
    return Status::ok();
  }
  // Temporary files from mkstemp are 0600; artifacts are ordinary files.
  mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd_, 0666 & ~mask);
  if (::fsync(fd_) != 0) return Status::error(path_ + ": fsync failed: " + errnoText());
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Status::error(path_ + ": close failed: " + errnoText());
  }
  fd_ = -1;
  if (::rename(tempPath_.c_str(), path_.c_str()) != 0)
    return Status::error(path_ + ": rename failed: " + errnoText());
  committed_ = true;
  unregisterTemporary(liveSlot_); // the name is the output's now
  liveSlot_ = -1;
  return Status::ok();
}

} // namespace qcc
