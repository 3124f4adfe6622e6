#!/usr/bin/env bash
# The main job on the bundled model: install, build, compile the bundled
# Llama-3.1-architecture model to fp8 for H100 (sm90) and to w4a16 (GPTQ + MSE
# clipping) for A100 (sm80), then run the w4a16 artifact on this CPU: generated
# text, and perplexity recovery against the bf16 checkpoint.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
model="$root/models/llama-tiny-shakespeare"
out="${OUT_DIR:-$build/demo}"

bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" qcc
qcc="$build/bin/qcc"
mkdir -p "$out"

echo "== compile: fp8 (W8A8-FP) for sm90, w4a16 (GPTQ + MSE clip) for sm80"
"$qcc" compile "$model" --format fp8 --target sm90 -o "$out/tiny-fp8-sm90.qcc"
"$qcc" compile "$model" --format w4a16 --method gptq --mse-clip --target sm80 -o "$out/tiny-w4a16-sm80.qcc"
"$qcc" inspect "$out/tiny-w4a16-sm80.qcc"

echo "== run the w4a16 artifact on this machine (prompt: the first line of the held-out text)"
"$qcc" run "$out/tiny-w4a16-sm80.qcc" --prompt "But who comes here?" -n 64 --device auto

echo "== accuracy on the held-out text (eval.ids) against the bf16 checkpoint"
for f in tiny-fp8-sm90 tiny-w4a16-sm80; do
  echo "-- $f"
  "$qcc" eval "$out/$f.qcc" --data-ids "$model/eval.ids" --ref "$model"
done
