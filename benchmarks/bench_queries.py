"""Queries: random vs active (issue 13). GRATING with a fixed oracle budget, the truth oracle.

For each budget (iterations x queries = answers in Algorithm 2), each seed and each choice
(`queries_by` random = the paper's, active = core/method/query_choice.py), the experiment runs
as `viscause run grating --iterations I --queries Q --seed S --queries-by B` does (10,000
images, default recipe). After each iteration's training the benchmark also manipulates 500
random images of the data set towards a random other class (the paper's distribution of
queries, the same 500 for both choices) and judges them by the truth: the **true MErr** of the
manipulator. It is what the active choice must lower; the loop's own MErr is measured on the
batch it asked, which the active choice fills with doubtful manipulations on purpose.

Reported per run: true MErr of the last three iterations (mean), the true MDist of those 500
manipulations (pixel flips), their excess flips (beyond the fewest that reach the target
without touching a v-bar, over the successful ones) and how many keep the v-bar as it was, the
loop's MErr of the last three batches, seconds. The experiment's defaults are used (binary margin 8:
Experiment.manipulator_confidence); the default choice (query_choice.DEFAULT_CHOICE) is marked in
the table. Prints the date and the machine first, then a Markdown table (mean and range over the
seeds); writes benchmarks/out/queries.json and docs/queries_budget.png.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_queries.py [--seeds 0 1 2 3 4] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine

from viscause_gui.core.experiments.grating import GratingModel, TruthOracle, has_vbar, min_flips_to_class
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, QueryBatch
from viscause_gui.core.method.query_choice import DEFAULT_CHOICE, QUERY_CHOICES
from viscause_gui.core.nets.models import configure_torch_threads

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
BUDGETS = ((10, 10), (10, 20), (20, 20))      # (iterations, queries): 100, 200, 400 answers
TARGETS = {100: 0.05, 200: 0.02}               # issue 13: true MErr at most this
N_OBS = 10_000
N_EVAL = 500


def run_one(seed: int, iterations: int, queries: int, queries_by: str, n_obs: int = N_OBS) -> dict:
    model = GratingModel()
    data = model.sample(n_obs, seed)
    exp = Experiment(data, ExperimentConfig(iterations=iterations, queries=queries, seed=seed, queries_by=queries_by))
    oracle = TruthOracle(model)
    judge = np.random.default_rng(10_000 + seed)
    eval_index = judge.choice(len(data), min(N_EVAL, len(data)), replace=False)
    eval_targets = None
    true_merr, true_mdist, excess, vbar_kept, loop_merr, mdist = [], [], [], [], [], []
    started = time.perf_counter()
    judging = 0.0
    for event in exp.steps():
        if not isinstance(event, QueryBatch):
            continue
        if event.kind == "algorithm2":
            t0 = time.perf_counter()
            k = exp.n_causal_classes
            if eval_targets is None:
                eval_targets = (exp.causal_labels[eval_index] + judge.integers(1, k, len(eval_index))) % k
            result = exp.manipulate(data.images[eval_index], eval_targets)
            true_merr.append(float(np.mean(model.causal_class(result.images) != eval_targets)))
            true_mdist.append(float(np.mean(result.distance)))
            ok = model.causal_class(result.images) == eval_targets
            extra = result.distance - min_flips_to_class(data.images[eval_index], eval_targets)
            excess.append(float(np.mean(extra[ok])) if ok.any() else float("nan"))
            vbar_kept.append(float(np.mean(has_vbar(result.images) == has_vbar(data.images[eval_index]))))
            loop_merr.append(float(np.mean(model.causal_class(event.images) != event.targets)))
            mdist.append(float(np.mean(event.distances)))
            judging += time.perf_counter() - t0
        exp.answer(oracle.answer(event.images))
    return {"seed": seed, "iterations": iterations, "queries": queries, "answers": iterations * queries,
            "queries_by": queries_by, "true_merr": true_merr, "true_mdist": true_mdist, "excess_flips": excess,
            "vbar_kept": vbar_kept, "loop_merr": loop_merr, "mdist": mdist,
            "true_merr_last3": float(np.mean(true_merr[-3:])),
            "true_mdist_last3": float(np.mean(true_mdist[-3:])), "excess_last3": float(np.mean(excess[-3:])),
            "vbar_kept_last3": float(np.mean(vbar_kept[-3:])), "loop_merr_last3": float(np.mean(loop_merr[-3:])),
            "seconds": round(time.perf_counter() - started - judging, 1)}


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for (iterations, queries) in sorted({(r["iterations"], r["queries"]) for r in runs}, key=lambda b: b[0] * b[1]):
        for by in QUERY_CHOICES:
            mine = [r for r in runs if (r["iterations"], r["queries"], r["queries_by"]) == (iterations, queries, by)]
            if not mine:
                continue
            true = [r["true_merr_last3"] for r in mine]
            loop = [r["loop_merr_last3"] for r in mine]
            secs = [r["seconds"] for r in mine]
            mdist = [r["true_mdist_last3"] for r in mine]
            excess = [r["excess_last3"] for r in mine]
            vbar = [r["vbar_kept_last3"] for r in mine]
            rows.append({"iterations": iterations, "queries": queries, "answers": iterations * queries,
                         "queries_by": by, "seeds": [r["seed"] for r in mine],
                         "true_merr_mean": float(np.mean(true)), "true_merr_min": min(true),
                         "true_merr_max": max(true), "loop_merr_mean": float(np.mean(loop)),
                         "loop_merr_min": min(loop), "loop_merr_max": max(loop),
                         "true_mdist_mean": float(np.mean(mdist)), "true_mdist_min": min(mdist),
                         "true_mdist_max": max(mdist), "excess_mean": float(np.mean(excess)),
                         "vbar_kept_mean": float(np.mean(vbar)),
                         "seconds_min": min(secs), "seconds_max": max(secs)})
    return rows


def plot(runs: list[dict], rows: list[dict], path: Path, title: str) -> None:
    """MErr against the number of answers: left, the last three iterations per budget (mean, range over
    seeds); right, every iteration of the 10 x 20 runs against the answers so far."""
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), dpi=110)
    left, right = fig.subplots(1, 2)
    colours = {"random": "#888888", "active": "#1f77b4"}   # active: the default (binary margin 8)
    for by in QUERY_CHOICES:
        mine = [r for r in rows if r["queries_by"] == by]
        if not mine:
            continue
        x = np.array([r["answers"] for r in mine], float) * (0.97 if by == "random" else 1.03)
        y = np.array([r["true_merr_mean"] for r in mine]) * 100
        err = np.array([[r["true_merr_mean"] - r["true_merr_min"], r["true_merr_max"] - r["true_merr_mean"]]
                        for r in mine]).T * 100
        default = " (default)" if by == DEFAULT_CHOICE else ""
        left.errorbar(x, y, yerr=err, marker="o", capsize=4, color=colours[by], label=f"{by}{default} (mean, range)")
        curve = [r for r in runs if r["queries_by"] == by and (r["iterations"], r["queries"]) == (10, 20)]
        if curve:
            its = np.array([r["true_merr"] for r in curve]) * 100
            answers = np.arange(its.shape[1]) * 20
            right.plot(answers, its.mean(0), marker="o", color=colours[by], label=f"{by} (mean)")
            right.fill_between(answers, its.min(0), its.max(0), color=colours[by], alpha=0.2)
    for answers, target in TARGETS.items():
        left.plot([answers], [target * 100], marker="_", markersize=22, color="#d62728")
    left.plot([], [], marker="_", linestyle="", markersize=12, color="#d62728", label="target")
    left.set_xscale("log")
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.set_xticks([r["answers"] for r in rows if r["queries_by"] == "random"])
    left.set_xticklabels([f"{r['answers']}\n({r['iterations']}x{r['queries']})" for r in rows
                          if r["queries_by"] == "random"])
    left.set_xlabel("oracle answers in Algorithm 2 (iterations x Q)")
    left.set_ylabel("true MErr, last 3 iterations (%)")
    left.set_title("by budget")
    left.legend(fontsize=8)
    right.set_xlabel("answers before this iteration (10 x 20 runs)")
    right.set_ylabel("true MErr of the iteration's manipulator (%)")
    right.set_title("during the 200-answer runs")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def print_table(rows: list[dict]) -> None:
    def pct(r, key):
        return f"{100 * r[key + '_mean']:.1f}% ({100 * r[key + '_min']:.1f}-{100 * r[key + '_max']:.1f})"

    print("| answers (iterations x Q) | queries by | true MErr, last 3 iterations: mean (range) | "
          "true MDist (range) | excess flips | v-bar kept | loop MErr, last 3 batches | seconds per run | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        target = TARGETS.get(r["answers"])
        verdict = "" if target is None else (
            f"<= {100 * target:.0f}%: mean {'met' if r['true_merr_mean'] <= target else 'not met'}, every seed "
            f"{'met' if r['true_merr_max'] <= target else 'not met'}")
        by = r["queries_by"] + (" (default)" if r["queries_by"] == DEFAULT_CHOICE else "")
        print(f"| {r['answers']} ({r['iterations']} x {r['queries']}) | {by} | {pct(r, 'true_merr')} | "
              f"{r['true_mdist_mean']:.2f} ({r['true_mdist_min']:.2f}-{r['true_mdist_max']:.2f}) | "
              f"{r['excess_mean']:.2f} | {100 * r['vbar_kept_mean']:.1f}% | {pct(r, 'loop_merr')} | "
              f"{r['seconds_min']:.0f}-{r['seconds_max']:.0f} | {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--quick", action="store_true", help="seed 0, 100 and 200 answers only")
    args = parser.parse_args()
    configure_torch_threads(1)
    info = machine()
    print(f"date {info['date']}; machine: {info['cpu']}, {info['cores']} cores, load {info['load_avg']}, "
          f"torch {info['torch']} with {info['torch_threads']} thread(s)", flush=True)
    seeds = [0] if args.quick else args.seeds
    budgets = BUDGETS[:2] if args.quick else BUDGETS
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs = []
    for iterations, queries in budgets:
        for seed in seeds:
            for by in QUERY_CHOICES:
                r = run_one(seed, iterations, queries, by)
                runs.append(r)
                print(f"{iterations} x {queries}, seed {seed}, {by}: true MErr (last 3) "
                      f"{100 * r['true_merr_last3']:.1f}%, MDist {r['true_mdist_last3']:.2f}, "
                      f"loop MErr {100 * r['loop_merr_last3']:.1f}%, "
                      f"{r['seconds']} s", flush=True)
    rows = summarise(runs)
    total = round(time.perf_counter() - started, 1)
    result = {"machine": info, "n_obs": N_OBS, "n_eval": N_EVAL, "seeds": seeds, "targets": TARGETS,
              "rows": rows, "runs": runs, "seconds_total": total}
    (OUT / "queries.json").write_text(json.dumps(result, indent=2))
    if not args.quick:
        plot(runs, rows, ROOT / "docs" / "queries_budget.png",
             f"GRATING, {N_OBS:,} images, truth oracle, seeds {seeds[0]}-{seeds[-1]}: random vs active choice "
             f"of queries ({info['date'][:10]})")
    print()
    print_table(rows)
    print(f"\nbenchmark time {total} s")


if __name__ == "__main__":
    main()
