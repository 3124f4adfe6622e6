#!/usr/bin/env bash
# Builds the loader fuzzer with clang, makes a seed corpus with
# qcc-make-test-artifact (from a main build), and fuzzes for SECONDS (one core).
#   fuzz/run.sh MAIN_BUILD_DIR [SECONDS=300] [WORK_DIR=/tmp/qcc-fuzz]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: fuzz/run.sh MAIN_BUILD_DIR [SECONDS] [WORK_DIR]}
seconds=${2:-300}
work=${3:-/tmp/qcc-fuzz}
# libFuzzer ships in clang's runtime package (Debian: libclang-rt-14-dev).
if ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev
fi
maker=$(find "$build" -name qcc-make-test-artifact -type f -perm -u+x | head -1)
[ -n "$maker" ] || { echo "fuzz/run.sh: build qcc-make-test-artifact in $build first" >&2; exit 1; }

cmake -S "$root/fuzz" -B "$work/build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$work/build" qcc_artifact_fuzzer >/dev/null

mkdir -p "$work/corpus" "$work/seeds" "$work/crashes"
# Tiny models (D=8) keep the raw section small, so mutations hit the header.
"$maker" "$work/seeds/dense.qcc" --tiny-dims 8,16,1,2,1,16
"$maker" "$work/seeds/fp8.qcc" --tiny-dims 8,16,1,2,1,16 --format fp8 --fake-kernels sm_90a
"$maker" "$work/seeds/w4.qcc" --tiny-dims 8,16,2,2,2,16 --format w4a16:g4 --fake-kernels sm_80,sm_89
"$maker" "$work/seeds/int8.qcc" --tiny-dims 8,16,1,2,1,16 --format int8

"$work/build/qcc_artifact_fuzzer" "$work/corpus" "$work/seeds" -max_total_time="$seconds" -max_len=65536 \
  -artifact_prefix="$work/crashes/" -print_final_stats=1 2>&1 | tail -40
