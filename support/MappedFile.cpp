#include "support/MappedFile.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <random>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qcc {

static std::string errnoText() { return std::strerror(errno); }

const char *fileTypeName(unsigned mode) {
  switch (mode & S_IFMT) {
  case S_IFREG: return "a regular file";
  case S_IFDIR: return "a folder";
  case S_IFIFO: return "a FIFO";
  case S_IFCHR: return "a character device";
  case S_IFBLK: return "a block device";
  case S_IFSOCK: return "a socket";
  case S_IFLNK: return "a symbolic link";
  }
  return "not a regular file";
}

Expected<std::unique_ptr<MappedFile>> MappedFile::open(const std::string &path, uint64_t maxBytes,
                                                       const std::string &kind) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; the type check
  // below then refuses it before any read.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return Status::error(path + ": cannot open: " + errnoText());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string e = errnoText();
    ::close(fd);
    return Status::error(path + ": cannot stat: " + e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(path + ": not a regular file (" + fileTypeName(st.st_mode) + ")");
  }
  if (maxBytes > 0 && uint64_t(st.st_size) > maxBytes) {
    ::close(fd);
    return Status::error(path + ": " + kind + " of " + std::to_string(st.st_size) + " bytes is over the limit of " +
                         std::to_string(maxBytes) + " bytes");
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

namespace {

std::string folderOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string baseOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// This host's name as it appears in temporary names: [A-Za-z0-9-] only.
std::string hostTag() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "host";
  std::string out;
  for (const char *p = buf; *p; ++p)
    out += (std::isalnum(static_cast<unsigned char>(*p)) || *p == '-') ? *p : '-';
  return out;
}

constexpr const char *kTempMarker = ".qcc-tmp.";

// "<dir>/.<base>.qcc-tmp.<host>.<pid>." (the caller appends 6 random characters).
std::string temporaryPrefix(const std::string &target) {
  return folderOf(target) + "/." + baseOf(target).substr(0, 100) + kTempMarker + hostTag() + "." +
         std::to_string(::getpid()) + ".";
}

std::string randomSuffix() {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  uint64_t x = (uint64_t(rd()) << 32) ^ rd() ^ (counter++ * 0x9E3779B97F4A7C15ull);
  std::string s;
  for (int i = 0; i < 6; ++i, x /= 62) s += kChars[x % 62];
  return s;
}

// Probes that the folder of `target` takes a new file: an unnamed one where
// O_TMPFILE works (it vanishes on close), else a named one removed at once.
// Errors name `forPath`, the path the user gave.
Status probeWritableFolder(const std::string &target, const std::string &forPath) {
  const std::string dir = folderOf(target);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    return Status::error(forPath + ": folder " + dir + " cannot be used: " + errnoText());
  if (!S_ISDIR(st.st_mode)) return Status::error(forPath + ": " + dir + " is " + fileTypeName(st.st_mode) + ", not a folder");
  int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return Status::ok();
  }
  // Filesystems without O_TMPFILE say EOPNOTSUPP (EISDIR on old kernels;
  // some pseudo filesystems ENOENT): a named probe then gives the real answer.
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
    return Status::error(forPath + ": cannot create files in folder " + dir + ": " + errnoText());
  std::string probe = temporaryPrefix(target) + "XXXXXX";
  fd = ::mkstemp(probe.data());
  if (fd < 0) return Status::error(forPath + ": cannot create files in folder " + dir + ": " + errnoText());
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::ok();
}

} // namespace

Expected<OutputTarget> checkOutputTarget(const std::string &path) {
  if (path.empty()) return Status::error("the output path is empty");
  if (path.back() == '/') return Status::error(path + ": names a folder; give a file name");
  OutputTarget t;
  t.path = path;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      char real[PATH_MAX];
      if (::stat(path.c_str(), &st) != 0 || !::realpath(path.c_str(), real))
        return Status::error(path + ": is a symbolic link to nothing (" + errnoText() + ")");
      t.path = real;
    }
    t.device = uint64_t(st.st_dev);
    t.inode = uint64_t(st.st_ino);
    if (S_ISCHR(st.st_mode)) {
      t.kind = OutputTarget::Kind::CharDevice;
      return t; // written through: no folder is involved
    }
    if (!S_ISREG(st.st_mode))
      return Status::error(path + ": is " + fileTypeName(st.st_mode) +
                           "; outputs are regular files (or a character device such as /dev/null, written through)");
    t.kind = OutputTarget::Kind::RegularFile;
  } else if (errno != ENOENT) {
    return Status::error(path + ": cannot use as output: " + errnoText());
  }
  QCC_RETURN_IF_ERROR(probeWritableFolder(t.path, path));
  return t;
}

int removeStaleTemporaries(const std::string &dir) {
  DIR *d = ::opendir(dir.c_str());
  if (!d) return 0;
  const std::string host = hostTag();
  int removed = 0;
  while (dirent *e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] != '.') continue;
    size_t marker = name.rfind(kTempMarker);
    if (marker == std::string::npos) continue;
    // <host>.<pid>.<6 characters>
    std::string rest = name.substr(marker + std::strlen(kTempMarker));
    size_t last = rest.rfind('.');
    if (last == std::string::npos || rest.size() - last - 1 != 6) continue;
    size_t pidDot = rest.rfind('.', last - 1);
    if (pidDot == std::string::npos || rest.substr(0, pidDot) != host) continue;
    const std::string pidText = rest.substr(pidDot + 1, last - pidDot - 1);
    if (pidText.empty() || pidText.size() > 9 ||
        !std::all_of(pidText.begin(), pidText.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    const pid_t pid = pid_t(std::atol(pidText.c_str()));
    if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) continue; // alive (or not ours to judge)
    if (::unlinkat(::dirfd(d), name.c_str(), 0) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

Expected<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::create(const std::string &path) {
  return create(path, Options());
}

Expected<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::create(const std::string &path,
                                                                     const Options &options) {
  auto target = checkOutputTarget(path);
  if (!target) return target.status();
  std::unique_ptr<AtomicFileWriter> w(new AtomicFileWriter());
  w->path_ = path;
  w->target_ = *target;

  if (target->kind == OutputTarget::Kind::CharDevice) {
    // O_NONBLOCK only for the open (some devices wait for a carrier there).
    int fd = ::open(target->path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return Status::error(path + ": cannot open: " + errnoText());
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) {
      ::close(fd);
      return Status::error(path + ": changed while being opened; not written");
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    w->fd_ = fd;
    return w;
  }

  const std::string dir = folderOf(target->path);
  if (options.useTmpfile) {
    int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (fd >= 0) {
      w->fd_ = fd;
      return w;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
      return Status::error(path + ": cannot create a temporary file in " + dir + ": " + errnoText());
  }
  // A filesystem without O_TMPFILE: a named temporary, and the ones of our
  // dead processes cleaned up first.
  removeStaleTemporaries(dir);
  std::string name = temporaryPrefix(target->path) + "XXXXXX";
  int fd = ::mkstemp(name.data());
  if (fd < 0) return Status::error(path + ": cannot create temporary file: " + errnoText());
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  w->fd_ = fd;
  w->tempPath_ = name;
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

Status AtomicFileWriter::writeAt(uint64_t offset, const void *bytes, size_t n) {
  if (fd_ < 0) return Status::error(path_ + ": write after close");
  if (offset > offset_ || n > offset_ - offset)
    return Status::error(path_ + ": internal error: rewrite of [" + std::to_string(offset) + ", +" +
                         std::to_string(n) + ") beyond the " + std::to_string(offset_) + " bytes written");
  const char *p = static_cast<const char *>(bytes);
  while (n > 0) {
    ssize_t k = ::pwrite(fd_, p, n, off_t(offset));
    if (k < 0) {
      if (errno == EINTR) continue;
      return Status::error(path_ + ": write failed: " + errnoText());
    }
    p += k;
    n -= static_cast<size_t>(k);
    offset += static_cast<uint64_t>(k);
  }
  return Status::ok();
}

Status AtomicFileWriter::commit() {
  if (fd_ < 0) return Status::error(path_ + ": commit after close");
  if (inMemory_) {
    committed_ = true;
    return Status::ok();
  }
  if (writesThrough()) {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Status::error(path_ + ": close failed: " + errnoText());
    committed_ = true;
    return Status::ok();
  }
  if (::fsync(fd_) != 0) return Status::error(path_ + ": fsync failed: " + errnoText());

  // Checked again just before replacing: whatever appeared at the target
  // since create() must still be a regular file.
  struct stat st;
  if (::lstat(target_.path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    return Status::error(path_ + ": is now " + std::string(fileTypeName(st.st_mode)) + "; it is not replaced");

  if (tempPath_.empty()) {
    // Name the unnamed file next to the target, then rename it into place; a
    // kill between the two leaves a named temporary of ours, which the stale
    // sweep recognises.
    const std::string procPath = "/proc/self/fd/" + std::to_string(fd_);
    for (int attempt = 0; attempt < 100 && tempPath_.empty(); ++attempt) {
      std::string name = temporaryPrefix(target_.path) + randomSuffix();
      liveSlot_ = registerTemporary(name);
      int rc = ::linkat(AT_FDCWD, procPath.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW);
      if (rc != 0 && errno == ENOENT) // no /proc: needs CAP_DAC_READ_SEARCH
        rc = ::linkat(fd_, "", AT_FDCWD, name.c_str(), AT_EMPTY_PATH);
      if (rc == 0) {
        tempPath_ = name;
        break;
      }
      const int err = errno;
      unregisterTemporary(liveSlot_);
      liveSlot_ = -1;
      if (err != EEXIST) return Status::error(path_ + ": cannot link the temporary file: " + std::strerror(err));
    }
    if (tempPath_.empty()) return Status::error(path_ + ": cannot find a free temporary name");
  } else {
    // Named temporaries from mkstemp are 0600; outputs are ordinary files.
    mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd_, 0666 & ~mask);
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return Status::error(path_ + ": close failed: " + errnoText());
  if (::rename(tempPath_.c_str(), target_.path.c_str()) != 0)
    return Status::error(path_ + ": rename failed: " + errnoText());
  committed_ = true;
  unregisterTemporary(liveSlot_); // the name is the output's now
  liveSlot_ = -1;
  // The rename itself durable too (best effort: some filesystems refuse).
  int dirFd = ::open(folderOf(target_.path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    (void)::fsync(dirFd);
    ::close(dirFd);
  }
  return Status::ok();
}

} // namespace qcc
