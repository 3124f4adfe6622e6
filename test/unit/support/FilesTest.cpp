// Inputs and outputs of support/MappedFile.h: readers open with O_NONBLOCK and
// refuse anything but a regular file before reading (a FIFO never hangs);
// the atomic writer writes only regular files, writes through a character
// device, never renames over anything else, leaves nothing when killed (even
// by SIGKILL), and sweeps up the named temporaries of its dead processes.
#include "support/MappedFile.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace qcc {
namespace {

class TempDir {
public:
  TempDir() {
    char tmpl[] = "/tmp/qcc-files-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string &name) const { return path_ + "/" + name; }
  const std::string &path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    if (DIR *d = ::opendir(path_.c_str())) {
      while (dirent *e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.push_back(e->d_name);
      ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

private:
  std::string path_;
};

void writeText(const std::string &path, const std::string &text) {
  FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

std::string readText(const std::string &path) {
  std::string out;
  if (FILE *f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

unsigned typeOf(const std::string &path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? unsigned(st.st_mode & S_IFMT) : 0;
}

// Runs `body` in a child with an alarm: a hang becomes a failure, not a stuck suite.
int inChild(int seconds, const std::function<int()> &body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(unsigned(seconds));
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(MappedFile, FifoIsRefusedWithoutWaiting) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("config.json").c_str(), 0600), 0);
  const int rc = inChild(10, [&] {
    auto f = MappedFile::open(dir.file("config.json"));
    if (f) return 2;
    return f.message() == dir.file("config.json") + ": not a regular file (a FIFO)" ? 0 : 3;
  });
  EXPECT_EQ(rc, 0) << "0: refused at once, 2: opened, 3: wrong message, 142: hung (SIGALRM)";
}

TEST(MappedFile, FolderAndDeviceAreRefused) {
  TempDir dir;
  auto f = MappedFile::open(dir.path());
  ASSERT_FALSE(f.isOk());
  EXPECT_EQ(f.message(), dir.path() + ": not a regular file (a folder)");
  f = MappedFile::open("/dev/zero");
  ASSERT_FALSE(f.isOk());
  EXPECT_EQ(f.message(), "/dev/zero: not a regular file (a character device)");
}

TEST(MappedFile, SizeLimitIsCheckedBeforeMapping) {
  TempDir dir;
  writeText(dir.file("big.json"), std::string(2000, ' '));
  auto f = MappedFile::open(dir.file("big.json"), 1000, "config.json");
  ASSERT_FALSE(f.isOk());
  EXPECT_EQ(f.message(), dir.file("big.json") + ": config.json of 2000 bytes is over the limit of 1000 bytes");
  EXPECT_TRUE(MappedFile::open(dir.file("big.json"), 2000).isOk());
}

// --- the output rule --------------------------------------------------------

TEST(OutputTarget, AcceptsNewAndRegularFilesAndCharacterDevices) {
  TempDir dir;
  auto t = checkOutputTarget(dir.file("new.qcc"));
  ASSERT_TRUE(t.isOk()) << t.message();
  EXPECT_EQ(t->kind, OutputTarget::Kind::NewFile);
  writeText(dir.file("old.qcc"), "x");
  t = checkOutputTarget(dir.file("old.qcc"));
  ASSERT_TRUE(t.isOk()) << t.message();
  EXPECT_EQ(t->kind, OutputTarget::Kind::RegularFile);
  t = checkOutputTarget("/dev/null");
  ASSERT_TRUE(t.isOk()) << t.message();
  EXPECT_EQ(t->kind, OutputTarget::Kind::CharDevice);
}

TEST(OutputTarget, RefusesEverythingElse) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  ASSERT_EQ(::symlink("nowhere", dir.file("dangling").c_str()), 0);
  struct Case {
    std::string path, message;
  } cases[] = {
      {dir.file("fifo"), dir.file("fifo") + ": is a FIFO; outputs are regular files (or a character device such as "
                                            "/dev/null, written through)"},
      {dir.path(), dir.path() + ": is a folder; outputs are regular files (or a character device such as /dev/null, "
                                "written through)"},
      {dir.file("x/"), dir.file("x/") + ": names a folder; give a file name"},
      {dir.file("dangling"), dir.file("dangling") + ": is a symbolic link to nothing (No such file or directory)"},
      {dir.file("no/such/m.qcc"),
       dir.file("no/such/m.qcc") + ": folder " + dir.file("no/such") + " cannot be used: No such file or directory"},
      {"", "the output path is empty"},
  };
  for (const Case &c : cases) {
    auto t = checkOutputTarget(c.path);
    ASSERT_FALSE(t.isOk()) << c.path;
    EXPECT_EQ(t.message(), c.message);
    auto w = AtomicFileWriter::create(c.path);
    ASSERT_FALSE(w.isOk()) << c.path;
  }
  EXPECT_EQ(typeOf(dir.file("fifo")), unsigned(S_IFIFO)); // untouched
}

TEST(OutputTarget, UnwritableFolderIsRefusedBeforeAnyWork) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0); // reachable by the user below
  ASSERT_EQ(::mkdir(dir.file("ro").c_str(), 0555), 0);
  // As root permissions do not apply: the check runs as an unprivileged user.
  const int rc = inChild(10, [&] {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 4;
    auto t = checkOutputTarget(dir.file("ro/m.qcc"));
    if (t) return 2;
    const std::string want = dir.file("ro/m.qcc") + ": cannot create files in folder " + dir.file("ro") +
                             ": Permission denied";
    return t.message() == want ? 0 : 3;
  });
  EXPECT_EQ(rc, 0);
}

// --- the writer -----------------------------------------------------------------

TEST(AtomicFileWriter, WritesThroughACharacterDevice) {
  auto w = AtomicFileWriter::create("/dev/null");
  ASSERT_TRUE(w.isOk()) << w.message();
  EXPECT_TRUE((*w)->writesThrough());
  ASSERT_TRUE((*w)->write("header", 6).isOk());
  ASSERT_TRUE((*w)->writeAt(0, "H", 1).isOk());
  ASSERT_TRUE((*w)->commit().isOk());
  EXPECT_EQ(typeOf("/dev/null"), unsigned(S_IFCHR));
}

// A device node of our own (root only): written through, still a device after.
TEST(AtomicFileWriter, DeviceNodeInAFolderStaysADevice) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod needs root";
  TempDir dir;
  ASSERT_EQ(::mknod(dir.file("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << std::strerror(errno);
  auto w = AtomicFileWriter::create(dir.file("null"));
  ASSERT_TRUE(w.isOk()) << w.message();
  ASSERT_TRUE((*w)->write("bytes", 5).isOk());
  ASSERT_TRUE((*w)->commit().isOk());
  EXPECT_EQ(typeOf(dir.file("null")), unsigned(S_IFCHR));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"null"});
}

TEST(AtomicFileWriter, ReplacesRegularFilesAndFollowsLinks) {
  TempDir dir;
  writeText(dir.file("target.bin"), "old");
  ASSERT_EQ(::symlink("target.bin", dir.file("link.bin").c_str()), 0);
  auto w = AtomicFileWriter::create(dir.file("link.bin"));
  ASSERT_TRUE(w.isOk()) << w.message();
  ASSERT_TRUE((*w)->write("new bytes", 9).isOk());
  EXPECT_EQ(readText(dir.file("target.bin")), "old"); // untouched until commit
  ASSERT_TRUE((*w)->writeAt(0, "N", 1).isOk());
  EXPECT_FALSE((*w)->writeAt(5, "xxxxx", 5).isOk()); // past what was written
  ASSERT_TRUE((*w)->commit().isOk());
  EXPECT_EQ(typeOf(dir.file("link.bin")), unsigned(S_IFLNK)); // the link stays a link
  EXPECT_EQ(readText(dir.file("target.bin")), "New bytes");
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"link.bin", "target.bin"}));
}

TEST(AtomicFileWriter, NeverRenamesOverAFifoThatAppearedMeanwhile) {
  for (bool tmpfile : {true, false}) {
    TempDir dir;
    AtomicFileWriter::Options o;
    o.useTmpfile = tmpfile;
    auto w = AtomicFileWriter::create(dir.file("out.bin"), o);
    ASSERT_TRUE(w.isOk()) << w.message();
    ASSERT_TRUE((*w)->write("x", 1).isOk());
    ASSERT_EQ(::mkfifo(dir.file("out.bin").c_str(), 0600), 0);
    Status s = (*w)->commit();
    ASSERT_FALSE(s.isOk());
    EXPECT_EQ(s.message(), dir.file("out.bin") + ": is now a FIFO; it is not replaced");
    w->reset();
    EXPECT_EQ(typeOf(dir.file("out.bin")), unsigned(S_IFIFO));
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.bin"}) << "tmpfile " << tmpfile;
  }
}

// Forks a writer that dies of `sig` in the middle of writing; returns what
// is left in a fresh folder.
std::vector<std::string> killedWriter(int sig, bool tmpfile, TempDir &dir) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    AtomicFileWriter::Options o;
    o.useTmpfile = tmpfile;
    auto inFlight = AtomicFileWriter::create(dir.file("out.bin"), o);
    if (!inFlight || !(*inFlight)->write("partial", 7).isOk()) ::_exit(3);
    ::raise(sig);
    ::_exit(4);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  return dir.entries();
}

TEST(AtomicFileWriter, KillNineLeavesNothing) {
  TempDir dir;
  EXPECT_EQ(killedWriter(SIGKILL, /*tmpfile=*/true, dir), std::vector<std::string>{});
}

// Where O_TMPFILE is missing, the named temporary of a killed process stays,
// recognisably ours, and the next writer in that folder removes it.
TEST(AtomicFileWriter, StaleNamedTemporariesOfDeadProcessesAreSwept) {
  TempDir dir;
  std::vector<std::string> left = killedWriter(SIGKILL, /*tmpfile=*/false, dir);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].rfind(".out.bin.qcc-tmp.", 0), 0u) << left[0];
  writeText(dir.file(".other.qcc-tmp.somehost.1.abcdef"), "not this host's"); // kept
  writeText(dir.file("unrelated.tmp.123456"), "not ours");                    // kept
  AtomicFileWriter::Options o;
  o.useTmpfile = false;
  auto w = AtomicFileWriter::create(dir.file("next.bin"), o);
  ASSERT_TRUE(w.isOk()) << w.message();
  ASSERT_TRUE((*w)->write("ok", 2).isOk());
  ASSERT_TRUE((*w)->commit().isOk());
  EXPECT_EQ(dir.entries(),
            (std::vector<std::string>{".other.qcc-tmp.somehost.1.abcdef", "next.bin", "unrelated.tmp.123456"}));
}

TEST(AtomicFileWriter, LiveTemporariesOfOtherProcessesAreKept) {
  TempDir dir;
  // A temporary named for a process that is alive (this one) is not swept.
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string tag;
  for (const char *p = host; *p; ++p) tag += (std::isalnum(static_cast<unsigned char>(*p)) || *p == '-') ? *p : '-';
  const std::string live = ".x.qcc-tmp." + tag + "." + std::to_string(::getpid()) + ".abcdef";
  writeText(dir.file(live), "in use");
  EXPECT_EQ(removeStaleTemporaries(dir.path()), 0);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{live});
}

} // namespace
} // namespace qcc
