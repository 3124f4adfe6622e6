// The CUDA driver is optional: without libcuda every entry point reports a
// clear Status, never a crash.
#include "runtime/cuda/CudaDevice.h"
#include "runtime/cuda/CudaDriver.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>

using namespace qcc::cuda;

TEST(CudaDriver, MissingLibraryIsAClearError) {
  qcc::Expected<const CudaDriver *> d = CudaDriver::loadFrom("libcuda-qcc-test-missing.so.1");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.message(), "no CUDA driver: libcuda-qcc-test-missing.so.1 could not be loaded");
}

TEST(CudaDriver, NoDriverOnThisMachineMeansTheDocumentedMessage) {
  if (const char *d = std::getenv("QCC_CUDA_DRIVER"); d && *d) GTEST_SKIP() << "QCC_CUDA_DRIVER names a driver: " << d;
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h) {
    dlclose(h);
    GTEST_SKIP() << "libcuda.so.1 is present here";
  }
  qcc::Expected<const CudaDriver *> d = CudaDriver::get();
  ASSERT_FALSE(d);
  EXPECT_EQ(d.message(), "no CUDA driver: libcuda.so.1 could not be loaded");
  // Every higher-level entry point passes the same message through.
  qcc::Expected<std::unique_ptr<CudaDevice>> dev = CudaDevice::open(0);
  ASSERT_FALSE(dev);
  EXPECT_EQ(dev.message(), "no CUDA driver: libcuda.so.1 could not be loaded");
  qcc::Expected<int> n = CudaDevice::count();
  ASSERT_FALSE(n);
  EXPECT_EQ(n.message(), "no CUDA driver: libcuda.so.1 could not be loaded");
}

TEST(CudaDriver, BadOrdinalIsAnError) {
  qcc::Expected<int> n = CudaDevice::count();
  if (!n || *n == 0) GTEST_SKIP() << "no CUDA device";
  qcc::Expected<std::unique_ptr<CudaDevice>> dev = CudaDevice::open(*n + 3);
  ASSERT_FALSE(dev);
  EXPECT_NE(dev.message().find("no CUDA device"), std::string::npos) << dev.message();
}
