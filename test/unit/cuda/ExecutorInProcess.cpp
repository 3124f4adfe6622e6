// ExecutorCheck.h's two halves in one process, for tests that link the
// compiler: a fresh folder and seed per check, the device's target.
#include "ExecutorCheck.h"

#include "codegen/cuda/Targets.h"

#include <gtest/gtest.h>

#include <random>
#include <unistd.h>

namespace qcc::cuda::testing {

namespace {
std::string tempDir() {
  char tmpl[] = "/tmp/qcc-executor-check-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}
} // namespace

void checkExecutorAgainstCpu(CudaDevice &device, const std::string &format, double bound,
                             const InProcessCheck &check) {
  const GpuTarget *target = targetForComputeCapability(device.ccMajor(), device.ccMinor());
  ASSERT_NE(target, nullptr) << "no qcc target for " << device.archName();
  const unsigned seed = std::random_device{}(); // fresh weights each run
  auto a = prepareExecutorArtifacts(tempDir(), "model", format, check.layerFormats, target->cliName, seed,
                                    check.onCompiled);
  ASSERT_TRUE(a.isOk()) << a.message() << " (checkpoint seed " << seed << ")";
  checkExecutorArtifacts(device, *a, bound, check);
}

void checkGreedyIdsAgainstCpu(CudaDevice &device, const std::string &checkpointDir, const std::string &format,
                              const std::vector<int64_t> &prompt, int tokens, const InProcessCheck &check) {
  const GpuTarget *target = targetForComputeCapability(device.ccMajor(), device.ccMinor());
  ASSERT_NE(target, nullptr) << "no qcc target for " << device.archName();
  auto path = prepareModelArtifact(checkpointDir, tempDir() + "/model.qcc", format, check.layerFormats,
                                   target->cliName, check.onCompiled);
  ASSERT_TRUE(path.isOk()) << path.message();
  checkGreedyIdsOnArtifact(device, *path, prompt, tokens, check.cudaGraphs);
}

} // namespace qcc::cuda::testing
