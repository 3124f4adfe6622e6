#include "codegen/cuda/Compile.h"
#include "codegen/cuda/KernelCache.h"
#include "codegen/cuda/Nvrtc.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace qcc;
using namespace qcc::cuda;

namespace {

std::string tempDir() {
  char tmpl[] = "/tmp/qcc-cache-test-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

CacheEntry sample() {
  CacheEntry e;
  e.ptx = ".version 9.0\n.target sm_80\n";
  e.cubin = {0x7f, 'E', 'L', 'F', 1, 2, 3, 0, 4};
  e.log = "ptxas info    : Used 12 registers";
  return e;
}

std::string readFile(const std::string &p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void writeFile(const std::string &p, const std::string &bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << bytes;
}

std::vector<std::string> listDir(const std::string &d) {
  std::vector<std::string> out;
  if (DIR *dir = opendir(d.c_str())) {
    while (dirent *e = readdir(dir))
      if (e->d_name[0] != '.') out.push_back(e->d_name);
    closedir(dir);
  }
  return out;
}

// Runs the helper binary in `n` processes at once; returns their exit codes.
std::vector<int> runConcurrently(int n, const std::vector<std::string> &args) {
  const std::string helper = std::string(QCC_UNITTEST_DIR) + "/qcc-cache-stress";
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<char *> argv;
      argv.push_back(const_cast<char *>(helper.c_str()));
      for (const std::string &a : args) argv.push_back(const_cast<char *>(a.c_str()));
      argv.push_back(nullptr);
      execv(helper.c_str(), argv.data());
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (pid_t p : pids) {
    int st = 0;
    waitpid(p, &st, 0);
    codes.push_back(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  }
  return codes;
}

} // namespace

TEST(KernelCache, StoreThenLookup) {
  KernelCache c(tempDir() + "/nested/dir");
  const std::string k = KernelCache::key("src", "13.0", "sm_80", {"-v"});
  EXPECT_EQ(k.size(), 32u);
  EXPECT_FALSE(c.lookup(k));
  ASSERT_TRUE(c.store(k, sample()).isOk());
  std::optional<CacheEntry> e = c.lookup(k);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ptx, sample().ptx);
  EXPECT_EQ(e->cubin, sample().cubin);
  EXPECT_EQ(e->log, sample().log);
}

TEST(KernelCache, KeyCoversEveryInput) {
  const std::string base = KernelCache::key("src", "13.0", "sm_80", {"-v"});
  EXPECT_EQ(base, KernelCache::key("src", "13.0", "sm_80", {"-v"}));
  EXPECT_NE(base, KernelCache::key("src2", "13.0", "sm_80", {"-v"}));
  EXPECT_NE(base, KernelCache::key("src", "12.9", "sm_80", {"-v"}));
  EXPECT_NE(base, KernelCache::key("src", "13.0", "sm_86", {"-v"}));
  EXPECT_NE(base, KernelCache::key("src", "13.0", "sm_80", {"-v", "-O0"}));
  EXPECT_NE(KernelCache::key("ab", "c", "t", {}), KernelCache::key("a", "bc", "t", {}));
}

TEST(KernelCache, CorruptTruncatedOrForeignEntriesAreMisses) {
  KernelCache c(tempDir());
  const std::string k = KernelCache::key("a", "13.0", "sm_80", {});
  const std::string other = KernelCache::key("b", "13.0", "sm_80", {});
  ASSERT_TRUE(c.store(k, sample()).isOk());
  ASSERT_TRUE(c.store(other, sample()).isOk());
  const std::string good = readFile(c.pathFor(k));

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40; // payload byte: checksum mismatch
  writeFile(c.pathFor(k), flipped);
  EXPECT_FALSE(c.lookup(k));

  writeFile(c.pathFor(k), good.substr(0, good.size() - 3)); // truncated
  EXPECT_FALSE(c.lookup(k));

  writeFile(c.pathFor(k), "");
  EXPECT_FALSE(c.lookup(k));

  writeFile(c.pathFor(k), readFile(c.pathFor(other))); // valid entry, wrong key
  EXPECT_FALSE(c.lookup(k));

  std::string badMagic = good;
  badMagic[0] = 'X';
  writeFile(c.pathFor(k), badMagic);
  EXPECT_FALSE(c.lookup(k));

  // A store replaces the bad entry.
  ASSERT_TRUE(c.store(k, sample()).isOk());
  ASSERT_TRUE(c.lookup(k));
  EXPECT_EQ(readFile(c.pathFor(k)), good);
}

TEST(KernelCache, DefaultDirectoryFollowsTheEnvironment) {
  const char *oldQ = std::getenv("QCC_CACHE_DIR");
  const char *oldX = std::getenv("XDG_CACHE_HOME");
  std::string savedQ = oldQ ? oldQ : "", savedX = oldX ? oldX : "";
  setenv("QCC_CACHE_DIR", "/tmp/q1", 1);
  setenv("XDG_CACHE_HOME", "/tmp/x1", 1);
  EXPECT_EQ(defaultKernelCacheDir(), "/tmp/q1");
  unsetenv("QCC_CACHE_DIR");
  EXPECT_EQ(defaultKernelCacheDir(), "/tmp/x1/qcc");
  unsetenv("XDG_CACHE_HOME");
  const char *oldH = std::getenv("HOME");
  std::string savedH = oldH ? oldH : "";
  setenv("HOME", oldH ? oldH : "/root", 1);
  EXPECT_EQ(defaultKernelCacheDir(), std::string(getenv("HOME")) + "/.cache/qcc");
  // Without HOME: a per-user folder in /tmp (used only if private and ours).
  unsetenv("HOME");
  EXPECT_EQ(defaultKernelCacheDir(), "/tmp/qcc-cache-" + std::to_string(geteuid()));
  if (oldH) setenv("HOME", savedH.c_str(), 1);
  EXPECT_EQ(KernelCache("/explicit").dir(), "/explicit");
  if (oldQ) setenv("QCC_CACHE_DIR", savedQ.c_str(), 1);
  if (oldX) setenv("XDG_CACHE_HOME", savedX.c_str(), 1);
}

TEST(KernelCache, UnwritableDirectoryIsAnError) {
  KernelCache c("/proc/qcc-no-such-dir");
  Status s = c.store(KernelCache::key("a", "b", "c", {}), sample());
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("/proc/qcc-no-such-dir"), std::string::npos) << s.message();
}

TEST(KernelCache, ParallelProcessesStoringOneKey) {
  const std::string dir = tempDir();
  const std::string k = KernelCache::key("stress", "13.0", "sm_90a", {});
  std::vector<int> codes = runConcurrently(8, {"store", dir, k, "25"});
  for (int c : codes) EXPECT_EQ(c, 0);
  KernelCache cache(dir);
  ASSERT_TRUE(cache.lookup(k));
  // Only the entry remains: no temporary files left behind.
  EXPECT_EQ(listDir(dir), std::vector<std::string>{k + ".qck"});
}

TEST(KernelCache, ParallelProcessesCompilingOneKernel) {
  if (!Nvrtc::get()) GTEST_SKIP() << Nvrtc::get().message();
  const std::string dir = tempDir();
  std::vector<int> codes = runConcurrently(4, {"compile", dir});
  for (int c : codes) EXPECT_EQ(c, 0);
  std::vector<std::string> files = listDir(dir);
  ASSERT_EQ(files.size(), 1u);
  // The entry is valid and is what a fresh compile hits.
  KernelSpec spec;
  spec.kind = KernelKind::Add;
  spec.width = 4096; // the same kernel qcc-cache-stress compiles
  Expected<GeneratedKernel> g = generateKernel(spec, allTargets()[0]);
  ASSERT_TRUE(g);
  CompileOptions opts;
  opts.cacheDir = dir;
  Expected<CompiledKernel> k = compileKernel(*g, allTargets()[0], opts);
  ASSERT_TRUE(k) << k.message();
  EXPECT_TRUE(k->fromCache);
}

TEST(KernelCache, FoldersAreCreatedPrivate) {
  const std::string base = tempDir();
  KernelCache c(base + "/a/b");
  ASSERT_TRUE(c.store(KernelCache::key("x", "13.0", "sm_80", {}), sample()).isOk());
  for (const std::string &d : {base + "/a", base + "/a/b"}) {
    struct stat st;
    ASSERT_EQ(::stat(d.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }
}

// A cache folder someone else could have written is never read: a valid
// entry there is a miss, and storing says why.
TEST(KernelCache, FoldersOthersControlAreRefused) {
  const std::string k = KernelCache::key("y", "13.0", "sm_80", {});
  {
    KernelCache c(tempDir());
    ASSERT_TRUE(c.store(k, sample()).isOk());
    ASSERT_TRUE(c.lookup(k));
    ASSERT_EQ(::chmod(c.dir().c_str(), 0777), 0); // world-writable
    EXPECT_FALSE(c.lookup(k));
    Status s = c.store(k, sample());
    ASSERT_FALSE(s.isOk());
    EXPECT_EQ(s.message(), "kernel cache " + c.dir() + ": is writable by other users; not used (chmod 700 it)");
  }
  {
    const std::string real = tempDir();
    KernelCache c(real);
    ASSERT_TRUE(c.store(k, sample()).isOk());
    const std::string link = tempDir() + "/link";
    ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
    KernelCache viaLink(link);
    EXPECT_FALSE(viaLink.lookup(k));
    Status s = viaLink.store(k, sample());
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("is a symbolic link"), std::string::npos) << s.message();
  }
  if (::geteuid() == 0) { // another owner needs chown
    KernelCache c(tempDir());
    ASSERT_TRUE(c.store(k, sample()).isOk());
    ASSERT_EQ(::chown(c.dir().c_str(), 65534, 65534), 0);
    EXPECT_FALSE(c.lookup(k));
    Status s = c.store(k, sample());
    ASSERT_FALSE(s.isOk());
    EXPECT_EQ(s.message(), "kernel cache " + c.dir() + ": is owned by user 65534, not by this user (0); not used");
  }
}

// An entry that is a FIFO is a miss at once (never a hang), and a store
// refuses to rename over it.
TEST(KernelCache, FifoEntryIsAMiss) {
  KernelCache c(tempDir());
  const std::string k = KernelCache::key("z", "13.0", "sm_80", {});
  ASSERT_EQ(::mkfifo(c.pathFor(k).c_str(), 0600), 0);
  EXPECT_FALSE(c.lookup(k));
  EXPECT_FALSE(c.store(k, sample()).isOk());
}
