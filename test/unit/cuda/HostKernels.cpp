#include "HostKernels.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace qcc::cuda::testing {

namespace {

std::string trim(const std::string &s) {
  const size_t b = s.find_first_not_of(" \t\n");
  const size_t e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t fnv1a(const std::string &s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

} // namespace

Expected<std::string> hostKernelSource(const GeneratedKernel &k) {
  // The entry point: extern "C" ... <name>(<params>) {
  const std::string marker = k.name + "(";
  const size_t at = k.source.rfind(marker);
  if (at == std::string::npos) return Status::error(k.name + ": entry point not found in its source");
  const size_t open = at + marker.size(), close = k.source.find(')', open);
  if (close == std::string::npos) return Status::error(k.name + ": unterminated parameter list");
  std::vector<std::string> types;
  std::stringstream params(k.source.substr(open, close - open));
  std::string param;
  while (std::getline(params, param, ',')) {
    param = trim(param);
    size_t end = param.size();
    while (end > 0 && (std::isalnum(static_cast<unsigned char>(param[end - 1])) || param[end - 1] == '_')) --end;
    const std::string type = trim(param.substr(0, end));
    if (type.empty()) return Status::error(k.name + ": cannot read the type of parameter '" + param + "'");
    types.push_back(type);
  }
  std::string sizes;
  for (size_t i = 0; i < types.size(); ++i) sizes += (i ? ", " : "") + std::string("sizeof(") + types[i] + ")";
  std::string call = k.name + "(";
  for (size_t i = 0; i < types.size(); ++i)
    call += (i ? ", " : "") + std::string("*static_cast<") + types[i] + " *>(args[" + std::to_string(i) + "])";
  call += ")";
  // The generated source names its GPU target on the first line; the host
  // build is the same for every target, so that line is left out (one build
  // of a kernel serves all targets instead of alternating between them).
  std::string source = k.source;
  if (source.rfind("// qcc kernel ", 0) == 0) source.erase(0, source.find('\n') + 1);
  return source +
         "\n// host emulation entry (HostKernels.cpp)\n"
         "extern \"C\" void qcc_emu_launch(unsigned gx, unsigned gy, unsigned gz, unsigned block, void **args) {\n"
         "  qcc_emu::launch(EmuDim3{gx, gy, gz}, block, [&] { " + call + "; });\n}\n"
         "extern \"C\" const unsigned qcc_emu_param_count = " + std::to_string(types.size()) + ";\n"
         "extern \"C\" const unsigned qcc_emu_param_sizes[] = {" + sizes + "};\n";
}

Status buildHostKernels(const std::vector<GeneratedKernel> &kernels, const std::string &dir) {
  ::mkdir(dir.c_str(), 0755);
  // A build is reused only with the same emulation (header and library) and
  // compiler: a change to either rebuilds every kernel.
  static const std::string toolchain = std::string(QCC_HOST_CXX) + "\n" + readFile(QCC_HOST_EMULATION_HEADER) + "\n" +
                                       readFile(QCC_HOST_EMULATION_LIB);
  struct Job {
    std::string name, source, hash;
  };
  std::vector<Job> jobs;
  for (const GeneratedKernel &k : kernels) {
    auto src = hostKernelSource(k);
    if (!src) return src.status();
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(fnv1a(toolchain + *src)));
    struct stat st;
    if (readFile(dir + "/" + k.name + ".hash") == hash && ::stat((dir + "/" + k.name + ".so").c_str(), &st) == 0)
      continue; // built from this source already
    jobs.push_back({k.name, *src, hash});
  }
  std::atomic<size_t> next{0};
  std::vector<std::string> errors(jobs.size());
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      const Job &j = jobs[i];
      const std::string base = dir + "/" + j.name;
      // Processes (test suites, lit) may build the same kernel at once: each
      // writes its own files and renames the results into place.
      const std::string tmp = base + ".tmp" + std::to_string(::getpid());
      { std::ofstream(tmp + ".cpp") << j.source; }
      // -O1: the emulation's cost is threads and barriers, not arithmetic.
      const std::string cmd = std::string(QCC_HOST_CXX) + " -std=c++17 -O1 -g0 -fPIC -shared -w -pthread -include " +
                              QCC_HOST_EMULATION_HEADER + " " + tmp + ".cpp " + QCC_HOST_EMULATION_LIB + " -o " + tmp +
                              ".so > " + tmp + ".log 2>&1";
      const bool built = std::system(cmd.c_str()) == 0;
      if (!built) errors[i] = j.name + ": host build failed:\n" + readFile(tmp + ".log");
      ::unlink((tmp + ".cpp").c_str());
      ::unlink((tmp + ".log").c_str());
      if (!built || ::rename((tmp + ".so").c_str(), (base + ".so").c_str()) != 0) {
        ::unlink((tmp + ".so").c_str());
        if (built) errors[i] = j.name + ": cannot move its host build into " + dir;
        continue;
      }
      { std::ofstream(tmp + ".hash") << j.hash; }
      ::rename((tmp + ".hash").c_str(), (base + ".hash").c_str());
    }
  };
  const unsigned n = std::max(1u, std::min(std::thread::hardware_concurrency(), unsigned(jobs.size())));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool) t.join();
  std::string all;
  for (const std::string &e : errors)
    if (!e.empty()) all += (all.empty() ? "" : "\n") + e;
  return all.empty() ? Status::ok() : Status::error(all);
}

Status buildHostKernelsIfEmulated(const std::vector<GeneratedKernel> &kernels) {
  const char *dir = std::getenv("QCC_EMU_KERNELS");
  if (!dir || !*dir) return Status::ok();
  return buildHostKernels(kernels, dir);
}

} // namespace qcc::cuda::testing
