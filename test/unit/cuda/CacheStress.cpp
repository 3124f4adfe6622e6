// Helper for KernelCacheTest: hammers one cache key from a separate process.
//   qcc-cache-stress store <dir> <key> <iterations>  lookup + store a fixed entry
//   qcc-cache-stress compile <dir>                    compile one kernel through the cache
// Exit 0 when every hit read back exactly the expected bytes.
#include "codegen/cuda/Compile.h"
#include "codegen/cuda/KernelCache.h"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace qcc::cuda;

// The entry every process writes for the key (large enough to span many pages).
static CacheEntry expectedEntry() {
  CacheEntry e;
  for (int i = 0; i < 200000; ++i) e.ptx += char('a' + i % 26);
  for (int i = 0; i < 300000; ++i) e.cubin.push_back(uint8_t(i * 7));
  e.log = "ptxas info    : Used 8 registers";
  return e;
}

int main(int argc, char **argv) {
  if (argc >= 5 && std::string(argv[1]) == "store") {
    KernelCache cache(argv[2]);
    const std::string key = argv[3];
    const int iters = std::atoi(argv[4]);
    const CacheEntry want = expectedEntry();
    for (int i = 0; i < iters; ++i) {
      if (std::optional<CacheEntry> got = cache.lookup(key)) {
        if (got->ptx != want.ptx || got->cubin != want.cubin || got->log != want.log) {
          std::fprintf(stderr, "cache entry read back different bytes\n");
          return 2;
        }
      }
      qcc::Status s = cache.store(key, want);
      if (!s) {
        std::fprintf(stderr, "%s\n", s.message().c_str());
        return 3;
      }
    }
    return 0;
  }
  if (argc >= 3 && std::string(argv[1]) == "compile") {
    KernelSpec spec;
    spec.kind = KernelKind::Add;
    spec.width = 4096;
    const GpuTarget &target = allTargets()[0];
    qcc::Expected<GeneratedKernel> g = generateKernel(spec, target);
    if (!g) return 4;
    CompileOptions opts;
    opts.cacheDir = argv[2];
    qcc::Expected<CompiledKernel> k = compileKernel(*g, target, opts);
    if (!k) {
      std::fprintf(stderr, "%s\n", k.message().c_str());
      return 5;
    }
    return k->ptx.find(".entry " + g->name) != std::string::npos && !k->cubin.empty() ? 0 : 6;
  }
  std::fprintf(stderr, "usage: qcc-cache-stress store <dir> <key> <iters> | compile <dir>\n");
  return 1;
}
