"""Colored MNIST benchmark (issue 12 targets): the published table beside this project's rows.

Three runs (seeds 0, 1, 2) of `viscause run colored_mnist` in-process (Algorithm 1 with 5
answers per observational class, one Algorithm 2 iteration of 30 queries: 50 oracle answers),
each measuring on the same data: the observational net (a CNN on the colour images and T,
i.e. ERM), a CNN on grey images and T (the published "ERM on grey images" row, on this
subset) and the causal net. Accuracy on T in percent, in the two training environments and
the test environment (ten draws of T and the colour per held-out digit).
Targets: the causal net's test accuracy >= 73 % and within two points of the grey-image net's,
with at most 50 oracle answers. About 2 minutes per seed on one thread.
Usage: python benchmarks/bench_colored_mnist.py [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import header, machine

from viscause_gui.core.experiments import colored_mnist as cm
from viscause_gui.core.nets.models import configure_torch_threads

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    configure_torch_threads(1)
    info = machine()
    print(header("Colored MNIST", info), flush=True)
    runs = []
    for seed in args.seeds:
        result = cm.run_colored_mnist(seed, 5, 30, None, lambda m: print(f"  {m}", file=sys.stderr, flush=True))
        runs.append(result)
        print(f"\nseed {seed} ({result['seconds']} s):\n{cm.table_markdown(result)}", flush=True)
    print("\nRange over the seeds (accuracy on T, %):\n")
    print("| method | train envs | test env |\n|---|---:|---:|")
    for m, a, b in cm.PUBLISHED:
        print(f"| {m} | {a:.1f} | {b:.1f} |")
    for name in runs[0]["rows"]:
        values = [r["rows"][name] for r in runs]
        rng = {k: f"{min(v[k] for v in values):.1f}–{max(v[k] for v in values):.1f}" for k in ("train", "test")}
        print(f"| this project: {name} | {rng['train']} | {rng['test']} |")
    causal = [next(v for k, v in r["rows"].items() if k.startswith("causal net")) for r in runs]
    grey = [r["rows"]["grey images, T (the same subset)"] for r in runs]
    print(f"\ncausal net test >= 73 %: {sum(c['test'] >= 73 for c in causal)}/{len(runs)} runs; within two points "
          f"of the grey-image net (or above it): {sum(c['test'] >= g['test'] - 2 for c, g in zip(causal, grey))}"
          f"/{len(runs)}; oracle answers {sorted({r['oracle_answers'] for r in runs})}")
    OUT.mkdir(exist_ok=True)
    (OUT / "colored_mnist.json").write_text(json.dumps({"machine": info, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
