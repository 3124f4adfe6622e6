#include "codegen/cuda/Compile.h"
#include "codegen/cuda/KernelCache.h"

#include "support/Printable.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

namespace qcc::cuda {

std::vector<std::string> defaultNvrtcOptions() {
  // -v makes ptxas report registers and spills into the program log.
  return {"--ptxas-options=-v", "-DNDEBUG"};
}

Expected<CompiledKernel> compileKernel(const GeneratedKernel &kernel, const GpuTarget &target,
                                       const CompileOptions &options) {
  Expected<const Nvrtc *> nvrtc = Nvrtc::get();
  if (!nvrtc) return nvrtc.status();
  std::vector<std::string> opts = defaultNvrtcOptions();
  opts.insert(opts.end(), options.extraOptions.begin(), options.extraOptions.end());
  CompiledKernel out;
  out.name = kernel.name;
  out.target = target.name;
  KernelCache cache(options.cacheDir);
  const std::string key = KernelCache::key(kernel.source, (*nvrtc)->version(), target.name, opts);
  if (options.useCache) {
    if (std::optional<CacheEntry> e = cache.lookup(key)) {
      out.ptx = std::move(e->ptx);
      out.cubin = std::move(e->cubin);
      out.log = std::move(e->log);
      out.resources = parsePtxasInfo(out.log);
      out.fromCache = true;
      return out;
    }
  }
  Expected<NvrtcOutput> r = (*nvrtc)->compile(kernel.source, kernel.name, target.name, opts);
  if (!r) return r.status();
  out.ptx = std::move(r->ptx);
  out.cubin = std::move(r->cubin);
  out.log = std::move(r->log);
  out.resources = parsePtxasInfo(out.log);
  if (options.useCache) {
    // A cache that cannot be written (or is refused as unsafe) only costs
    // time later; the kernel is fine. Said once per process.
    Status s = cache.store(key, CacheEntry{out.ptx, out.cubin, out.log});
    if (!s) {
      static std::once_flag warned;
      std::call_once(warned, [&] { std::fprintf(stderr, "qcc: warning: %s\n", printable(s.message()).c_str()); });
    }
  }
  return out;
}

Expected<std::vector<CompiledKernel>> compileKernels(const std::vector<GeneratedKernel> &kernels,
                                                     const GpuTarget &target, const CompileOptions &options) {
  Expected<const Nvrtc *> nvrtc = Nvrtc::get(); // load once, before the threads
  if (!nvrtc) return nvrtc.status();
  std::vector<std::optional<Expected<CompiledKernel>>> results(kernels.size());
  std::atomic<size_t> next{0};
  unsigned n = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  n = std::min<unsigned>(n, unsigned(std::max<size_t>(1, kernels.size())));
  auto worker = [&] {
    for (size_t i = next++; i < kernels.size(); i = next++) results[i] = compileKernel(kernels[i], target, options);
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool) t.join();
  std::vector<CompiledKernel> out;
  std::string errors;
  for (auto &r : results) {
    if (!*r) errors += (errors.empty() ? "" : "\n") + r->message();
    else out.push_back(std::move(r->value()));
  }
  if (!errors.empty()) return Status::error(errors);
  return out;
}

} // namespace qcc::cuda
