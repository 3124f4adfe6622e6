#include "codegen/cuda/Nvrtc.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <mutex>
#include <regex>

#ifndef QCC_CUDA_ROOT
#define QCC_CUDA_ROOT "/usr/local/cuda"
#endif

namespace qcc::cuda {

// The subset of nvrtc.h qcc uses, declared here so that no CUDA header is needed.
typedef int nvrtcResult; // NVRTC_SUCCESS == 0
typedef struct _nvrtcProgram *nvrtcProgram;

struct Nvrtc::Api {
  const char *(*getErrorString)(nvrtcResult);
  nvrtcResult (*version)(int *, int *);
  nvrtcResult (*createProgram)(nvrtcProgram *, const char *, const char *, int, const char *const *,
                               const char *const *);
  nvrtcResult (*destroyProgram)(nvrtcProgram *);
  nvrtcResult (*compileProgram)(nvrtcProgram, int, const char *const *);
  nvrtcResult (*getPTXSize)(nvrtcProgram, size_t *);
  nvrtcResult (*getPTX)(nvrtcProgram, char *);
  nvrtcResult (*getCUBINSize)(nvrtcProgram, size_t *);
  nvrtcResult (*getCUBIN)(nvrtcProgram, char *);
  nvrtcResult (*getProgramLogSize)(nvrtcProgram, size_t *);
  nvrtcResult (*getProgramLog)(nvrtcProgram, char *);
};

template <typename F> static bool bind(void *h, const char *sym, F &fn) {
  fn = reinterpret_cast<F>(dlsym(h, sym));
  return fn != nullptr;
}

Expected<const Nvrtc *> Nvrtc::loadFrom(const std::string &library) {
  // Loaded libraries live for the whole process (one per distinct path).
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Nvrtc>> loaded;
  std::lock_guard<std::mutex> lock(mu);
  auto it = loaded.find(library);
  if (it != loaded.end()) return static_cast<const Nvrtc *>(it->second.get());
  void *h = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    return Status::error("no NVRTC: " + library + " could not be loaded" + (e ? std::string(" (") + e + ")" : ""));
  }
  static std::vector<std::unique_ptr<Api>> apis;
  auto api = std::make_unique<Api>();
  bool ok = bind(h, "nvrtcGetErrorString", api->getErrorString) && bind(h, "nvrtcVersion", api->version) &&
            bind(h, "nvrtcCreateProgram", api->createProgram) &&
            bind(h, "nvrtcDestroyProgram", api->destroyProgram) &&
            bind(h, "nvrtcCompileProgram", api->compileProgram) && bind(h, "nvrtcGetPTXSize", api->getPTXSize) &&
            bind(h, "nvrtcGetPTX", api->getPTX) && bind(h, "nvrtcGetCUBINSize", api->getCUBINSize) &&
            bind(h, "nvrtcGetCUBIN", api->getCUBIN) && bind(h, "nvrtcGetProgramLogSize", api->getProgramLogSize) &&
            bind(h, "nvrtcGetProgramLog", api->getProgramLog);
  if (!ok) {
    dlclose(h);
    return Status::error("no NVRTC: " + library + " lacks the NVRTC entry points qcc needs");
  }
  std::unique_ptr<Nvrtc> n(new Nvrtc());
  n->handle_ = h;
  n->api_ = api.get();
  n->path_ = library;
  if (api->version(&n->major_, &n->minor_) != 0) return Status::error("no NVRTC: " + library + ": nvrtcVersion failed");
  apis.push_back(std::move(api));
  const Nvrtc *result = n.get();
  loaded[library] = std::move(n);
  return result;
}

Expected<const Nvrtc *> Nvrtc::get() {
  std::vector<std::string> candidates;
  if (const char *env = std::getenv("QCC_NVRTC_LIBRARY"); env && *env) candidates.push_back(env);
  candidates.insert(candidates.end(), {"libnvrtc.so.13", "libnvrtc.so.12", QCC_CUDA_ROOT "/lib64/libnvrtc.so.13",
                                       QCC_CUDA_ROOT "/lib64/libnvrtc.so.12", "libnvrtc.so"});
  std::string tried;
  for (const std::string &c : candidates) {
    Expected<const Nvrtc *> n = loadFrom(c);
    if (n) return n;
    tried += (tried.empty() ? "" : ", ") + c;
  }
  return Status::error("no NVRTC: libnvrtc could not be loaded (tried " + tried +
                       "); install the CUDA toolkit's NVRTC or set QCC_NVRTC_LIBRARY");
}

Expected<NvrtcOutput> Nvrtc::compile(const std::string &source, const std::string &kernelName,
                                     const std::string &arch, const std::vector<std::string> &options) const {
  const Api &a = *api_;
  nvrtcProgram prog = nullptr;
  const std::string file = kernelName + ".cu";
  nvrtcResult r = a.createProgram(&prog, source.c_str(), file.c_str(), 0, nullptr, nullptr);
  if (r != 0) return Status::error("kernel " + kernelName + ": nvrtcCreateProgram failed: " + a.getErrorString(r));
  std::vector<std::string> opts = {"--gpu-architecture=" + arch, "--std=c++17"};
  opts.insert(opts.end(), options.begin(), options.end());
  std::vector<const char *> argv;
  for (const std::string &o : opts) argv.push_back(o.c_str());
  r = a.compileProgram(prog, int(argv.size()), argv.data());
  NvrtcOutput out;
  size_t logSize = 0;
  if (a.getProgramLogSize(prog, &logSize) == 0 && logSize > 1) {
    out.log.resize(logSize);
    if (a.getProgramLog(prog, out.log.data()) != 0) out.log.clear();
    while (!out.log.empty() && out.log.back() == '\0') out.log.pop_back();
  }
  if (r != 0) {
    std::string msg = "kernel " + kernelName + " (" + arch + "): NVRTC compilation failed: " + a.getErrorString(r);
    if (!out.log.empty()) msg += "\n" + out.log;
    a.destroyProgram(&prog);
    return Status::error(msg);
  }
  size_t n = 0;
  if (a.getPTXSize(prog, &n) == 0 && n > 0) {
    out.ptx.resize(n);
    if (a.getPTX(prog, out.ptx.data()) != 0) out.ptx.clear();
    while (!out.ptx.empty() && out.ptx.back() == '\0') out.ptx.pop_back();
  }
  n = 0;
  if (a.getCUBINSize(prog, &n) == 0 && n > 0) {
    out.cubin.resize(n);
    if (a.getCUBIN(prog, reinterpret_cast<char *>(out.cubin.data())) != 0) out.cubin.clear();
  }
  a.destroyProgram(&prog);
  if (out.ptx.empty() || out.cubin.empty())
    return Status::error("kernel " + kernelName + " (" + arch + "): NVRTC produced no PTX or cubin");
  return out;
}

KernelResources parsePtxasInfo(const std::string &log) {
  KernelResources r;
  std::smatch m;
  static const std::regex regs(R"(Used (\d+) registers)");
  static const std::regex spill(R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  if (std::regex_search(log, m, regs)) r.registers = std::stoi(m[1]);
  if (std::regex_search(log, m, spill)) {
    r.stackFrame = std::stoll(m[1]);
    r.spillStores = std::stoll(m[2]);
    r.spillLoads = std::stoll(m[3]);
  }
  return r;
}

} // namespace qcc::cuda
