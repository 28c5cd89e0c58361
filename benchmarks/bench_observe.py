"""Observational-class benchmark: 10,000 GRATING images -> fit_observational_classes.

Prints one JSON line {"n", "seconds", "cpu_seconds", "ami", "n_classes", "criterion", ...}; `seconds` is
the wall-clock time of the fit alone (imports, data generation and torch warm-up excluded).
Usage: python benchmarks/bench_observe.py [SEED] [--n N] [--threads T]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.observe import fit_observational_classes
from viscause_gui.core.nets.models import configure_torch_threads


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed", nargs="?", type=int, default=0)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on 2 cores)")
    args = parser.parse_args(argv)
    configure_torch_threads(args.threads)
    data = GratingModel().sample(args.n, args.seed)
    _warm_up()
    wall, cpu = time.perf_counter(), time.process_time()
    fit = fit_observational_classes(data.images, data.t, seed=args.seed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    row = {"n": args.n, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
           "ami": round(float(adjusted_mutual_info_score(data.obs_class, fit.obs_class)), 4),
           "n_classes": int(fit.n_classes), "criterion": fit.criterion, "seed": args.seed,
           "class_p": [round(float(p), 3) for p in fit.class_p], "threads": args.threads}
    print(json.dumps(row))
    return row


def _warm_up() -> None:
    """Import sklearn's mixture code and run one tiny torch step so the timing measures the fit alone."""
    import torch
    from sklearn.mixture import GaussianMixture

    GaussianMixture(1).fit(np.random.default_rng(0).random((10, 1)))
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.MaxPool2d(2))
    net(torch.zeros(2, 1, 10, 10)).sum().backward()


if __name__ == "__main__":
    main()
