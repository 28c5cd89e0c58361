"""Observational-class benchmark: 10,000 GRATING images -> fit_observational_classes.

Per seed (default three: 0, 1, 2) one JSON line {"n", "seconds", "cpu_seconds", "ami", "n_classes",
"criterion", "end_to_end_seconds", ...}: `seconds` is the wall-clock time of the fit alone
(imports, data generation and torch warm-up excluded), `end_to_end_seconds` that of
`viscause observe` on the same data as a user runs it (a fresh process, reading the file,
writing the result). Beside it, on the same data, a simple baseline (`baseline_*`): a one-hidden-layer
MLP (scikit-learn, 100 units) fits P(T=1|I), then k-means on its outputs with as many clusters
as the fit found; the fit's time and AMI are also given as ratios to the baseline's. Then the
date, the machine and the ranges; writes benchmarks/out/observe.json.
Usage: python benchmarks/bench_observe.py [SEED ...] [--n N] [--threads T]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import header, machine

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.observe import fit_observational_classes
from viscause_gui.core.nets.models import configure_torch_threads

OUT = Path(__file__).resolve().parent / "out"


def one_seed(seed: int, n: int, threads: int) -> dict:
    data = GratingModel().sample(n, seed)
    _warm_up()
    wall, cpu = time.perf_counter(), time.process_time()
    fit = fit_observational_classes(data.images, data.t, seed=seed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    row = {"n": n, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
           "ami": round(float(adjusted_mutual_info_score(data.obs_class, fit.obs_class)), 4),
           "n_classes": int(fit.n_classes), "criterion": fit.criterion, "seed": seed,
           "class_p": [round(float(p), 3) for p in fit.class_p], "threads": threads}
    row.update(kmeans_baseline(data.images, data.t, data.obs_class, fit.n_classes, seed))
    row["seconds_vs_baseline"] = round(row["seconds"] / row["baseline_seconds"], 2)
    row["ami_vs_baseline"] = round(row["ami"] / max(row["baseline_ami"], 1e-9), 2)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grating.npz"
        np.savez_compressed(path, images=data.images, t=data.t)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "viscause_gui.cli", "observe", str(path), "--out", str(Path(tmp) / "o"),
                        "--seed", str(seed)], check=True, capture_output=True)
        row["end_to_end_seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(row), flush=True)
    return row


def kmeans_baseline(images: np.ndarray, t: np.ndarray, truth: np.ndarray, k: int, seed: int) -> dict:
    """k-means on P(T=1|I) from a plain MLP: the simple way to the observational classes."""
    from sklearn.cluster import KMeans
    from sklearn.neural_network import MLPClassifier

    t0 = time.perf_counter()
    flat = np.asarray(images, np.float32).reshape(len(images), -1)
    net = MLPClassifier(hidden_layer_sizes=(100,), max_iter=30, early_stopping=True, random_state=seed)
    p = net.fit(flat, np.asarray(t).astype(int)).predict_proba(flat)[:, 1:]
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(p)
    return {"baseline_seconds": round(time.perf_counter() - t0, 2),
            "baseline_ami": round(float(adjusted_mutual_info_score(truth, labels)), 4)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on 2 cores)")
    args = parser.parse_args(argv)
    configure_torch_threads(args.threads)
    info = machine()
    print(header("observe", info), flush=True)
    rows = [one_seed(seed, args.n, args.threads) for seed in args.seeds]
    print("\n| seed | fit (s) | `viscause observe` end to end (s) | AMI | classes found | P(T=1) per class | "
          "baseline: MLP + k-means (s, AMI) | fit / baseline: time, AMI |")
    print("|---:|---:|---:|---:|---:|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['seconds']:.1f} | {r['end_to_end_seconds']:.1f} | {r['ami']:.3f} | "
              f"{r['n_classes']} | {', '.join(f'{p:.3f}' for p in r['class_p'])} | "
              f"{r['baseline_seconds']:.1f} s, {r['baseline_ami']:.3f} | "
              f"{r['seconds_vs_baseline']:.2f}x, {r['ami_vs_baseline']:.2f}x |")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "observe.json").write_text(json.dumps({"machine": info, "runs": rows}, indent=1))
    return rows


def _warm_up() -> None:
    """Import sklearn's mixture code and run one tiny torch step so the timing measures the fit alone."""
    import torch
    from sklearn.mixture import GaussianMixture

    GaussianMixture(1).fit(np.random.default_rng(0).random((10, 1)))
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.MaxPool2d(2))
    net(torch.zeros(2, 1, 10, 10)).sum().backward()


if __name__ == "__main__":
    main()
