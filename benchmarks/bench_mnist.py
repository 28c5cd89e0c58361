"""MNIST benchmark (issue 11 targets), judged by models the loop never sees, on one torch thread.

Per digit (default 7, 3 and 5):
1. the real `viscause run mnist --digit d --iterations 5 --queries 500 --oracle model` (the
   manifold manipulator, the model oracle's panel); whole run <= 5 minutes;
2. every iteration's batch judged independently (benchmarks/mnist_judges.py): MErr by a judge
   CNN of another architecture, seeds and augmentation, towards d and away from d (target
   <= 5% each at iteration 5), MErr by a 5-nearest-real-digits judge, the realism score (the
   share passing checks calibrated on real digits; target >= 90%), the model oracle's own MErr
   (target: within 3 points of the judge's), the median L2 of the changes the judge accepts
   (target: below the nearest-real-image baseline's median);
3. on the final causal nets and the last batch's 500 start images, side by side: the pixel
   search (the manipulator before the manifold), the manifold search, Foolbox's DDN (the
   adversarial reference, optional: `pip install foolbox`) and the nearest real image of the
   target class, each judged the same way; the realism checks on real held-out digits too;
4. the alpha slider: one 28x28 image with the run's manifold manipulator (median, <= 30 ms).

Prints the machine, the date and Markdown tables; writes benchmarks/out/mnist.json,
docs/mnist_figure.png (digit 7's rows through the iterations), docs/mnist_history.png and
docs/mnist_random_grid.png (48 random, not chosen, manipulations of digit 7's last batch).
Usage: python benchmarks/bench_mnist.py [--digits 7 3 5] [--seeds 3 4 5] [--quick]
(three seeds x three digits: about 40 minutes on 2 cores)
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine
from mnist_judges import Realism, judge_labels, nearest_neighbour_labels, train_judge

from viscause_gui.cli import main as viscause
from viscause_gui.core.experiments import mnist
from viscause_gui.core.method.manipulator import manipulate
from viscause_gui.core.nets.models import configure_torch_threads
from viscause_gui.core.store.rundir import RunModel

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
TARGETS = {"judge_merr": 0.05, "realism": 0.90, "oracle_gap": 0.03, "single_ms": 30.0, "run_s": 300.0}


def judge_batch(images, originals, targets, digit, judges) -> dict:
    """Independent verdicts on manipulated images (targets: 1 = towards d, 0 = away)."""
    judge, realism, pool = judges["cnn"], judges["realism"], judges["pool"]
    said_d = judge_labels(judge, images) == digit
    ok = said_d == (targets == 1)
    knn_ok = (nearest_neighbour_labels(images, pool.images, pool.labels) == digit) == (targets == 1)
    l2 = np.linalg.norm((images - originals).reshape(len(images), -1), axis=1)
    checks = realism.checks(images)
    return {"judge_merr": float(1 - ok.mean()), "judge_merr_to_d": float(1 - ok[targets == 1].mean()),
            "judge_merr_away": float(1 - ok[targets == 0].mean()), "knn_merr": float(1 - knn_ok.mean()),
            "realism": float(np.logical_and.reduce(list(checks.values())).mean()),
            **{f"check_{k}": float(v.mean()) for k, v in checks.items()},
            "l2_median": float(np.median(l2)), "accepted_l2_median": float(np.median(l2[ok])) if ok.any() else None}


def run_digit(digit: int, seed: int, iterations: int, queries: int) -> tuple[Path, float]:
    out = OUT / f"mnist_d{digit}_seed{seed}"
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    code = viscause(["run", "mnist", "--digit", str(digit), "--iterations", str(iterations), "--queries",
                     str(queries), "--oracle", "model", "--seed", str(seed), "--out", str(out)])
    assert code == 0, "viscause run mnist failed"
    return out, time.perf_counter() - t0


def ddn(nets, images: np.ndarray, targets: np.ndarray) -> np.ndarray | None:
    try:
        import foolbox as fb
    except ImportError:
        return None

    class Worst(torch.nn.Module):          # DDN against the ensemble's mean logits
        def __init__(self):
            super().__init__()
            self.nets = torch.nn.ModuleList(nets)

        def forward(self, x):
            return torch.stack([n(x) for n in self.nets]).mean(0)

    model = fb.PyTorchModel(Worst().eval(), bounds=(0, 1))
    _, adv, _ = fb.attacks.DDNAttack(steps=100)(model, torch.from_numpy(images),
                                                fb.criteria.TargetedMisclassification(torch.from_numpy(targets)),
                                                epsilons=None)
    return adv.numpy()


def side_by_side(run: Path, digit: int, judges: dict, task) -> dict:
    model = RunModel(run)
    last = sorted(run.glob("iteration_*.npz"))[-1]
    with np.load(last) as z:
        originals, targets = z["originals"], z["targets"]
    manipulator = model.manipulator()
    confidence = json.loads((run / "history.json").read_text())["config"]["confidence"]
    rows = {}
    t0 = time.perf_counter()
    pixels = manipulate(model.nets, originals, targets, 0.5, binary=False, confidence=confidence)
    rows["pixel search (before)"] = {**judge_batch(pixels.images, originals, targets, digit, judges),
                                     "seconds": time.perf_counter() - t0}
    t0 = time.perf_counter()
    ours = manipulator.manipulate(originals, targets, 0.5)
    rows["manifold search"] = {**judge_batch(ours.images, originals, targets, digit, judges),
                               "seconds": time.perf_counter() - t0}
    t0 = time.perf_counter()
    adv = ddn(model.nets, originals, targets)
    if adv is not None:
        rows["Foolbox DDN (100 steps)"] = {**judge_batch(adv, originals, targets, digit, judges),
                                           "seconds": time.perf_counter() - t0}
    near = mnist.nearest_real_baseline(originals, targets == 1, task.pool.images, task.pool.obs_class == 1)
    rows["nearest real image of the target class"] = judge_batch(near.images, originals, targets, digit, judges)
    held = task.heldout.images
    rows["real held-out digits (unchanged)"] = {"realism": float(judges["realism"].realistic(held).mean())}
    single = []
    for i in range(40):
        t0 = time.perf_counter()
        manipulator.manipulate(originals[i], targets[i:i + 1], 0.5)
        single.append(time.perf_counter() - t0)
    return {"rows": rows, "single_ms": 1000 * float(np.median(single)), "search": manipulator.default_search,
            "random_grid": (originals, ours.images, targets)}


def digit_results(digit: int, seed: int, iterations: int, queries: int) -> dict:
    task = mnist.one_vs_all(digit, seed)
    t0 = time.perf_counter()
    judges = {"cnn": train_judge(task.pool.images, task.pool.labels),
              "realism": Realism.calibrate(task.pool.images, task.heldout.images), "pool": task.pool}
    judges_s = time.perf_counter() - t0
    run, seconds = run_digit(digit, seed, iterations, queries)
    history = json.loads((run / "history.json").read_text())
    per_iteration = []
    for rec, summary in zip(history["iterations"], history["config"]["iteration_summaries"]):
        with np.load(run / f"iteration_{rec['iteration']:02d}.npz") as z:
            judged = judge_batch(z["manipulated"], z["originals"], z["targets"], digit, judges)
        per_iteration.append({"iteration": rec["iteration"], "oracle_merr": rec["merr"],
                              "oracle_unsure": summary["unsure_rate"], **judged})
    side = side_by_side(run, digit, judges, task)
    return {"digit": digit, "run_seconds": round(seconds, 1), "judges_seconds": round(judges_s, 1),
            "oracle_heldout": history["config"]["oracle_heldout"], "iterations": per_iteration,
            "baseline_l2_median": history["config"]["baseline_last_iteration"]["l2_median"],
            "side_by_side": side["rows"], "single_ms": side["single_ms"], "search": side["search"],
            "_grid": side["random_grid"], "_run": run}


def check_targets(d: dict) -> dict:
    last = d["iterations"][-1]
    accepted = last["accepted_l2_median"]
    return {"judge MErr to d <= 5%": last["judge_merr_to_d"] <= TARGETS["judge_merr"],
            "judge MErr away <= 5%": last["judge_merr_away"] <= TARGETS["judge_merr"],
            "realism >= 90%": last["realism"] >= TARGETS["realism"],
            "oracle within 3 points of judge": abs(last["oracle_merr"] - last["judge_merr"]) <= TARGETS["oracle_gap"],
            "accepted L2 < nearest real": accepted is not None and accepted < d["baseline_l2_median"],
            "slider <= 30 ms": d["single_ms"] <= TARGETS["single_ms"],
            "run <= 5 min": d["run_seconds"] <= TARGETS["run_s"]}


def random_grid(originals, images, targets, path: Path, digit: int, n: int = 48, seed: int = 0) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    pick = np.random.default_rng(seed).choice(len(images), n, replace=False)
    cols = 12
    fig = Figure(figsize=(cols * 0.9, (n // cols) * 2 * 0.95 + 0.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2 * (n // cols), cols)
    for j, i in enumerate(pick):
        r, c = 2 * (j // cols), j % cols
        for k, img in enumerate((originals[i], images[i])):
            ax = axes[r + k, c]
            ax.imshow(img, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r + 1, c].set_xlabel(f"to {digit}" if targets[i] == 1 else f"to not-{digit}", fontsize=7, labelpad=1)
    fig.suptitle(f"48 random manipulations of the last batch (above: original, below: manipulated), digit {digit}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _p(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def print_digit(d: dict) -> None:
    print(f"\n### digit {d['digit']}: run {d['run_seconds']} s, oracle on held-out digits: accuracy "
          f"{_p(d['oracle_heldout']['accuracy_answered'])} on answered, '?' {_p(d['oracle_heldout']['unsure_rate'])}\n")
    print("| iteration | oracle MErr | judge MErr | towards d | away | kNN judge MErr | realism | "
          "median L2 (judge-accepted) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for it in d["iterations"]:
        print(f"| {it['iteration']} | {_p(it['oracle_merr'])} | {_p(it['judge_merr'])} | {_p(it['judge_merr_to_d'])} | "
              f"{_p(it['judge_merr_away'])} | {_p(it['knn_merr'])} | {_p(it['realism'])} | "
              f"{it['l2_median']:.2f} ({it['accepted_l2_median'] or float('nan'):.2f}) |")
    print(f"\nnearest real image of the target class (last batch's starts): median L2 {d['baseline_l2_median']:.2f}")
    print("\n| same 500 starts, final nets | judge MErr towards d | away | kNN MErr | realism | median L2 | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in d["side_by_side"].items():
        print(f"| {name} | {_p(row.get('judge_merr_to_d'))} | {_p(row.get('judge_merr_away'))} | "
              f"{_p(row.get('knn_merr'))} | {_p(row['realism'])} | "
              f"{row['l2_median']:.2f} | {row.get('seconds', float('nan')):.1f} |" if "l2_median" in row
              else f"| {name} | | | | {_p(row['realism'])} | | |")
    print(f"\nalpha slider, one image, {d['search']} search: {d['single_ms']:.1f} ms (median of 40)")
    print("targets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in d["targets"].items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digits", type=int, nargs="+", default=[7, 3, 5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5], help="one whole run per seed")
    parser.add_argument("--quick", action="store_true", help="2 iterations x 100 queries, digit 7, one seed")
    args = parser.parse_args()
    configure_torch_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    digits, seeds, (iterations, queries) = (([7], args.seeds[:1], (2, 100)) if args.quick
                                            else (args.digits, args.seeds, (5, 500)))
    results = {"machine": machine(), "iterations": iterations, "queries": queries, "runs": []}
    print(f"# MNIST benchmark, {results['machine']}")
    for seed in seeds:
        run = {"seed": seed, "digits": []}
        for digit in digits:
            print(f"\n## seed {seed}")
            d = digit_results(digit, seed, iterations, queries)
            d["targets"] = check_targets(d)
            print_digit(d)
            if digit == digits[0] and seed == seeds[0]:
                shutil.copyfile(d["_run"] / "manipulations.png", ROOT / "docs" / "mnist_figure.png")
                shutil.copyfile(d["_run"] / "history.png", ROOT / "docs" / "mnist_history.png")
                random_grid(*d["_grid"], ROOT / "docs" / "mnist_random_grid.png", digit)
            run["digits"].append({k: v for k, v in d.items() if not k.startswith("_")})
        results["runs"].append(run)
    results["machine_end"] = machine()
    (OUT / "mnist.json").write_text(json.dumps(results, indent=2))
    print_ranges(results)


def print_ranges(results: dict) -> None:
    """Per digit, the last iteration over the seeds: min-max of each measure."""
    print("\n## last iteration, range over the seeds\n")
    print("| digit | judge MErr towards d | away | oracle MErr | realism | median L2 accepted | nearest real L2 "
          "| pixel search: judge MErr towards / away, realism | slider ms | run s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    digits = [d["digit"] for d in results["runs"][0]["digits"]]
    for i, digit in enumerate(digits):
        rows = [run["digits"][i] for run in results["runs"]]
        last = [r["iterations"][-1] for r in rows]
        pix = [r["side_by_side"]["pixel search (before)"] for r in rows]

        def rng(values, pct=True):
            lo, hi = min(values), max(values)
            return f"{100 * lo:.1f}–{100 * hi:.1f}%" if pct else f"{lo:.2f}–{hi:.2f}"
        print(f"| {digit} | {rng([x['judge_merr_to_d'] for x in last])} | {rng([x['judge_merr_away'] for x in last])} "
              f"| {rng([x['oracle_merr'] for x in last])} | {rng([x['realism'] for x in last])} "
              f"| {rng([x['accepted_l2_median'] for x in last], False)} "
              f"| {rng([r['baseline_l2_median'] for r in rows], False)} "
              f"| {rng([p['judge_merr_to_d'] for p in pix])} / {rng([p['judge_merr_away'] for p in pix])}, "
              f"{rng([p['realism'] for p in pix])} | {rng([r['single_ms'] for r in rows], False)} "
              f"| {rng([r['run_seconds'] for r in rows], False)} |")
    met = {k: all(d["targets"][k] for run in results["runs"] for d in run["digits"])
           for k in results["runs"][0]["digits"][0]["targets"]}
    print("\nmet in every run: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met.items()))


if __name__ == "__main__":
    main()
