// qcc-gpu-test-prepare DIR [--target T[,T...]] [--if-device] [--seed N]
// Compiles the artifacts of the GPU executor test's cases (ExecutorCases.h)
// into DIR, for the targets given or, without --target, for the device's
// (--if-device: without a device, prepares nothing and succeeds). The GPU test
// (CudaExecutorGpuTest) reads them back with the runtime alone, so a GPU
// machine without the compiler runs it on what was prepared elsewhere
// (scripts/gpu-check.sh --prepare). On the emulated driver (QCC_EMU_KERNELS
// set) the kernels' host builds are made too. A fresh random checkpoint each
// run unless --seed.
#include "ExecutorCases.h"
#include "HostKernels.h"

#include "CompiledModel.h"
#include "codegen/cuda/Targets.h"
#include "runtime/cuda/CudaDevice.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace qcc;
using namespace qcc::cuda;
using namespace qcc::cuda::testing;

static int fail(const std::string &m) {
  std::fprintf(stderr, "qcc-gpu-test-prepare: error: %s\n", m.c_str());
  return 1;
}

int main(int argc, char **argv) {
  std::string dir, targets;
  bool ifDevice = false;
  unsigned seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--target" && i + 1 < argc) targets = argv[++i];
    else if (a == "--seed" && i + 1 < argc) seed = unsigned(std::strtoul(argv[++i], nullptr, 10));
    else if (a == "--if-device") ifDevice = true;
    else if (dir.empty() && !a.empty() && a[0] != '-') dir = a;
    else return fail("unexpected argument '" + a + "' (usage: qcc-gpu-test-prepare DIR [--target T] [--if-device] [--seed N])");
  }
  if (dir.empty()) return fail("usage: qcc-gpu-test-prepare DIR [--target T[,T...]] [--if-device] [--seed N]");
  if (targets.empty()) {
    auto dev = CudaDevice::open(0);
    if (!dev) {
      if (ifDevice) {
        std::printf("qcc-gpu-test-prepare: no device (%s): nothing to prepare\n", dev.message().c_str());
        return 0;
      }
      return fail(dev.message() + " (name the targets with --target)");
    }
    const GpuTarget *t = targetForComputeCapability((*dev)->ccMajor(), (*dev)->ccMinor());
    if (!t) return fail("no qcc target for " + (*dev)->archName());
    targets = t->cliName;
  }
  ::mkdir(dir.c_str(), 0755);
  auto hostBuilds = [](const qcc::test::CompiledModel &m) { return buildHostKernelsIfEmulated(m.kernels); };
  for (const ExecutorCase &c : executorCases()) {
    auto a = prepareExecutorArtifacts(dir, c.name, c.format, c.mixed ? mixedPrecisionRules() : LayerRules{}, targets,
                                      seed, hostBuilds);
    if (!a) return fail("case " + c.name + ": " + a.message());
    if (Status s = writeCase(dir, c.name, *a); !s) return fail(s.message());
  }
  const std::string greedy = dir + "/" + greedyCaseName() + ".qcc";
  auto g = prepareModelArtifact(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare", greedy, "w4a16",
                                mixedPrecisionRules(), targets, hostBuilds);
  if (!g) return fail(std::string("case ") + greedyCaseName() + ": " + g.message());
  // The checkpoints were only inputs: what the test reads is the artifacts.
  for (const std::string &c : {dir + "/checkpoint-" + std::to_string(seed), dir + "/fp8-reference-checkpoint",
                               dir + "/mixed-reference-checkpoint"}) {
    ::unlink((c + "/config.json").c_str());
    ::unlink((c + "/model.safetensors").c_str());
    ::rmdir(c.c_str());
  }
  std::printf("qcc-gpu-test-prepare: %zu cases for %s in %s (checkpoint seed %u)\n", executorCases().size() + 1,
              targets.c_str(), dir.c_str(), seed);
  return 0;
}
