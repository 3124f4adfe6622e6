// The CUDA executor without a GPU: CudaExecutor runs on the emulated driver
// (libqcc-emu-cuda.so, EmulatedDriver.cpp), which executes each kernel's own
// template code built for the host under the CUDA host emulation, and is
// compared with the CPU executor on a small random Llama (ExecutorCheck.h).
// This exercises what no kernel-level test does: the executor's weight
// layouts (fused q|k|v and gate|up, w4a16 packing, scales), buffer sizes and
// slices, launch arguments and geometry, the KV cache across prefill and
// decode, reset(), and the planner/compiler agreement on kernel names, with
// the artifact's real images (a function is found only in the image that
// names it). Hardware behaviour itself is what the GPU tests check.
#include "ExecutorCheck.h"
#include "HostKernels.h"

#include "codegen/cuda/ArtifactKernels.h"
#include "codegen/cuda/Nvrtc.h"
#include "runtime/cuda/CudaDriver.h"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace qcc;
using namespace qcc::cuda;

namespace {

// The device of the emulated driver, reporting compute capability `cc`.
std::unique_ptr<CudaDevice> emulatedDevice(const char *cc) {
  ::setenv("QCC_EMU_CC", cc, 1);
  ::setenv("QCC_EMU_KERNELS", QCC_EMU_KERNEL_DIR, 1);
  auto driver = CudaDriver::loadFrom(QCC_EMU_DRIVER);
  EXPECT_TRUE(driver.isOk()) << driver.message();
  if (!driver) return nullptr;
  auto dev = CudaDevice::open(**driver, 0);
  EXPECT_TRUE(dev.isOk()) << dev.message();
  return dev ? std::move(*dev) : nullptr;
}

// Host builds of every kernel the artifact's targets plan.
Status buildKernelsFor(const artifact::ArtifactSpec &spec, const std::vector<artifact::TargetDecl> &targets) {
  std::vector<GeneratedKernel> all;
  for (const artifact::TargetDecl &t : targets) {
    auto plan = planArtifactTarget(spec, t);
    if (!plan) return plan.status();
    auto gpu = findTarget(t.target);
    if (!gpu) return gpu.status();
    for (const KernelSpec &s : plan->unique()) {
      auto g = generateKernel(s, **gpu);
      if (!g) return g.status();
      all.push_back(*g);
    }
  }
  return qcc::cuda::testing::buildHostKernels(all, QCC_EMU_KERNEL_DIR);
}

void check(const char *cc, const std::string &format, double bound, bool cudaGraphs = true) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  std::unique_ptr<CudaDevice> dev = emulatedDevice(cc);
  ASSERT_NE(dev, nullptr);
  qcc::cuda::testing::ExecutorCheck c;
  c.decodeSteps = 3;
  c.cudaGraphs = cudaGraphs;
  c.prepare = buildKernelsFor;
  qcc::cuda::testing::checkExecutorAgainstCpu(*dev, format, bound, c);
}

} // namespace

// sm_90a: mma.sync decode GEMMs, wgmma prefill GEMMs, fp8 mma.
TEST(CudaExecutorEmulation, DenseSm90a) { check("90", "dense", 3e-2); }
TEST(CudaExecutorEmulation, W4A16Sm90a) { check("90", "w4a16", 3e-2); }
TEST(CudaExecutorEmulation, Int8Sm90a) { check("90", "int8", 3e-2); }
TEST(CudaExecutorEmulation, Fp8Sm90a) { check("90", "fp8", 3e-2); }
// sm_86: mma.sync everywhere, and fp8 through the weight-only fallback.
TEST(CudaExecutorEmulation, W4A16Sm86) { check("86", "w4a16", 3e-2); }
TEST(CudaExecutorEmulation, Fp8WeightOnlySm86) { check("86", "fp8", 3e-2); }
// Decode launching kernel by kernel, as without graph support.
TEST(CudaExecutorEmulation, W4A16Sm86WithoutGraphs) { check("86", "w4a16", 3e-2, false); }

// The wrapper reads the entry point's parameter types.
TEST(CudaExecutorEmulation, HostWrapperUnpacksParameters) {
  GeneratedKernel k;
  k.name = "qcc_add_t256";
  k.source = "extern \"C\" __global__ void qcc_add_t256(const bf16 *a, const bf16 *b, bf16 *out, long long n) {}\n";
  auto src = qcc::cuda::testing::hostKernelSource(k);
  ASSERT_TRUE(src.isOk()) << src.message();
  EXPECT_NE(src->find("qcc_add_t256(*static_cast<const bf16 * *>(args[0]), *static_cast<const bf16 * *>(args[1]), "
                      "*static_cast<bf16 * *>(args[2]), *static_cast<long long *>(args[3]))"),
            std::string::npos)
      << *src;
}
