// The CUDA executor without a GPU: CudaExecutor runs on the emulated driver
// (libqcc-emu-cuda.so, EmulatedDriver.cpp), which executes each kernel's own
// template code built for the host under the CUDA host emulation, and is
// compared with the CPU executor (ExecutorCheck.h) on artifacts the real
// compiler made (import, the compile pipeline, the translation). This
// exercises what no kernel-level test does: the launch lists the translation
// writes (device weights in the layouts the kernels read, fused q|k|v and
// gate|up, w4a16 packing, scales, buffer plan and slices, launch arguments and
// geometry), the KV cache across prefill and decode, reset(), the decode graph,
// and the agreement of the lowering and the translation on kernel names, with
// the artifact's real images (a function is found only in the image that names
// it). Hardware behaviour itself is what the GPU tests check.
#include "ExecutorCases.h"
#include "ExecutorCheck.h"
#include "HostKernels.h"

#include "CompiledModel.h"

#include "codegen/cuda/Nvrtc.h"
#include "runtime/cuda/CudaDriver.h"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace qcc;
using namespace qcc::cuda;

namespace {

// The device of the emulated driver, reporting compute capability `cc`; the
// NVRTC kernel cache of every compile in this test lives next to the host
// kernels, so that reruns compile nothing.
std::unique_ptr<CudaDevice> emulatedDevice(const char *cc) {
  ::setenv("QCC_EMU_CC", cc, 1);
  ::setenv("QCC_EMU_KERNELS", QCC_EMU_KERNEL_DIR, 1);
  ::setenv("QCC_CACHE_DIR", QCC_EMU_KERNEL_DIR "/nvrtc-cache", 1);
  auto driver = CudaDriver::loadFrom(QCC_EMU_DRIVER);
  EXPECT_TRUE(driver.isOk()) << driver.message();
  if (!driver) return nullptr;
  auto dev = CudaDevice::open(**driver, 0);
  EXPECT_TRUE(dev.isOk()) << dev.message();
  return dev ? std::move(*dev) : nullptr;
}

// Host builds of every kernel the compiled model launches.
Status buildHostKernels(const qcc::test::CompiledModel &model) {
  return qcc::cuda::testing::buildHostKernels(model.kernels, QCC_EMU_KERNEL_DIR);
}

qcc::cuda::testing::InProcessCheck emulationCheck(bool cudaGraphs = true) {
  qcc::cuda::testing::InProcessCheck c;
  c.decodeSteps = 3;
  c.cudaGraphs = cudaGraphs;
  c.onCompiled = buildHostKernels;
  return c;
}

void check(const char *cc, const std::string &format, double bound, bool cudaGraphs = true) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  std::unique_ptr<CudaDevice> dev = emulatedDevice(cc);
  ASSERT_NE(dev, nullptr);
  qcc::cuda::testing::checkExecutorAgainstCpu(*dev, format, bound, emulationCheck(cudaGraphs));
}

} // namespace

// sm_90a: mma.sync decode GEMMs, wgmma prefill GEMMs, fp8 mma.
TEST(CudaExecutorEmulation, DenseSm90a) { check("90", "bf16", 3e-2); }
TEST(CudaExecutorEmulation, W4A16Sm90a) { check("90", "w4a16", 3e-2); }
TEST(CudaExecutorEmulation, Int8Sm90a) { check("90", "int8", 3e-2); }
TEST(CudaExecutorEmulation, Fp8Sm90a) { check("90", "fp8", 3e-2); }
// sm_86: mma.sync everywhere, and fp8 through the weight-only fallback.
TEST(CudaExecutorEmulation, W4A16Sm86) { check("86", "w4a16", 3e-2); }
TEST(CudaExecutorEmulation, Fp8WeightOnlySm86) { check("86", "fp8", 3e-2); }
// Decode launching kernel by kernel, as without graph support.
TEST(CudaExecutorEmulation, W4A16Sm86WithoutGraphs) { check("86", "w4a16", 3e-2, false); }

// Mixed precision on a random model: logits within the bounds, on sm_90a
// (fp8 mma) and sm_86 (fp8 weight-only against the dequantized weights).
TEST(CudaExecutorEmulation, MixedPrecisionSm90a) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  std::unique_ptr<CudaDevice> dev = emulatedDevice("90");
  ASSERT_NE(dev, nullptr);
  auto c = emulationCheck();
  c.rounds = 1;
  c.layerFormats = qcc::cuda::testing::mixedPrecisionRules();
  qcc::cuda::testing::checkExecutorAgainstCpu(*dev, "w4a16", 3e-2, c);
}
TEST(CudaExecutorEmulation, MixedPrecisionSm86) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  std::unique_ptr<CudaDevice> dev = emulatedDevice("86");
  ASSERT_NE(dev, nullptr);
  auto c = emulationCheck();
  c.rounds = 1;
  c.layerFormats = qcc::cuda::testing::mixedPrecisionRules();
  qcc::cuda::testing::checkExecutorAgainstCpu(*dev, "w4a16", 3e-2, c);
}

// Mixed precision on the bundled trained model: the GPU's greedy ids are the
// CPU's on sm_90a and on sm_86 (fp8 weight-only there).
TEST(CudaExecutorEmulation, MixedPrecisionGreedyIdsOfTheBundledModel) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  auto c = emulationCheck();
  c.layerFormats = qcc::cuda::testing::mixedPrecisionRules();
  const std::string model = std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare";
  for (const char *cc : {"90", "86"}) {
    std::unique_ptr<CudaDevice> dev = emulatedDevice(cc);
    ASSERT_NE(dev, nullptr);
    qcc::cuda::testing::checkGreedyIdsAgainstCpu(*dev, model, "w4a16", {1, 2, 3, 4, 5}, 8, c);
  }
}

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
