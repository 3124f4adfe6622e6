#!/usr/bin/env bash
# gpu-check.sh: everything that needs a GPU, in one call on a GPU machine.
#   1. builds qcc's CUDA parts (or uses prebuilt binaries: QCC_PREBUILT=<build dir>)
#   2. runs the CUDA unit tests, the gpu-labelled ones included (every kernel
#      against the formats-library CPU reference on fresh random inputs)
#   3. compiles the bundled model (models/llama-tiny-shakespeare) with `qcc
#      compile` for the GPU's target in every format and runs it end to end
#      on the GPU against the CPU executor (bench/gpu/qcc-gpu-model-check:
#      logits relative error, argmax agreement, decode step time)
#   4. runs bench/gpu's qcc-gpu-bench: GEMMs at M = 1, 16, 128, 2048 on the
#      Llama-3.1-8B shapes vs cuBLAS bf16 and the measured roofline, and
#      writes the table to bench/gpu/results-<gpu>.md
# Usage: scripts/gpu-check.sh [--quick]     (--quick: M = 1, 128 only)
# Env:   QCC_GPU_BUILD (build dir, default build-gpu), QCC_PREBUILT, JOBS.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${QCC_GPU_BUILD:-$ROOT/build-gpu}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
QUICK=""
[ "${1:-}" = "--quick" ] && QUICK="--quick"
export QCC_CACHE_DIR=${QCC_CACHE_DIR:-$(mktemp -d /tmp/qcc-gpu-cache-XXXXXX)}
status=0

echo "== device"
nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv 2>/dev/null \
  || echo "(nvidia-smi not available)"

if [ -n "${QCC_PREBUILT:-}" ]; then
  BUILD=$QCC_PREBUILT
  echo "== using prebuilt binaries in $BUILD"
else
  echo "== build ($BUILD)"
  if ! cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$BUILD.cmake.log" 2>&1; then
    tail -30 "$BUILD.cmake.log"
    echo "gpu-check: cmake failed (log: $BUILD.cmake.log); set QCC_PREBUILT to a build dir" >&2
    exit 1
  fi
  targets=""
  for t in CudaCodegenTest CudaCompileTest CudaDriverTest CudaHostEmulationTest CudaKernelsGpuTest \
           CudaArtifactKernelsTest CudaExecutorGpuTest qcc qcc-cache-stress qcc-gpu-bench qcc-gpu-model-check; do
    ninja -C "$BUILD" -t query "$t" >/dev/null 2>&1 && targets="$targets $t"
  done
  ninja -C "$BUILD" -j"$JOBS" $targets || { echo "gpu-check: build failed" >&2; exit 1; }
fi
U=$BUILD/unittests

echo "== CUDA tests on the GPU (label gpu)"
"$U/CudaDriverTest" --gtest_brief=1 || status=1
"$U/CudaKernelsGpuTest" >"$BUILD/gpu-kernels-test.log" 2>&1
rc=$?
grep -E "^\[ *(OK|FAILED|SKIPPED|PASSED) *\]|Failure|relative|max abs|no GPU" "$BUILD/gpu-kernels-test.log" | head -200
[ $rc -eq 0 ] || status=1
if grep -q "no GPU" "$BUILD/gpu-kernels-test.log"; then
  echo "gpu-check: the GPU tests were skipped: no usable device" >&2
  status=1
fi

echo "== whole-model executor vs CPU executor (random tiny models, every format)"
"$U/CudaExecutorGpuTest" >"$BUILD/gpu-executor-test.log" 2>&1
rc=$?
grep -E "^\[ *(OK|FAILED|SKIPPED|PASSED) *\]|Failure|relative error|no GPU" "$BUILD/gpu-executor-test.log" | head -60
[ $rc -eq 0 ] || status=1

echo "== bundled model end to end: qcc compile for this GPU, CUDA vs CPU logits, decode step"
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
model_md="$BUILD/model-check.md"
: >"$model_md"
if [ -z "$cc" ]; then
  echo "gpu-check: cannot read the compute capability" >&2
  status=1
elif [ ! -x "$BUILD/bin/qcc" ] || [ ! -x "$BUILD/bin/qcc-gpu-model-check" ]; then
  echo "gpu-check: qcc or qcc-gpu-model-check was not built" >&2
  status=1
else
  for fmt in bf16 int8 fp8 w4a16; do
    art="$BUILD/tiny-$fmt-sm$cc.qcc"
    extra=""
    [ "$fmt" = fp8 ] && [ "$cc" -lt 89 ] && extra="--fp8-weight-only"
    bound=0.03
    case $fmt in int8|fp8) bound=0.06 ;; esac
    if "$BUILD/bin/qcc" compile "$ROOT/models/llama-tiny-shakespeare" --format "$fmt" --target "sm$cc" $extra \
         -o "$art" >"$art.log" 2>&1; then
      "$BUILD/bin/qcc-gpu-model-check" "$art" --prompt 48 --decode 32 --bound $bound --md "$model_md" || status=1
    else
      tail -5 "$art.log"
      echo "gpu-check: qcc compile --format $fmt failed (log: $art.log)" >&2
      status=1
    fi
  done
fi

echo "== qcc tune (smoke: bf16 and int8, one shape)"
if [ -x "$BUILD/bin/qcc" ]; then
  rm -f "$BUILD/tiles.json"
  "$BUILD/bin/qcc" tune --formats bf16,int8 --shapes 4096:4096 --iters 20 --out "$BUILD/tiles.json" | tail -4 || status=1
  [ -s "$BUILD/tiles.json" ] && cat "$BUILD/tiles.json" || status=1
fi

echo "== no-GPU checks (compile every kernel for every target, cache, artifact kernels)"
"$U/CudaCodegenTest" --gtest_brief=1 || status=1
"$U/CudaCompileTest" --gtest_brief=1 || status=1
"$U/CudaHostEmulationTest" --gtest_brief=1 || status=1
"$U/CudaArtifactKernelsTest" --gtest_brief=1 || status=1
[ -f "$U/cuda-kernel-resources.tsv" ] && column -t "$U/cuda-kernel-resources.tsv" | awk 'NR==1 || $4 > 128 || $5 > 0'

echo "== benchmark"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' /' '__' | tr -cd 'A-Za-z0-9_-')
out="$ROOT/bench/gpu/results-${gpu:-unknown}.md"
if [ -x "$BUILD/bin/qcc-gpu-bench" ]; then
  "$BUILD/bin/qcc-gpu-bench" $QUICK --out "$out" || status=1
  if [ -s "$model_md" ]; then
    { echo; echo "## Bundled model end to end (CUDA executor vs CPU executor)"; echo
      echo "| artifact | GPU | kernels | prompt | prefill rel err | worst decode rel err | argmax agree | decode ms/step | |"
      echo "|---|---|---|---|---|---|---|---|---|"; cat "$model_md"; } >>"$out"
  fi
  echo "results table: $out"
else
  echo "gpu-check: qcc-gpu-bench was not built" >&2
  status=1
fi
echo "== gpu-check: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
