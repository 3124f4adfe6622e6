// AtomicFileWriter under fatal signals with a named temporary (the fallback
// where a filesystem has no O_TMPFILE): a process killed while writing leaves
// neither the output nor its temporary (removeTemporariesOnFatalSignals), and
// without the handlers the temporary would stay (the test can tell). With
// O_TMPFILE nothing can stay at all (support_tests: KillNineLeavesNothing).
#include "support/MappedFile.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

std::vector<std::string> entries(const std::string &dir) {
  std::vector<std::string> out;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (dirent *e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

// Forks a child that starts two writers (one committed, one in flight) and
// then dies of `sig`; returns the directory and the child's wait status.
int killedWriter(int sig, bool installHandlers, std::string *dir) {
  char tmpl[] = "/tmp/qcc-atomic-XXXXXX";
  *dir = ::mkdtemp(tmpl);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (installHandlers) qcc::removeTemporariesOnFatalSignals();
    auto done = qcc::AtomicFileWriter::create(*dir + "/done.bin");
    if (!done || !(*done)->write("ok", 2).isOk() || !(*done)->commit().isOk()) ::_exit(3);
    qcc::AtomicFileWriter::Options named;
    named.useTmpfile = false;
    auto inFlight = qcc::AtomicFileWriter::create(*dir + "/out.bin", named);
    if (!inFlight || !(*inFlight)->write("partial", 7).isOk()) ::_exit(3);
    ::raise(sig);
    ::_exit(4); // not reached: the signal kills the process
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

} // namespace

TEST(AtomicFileWriter, FatalSignalsRemoveTheTemporary) {
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    std::string dir;
    const int status = killedWriter(sig, true, &dir);
    ASSERT_TRUE(WIFSIGNALED(status)) << "signal " << sig << ", status " << status;
    EXPECT_EQ(WTERMSIG(status), sig); // still dies of the signal (exit status 128 + sig in a shell)
    EXPECT_EQ(entries(dir), std::vector<std::string>{"done.bin"}) << "signal " << sig;
    ::unlink((dir + "/done.bin").c_str());
    ::rmdir(dir.c_str());
  }
}

TEST(AtomicFileWriter, WithoutTheHandlersTheTemporaryStays) {
  std::string dir;
  const int status = killedWriter(SIGTERM, false, &dir);
  ASSERT_TRUE(WIFSIGNALED(status));
  const std::vector<std::string> left = entries(dir);
  EXPECT_EQ(left.size(), 2u); // done.bin and .out.bin.qcc-tmp.<host>.<pid>.XXXXXX
  for (const std::string &name : left) ::unlink((dir + "/" + name).c_str());
  ::rmdir(dir.c_str());
}
