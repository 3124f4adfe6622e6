#!/usr/bin/env python3
"""Time to first token: a checkpoint folder compiled just in time
(`qcc run MODEL_DIR --format F`) against loading the compiled artifact
(`qcc run m.qcc`), and what a cold kernel cache adds.

Each measurement is the wall time of one `qcc run ... -n 1` process (start,
load or compile, prefill of the prompt, the first generated token, exit),
the median of --repeats runs. On a machine with a GPU the just-in-time runs
use it (--device auto) and are measured with an empty kernel cache (cold:
NVRTC compiles every kernel) and with the cache it left (warm). Without a GPU
the runs use the CPU (no kernels), and the NVRTC part is measured by itself:
`qcc compile --target sm90` with an empty and with a warm cache.

usage: run_bench.py --qcc BUILD/bin/qcc [MODEL_DIR...] [--formats int8 w4a16]
                    [--repeats 5] [--prompt-len 64]
Prints a Markdown table (paste it into RESULTS.md)."""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time


def timed(cmd, env=None):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def median_of(n, cmd, env=None, before=None):
    times = []
    for _ in range(n):
        if before:
            before()
        times.append(timed(cmd, env))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*")
    ap.add_argument("--qcc", required=True)
    ap.add_argument("--formats", nargs="+", default=["int8", "w4a16"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--prompt-len", type=int, default=64)
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    models = a.models or [os.path.join(root, "models", "llama-tiny-shakespeare")]
    work = tempfile.mkdtemp(prefix="qcc-jit-bench-")
    cache = os.path.join(work, "cache")
    env = dict(os.environ, QCC_CACHE_DIR=cache)
    clear = lambda: shutil.rmtree(cache, ignore_errors=True)
    prompt = " ".join(str(3 + (i * 37) % 1000) for i in range(a.prompt_len))
    gpu = subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0 if shutil.which("nvidia-smi") else False

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"{'a GPU' if gpu else 'no GPU'}; load average at start {os.getloadavg()[0]:.1f}")
    print(f"`qcc run ... -n 1` wall time (start to exit after the first token), prompt {a.prompt_len} ids, "
          f"median of {a.repeats}\n")
    print("| model | format | artifact (s) | just in time, warm (s) | ratio | just in time, cold cache (s) "
          "| NVRTC sm90: cold / warm cache (s) |")
    print("|---|---|---|---|---|---|---|")
    for m in models:
        name = os.path.basename(os.path.normpath(m))
        for f in a.formats:
            art = os.path.join(work, f"{name}-{f}.qcc")
            compile_cmd = [a.qcc, "compile", m, "--format", f, "-o", art, "--quiet"]
            if not gpu:
                compile_cmd.append("--no-kernels")
            subprocess.run(compile_cmd, check=True, env=env)
            run = ["run", "--prompt-ids", prompt, "-n", "1", "--ignore-eos"]
            aot = median_of(a.repeats, [a.qcc, run[0], art] + run[1:], env)
            jit_cmd = [a.qcc, run[0], m, "--format", f] + run[1:]
            warm = median_of(a.repeats, jit_cmd, env)
            cold = median_of(a.repeats, jit_cmd, env, before=clear) if gpu else None
            # NVRTC alone: the kernels a GPU run would compile, cold and from the cache.
            nv = [a.qcc, "compile", m, "--format", f, "--target", "sm90", "-o", os.path.join(work, "k.qcc"), "--quiet"]
            nv_cold = median_of(max(1, a.repeats // 2), nv, env, before=clear)
            nv_warm = median_of(a.repeats, nv, env)
            print(f"| {name} | {f} | {aot:.3f} | {warm:.3f} | {warm / aot:.2f}x | "
                  f"{f'{cold:.3f}' if cold is not None else 'no GPU'} | {nv_cold:.2f} / {nv_warm:.2f} |", flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
