#!/usr/bin/env bash
# Builds the fuzzers with clang, makes their seed corpora, and runs each for
# SECONDS (one core each, one after the other), or for RUNS executions when
# RUNS is set. Prints libFuzzer's final statistics per fuzzer.
#   fuzz/run.sh MAIN_BUILD_DIR [SECONDS=300] [WORK_DIR=/tmp/qcc-fuzz] [FUZZER...]
#   RUNS=1000000 fuzz/run.sh build 0 /tmp/qcc-fuzz safetensors config
# Fuzzers: artifact safetensors config rules tokenizer (default: all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: fuzz/run.sh MAIN_BUILD_DIR [SECONDS] [WORK_DIR] [FUZZER...]}
seconds=${2:-300}
work=${3:-/tmp/qcc-fuzz}
shift $(( $# < 3 ? $# : 3 ))
fuzzers=${*:-artifact safetensors config rules tokenizer}
# libFuzzer ships in clang's runtime package (Debian: libclang-rt-14-dev).
if ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev
fi
maker=$(find "$build" -name qcc-make-test-artifact -type f -perm -u+x | head -1)
[ -n "$maker" ] || { echo "fuzz/run.sh: build qcc-make-test-artifact in $build first" >&2; exit 1; }

cmake -S "$root/fuzz" -B "$work/build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$work/build" >/dev/null

seeds() { rm -rf "$work/seeds/$1" && mkdir -p "$work/seeds/$1" "$work/corpus/$1" "$work/crashes/$1"; }

# artifact: tiny models (D=8) keep the raw section small, so mutations hit the header.
seeds artifact
"$maker" "$work/seeds/artifact/dense.qcc" --tiny-dims 8,16,1,2,1,16
"$maker" "$work/seeds/artifact/fp8.qcc" --tiny-dims 8,16,1,2,1,16 --format fp8 --fake-kernels sm_90a
"$maker" "$work/seeds/artifact/w4.qcc" --tiny-dims 8,16,2,2,2,16 --format w4a16:g4 --fake-kernels sm_80,sm_89
"$maker" "$work/seeds/artifact/int8.qcc" --tiny-dims 8,16,1,2,1,16 --format int8
# safetensors: a tiny checkpoint, its shards, and a header-only file.
seeds safetensors
python3 "$root/test/Inputs/make_checkpoint.py" "$work/seeds/tmp-single"
python3 "$root/test/Inputs/make_checkpoint.py" "$work/seeds/tmp-sharded" --shards 4
cp "$work/seeds/tmp-single/model.safetensors" "$work/seeds/safetensors/single.safetensors"
for f in "$work"/seeds/tmp-sharded/*.safetensors; do cp "$f" "$work/seeds/safetensors/"; done
printf '\020\000\000\000\000\000\000\000{"__metadata__":{}}' > "$work/seeds/safetensors/empty.safetensors"
# config.json: the Llama-3.1 release configs, stories260K, the bundled model, a tiny one.
seeds config
cp "$root"/../shared/models/llama-3.1-configs/*.json "$work/seeds/config/"
cp "$root/../shared/models/stories260K/config.json" "$work/seeds/config/stories260K.json"
cp "$root/models/llama-tiny-shakespeare/config.json" "$work/seeds/config/tiny-shakespeare.json"
cp "$work/seeds/tmp-single/config.json" "$work/seeds/config/tiny.json"
# rules: the lit suite's rules files (YAML and JSON).
seeds rules
cp "$root"/test/Passes/Inputs/*.yaml "$root"/test/Passes/Inputs/*.json "$work/seeds/rules/"
# tokenizer: the unit tests' byte-level BPE file and the bundled model's.
seeds tokenizer
cp "$root/test/unit/frontend/Inputs/bpe-tokenizer.json" "$root/models/llama-tiny-shakespeare/tokenizer.json" \
   "$work/seeds/tokenizer/"
rm -rf "$work/seeds/tmp-single" "$work/seeds/tmp-sharded"

for f in $fuzzers; do
  case "$f" in tokenizer) max_len=131072 ;; *) max_len=65536 ;; esac
  limit=(-max_total_time="$seconds")
  [ -n "${RUNS:-}" ] && limit=(-runs="$RUNS")
  echo "== $f"
  "$work/build/qcc_${f}_fuzzer" "$work/corpus/$f" "$work/seeds/$f" "${limit[@]}" -max_len="$max_len" \
    -artifact_prefix="$work/crashes/$f/" -print_final_stats=1 2>&1 | tail -25
done
