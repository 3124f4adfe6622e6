# lit configuration for qcc: FileCheck-based tests of qcc-opt passes and the qcc CLI.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "qcc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qcc_obj_root, "test")
config.excludes = ["unit", "lit.cfg.py", "lit.site.cfg.py.in", "Inputs"]

config.substitutions.append(("%shared", os.path.join(config.qcc_src_root, "..", "shared")))
config.substitutions.append(("%qcc_src", config.qcc_src_root))
# Bad input must fail cleanly: within a timeout, exit 1..123, with a message.
config.substitutions.append(("%expect_error", "sh " + os.path.join(config.test_source_root, "Inputs", "expect-error.sh")))
# Tests that make device nodes (mknod) run only as root.
if hasattr(os, "geteuid") and os.geteuid() == 0:
    config.available_features.add("root")

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.qcc_tools_dir, append_path=True)

if config.qcc_have_cuda_headers:
    config.available_features.add("cuda-headers")

# The emulated CUDA driver (test/unit/cuda/EmulatedDriver.cpp) and the tool
# that builds host kernels for it: `qcc run --device cuda` without a GPU.
if os.path.exists(config.qcc_emu_driver) and os.path.exists(os.path.join(config.qcc_tools_dir, "qcc-emu-kernels")):
    config.available_features.add("cuda-emulation")
    config.substitutions.append(("%emu_driver", config.qcc_emu_driver))
    # Host builds of kernels, shared with the unit tests (cached by source).
    config.substitutions.append(("%emu_kernels", os.path.join(config.qcc_obj_root, "emu-kernels")))

tools = ["qcc-opt", "qcc", "qcc-translate", "qcc-run", "qcc-emu-kernels"]
llvm_config.add_tool_substitutions(
    [t for t in tools if os.path.exists(os.path.join(config.qcc_tools_dir, t))],
    [config.qcc_tools_dir])

# One NVRTC kernel cache for the whole suite (inside the build tree), so that
# repeated compiles of the same kernels hit it instead of re-running NVRTC.
config.environment["QCC_CACHE_DIR"] = os.path.join(config.qcc_obj_root, "kernel-cache")
