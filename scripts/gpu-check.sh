#!/usr/bin/env bash
# gpu-check.sh: everything that needs a GPU (issue 15), in one call, in two phases:
#
#   prepare (needs the compiler: LLVM/MLIR, NVRTC; no GPU): builds, copies the
#     programs that run on the GPU (they link no compiler) into DIR/bin, and
#     compiles into DIR what they run: the GPU executor test's artifacts
#     (qcc-gpu-test-prepare) and the bundled model (models/llama-tiny-shakespeare)
#     in every format for the GPU's target, plus an sm_80-only one (the PTX JIT
#     path on sm_90a).
#   run (the GPU; no compiler needed), each step with a time budget:
#     1. device         what the GPU is
#     2. gpu-tests      every GPU-labelled GoogleTest: every kernel of every
#                       format against runtime/formats on random inputs
#                       (CudaKernelsGpuTest), the CUDA executor against the CPU
#                       executor in every format and mixed precision
#                       (CudaExecutorGpuTest), the driver (CudaDriverTest)
#     3. model          the bundled model end to end per format and on the sm_80
#                       PTX JIT path: logits, greedy ids (qcc-gpu-model-check and
#                       `qcc run` --device cuda vs cpu) and eval perplexity, GPU vs
#                       CPU, within ExecutorCheck's bounds; decode ms/step
#     4. gemm           the measured roofline; every GEMM format at M = 1, 16,
#                       128, 2048 on the Llama-3.1-8B shapes vs cuBLAS / cuBLASLt
#     5. decode         the 8B-shaped decode step (2 layers) per format vs its
#                       weight-bytes roofline
#     6. nvrtc          NVRTC cold and warm compile of the 8B model's kernels
#   The report (Markdown: device, driver, CUDA, date, commit, every table) goes
#   to $GPU_CHECK_OUT (default DIR/results).
#
# Usage:
#   scripts/gpu-check.sh [--quick]                 both phases here (a GPU machine with the toolchain)
#   scripts/gpu-check.sh --emulated [--quick]      both phases here without a GPU: the emulated driver
#                                                  (libqcc-emu-cuda.so) runs host builds of the kernels;
#                                                  prints what a GPU run measures, timings meaningless
#   scripts/gpu-check.sh --prepare DIR [--target sm90] [--emulated]
#                                                  phase 1 only (here), for a GPU machine without the
#                                                  compiler: writes DIR and DIR.tar.xz (about 30 MB for
#                                                  sm90) to carry there (it unpacks to DIR.unpacked)
#   scripts/gpu-check.sh --run DIR|DIR.tar.xz [--quick] [--emulated]   phase 2 only (there)
# Env: QCC_GPU_BUILD (build dir, default ./build), JOBS, GPU_CHECK_OUT (report folder).
# Exit 0 only when every step passed. A GPU run fits 10 minutes (the budgets
# below, 465 s in all); emulated budgets are 20x (the emulation is slow).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${QCC_GPU_BUILD:-$ROOT/build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
MODE=all DIR="" EMULATED=0 QUICK=0 TARGET=""
while [ $# -gt 0 ]; do
  case $1 in
    --emulated) EMULATED=1 ;;
    --quick) QUICK=1 ;;
    --prepare) MODE=prepare DIR=${2:?--prepare needs a folder}; shift ;;
    --run) MODE=run DIR=${2:?--run needs a folder}; shift ;;
    --target) TARGET=${2:?--target needs sm80, sm86, sm89 or sm90}; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d;s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
MODEL=$ROOT/models/llama-tiny-shakespeare
FORMATS="bf16 int8 fp8 w4a16"

# The device's qcc target (sm80, sm86, sm89, sm90): nvidia-smi's compute
# capability, or the emulated device's.
device_target() {
  local cc
  if [ "$EMULATED" = 1 ]; then cc=${QCC_EMU_CC:-90}
  else cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .'); fi
  case $cc in 80|86|89|90) echo "sm$cc" ;; 87|88) echo sm86 ;; *) echo "" ;; esac
}

#---------------------------------------------------------------- phase 1
prepare() {
  local dir=$1 target=$2 t0=$SECONDS
  echo "== prepare $dir for $target$([ "$EMULATED" = 1 ] && echo ' (emulated)')"
  if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$BUILD.configure.log" 2>&1 ||
      { tail -20 "$BUILD.configure.log"; echo "gpu-check: cmake failed" >&2; return 1; }
  fi
  local programs="CudaDriverTest CudaKernelsGpuTest CudaExecutorGpuTest qcc-gpu-bench qcc-gpu-model-check qcc-run"
  ninja -C "$BUILD" -j"$JOBS" qcc qcc-opt qcc-gpu-test-prepare qcc-emu-kernels qcc-emu-cuda $programs ||
    { echo "gpu-check: build failed" >&2; return 1; }
  rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/model" || return 1
  for p in CudaDriverTest CudaKernelsGpuTest CudaExecutorGpuTest; do cp "$BUILD/unittests/$p" "$dir/bin/"; done
  for p in qcc-gpu-bench qcc-gpu-model-check qcc-run; do cp "$BUILD/bin/$p" "$dir/bin/"; done
  cp "$BUILD/unittests/libqcc-emu-cuda.so" "$dir/bin/"
  local emu=""
  if [ "$EMULATED" = 1 ]; then
    emu=$BUILD/emu-kernels
    export QCC_EMU_KERNELS=$emu # the preparer builds host kernels there too
  fi
  "$BUILD/unittests/qcc-gpu-test-prepare" "$dir/gpu-test-data" --target "$target" ||
    { echo "gpu-check: qcc-gpu-test-prepare failed" >&2; return 1; }
  local weightonly=""
  case $target in sm80|sm86) weightonly="--fp8-weight-only" ;; esac
  "$BUILD/bin/qcc" import "$MODEL" -o "$dir/model/model.mlir" || return 1
  for f in $FORMATS; do
    "$BUILD/bin/qcc" compile "$MODEL" --format "$f" --target "$target" $weightonly -o "$dir/model/$f.qcc" --quiet ||
      { echo "gpu-check: qcc compile --format $f failed" >&2; return 1; }
    if [ -n "$emu" ]; then # host kernels from the same lowering
      "$BUILD/bin/qcc-opt" "$dir/model/model.mlir" \
        --qcc-compile-pipeline="format=$f target=$target $([ -n "$weightonly" ] && echo fp8-weight-only)" \
        -o "$dir/model/$f-lowered.mlir" && "$BUILD/bin/qcc-emu-kernels" "$dir/model/$f-lowered.mlir" "$emu" >/dev/null ||
        { echo "gpu-check: host kernels for $f failed" >&2; return 1; }
    fi
  done
  "$BUILD/bin/qcc" compile "$MODEL" --format w4a16 --target sm80 -o "$dir/model/w4a16-sm80.qcc" --quiet || return 1
  if [ -n "$emu" ]; then
    "$BUILD/bin/qcc-opt" "$dir/model/model.mlir" --qcc-compile-pipeline="format=w4a16 target=sm80" \
      -o "$dir/model/w4a16-sm80-lowered.mlir" &&
      "$BUILD/bin/qcc-emu-kernels" "$dir/model/w4a16-sm80-lowered.mlir" "$emu" >/dev/null || return 1
  fi
  rm -f "$dir"/model/*.mlir
  cp "$MODEL/eval.ids" "$dir/model/"
  { echo "target=$target"
    echo "emulated=$EMULATED"
    echo "emu_kernels=$emu"
    echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+changes')"
    echo "prepared=$(date -u +%Y-%m-%dT%H:%MZ)"; } >"$dir/manifest"
  # What to carry to a GPU machine without the compiler.
  tar -C "$dir" -cJf "$dir.tar.xz" manifest bin model gpu-test-data || return 1
  echo "prepared in $((SECONDS - t0)) s: $(du -sh "$dir" | cut -f1) in $dir$([ -f "$dir.tar.xz" ] &&
    echo ", $(du -h "$dir.tar.xz" | cut -f1) in $dir.tar.xz (there: scripts/gpu-check.sh --run $(basename "$dir").tar.xz)")"
}

#---------------------------------------------------------------- phase 2
STEPS=() STATUS=0
# step NAME BUDGET_S COMMAND...: runs with the budget (x20 emulated), logs.
step() {
  local name=$1 budget=$2 limit=$2
  shift 2
  [ "$EMULATED" = 1 ] && limit=$((budget * 20))
  echo
  echo "== $name (budget ${budget} s on a GPU$([ "$EMULATED" = 1 ] && echo ", ${limit} s emulated"))"
  local t0=$SECONDS rc
  timeout --kill-after=10 "$limit" bash -c "$*" 2>&1 | tee "$LOGS/$name.log"
  rc=${PIPESTATUS[0]}
  local took=$((SECONDS - t0)) verdict=PASS
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && verdict="FAIL (over its ${limit} s limit)"
  [ "$rc" != 0 ] && [ "$verdict" = PASS ] && verdict="FAIL (exit $rc)"
  [ "$verdict" != PASS ] && STATUS=1
  [ "$EMULATED" = 0 ] && [ "$took" -gt "$budget" ] && verdict="$verdict, over budget"
  STEPS+=("| $name | $budget | $took | $verdict |")
  echo "-- $name: $verdict in $took s"
}

run() {
  local dir=$1
  if [ -f "$dir" ]; then # a carried DIR.tar.xz
    local x=${dir%.tar.xz}.unpacked
    rm -rf "$x" && mkdir -p "$x" && tar -C "$x" -xf "$dir" || { echo "gpu-check: cannot unpack $dir" >&2; return 1; }
    dir=$x
  fi
  dir=$(cd "$dir" && pwd) || { echo "gpu-check: no folder $1" >&2; return 1; }
  [ -f "$dir/manifest" ] || { echo "gpu-check: $dir has no manifest (run --prepare first)" >&2; return 1; }
  local target emuk
  target=$(sed -n 's/^target=//p' "$dir/manifest")
  emuk=$(sed -n 's/^emu_kernels=//p' "$dir/manifest")
  local B=$dir/bin M=$dir/model
  OUTDIR=${GPU_CHECK_OUT:-$dir/results}
  LOGS=$OUTDIR/logs
  mkdir -p "$LOGS"
  export QCC_CACHE_DIR=${QCC_CACHE_DIR:-$dir/nvrtc-cache}
  if [ "$EMULATED" = 1 ]; then
    [ -n "$emuk" ] || { echo "gpu-check: $dir was prepared without --emulated" >&2; return 1; }
    export QCC_CUDA_DRIVER=$B/libqcc-emu-cuda.so QCC_EMU_KERNELS=$emuk QCC_EMU_CC=${target#sm}
  fi
  # cuBLAS for the comparisons: the toolkit's, or the one a Python install carries.
  if ! ldconfig -p 2>/dev/null | grep -q libcublasLt.so && [ ! -e /usr/local/cuda/lib64/libcublasLt.so ]; then
    local pylib
    pylib=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null)
    [ -n "$pylib" ] && [ -d "$pylib" ] && export LD_LIBRARY_PATH=$pylib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  fi
  local quick="" maxeval="" md=$OUTDIR/model-check.md
  [ "$QUICK" = 1 ] && quick="--quick"
  # The emulation runs the bundled model's eval on 2 windows of 64 tokens, not 32 of 256.
  [ "$EMULATED" = 1 ] && maxeval="--max-seqs 2 --max-len 64 --prompt 20 --decode 4 --greedy 8"
  : >"$md"
  local t0=$SECONDS

  step device 10 "nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null ||
    echo 'nvidia-smi: not available'; echo 'prepared:'; cat '$dir/manifest'"

  # GPU tests; afterwards, a skipped GPU test means no usable GPU (or nothing prepared): a failure.
  step gpu-tests 120 "fail=0
    for t in CudaDriverTest CudaKernelsGpuTest; do '$B/'\$t --gtest_brief=0 2>&1 | grep -E '^\[ *(OK|FAILED|SKIPPED) *\]|Failure|rror|no GPU'; [ \${PIPESTATUS[0]} = 0 ] || fail=1; done
    QCC_GPU_TEST_DATA='$dir/gpu-test-data' '$B/CudaExecutorGpuTest' --gtest_brief=0 2>&1 |
      grep -E '^\[ *(OK|FAILED|SKIPPED) *\]|Failure|rror|relative error|greedy ids|no GPU'; [ \${PIPESTATUS[0]} = 0 ] || fail=1
    exit \$fail"
  if grep -q -E '^\[  SKIPPED \] (CudaKernelsGpu\.Gemm(Bf16|Int8|W4A16)|CudaExecutorGpu\.(Bf16|W4A16|Int8|Mixed))' \
      "$LOGS/gpu-tests.log" 2>/dev/null; then
    echo "gpu-check: GPU tests were skipped: no usable device or nothing prepared" >&2
    STEPS[${#STEPS[@]}-1]="| gpu-tests | 120 | - | FAIL (GPU tests skipped) |"
    STATUS=1
  fi

  step model 90 "fail=0
    for f in $FORMATS; do
      '$B/qcc-gpu-model-check' '$M/'\$f.qcc --data-ids '$M/eval.ids' --dense '$M/bf16.qcc' --label \"\$f $target\" \
        --md '$md' $maxeval || fail=1
    done
    '$B/qcc-gpu-model-check' '$M/w4a16-sm80.qcc' --data-ids '$M/eval.ids' --label 'w4a16 sm80 (PTX JIT on sm_90a)' \
      --md '$md' $maxeval || fail=1
    for a in w4a16 w4a16-sm80; do # the product's CLI: same greedy ids on both devices
      '$B/qcc-run' '$M/'\$a.qcc --prompt-ids '1 2 3 4 5' -n 16 --ignore-eos --device cpu 2>/dev/null | head -n 1 >'$LOGS/'\$a-cpu.ids
      '$B/qcc-run' '$M/'\$a.qcc --prompt-ids '1 2 3 4 5' -n 16 --ignore-eos --device cuda 2>'$LOGS/'\$a-cuda.err | head -n 1 >'$LOGS/'\$a-cuda.ids
      cat '$LOGS/'\$a-cuda.err
      if [ -s '$LOGS/'\$a-cpu.ids ] && cmp -s '$LOGS/'\$a-cpu.ids '$LOGS/'\$a-cuda.ids; then echo \"qcc run \$a: cuda ids = cpu ids: \$(cat '$LOGS/'\$a-cpu.ids)\"
      else echo \"qcc run \$a: cuda ids differ from cpu ids\"; fail=1; fi
    done
    exit \$fail"

  step gemm 150 "'$B/qcc-gpu-bench' --sections roofline,gemm $quick --out '$OUTDIR/gemm.md' | grep -v '^gemm '"
  step decode 60 "'$B/qcc-gpu-bench' --sections roofline,decode --out '$OUTDIR/decode.md'"
  step nvrtc 45 "'$B/qcc-gpu-bench' --sections nvrtc --out '$OUTDIR/nvrtc.md'"

  # The report.
  local gpu report
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' /' '__' | tr -cd 'A-Za-z0-9_-')
  [ "$EMULATED" = 1 ] && gpu="EMULATED-sm${target#sm}"
  report=$OUTDIR/gpu-check-${gpu:-unknown}-$(date -u +%Y%m%d).md
  {
    echo "# gpu-check on ${gpu:-an unknown GPU}, $(date -u +%Y-%m-%d)"
    echo
    [ "$EMULATED" = 1 ] && echo "**EMULATED**: no GPU; the emulated CUDA driver ran host builds of the kernels. Every \
time is the host's and says nothing about a GPU; the checks of results are real. Not a GPU result: do not commit it \
under bench/gpu." && echo
    echo "$(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>/dev/null | head -1)"
    echo "Prepared: $(tr '\n' ' ' <"$dir/manifest")"
    echo
    echo "| step | budget on a GPU (s) | took (s) | |"
    echo "|---|---|---|---|"
    printf '%s\n' "${STEPS[@]}"
    echo
    echo "## The bundled model end to end (CUDA executor vs CPU executor, rt::Session)"
    echo
    [ "$EMULATED" = 1 ] && echo "(emulated: eval on 2 windows of 64 tokens, 20-token prompt, 4 decode steps, 8 greedy ids)" && echo
    echo "| artifact | device | prompt | prefill rel err | worst decode rel err | bound | argmax agree | greedy ids | CPU ppl | GPU ppl | ppl rel diff | decode ms/step | |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    cat "$md"
    echo
    echo "## GPU tests"
    echo
    echo '```'
    grep -E '^\[ *(OK|FAILED|SKIPPED) *\]|relative error|greedy ids' "$LOGS/gpu-tests.log"
    echo '```'
    for s in gemm decode nvrtc; do [ -s "$OUTDIR/$s.md" ] && echo && sed 's/^# qcc on /## qcc-gpu-bench on /' "$OUTDIR/$s.md"; done
  } >"$report"
  echo
  echo "== gpu-check: $([ $STATUS = 0 ] && echo PASS || echo FAIL) in $((SECONDS - t0)) s (GPU budget 475 s in all); report $report"
  printf '%s\n' "| step | budget | took | |" "${STEPS[@]}"
  return $STATUS
}

case $MODE in
  prepare)
    [ -n "$TARGET" ] || TARGET=sm90
    prepare "$DIR" "$TARGET" ;;
  run)
    run "$DIR" ;;
  all)
    [ -n "$TARGET" ] || TARGET=$(device_target)
    [ -n "$TARGET" ] || { echo "gpu-check: no qcc target for this device (nvidia-smi, or --emulated)" >&2; exit 1; }
    DIR=${GPU_CHECK_DIR:-$BUILD/gpu-check$([ "$EMULATED" = 1 ] && echo -emulated)}
    prepare "$DIR" "$TARGET" && run "$DIR" ;;
esac
