#include "runtime/cuda/CudaDevice.h"

#include <algorithm>

namespace qcc::cuda {

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&o) noexcept {
  if (this != &o) {
    if (ptr_ && driver_) driver_->api().cuMemFree(ptr_);
    driver_ = o.driver_;
    ptr_ = o.ptr_;
    size_ = o.size_;
    o.ptr_ = 0;
    o.size_ = 0;
  }
  return *this;
}
DeviceBuffer::~DeviceBuffer() {
  if (ptr_ && driver_) driver_->api().cuMemFree(ptr_);
}

CudaModule &CudaModule::operator=(CudaModule &&o) noexcept {
  if (this != &o) {
    if (module_ && driver_) driver_->api().cuModuleUnload(module_);
    driver_ = o.driver_;
    module_ = o.module_;
    o.module_ = nullptr;
  }
  return *this;
}
CudaModule::~CudaModule() {
  if (module_ && driver_) driver_->api().cuModuleUnload(module_);
}

Expected<int> CudaDevice::count() {
  Expected<const CudaDriver *> d = CudaDriver::get();
  if (!d) return d.status();
  int n = 0;
  QCC_RETURN_IF_ERROR((*d)->check((*d)->api().cuDeviceGetCount(&n), "cuDeviceGetCount"));
  return n;
}

Expected<std::unique_ptr<CudaDevice>> CudaDevice::open(int ordinal) {
  Expected<const CudaDriver *> drv = CudaDriver::get();
  if (!drv) return drv.status();
  return open(**drv, ordinal);
}

Expected<std::unique_ptr<CudaDevice>> CudaDevice::open(const CudaDriver &d, int ordinal) {
  const CudaDriverApi &a = d.api();
  int n = 0;
  QCC_RETURN_IF_ERROR(d.check(a.cuDeviceGetCount(&n), "cuDeviceGetCount"));
  if (n == 0) return Status::error("no CUDA device: the driver reports none");
  if (ordinal < 0 || ordinal >= n)
    return Status::error("no CUDA device " + std::to_string(ordinal) + " (there are " + std::to_string(n) + ")");
  std::unique_ptr<CudaDevice> dev(new CudaDevice());
  dev->driver_ = &d;
  QCC_RETURN_IF_ERROR(d.check(a.cuDeviceGet(&dev->device_, ordinal), "cuDeviceGet"));
  char name[256] = {0};
  QCC_RETURN_IF_ERROR(d.check(a.cuDeviceGetName(name, sizeof name - 1, dev->device_), "cuDeviceGetName"));
  dev->name_ = name;
  QCC_RETURN_IF_ERROR(d.check(a.cuDeviceGetAttribute(&dev->ccMajor_, kAttrComputeCapabilityMajor, dev->device_),
                              "cuDeviceGetAttribute"));
  QCC_RETURN_IF_ERROR(d.check(a.cuDeviceGetAttribute(&dev->ccMinor_, kAttrComputeCapabilityMinor, dev->device_),
                              "cuDeviceGetAttribute"));
  QCC_RETURN_IF_ERROR(d.check(a.cuDeviceGetAttribute(&dev->smCount_, kAttrMultiprocessorCount, dev->device_),
                              "cuDeviceGetAttribute"));
  QCC_RETURN_IF_ERROR(d.check(a.cuDeviceTotalMem(&dev->totalMem_, dev->device_), "cuDeviceTotalMem"));
  QCC_RETURN_IF_ERROR(d.check(a.cuDevicePrimaryCtxRetain(&dev->ctx_, dev->device_), "cuDevicePrimaryCtxRetain"));
  QCC_RETURN_IF_ERROR(d.check(a.cuCtxSetCurrent(dev->ctx_), "cuCtxSetCurrent"));
  return dev;
}

CudaDevice::~CudaDevice() {
  if (ctx_) driver_->api().cuDevicePrimaryCtxRelease(device_);
}

std::string archNameFor(int ccMajor, int ccMinor) {
  std::string s = "sm_" + std::to_string(ccMajor) + std::to_string(ccMinor);
  if (ccMajor == 9 && ccMinor == 0) s += "a"; // Hopper-specific features (wgmma)
  return s;
}

int targetNumber(const std::string &t, bool *archSpecific) {
  if (archSpecific) *archSpecific = !t.empty() && t.back() == 'a';
  int v = 0;
  for (char c : t)
    if (c >= '0' && c <= '9') v = v * 10 + (c - '0');
  return v;
}

std::string CudaDevice::archName() const { return archNameFor(ccMajor_, ccMinor_); }

Expected<int> CudaDevice::attribute(int attr) const {
  int v = 0;
  QCC_RETURN_IF_ERROR(driver_->check(driver_->api().cuDeviceGetAttribute(&v, attr, device_), "cuDeviceGetAttribute"));
  return v;
}

Expected<DeviceBuffer> CudaDevice::alloc(size_t bytes) {
  DeviceBuffer b;
  b.driver_ = driver_;
  b.size_ = bytes;
  QCC_RETURN_IF_ERROR(driver_->check(driver_->api().cuMemAlloc(&b.ptr_, std::max<size_t>(bytes, 1)),
                                     "cuMemAlloc of " + std::to_string(bytes) + " bytes"));
  return b;
}

Status CudaDevice::upload(const DeviceBuffer &dst, const void *src, size_t bytes, size_t offset) {
  if (offset > dst.size() || bytes > dst.size() - offset) return Status::error("upload beyond the device buffer");
  return driver_->check(driver_->api().cuMemcpyHtoD(dst.ptr() + offset, src, bytes), "cuMemcpyHtoD");
}

Status CudaDevice::download(void *dst, const DeviceBuffer &src, size_t bytes, size_t offset) {
  if (offset > src.size() || bytes > src.size() - offset) return Status::error("download beyond the device buffer");
  return driver_->check(driver_->api().cuMemcpyDtoH(dst, src.ptr() + offset, bytes), "cuMemcpyDtoH");
}

Status CudaDevice::fill(const DeviceBuffer &dst, uint8_t byte) {
  return driver_->check(driver_->api().cuMemsetD8(dst.ptr(), byte, dst.size()), "cuMemsetD8");
}

Expected<CudaModule> CudaDevice::loadModule(const void *image, const std::string &what) {
  CudaModule m;
  m.driver_ = driver_;
  QCC_RETURN_IF_ERROR(driver_->check(driver_->api().cuModuleLoadData(&m.module_, image), "loading " + what));
  return m;
}

Expected<CudaModule> CudaDevice::loadBest(const std::vector<KernelImage> &images) {
  const int dev = ccMajor_ * 10 + ccMinor_;
  const std::string arch = archName();
  const KernelImage *cubin = nullptr, *ptx = nullptr;
  int cubinScore = -1, ptxScore = -1;
  std::string offered;
  for (const KernelImage &im : images) {
    offered += (offered.empty() ? "" : ", ") + im.target;
    bool specific;
    const int t = targetNumber(im.target, &specific);
    if (!im.cubin.empty()) {
      int score = -1;
      if (im.target == arch) score = 1000;
      else if (!specific && t / 10 == dev / 10 && t <= dev) score = t;
      if (score > cubinScore) { cubinScore = score; cubin = &im; }
    }
    if (!im.ptx.empty() && (im.target == arch || (!specific && t <= dev)) && t > ptxScore) {
      ptxScore = t;
      ptx = &im;
    }
  }
  if (cubin) return loadModule(cubin->cubin.data(), "cubin " + cubin->name + " (" + cubin->target + ")");
  if (ptx) return loadModule(ptx->ptx.c_str(), "ptx " + ptx->name + " (" + ptx->target + ", JIT)");
  return Status::error("no kernel image runs on this " + name_ + " (" + arch + "); the artifact has: " +
                       (offered.empty() ? "nothing" : offered) + "; recompile with --target for this GPU");
}

Expected<CUfunction> CudaDevice::function(const CudaModule &m, const std::string &name) {
  CUfunction f = nullptr;
  QCC_RETURN_IF_ERROR(driver_->check(driver_->api().cuModuleGetFunction(&f, m.handle(), name.c_str()),
                                     "kernel " + name));
  return f;
}

Status CudaDevice::launch(CUfunction f, const unsigned grid[3], unsigned block, unsigned sharedBytes, void **args) {
  return driver_->check(
      driver_->api().cuLaunchKernel(f, grid[0], grid[1], grid[2], block, 1, 1, sharedBytes, nullptr, args, nullptr),
      "cuLaunchKernel");
}

KernelGraph &KernelGraph::operator=(KernelGraph &&o) noexcept {
  if (this != &o) {
    release();
    driver_ = o.driver_;
    graph_ = o.graph_;
    exec_ = o.exec_;
    last_ = o.last_;
    launches_ = o.launches_;
    o.graph_ = nullptr;
    o.exec_ = nullptr;
    o.last_ = nullptr;
    o.launches_ = 0;
  }
  return *this;
}

KernelGraph::~KernelGraph() { release(); }

void KernelGraph::release() {
  if (exec_) driver_->api().cuGraphExecDestroy(exec_);
  if (graph_) driver_->api().cuGraphDestroy(graph_);
  exec_ = nullptr;
  graph_ = nullptr;
  last_ = nullptr;
  launches_ = 0;
}

Expected<KernelGraph> CudaDevice::createGraph() {
  if (!supportsGraphs()) return Status::error("the CUDA driver has no graph API");
  KernelGraph g;
  g.driver_ = driver_;
  QCC_RETURN_IF_ERROR(driver_->check(driver_->api().cuGraphCreate(&g.graph_, 0), "cuGraphCreate"));
  return g;
}

Status CudaDevice::addToGraph(KernelGraph &g, CUfunction f, const unsigned grid[3], unsigned block,
                              unsigned sharedBytes, void **args) {
  if (g.empty() || g.instantiated()) return Status::error("adding to a graph that is not being built");
  CudaKernelNodeParams p{};
  p.func = f;
  p.gridDimX = grid[0], p.gridDimY = grid[1], p.gridDimZ = grid[2];
  p.blockDimX = block, p.blockDimY = 1, p.blockDimZ = 1;
  p.sharedMemBytes = sharedBytes;
  p.kernelParams = args;
  CUgraphNode node = nullptr;
  QCC_RETURN_IF_ERROR(driver_->check(
      driver_->api().cuGraphAddKernelNode(&node, g.graph_, g.last_ ? &g.last_ : nullptr, g.last_ ? 1 : 0, &p),
      "cuGraphAddKernelNode"));
  g.last_ = node;
  ++g.launches_;
  return Status::ok();
}

Status CudaDevice::instantiate(KernelGraph &g) {
  if (g.empty()) return Status::error("instantiating an empty graph");
  return driver_->check(driver_->api().cuGraphInstantiateWithFlags(&g.exec_, g.graph_, 0), "cuGraphInstantiate");
}

Status CudaDevice::launchGraph(const KernelGraph &g) {
  if (!g.instantiated()) return Status::error("launching a graph that is not instantiated");
  return driver_->check(driver_->api().cuGraphLaunch(g.exec_, nullptr), "cuGraphLaunch");
}

Status CudaDevice::synchronize() { return driver_->check(driver_->api().cuCtxSynchronize(), "cuCtxSynchronize"); }

Expected<float> CudaDevice::timeMs(int iters, const std::function<Status()> &body) {
  const CudaDriverApi &a = driver_->api();
  CUevent start = nullptr, stop = nullptr;
  QCC_RETURN_IF_ERROR(driver_->check(a.cuEventCreate(&start, 0), "cuEventCreate"));
  QCC_RETURN_IF_ERROR(driver_->check(a.cuEventCreate(&stop, 0), "cuEventCreate"));
  Status s = driver_->check(a.cuEventRecord(start, nullptr), "cuEventRecord");
  for (int i = 0; s && i < iters; ++i) s = body();
  if (s) s = driver_->check(a.cuEventRecord(stop, nullptr), "cuEventRecord");
  if (s) s = driver_->check(a.cuEventSynchronize(stop), "cuEventSynchronize");
  float ms = 0.f;
  if (s) s = driver_->check(a.cuEventElapsedTime(&ms, start, stop), "cuEventElapsedTime");
  a.cuEventDestroy(start);
  a.cuEventDestroy(stop);
  if (!s) return s;
  return ms / float(std::max(iters, 1));
}

} // namespace qcc::cuda
