"""Queries: random vs active on MNIST digit mode (issue 13), judged by the independent judge.

Digit 7, `viscause run mnist` (model oracle, manifold manipulator) with today's 2,500 answers
(5 x 500, random choice) and with half of them (5 x 250) chosen at random and actively. The
final causal nets then manipulate the same 500 random images of the task's data towards the
other class, and the judge CNN of benchmarks/mnist_judges.py (another architecture, seeds and
augmentation, never seen by the loop) says which manipulations reached their target: the
**judge MErr** of the manipulator (towards 7, away from 7), with the realism score. The last
batch the loop asked is judged too (the active choice fills it with doubtful manipulations).

Three seeds (3, 4, 5: three runs of each setting). Prints the date and the machine, each run's JSON
line, a Markdown table per seed and one with the mean and range over the seeds; writes
benchmarks/out/queries_mnist.json. --jobs 2 runs two seeds at once, each in a process of its own.
Usage: OMP_NUM_THREADS=1 python benchmarks/bench_queries_mnist.py [--seeds 3 4 5] [--digit 7] [--jobs 2]
(about 12 minutes a seed on 2 cores)
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_mnist import judge_batch
from machine import header, machine
from mnist_judges import Realism, train_judge

from viscause_gui.cli import main as viscause
from viscause_gui.core.experiments import mnist
from viscause_gui.core.nets.models import configure_torch_threads
from viscause_gui.core.store.rundir import RunModel

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
RUNS = ((5, 500, "random"), (5, 250, "random"), (5, 250, "active"))
N_EVAL = 500


def one_seed(d: int, seed: int) -> list[dict]:
    """Every setting of RUNS for digit d and this seed, judged on the same 500 random starts."""
    task = mnist.one_vs_all(d, seed)
    judges = {"cnn": train_judge(task.pool.images, task.pool.labels),
              "realism": Realism.calibrate(task.pool.images, task.heldout.images), "pool": task.pool}
    pick = np.random.default_rng(20_000 + seed).choice(len(task.data), min(N_EVAL, len(task.data)), replace=False)
    starts = task.data.images[pick]
    targets = 1 - task.data.obs_class[pick]          # one-vs-all: the other class
    rows = []
    for iterations, queries, by in RUNS:
        out = OUT / f"queries_mnist_d{d}_seed{seed}_{iterations}x{queries}_{by}"
        t0 = time.perf_counter()
        code = viscause(["run", "mnist", "--digit", str(d), "--iterations", str(iterations), "--queries", str(queries),
                         "--oracle", "model", "--seed", str(seed), "--queries-by", by, "--out", str(out)])
        assert code == 0, f"viscause run mnist failed ({by})"
        seconds = time.perf_counter() - t0
        result = RunModel(out).manipulator().manipulate(starts, targets, 0.5)
        fresh = judge_batch(result.images, starts, targets, d, judges)
        last = sorted(out.glob("iteration_*.npz"))[-1]
        with np.load(last) as z:
            batch = judge_batch(z["manipulated"], z["originals"], z["targets"], d, judges)
        history = json.loads((out / "history.json").read_text())
        row = {"seed": seed, "iterations": iterations, "queries": queries, "answers": iterations * queries,
               "queries_by": by, "seconds": round(seconds, 1), "judge_merr": fresh["judge_merr"],
               "judge_merr_to_d": fresh["judge_merr_to_d"], "judge_merr_away": fresh["judge_merr_away"],
               "realism": fresh["realism"], "l2_median": fresh["l2_median"],
               "last_batch_judge_merr": batch["judge_merr"],
               "last_batch_oracle_merr": history["iterations"][-1]["merr"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def print_seed_table(d: int, rows: list[dict]) -> None:
    print(f"\nseed {rows[0]['seed']}:\n| answers (iterations x Q) | queries by | judge MErr, 500 random starts "
          f"(towards {d} / away) | realism | last batch: judge MErr / oracle MErr | seconds |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['answers']} ({r['iterations']} x {r['queries']}) | {r['queries_by']} | "
              f"{100 * r['judge_merr']:.1f}% ({100 * r['judge_merr_to_d']:.1f}% / {100 * r['judge_merr_away']:.1f}%) | "
              f"{100 * r['realism']:.0f}% | {100 * r['last_batch_judge_merr']:.1f}% / "
              f"{100 * r['last_batch_oracle_merr']:.1f}% | {r['seconds']:.0f} |")


def print_summary(rows: list[dict]) -> None:
    seeds = sorted({r["seed"] for r in rows})
    print(f"\nover seeds {', '.join(map(str, seeds))}: mean (range)\n"
          "| answers (iterations x Q) | queries by | judge MErr, 500 random starts | realism | seconds |")
    print("|---|---|---|---|---|")
    for iterations, queries, by in RUNS:
        same = [r for r in rows if (r["iterations"], r["queries"], r["queries_by"]) == (iterations, queries, by)]
        merr = 100 * np.array([r["judge_merr"] for r in same])
        real = 100 * np.array([r["realism"] for r in same])
        secs = [r["seconds"] for r in same]
        print(f"| {iterations * queries} ({iterations} x {queries}) | {by} | {merr.mean():.1f}% "
              f"({merr.min():.1f}-{merr.max():.1f}) | {real.min():.0f}-{real.max():.0f}% | "
              f"{min(secs):.0f}-{max(secs):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--digit", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once, each in its own process (one "
                        "torch thread each; on 2 cores 2 jobs finish sooner, each run's seconds grow)")
    args = parser.parse_args()
    configure_torch_threads(1)
    info = machine()
    print(header("Queries on MNIST digit mode", info), flush=True)
    rows = []
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=configure_torch_threads, initargs=(1,)) as pool:
        for seed_rows in pool.map(one_seed, [args.digit] * len(args.seeds), args.seeds):
            print_seed_table(args.digit, seed_rows)
            rows += seed_rows
        (OUT / "queries_mnist.json").write_text(json.dumps({"machine": info, "digit": args.digit, "seeds": args.seeds,
                                                             "n_eval": N_EVAL, "rows": rows}, indent=2))
    print_summary(rows)


if __name__ == "__main__":
    main()
