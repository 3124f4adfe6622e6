#!/usr/bin/env bash
# Import-time benchmark (issue 11): decoding a compressed-tensors checkpoint with
# the real Llama-3.1-8B layer shapes (2 layers + embeddings + lm_head) into qcc's
# QuantizedLinears, and `qcc import` of it (the product: every tensor read and
# hashed, the IR written), against reading the same files from disk. Prints a markdown
# table; RESULTS.md holds a measured one.
#   bench/compressed_tensors/run.sh [BUILD_DIR] [WORK_DIR]     (PYTHON: a python3 with numpy)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
work="${2:-$build/bench-ct}"
tool="$build/bin/qcc-bench-ct-import"
config="$root/../shared/models/llama-3.1-configs/Llama-3.1-8B-Instruct.config.json"

mkdir -p "$work"
if [ ! -f "$work/ckpt/model.safetensors" ]; then
  "${PYTHON:-python3}" "$root/bench/compile/make_synthetic_checkpoint.py" "$config" "$work/ckpt" --layers 2
fi

# Cold when this user may drop the page cache (root), warm otherwise: say which.
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null && echo cold || echo warm; }
files_of() { ls "$1"/*.safetensors; }
read_time() { # seconds to cat every safetensors file of folder $1
  local t0 t1; t0=$(date +%s.%N); cat $(files_of "$1") > /dev/null; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
bytes_of() { cat $(files_of "$1") | wc -c; }

import_time() { # seconds of `qcc import FOLDER -o FILE` (reads and hashes every tensor)
  local t0 t1; t0=$(date +%s.%N); "$build/bin/qcc" import "$1" -o "$work/imported.mlir" >/dev/null; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

printf "| checkpoint | size | read (cat) | qcc decode: open + linears + dense | decode / read | qcc import | import / read | cache |\n|---|---|---|---|---|---|---|---|\n"
state=$(drop_caches); rd=$(read_time "$work/ckpt"); b=$(bytes_of "$work/ckpt")
state=$(drop_caches); im=$(import_time "$work/ckpt")
printf "| dense bf16 (make_synthetic_checkpoint.py) | %.3f GB | %.2f s | - | - | %.2f s | %.2fx | %s |\n" "$(awk -v b="$b" 'BEGIN{print b/1e9}')" "$rd" "$im" "$(awk -v a="$im" -v b="$rd" 'BEGIN{ printf "%.2f", a / b }')" "$state"
for fmt in w4a16 int8 fp8; do
  out="$work/ct-$fmt"
  [ -f "$out/config.json" ] || "$tool" make "$work/ckpt" "$out" "$fmt" >/dev/null
  b=$(bytes_of "$out"); gb=$(awk -v b="$b" 'BEGIN{print b/1e9}')
  for pass in 1 2; do
    if [ "$pass" = 1 ]; then state=$(drop_caches); else state=warm; fi
    rd=$(read_time "$out")
    [ "$pass" = 1 ] && state=$(drop_caches)
    line=$("$tool" decode "$out")
    [ "$pass" = 1 ] && state=$(drop_caches)
    im=$(import_time "$out")
    total=$(echo "$line" | sed -n 's/.*total_s \([0-9.]*\).*/\1/p')
    dec=$(echo "$line" | sed -n 's/.*decode_s \([0-9.]*\).*/\1/p')
    printf "| compressed-tensors %s | %.3f GB | %.2f s | %.2f s (linears %.2f s) | %.2fx | %.2f s | %.2fx | %s |\n" \
      "$fmt" "$gb" "$rd" "$total" "$dec" "$(awk -v a="$total" -v b="$rd" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "inf" }')" \
      "$im" "$(awk -v a="$im" -v b="$rd" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "inf" }')" "$state"
  done
done
