#!/usr/bin/env bash
# Compile-time benchmark (issue 5): `qcc compile --format fp8` (round-to-nearest,
# no calibration) on a synthetic checkpoint with the real Llama-3.1-8B layer
# shapes (2 layers + embeddings + lm_head), against the time to read the same
# bytes from disk. Prints a markdown table; RESULTS.md holds a measured one.
#   bench/compile/run.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
work="${2:-$build/bench-compile}"
qcc="$build/bin/qcc"
config="$root/../shared/models/llama-3.1-configs/Llama-3.1-8B-Instruct.config.json"

mkdir -p "$work"
if [ ! -f "$work/ckpt/model.safetensors" ]; then
  python3 "$root/bench/compile/make_synthetic_checkpoint.py" "$config" "$work/ckpt" --layers 2
fi
bytes=$(stat -c %s "$work/ckpt/model.safetensors")
gb=$(awk -v b="$bytes" 'BEGIN { printf "%.3f", b / 1e9 }')

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null && echo cold || echo warm; }

# The I/O limit: reading the checkpoint once, cold cache where we may drop it.
state=$(drop_caches)
t0=$(date +%s.%N); cat "$work/ckpt/model.safetensors" > /dev/null; t1=$(date +%s.%N)
read_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')

# Weight processing alone (--no-kernels), then the same with the sm90 kernels
# compiled by NVRTC into a fresh cache (their cost does not grow with the model).
state2=$(drop_caches)
/usr/bin/time -f "%e %M" -o "$work/time.txt" "$qcc" compile "$work/ckpt" --format fp8 --no-kernels \
  -o "$work/model-fp8.qcc" 2> "$work/compile.log"
read -r compile_s rss_kb < "$work/time.txt"
out_bytes=$(stat -c %s "$work/model-fp8.qcc")
rm -rf "$work/kernel-cache"
QCC_CACHE_DIR="$work/kernel-cache" /usr/bin/time -f "%e %M" -o "$work/time-k.txt" "$qcc" compile "$work/ckpt" \
  --format fp8 --target sm90 -o "$work/model-fp8-sm90.qcc" 2> "$work/compile-k.log"
read -r compile_k_s rss_k_kb < "$work/time-k.txt"

awk -v gb="$gb" -v rs="$read_s" -v cs="$compile_s" -v rss="$rss_kb" -v ob="$out_bytes" -v st="$state" -v st2="$state2" \
    -v ck="$compile_k_s" -v rssk="$rss_k_kb" 'BEGIN {
  printf "| measure | value |\n|---|---|\n"
  printf "| checkpoint (bf16, 8B shapes, 2 layers + embeddings + lm_head) | %.3f GB |\n", gb
  printf "| read the checkpoint (cat, %s cache) | %.2f s (%.2f GB/s) |\n", st, rs, gb / rs
  printf "| qcc compile --format fp8 --no-kernels (%s cache) | %.2f s (%.2f GB/s of weights) |\n", st2, cs, gb / cs
  printf "| compile time / read time | %.2fx |\n", cs / rs
  printf "| peak RSS of qcc compile | %.0f MiB (%.1f%% of the checkpoint) |\n", rss / 1024, 100 * rss * 1024 / (gb * 1e9)
  printf "| largest tensor (embed_tokens / lm_head, bf16) | %.0f MiB |\n", 128256 * 4096 * 2 / 1048576
  printf "| artifact size | %.3f GB |\n", ob / 1e9
  printf "| qcc compile --format fp8 --target sm90, empty kernel cache (warm page cache) | %.2f s, peak RSS %.0f MiB |\n", ck, rssk / 1024
}'
