// An emulated CUDA driver (libqcc-emu-cuda.so) for tests without a GPU: the
// driver API entry points qcc's CudaDriver binds, implemented on the host.
// Memory is host memory (every copy and memset is checked against the
// allocation it touches), modules are the artifact's real images (a function
// is only found if its name is in the image that was loaded), and a launch
// runs the kernel's own template code, compiled for the host under the CUDA
// host emulation (HostEmulation.h) into QCC_EMU_KERNELS/<name>.so by the test
// (HostKernels.h). The device reports compute capability QCC_EMU_CC (e.g.
// "90", "86"; default 90). Not a timing model: events measure nothing.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

typedef int CUresult;
enum : CUresult {
  kSuccess = 0,
  kInvalidValue = 1,
  kOutOfMemory = 2,
  kInvalidImage = 200,
  kInvalidHandle = 400,
  kNotFound = 500,
  kLaunchFailed = 719,
};

std::mutex mu;
std::map<uintptr_t, size_t> allocations; // base -> bytes
std::string lastError;

struct Module {
  const char *image = nullptr;
  size_t size = 0; // bytes the name search may read
};
struct Function {
  std::string name;
  void *library = nullptr;
  void (*launch)(unsigned, unsigned, unsigned, unsigned, void **) = nullptr;
  std::vector<unsigned> paramSizes; // bytes of each kernel parameter
};

// cuda.h's CUDA_KERNEL_NODE_PARAMS (v2).
struct KernelNodeParams {
  void *func;
  unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
  void **kernelParams;
  void **extra;
  void *kern;
  void *ctx;
};
// A graph node: the launch with copies of its argument values (as the driver
// copies them when the node is added).
struct Node {
  Function *f;
  unsigned grid[3], block;
  std::vector<std::vector<unsigned char>> args;
};
struct Graph {
  std::vector<Node *> nodes; // added in dependency order (checked)
};
struct GraphExec {
  std::vector<Node> nodes;
};

int envCc() {
  const char *v = std::getenv("QCC_EMU_CC");
  const int cc = v ? std::atoi(v) : 90;
  return cc >= 50 && cc <= 120 ? cc : 90;
}

// Whether [p, p + n) lies inside one allocation.
bool inside(uintptr_t p, size_t n) {
  std::lock_guard<std::mutex> l(mu);
  auto it = allocations.upper_bound(p);
  if (it == allocations.begin()) return false;
  --it;
  return p >= it->first && p - it->first <= it->second && n <= it->second - (p - it->first);
}

// The byte length of an ELF64 image (its section header table ends it), or
// of NUL-terminated PTX text.
size_t imageSize(const char *image) {
  if (std::memcmp(image, "\x7f" "ELF", 4) == 0) {
    uint64_t shoff;
    uint16_t shentsize, shnum;
    std::memcpy(&shoff, image + 0x28, 8);
    std::memcpy(&shentsize, image + 0x3a, 2);
    std::memcpy(&shnum, image + 0x3c, 2);
    return size_t(shoff) + size_t(shentsize) * shnum;
  }
  return std::strlen(image);
}

bool contains(const Module &m, const std::string &name) {
  if (name.empty() || m.size < name.size()) return false;
  for (size_t i = 0; i + name.size() <= m.size; ++i)
    if (std::memcmp(m.image + i, name.data(), name.size()) == 0) return true;
  return false;
}

CUresult fail(CUresult r, const std::string &why) {
  std::lock_guard<std::mutex> l(mu);
  lastError = why;
  return r;
}

} // namespace

extern "C" {

CUresult cuInit(unsigned) { return kSuccess; }
CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return kSuccess;
}
CUresult cuGetErrorString(CUresult r, const char **msg) {
  static thread_local std::string text;
  {
    std::lock_guard<std::mutex> l(mu);
    text = "emulated driver: " + (lastError.empty() ? "error " + std::to_string(r) : lastError);
  }
  *msg = text.c_str();
  return kSuccess;
}
CUresult cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}
CUresult cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0) return fail(kInvalidValue, "no device " + std::to_string(ordinal));
  *d = 0;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int len, int) {
  const std::string n = "qcc host emulation (sm_" + std::to_string(envCc()) + ")";
  std::snprintf(name, size_t(len), "%s", n.c_str());
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int) {
  switch (attr) {
  case 75: *v = envCc() / 10; return kSuccess;         // compute capability major
  case 76: *v = envCc() % 10; return kSuccess;         // minor
  case 16: *v = 132; return kSuccess;                  // SMs
  case 97: *v = 227 * 1024; return kSuccess;           // shared memory opt-in
  case 38: *v = 50 << 20; return kSuccess;             // L2
  case 36: *v = 2619000; return kSuccess;              // memory clock (kHz)
  case 37: *v = 5120; return kSuccess;                 // bus width (bits)
  default: *v = 0; return kSuccess;
  }
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(16) << 30;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRelease_v2(int) { return kSuccess; }
CUresult cuCtxSetCurrent(void *) { return kSuccess; }
CUresult cuCtxSynchronize() { return kSuccess; } // launches complete synchronously

CUresult cuModuleLoadData(void **module, const void *image) {
  if (!image) return fail(kInvalidImage, "no image");
  const char *p = static_cast<const char *>(image);
  const bool elf = std::memcmp(p, "\x7f" "ELF", 4) == 0;
  if (!elf && std::strncmp(p, "//", 2) != 0 && std::strstr(p, ".version") == nullptr)
    return fail(kInvalidImage, "image is neither a cubin nor PTX");
  auto *m = new Module{p, imageSize(p)};
  *module = m;
  return kSuccess;
}
CUresult cuModuleUnload(void *module) {
  delete static_cast<Module *>(module);
  return kSuccess;
}
CUresult cuModuleGetFunction(void **fn, void *module, const char *name) {
  const Module &m = *static_cast<Module *>(module);
  if (!contains(m, name)) return fail(kNotFound, std::string("the loaded image has no kernel ") + name);
  const char *dir = std::getenv("QCC_EMU_KERNELS");
  if (!dir) return fail(kNotFound, "QCC_EMU_KERNELS is not set");
  const std::string path = std::string(dir) + "/" + name + ".so";
  void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) return fail(kNotFound, std::string("no host build of ") + name + ": " + dlerror());
  auto *f = new Function{name, lib, nullptr, {}};
  f->launch = reinterpret_cast<decltype(f->launch)>(dlsym(lib, "qcc_emu_launch"));
  const auto *count = static_cast<const unsigned *>(dlsym(lib, "qcc_emu_param_count"));
  const auto *sizes = static_cast<const unsigned *>(dlsym(lib, "qcc_emu_param_sizes"));
  if (!f->launch || !count || !sizes) {
    delete f;
    return fail(kNotFound, path + " lacks the qcc_emu_* entry points");
  }
  f->paramSizes.assign(sizes, sizes + *count);
  *fn = f; // lives as long as the process (modules hold no functions)
  return kSuccess;
}
CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned sharedBytes, void *, void **params, void **extra) {
  auto *f = static_cast<Function *>(fn);
  if (!f || !f->launch) return fail(kInvalidHandle, "launch of an unknown function");
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by != 1 || bz != 1 || bx > 1024)
    return fail(kInvalidValue, f->name + ": bad launch geometry " + std::to_string(gx) + "x" + std::to_string(gy) +
                                   "x" + std::to_string(gz) + " / " + std::to_string(bx) + "x" + std::to_string(by) +
                                   "x" + std::to_string(bz));
  if (sharedBytes != 0 || extra != nullptr || params == nullptr)
    return fail(kInvalidValue, f->name + ": qcc launches use kernelParams and no dynamic shared memory");
  f->launch(gx, gy, gz, bx, params);
  return kSuccess;
}

CUresult cuMemAlloc_v2(uint64_t *ptr, size_t bytes) {
  if (bytes == 0) return fail(kInvalidValue, "cuMemAlloc of 0 bytes");
  void *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!p) return fail(kOutOfMemory, "out of host memory");
  std::lock_guard<std::mutex> l(mu);
  allocations[reinterpret_cast<uintptr_t>(p)] = bytes;
  *ptr = reinterpret_cast<uintptr_t>(p);
  return kSuccess;
}
CUresult cuMemFree_v2(uint64_t ptr) {
  std::lock_guard<std::mutex> l(mu);
  auto it = allocations.find(uintptr_t(ptr));
  if (it == allocations.end()) {
    lastError = "cuMemFree of a pointer that is not an allocation";
    return kInvalidValue;
  }
  std::free(reinterpret_cast<void *>(ptr));
  allocations.erase(it);
  return kSuccess;
}
CUresult cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t n) {
  if (!inside(uintptr_t(dst), n)) return fail(kInvalidValue, "cuMemcpyHtoD outside an allocation");
  std::memcpy(reinterpret_cast<void *>(dst), src, n);
  return kSuccess;
}
CUresult cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t n) {
  if (!inside(uintptr_t(src), n)) return fail(kInvalidValue, "cuMemcpyDtoH outside an allocation");
  std::memcpy(dst, reinterpret_cast<const void *>(src), n);
  return kSuccess;
}
CUresult cuMemsetD8_v2(uint64_t dst, unsigned char v, size_t n) {
  if (!inside(uintptr_t(dst), n)) return fail(kInvalidValue, "cuMemsetD8 outside an allocation");
  std::memset(reinterpret_cast<void *>(dst), v, n);
  return kSuccess;
}
CUresult cuStreamCreate(void **s, unsigned) {
  static int stream;
  *s = &stream;
  return kSuccess;
}
CUresult cuStreamDestroy_v2(void *) { return kSuccess; }
CUresult cuStreamSynchronize(void *) { return kSuccess; }
CUresult cuEventCreate(void **e, unsigned) {
  static int event;
  *e = &event;
  return kSuccess;
}
CUresult cuEventDestroy_v2(void *) { return kSuccess; }
CUresult cuEventRecord(void *, void *) { return kSuccess; }
CUresult cuEventSynchronize(void *) { return kSuccess; }
CUresult cuEventElapsedTime(float *ms, void *, void *) {
  *ms = 0.f;
  return kSuccess;
}
CUresult cuFuncGetAttribute(int *v, int, void *) {
  *v = 0;
  return kSuccess;
}

CUresult cuGraphCreate(void **graph, unsigned) {
  *graph = new Graph();
  return kSuccess;
}
CUresult cuGraphAddKernelNode_v2(void **node, void *graph, void *const *deps, size_t numDeps,
                                 const KernelNodeParams *p) {
  auto *g = static_cast<Graph *>(graph);
  auto *f = static_cast<Function *>(p->func);
  if (!g || !f || !p->kernelParams || p->extra) return fail(kInvalidValue, "bad kernel node parameters");
  // The emulation runs nodes in the order added: each must depend on nodes already in the graph.
  for (size_t i = 0; i < numDeps; ++i) {
    bool known = false;
    for (Node *n : g->nodes) known |= n == deps[i];
    if (!known) return fail(kInvalidValue, f->name + ": a dependency is not a node of this graph");
  }
  if (p->blockDimY != 1 || p->blockDimZ != 1 || p->sharedMemBytes != 0)
    return fail(kInvalidValue, f->name + ": qcc kernels use 1-D blocks and no dynamic shared memory");
  auto *n = new Node{f, {p->gridDimX, p->gridDimY, p->gridDimZ}, p->blockDimX, {}};
  for (size_t i = 0; i < f->paramSizes.size(); ++i) {
    const auto *bytes = static_cast<const unsigned char *>(p->kernelParams[i]);
    n->args.emplace_back(bytes, bytes + f->paramSizes[i]);
  }
  g->nodes.push_back(n);
  *node = n;
  return kSuccess;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long) {
  auto *g = static_cast<Graph *>(graph);
  auto *e = new GraphExec();
  for (Node *n : g->nodes) e->nodes.push_back(*n);
  *exec = e;
  return kSuccess;
}
CUresult cuGraphLaunch(void *exec, void *) {
  auto *e = static_cast<GraphExec *>(exec);
  if (!e) return fail(kInvalidHandle, "launch of a null graph");
  for (Node &n : e->nodes) {
    std::vector<void *> params;
    for (std::vector<unsigned char> &a : n.args) params.push_back(a.data());
    n.f->launch(n.grid[0], n.grid[1], n.grid[2], n.block, params.data());
  }
  return kSuccess;
}
CUresult cuGraphExecDestroy(void *exec) {
  delete static_cast<GraphExec *>(exec);
  return kSuccess;
}
CUresult cuGraphDestroy(void *graph) {
  auto *g = static_cast<Graph *>(graph);
  for (Node *n : g->nodes) delete n;
  delete g;
  return kSuccess;
}

} // extern "C"
