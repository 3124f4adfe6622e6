#!/usr/bin/env bash
# Issue 14: what checking content costs, on an 8B-shaped model.
#  * Load: an fp8 artifact of the Llama-3.1-8B shapes (all 32 layers by
#    default; random bf16 weights from make_synthetic_checkpoint.py, compiled
#    with --format fp8 --no-kernels). The XXH3-128 verification of every
#    tensor at load (`qcc inspect --verify` times it alone) against reading
#    the file and against `qcc run -n 1` (open + verify + CPU session + one
#    token), cold and warm page cache.
#  * Import: `qcc import` now reads every weight once (finiteness check and
#    content hash) against reading the checkpoint with cat.
# Prints a markdown table; RESULTS.md holds a measured one.
#   bench/compile/verify.sh [BUILD_DIR] [WORK_DIR] [LAYERS=32]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
work="${2:-$build/bench-verify}"
layers="${3:-32}"
qcc="$build/bin/qcc"
python="${PYTHON:-python3}" # needs numpy
config="$root/../shared/models/llama-3.1-configs/Llama-3.1-8B-Instruct.config.json"

mkdir -p "$work"
ckpt="$work/ckpt-$layers"
if [ ! -f "$ckpt/model.safetensors" ]; then
  "$python" "$root/bench/compile/make_synthetic_checkpoint.py" "$config" "$ckpt" --layers "$layers" >&2
fi
artifact="$work/fp8-$layers.qcc"
if [ ! -f "$artifact" ]; then
  "$qcc" compile "$ckpt" --format fp8 --no-kernels -o "$artifact" --quiet
fi

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null && echo cold || echo warm; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# Seconds of a command (output discarded).
timed() { local t0; t0=$(now); "$@" > /dev/null 2>&1; elapsed "$t0" "$(now)"; }
# The verification time `qcc inspect --verify` reports for itself.
verify_s() { "$qcc" inspect "$artifact" --verify | sed -n 's/.*hashes, \([0-9.]*\) s$/\1/p'; }

ckpt_gb=$(awk -v b="$(stat -c %s "$ckpt/model.safetensors")" 'BEGIN { printf "%.3f", b / 1e9 }')
art_gb=$(awk -v b="$(stat -c %s "$artifact")" 'BEGIN { printf "%.3f", b / 1e9 }')

state=$(drop_caches); read_cold=$(timed cat "$artifact")
read_warm=$(timed cat "$artifact")
drop_caches > /dev/null; index_cold=$(timed "$qcc" inspect "$artifact")
drop_caches > /dev/null; verify_cold_wall=$(timed "$qcc" inspect "$artifact" --verify)
drop_caches > /dev/null; verify_cold=$(verify_s)
cat "$artifact" > /dev/null; verify_warm=$(verify_s)
drop_caches > /dev/null; run_cold=$(timed "$qcc" run "$artifact" --prompt-ids 1 -n 1 --device cpu)
run_warm=$(timed "$qcc" run "$artifact" --prompt-ids 1 -n 1 --device cpu)

drop_caches > /dev/null; cat_ckpt_cold=$(timed cat "$ckpt/model.safetensors")
drop_caches > /dev/null; import_cold=$(timed "$qcc" import "$ckpt" -o /dev/null)
cat "$ckpt/model.safetensors" > /dev/null; cat_ckpt_warm=$(timed cat "$ckpt/model.safetensors")
import_warm=$(timed "$qcc" import "$ckpt" -o /dev/null)

awk -v L="$layers" -v cg="$ckpt_gb" -v ag="$art_gb" -v st="$state" -v rc="$read_cold" -v rw="$read_warm" \
    -v ic="$index_cold" -v vcw="$verify_cold_wall" -v vc="$verify_cold" -v vw="$verify_warm" -v uc="$run_cold" \
    -v uw="$run_warm" -v cc="$cat_ckpt_cold" -v mc="$import_cold" -v cw="$cat_ckpt_warm" -v mw="$import_warm" 'BEGIN {
  printf "| measure (%d layers, %s page cache where it says cold) | value |\n|---|---|\n", L, st
  printf "| fp8 artifact | %.3f GB |\n", ag
  printf "| read it (cat), cold / warm | %.2f s (%.2f GB/s) / %.2f s |\n", rc, ag / rc, rw
  printf "| open the index only (qcc inspect), cold | %.2f s |\n", ic
  printf "| verify every hash (inspect --verify, its own timer), cold / warm | %.2f s (%.2f GB/s) / %.2f s (%.2f GB/s) |\n", vc, ag / vc, vw, ag / vw
  printf "| qcc inspect --verify wall, cold | %.2f s |\n", vcw
  printf "| qcc run -n 1 --device cpu (open, verify, session, 1 token), cold / warm | %.2f s / %.2f s |\n", uc, uw
  printf "| verification / run, cold / warm | %.0f%% / %.0f%% |\n", 100 * vc / uc, 100 * vw / uw
  printf "| verification / reading the file, cold | %.2fx |\n", vc / rc
  printf "| bf16 checkpoint | %.3f GB |\n", cg
  printf "| read it (cat), cold / warm | %.2f s / %.2f s |\n", cc, cw
  printf "| qcc import -o /dev/null (finiteness + hash of every weight), cold / warm | %.2f s / %.2f s |\n", mc, mw
  printf "| import / read, cold / warm | %.2fx / %.2fx |\n", mc / cc, mw / cw
}'
