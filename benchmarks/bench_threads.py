"""Torch threads for `viscause run DATA` (core/nets/models.faster_threads): seconds per training epoch of
the nets a data recipe trains, on one thread and on every core, for the suite's kinds of image (the same
sets as bench_unseen.py). A run keeps one thread (the same seed, the same result on every machine) and
says that --threads would be faster where its heaviest net has >= HEAVY_FORWARD_MACS multiply-adds per
image; this measures whether that line is where a second thread starts to pay.
Usage: nice python benchmarks/bench_threads.py [--runs 3] [--epochs 2]   (writes benchmarks/out/threads.json)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_suite as suite
from machine import header, machine

from viscause_gui.core.method.observe import observe_net_spec
from viscause_gui.core.method.recipe import forward_macs, recipe_for
from viscause_gui.core.nets.models import available_cores, faster_threads, new_net
from viscause_gui.core.nets.training import TrainConfig, train_classifier

OUT = Path(__file__).resolve().parent / "out" / "threads.json"
SETS = ("colored_mnist", "thickness", "texture", "shapes64")
IMAGES = 2000          # images per epoch: enough for steady timings, small enough for three runs of each


def seconds_per_epoch(spec: dict, images: np.ndarray, t: np.ndarray, threads: int, epochs: int) -> float:
    torch.set_num_threads(threads)
    net = new_net(spec, 0)
    started = time.perf_counter()
    train_classifier(net, images, t, config=TrainConfig(epochs=epochs, patience=epochs + 1, batch_size=128, seed=0))
    return (time.perf_counter() - started) / epochs


def measure(name: str, runs: int, epochs: int, cores: int) -> dict:
    made = suite.SETS[name](0)
    images, t = made.images[:IMAGES].astype(np.float32), made.t[:IMAGES].astype(np.int64)
    recipe = recipe_for(images)
    shape = list(images.shape[1:])
    specs = {"causal net": {**recipe.net, "in_shape": shape, "n_classes": 2},
             "P(T=1|I) net": observe_net_spec(tuple(shape), 2, recipe.observe_recipe())}
    heaviest = max(forward_macs(spec) for spec in specs.values())
    rows = {}
    for what, spec in specs.items():
        times = {n: [seconds_per_epoch(spec, images, t, n, epochs) for _ in range(runs)] for n in sorted({1, cores})}
        rows[what] = {"macs": forward_macs(spec), "seconds": times}
    return {"set": name, "shape": shape, "heaviest_macs": heaviest, "offered_threads": faster_threads(heaviest, cores),
            "nets": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    cores = available_cores()
    info = machine()
    print(header("Torch threads per data recipe", info))
    results = [measure(name, args.runs, args.epochs, cores) for name in SETS]
    print(f"| set | net | multiply-adds / image | s / epoch, 1 thread | s / epoch, {cores} threads | offered |")
    print("|---|---|---|---|---|---|")
    for r in results:
        for what, row in r["nets"].items():
            one, many = row["seconds"][1], row["seconds"][cores]
            print(f"| {r['set']} {'x'.join(map(str, r['shape']))} | {what} | {row['macs'] / 1e6:.2f} M | "
                  f"{statistics.median(one):.2f} ({min(one):.2f}-{max(one):.2f}) | "
                  f"{statistics.median(many):.2f} ({min(many):.2f}-{max(many):.2f}) | {r['offered_threads'] or '-'} |")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"machine": info, "images": IMAGES, "epochs": args.epochs, "runs": args.runs,
                               "results": results}, indent=1))


if __name__ == "__main__":
    main()
