#!/usr/bin/env python3
"""bench/mixed_precision.md: `--format auto` against uniform formats and random
assignments of the same size, on held-out data (standard library only).

For each model: `qcc sensitivity` on the calibration ids (never the eval ids);
then `qcc eval --dtype f32` on the held-out eval ids of
  - every uniform candidate format,
  - `--format auto --budget bits=B --sensitivity ...` for each budget B,
  - N random assignments per budget whose effective bits are within 1% of the
    auto assignment's (a random start, then random single-layer changes that
    never move away from the target, until inside the window; seeded),
and writes the table (perplexity, recovery, held-out mean KL) and raw results.

usage: run_mixed_precision.py --qcc build/bin/qcc [--random 10] [--work /tmp/qcc-mp]
"""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "bench", "mixed_precision")


def models(work):
    tiny = os.path.join(ROOT, "models", "llama-tiny-shakespeare")
    stories = os.path.join(ROOT, "..", "shared", "models", "stories260K")
    stories_ids = os.path.join(ROOT, "bench", "accuracy", "stories260K")
    return [
        dict(key="tiny", title="llama-tiny-shakespeare (bundled, 4.1 M parameters)", dir=tiny,
             calib=os.path.join(tiny, "calib.ids"), eval=os.path.join(tiny, "eval.ids"),
             candidates=["bf16", "fp8", "int8", "w4a16"], budgets=[5.0, 6.0, 8.1]),
        dict(key="stories260K", title="stories260K (float32 checkpoint, 64/172-wide layers)", dir=stories,
             calib=os.path.join(stories_ids, "calib.ids"), eval=os.path.join(stories_ids, "eval.ids"),
             candidates=["bf16", "fp8", "int8", "w4a16:32"], budgets=[6.5, 8.5, 10.0]),
        dict(key="outliers", title="llama-tiny-shakespeare with activation outliers (7 channels x128, "
             "function-preserving; make_outlier_model.py)", dir=os.path.join(work, "outlier-model"),
             calib=os.path.join(tiny, "calib.ids"), eval=os.path.join(tiny, "eval.ids"),
             candidates=["bf16", "fp8", "int8", "w4a16"], budgets=[6.0, 8.1], make_outliers=tiny),
    ]


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-3000:]))
    return p.stdout, p.stderr


def eval_model(qcc, m, extra):
    out, err = run([qcc, "eval", m["dir"], "--data-ids", m["eval"], "--dtype", "f32", "--prompts", "0"] + extra)
    values = {}
    for line in out.splitlines():
        k, _, v = line.partition(" ")
        try:
            values[k] = float(v)
        except ValueError:
            pass
    bits = re.search(r"effective bits ([0-9.]+)", err)
    if bits:
        values["effective_bits"] = float(bits.group(1))
    predicted = re.search(r"predicted KL ([0-9.e+-]+)", err)
    if predicted:
        values["predicted_kl"] = float(predicted.group(1))
    counts = re.search(r"\((\d+) layers: ([^)]*)\)", err)
    if counts:
        values["counts"] = counts.group(2)
    return values


def auto_assignment(qcc, m, budget, sens_json, work):
    """The per-layer formats --format auto chooses (from the compile's note)."""
    _, err = run([qcc, "compile", m["dir"], "--format", "auto", "--budget", "bits=%g" % budget, "--sensitivity",
                  sens_json, "--no-kernels", "--no-tokenizer", "-o", os.path.join(work, "auto.qcc")])
    return dict(re.findall(r"^\s+(model\.\S+|lm_head): (\S+) \(KL", err, re.M))


def canonical(fmt):
    return "w4a16:128" if fmt == "w4a16" else fmt


def layer_bytes(fmt, n, k):
    if fmt == "bf16":
        return 2 * n * k
    if fmt in ("fp8", "int8"):
        return n * k + 4 * n
    group = int(fmt.split(":")[1])
    return (n * k + 1) // 2 + 4 * n * (k // group)


class Layers:
    def __init__(self, table):
        self.layers = table["layers"]
        self.weights = sum(l["n"] * l["k"] for l in self.layers)

    def formats(self, i):
        return [f for f, v in self.layers[i]["formats"].items() if "unavailable" not in v]

    def bits(self, assignment):
        total = sum(layer_bytes(f, l["n"], l["k"]) for f, l in zip(assignment, self.layers))
        return 8.0 * total / self.weights

    def uniform(self, fmt):
        # A uniform compile falls back to int8 where the format's group does not divide K.
        return [fmt if fmt in self.formats(i) else "int8" for i in range(len(self.layers))]

    def random_near(self, rng, target, tol=0.01):
        while True:
            a = [rng.choice(self.formats(i)) for i in range(len(self.layers))]
            for _ in range(20000):
                b = self.bits(a)
                if abs(b - target) <= tol * target:
                    return a
                i = rng.randrange(len(self.layers))
                new = list(a)
                new[i] = rng.choice(self.formats(i))
                if abs(self.bits(new) - target) <= abs(b - target):
                    a = new


def write_rules(path, layers, assignment):
    with open(path, "w") as f:
        for l, fmt in zip(layers.layers, assignment):
            f.write('"%s": %s\n' % (l["name"], fmt))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qcc", required=True)
    ap.add_argument("--random", type=int, default=10)
    ap.add_argument("--work", default="/tmp/qcc-mixed-precision")
    ap.add_argument("--calib-samples", type=int, default=16)
    ap.add_argument("--calib-seq-len", type=int, default=128)
    ap.add_argument("--only", default="")
    ap.add_argument("--report-only", action="store_true", help="rewrite the markdown from results.json")
    args = ap.parse_args()
    qcc = os.path.abspath(args.qcc)
    os.makedirs(args.work, exist_ok=True)
    if args.report_only:
        with open(os.path.join(HERE, "results.json")) as f:
            saved = json.load(f)
        write_markdown(saved["results"], saved["started"], saved["load_average"], args, qcc)
        return
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    results = {}
    for m in models(args.work):
        if args.only and m["key"] != args.only:
            continue
        print("==", m["key"], flush=True)
        if "make_outliers" in m:
            run([sys.executable, os.path.join(HERE, "make_outlier_model.py"), m["make_outliers"], m["dir"],
                 "--scale", "128"])
        sens_dir = os.path.join(args.work, "sensitivity-" + m["key"])
        t0 = time.time()
        _, err = run([qcc, "sensitivity", m["dir"], "--calib", m["calib"], "--calib-samples", str(args.calib_samples),
                      "--calib-seq-len", str(args.calib_seq_len), "--candidates", ",".join(m["candidates"]),
                      "--dtype", "f32", "--pareto-points", "12", "--budget", "bits=%g" % m["budgets"][0],
                      "-o", sens_dir])
        sens_seconds = time.time() - t0
        cost = [l for l in err.splitlines() if "cost:" in l]
        out_dir = os.path.join(HERE, m["key"])
        os.makedirs(out_dir, exist_ok=True)
        for f in ("heatmap.svg", "pareto.svg", "sensitivity.json"):
            shutil.copy(os.path.join(sens_dir, f), os.path.join(out_dir, f))
        sens_json = os.path.join(sens_dir, "sensitivity.json")
        with open(sens_json) as f:
            table = json.load(f)
        layers = Layers(table)
        r = dict(title=m["title"], sensitivity_seconds=sens_seconds, cost=cost, rows=[],
                 uniform_calib_kl={u["format"]: u.get("measured_kl") for u in table["uniform"]})
        for fmt in m["candidates"]:
            values = eval_model(qcc, m, [] if fmt == "bf16" else ["--format", fmt])
            values["effective_bits"] = layers.bits(layers.uniform(canonical(fmt)))
            r["rows"].append(dict(kind="uniform", label=fmt, **values))
            print(" uniform", fmt, values.get("perplexity"), flush=True)
        rng = random.Random(12)
        for budget in m["budgets"]:
            auto = eval_model(qcc, m, ["--format", "auto", "--budget", "bits=%g" % budget, "--sensitivity", sens_json])
            r["rows"].append(dict(kind="auto", label="auto bits=%g" % budget, budget=budget, **auto))
            print(" auto", budget, auto.get("effective_bits"), auto.get("perplexity"), flush=True)
            for i in range(args.random):
                a = layers.random_near(rng, auto["effective_bits"])
                rules = os.path.join(args.work, "random-%s-%g-%d.yaml" % (m["key"], budget, i))
                write_rules(rules, layers, a)
                values = eval_model(qcc, m, ["--layer-formats", rules])
                values["effective_bits"] = layers.bits(a)
                values["formats"] = a
                r["rows"].append(dict(kind="random", label="random bits=%g #%d" % (budget, i), budget=budget, **values))
            print(" random done", flush=True)
        results[m["key"]] = r
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(dict(started=started, load_average=load, results=results), f, indent=1)
    write_markdown(results, started, load, args, qcc)


def pct(x):
    return "%.2f" % (100 * x)


def outlier_section(qcc, args):
    """Where int8 W8A8 breaks on the outlier model, and what auto chose there."""
    tiny, outl = None, None
    for m in models(args.work):
        if m["key"] == "tiny":
            tiny = m
        if m["key"] == "outliers":
            outl = m
    paths = {k: os.path.join(HERE, k, "sensitivity.json") for k in ("tiny", "outliers")}
    if not all(os.path.exists(p) for p in paths.values()) or not os.path.isdir(outl["dir"]):
        return []
    tables = {k: json.load(open(p)) for k, p in paths.items()}
    kl = {k: {l["name"]: l["formats"] for l in t["layers"]} for k, t in tables.items()}
    chosen = {b: auto_assignment(qcc, outl, b, paths["outliers"], args.work) for b in outl["budgets"]}
    clean = {b: auto_assignment(qcc, tiny, b, paths["tiny"], args.work) for b in outl["budgets"]}
    rows = ["### Where int8 W8A8 breaks, and what auto chose there", "",
            "The int8 column of the two sensitivity tables (calibration ids), for the layers that read a "
            "rescaled norm (layers 1-2 q|k|v, layer 3 gate|up) and, for comparison, the first other layers; "
            "then the format `--format auto` chose for each budget on the outlier model (and on the clean model).", "",
            "| layer | int8 KL clean | int8 KL outliers | fp8 KL outliers | " +
            " | ".join("auto bits=%g outliers (clean)" % b for b in outl["budgets"]) + " |",
            "|---|---:|---:|---:|" + "---|" * len(outl["budgets"])]
    names = [l["name"] for l in tables["outliers"]["layers"]]
    affected = [n for n in names if any(n.startswith("model.layers.%d.%s" % (i, p)) for i, p in
                                        [(1, "self_attn.q"), (1, "self_attn.k"), (1, "self_attn.v"),
                                         (2, "self_attn.q"), (2, "self_attn.k"), (2, "self_attn.v"),
                                         (3, "mlp.gate"), (3, "mlp.up")])]
    others = [n for n in names if n not in affected][:6]
    for n in affected + others:
        rows.append("| %s%s | %.2e | %.2e | %.2e | %s |" % (
            n, " (outlier input)" if n in affected else "", kl["tiny"][n]["int8"]["kl"], kl["outliers"][n]["int8"]["kl"],
            kl["outliers"][n]["fp8"]["kl"],
            " | ".join("%s (%s)" % (chosen[b].get(n, "?"), clean[b].get(n, "?")) for b in outl["budgets"])))
    for b in outl["budgets"]:
        on_affected = sum(1 for n in affected if chosen[b].get(n) == "int8")
        on_clean = sum(1 for n in affected if clean[b].get(n) == "int8")
        rows.append("")
        rows.append("auto bits=%g: int8 on %d of the %d outlier-input layers (on the clean model: %d of the same "
                    "layers)." % (b, on_affected, len(affected), on_clean))
    return rows + [""]


def write_markdown(results, started, load, args, qcc):
    lines = ["# Automatic per-layer mixed precision (`--format auto`)", "",
             "Generated by `python3 bench/mixed_precision/run_mixed_precision.py --qcc build/bin/qcc` on %s "
             "(x86_64, 2 cores shared with other work, load average %.1f at the start: times are indicative). "
             "Raw numbers: bench/mixed_precision/results.json; per model the sensitivity table and its plots "
             "(heatmap.svg, pareto.svg) are in bench/mixed_precision/MODEL/." % (started, load), "",
             "Every row is `qcc eval MODEL --data-ids EVAL --dtype f32 --prompts 0` plus the row's options: "
             "held-out eval ids, windows of 256 ids, reference = the unquantized model (f32 activations), "
             "round-to-nearest weights. The sensitivity was measured by `qcc sensitivity --calib CALIB "
             "--calib-samples %d --calib-seq-len %d --dtype f32` on the calibration ids only. *auto* is "
             "`--format auto --budget bits=B --sensitivity` that table; *random* are %d assignments per budget "
             "whose effective bits are within 1%% of auto's (seeded; sampler in the script). Effective bits: "
             "8 x weight bytes (codes + fp32 scales) / weights, over the linears (lm_head and embeddings stay "
             "bf16). *calib KL* is the sensitivity table's prediction for auto (sum of per-layer KLs on the "
             "calibration ids)." % (args.calib_samples, args.calib_seq_len, args.random), ""]
    for key, r in results.items():
        lines += ["## " + r["title"], ""]
        lines += ["| assignment | effective bits | perplexity | recovery % | held-out mean KL | calib KL (predicted) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for row in r["rows"]:
            if row["kind"] == "uniform":
                rec = row.get("recovery", 1.0)
                lines.append("| uniform %s | %.3f | %.3f | %s | %.3e | |" % (
                    row["label"], row["effective_bits"], row["perplexity"], pct(rec), row.get("mean_kl", 0.0)))
        budgets = sorted({row["budget"] for row in r["rows"] if row["kind"] == "auto"})
        for b in budgets:
            auto = next(row for row in r["rows"] if row["kind"] == "auto" and row["budget"] == b)
            rnd = [row for row in r["rows"] if row["kind"] == "random" and row["budget"] == b]
            lines.append("| **auto bits=%g** (%s) | %.3f | %.3f | %s | %.3e | %.3e |" % (
                b, auto.get("counts", ""), auto["effective_bits"], auto["perplexity"], pct(auto["recovery"]),
                auto["mean_kl"], auto.get("predicted_kl", float("nan"))))
            if rnd:
                ppl = [x["perplexity"] for x in rnd]
                kl = [x["mean_kl"] for x in rnd]
                rec = [x["recovery"] for x in rnd]
                bits = [x["effective_bits"] for x in rnd]
                better_kl = sum(1 for x in kl if x < auto["mean_kl"])
                better_ppl = sum(1 for x in ppl if x < auto["perplexity"])
                lines.append("| random x%d near %.3f bits: mean [min, max] | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] | "
                             "%s [%s, %s] | %.3e [%.3e, %.3e] | |" % (
                                 len(rnd), auto["effective_bits"], statistics.mean(bits), min(bits), max(bits),
                                 statistics.mean(ppl), min(ppl), max(ppl), pct(statistics.mean(rec)), pct(min(rec)),
                                 pct(max(rec)), statistics.mean(kl), min(kl), max(kl)))
                lines.append("| &nbsp;&nbsp;random assignments better than auto | | %d of %d | | %d of %d | |" % (
                    better_ppl, len(rnd), better_kl, len(rnd)))
        lines += ["", "Sensitivity run: %.1f s wall. %s" % (r["sensitivity_seconds"], " ".join(
            c.split("[qcc] ")[-1] for c in r["cost"])), ""]
        if key == "outliers":
            lines += outlier_section(qcc, args)
    findings = os.path.join(HERE, "findings.md")  # hand-written reading of the run, appended
    if os.path.exists(findings):
        with open(findings) as f:
            lines += [f.read()]
    with open(os.path.join(ROOT, "bench", "mixed_precision.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
