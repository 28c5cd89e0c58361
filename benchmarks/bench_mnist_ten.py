"""MNIST with ten outcomes in one run (issue 24), judged by models the loop never sees, against ten one-vs-all runs.

Each run is the real `viscause run mnist --outcomes ten --iterations 5 --queries 500 --oracle model` (T = the
digit a person reads; the model oracle's panel answers over ten digits; the manifold manipulator towards
any other digit). Then, with the judges of benchmarks/mnist_judges.py (a judge CNN of another architecture,
a 5-nearest-real-digits judge, the realism checks calibrated on real held-out digits):
- every held-out digit i (100 of each) made into every other digit j by the final manipulator: 9,000
  manipulations, the 90 (i, j) pairs; the judge reads j (target >= 95 % over all pairs, and the per-pair
  table), realism (target >= 90 %), median L2;
- every iteration's 500 queries as the loop made them: the judge reads the target digit, realism, the
  model oracle's own MErr;
- the whole run's time (target <= 10 minutes on the 2-core machine) and the answers it used.
`--compare` runs today's ten one-vs-all runs too (`viscause run mnist --digit d`, d = 0..9, same settings,
about 30 minutes) and judges the same way: each run's final manipulator makes its own held-out non-d
digits into d (the paper's ten manipulators; 900 per digit), its last batch is judged, and its time and
answers are summed. Without it, the comparison row is the one-vs-all figures bench_mnist.py measured
(ONE_VS_ALL_MEASURED, its date named).

Prints the date and machine (load average before and after each run) and Markdown tables; writes
benchmarks/out/mnist_ten.json and docs/mnist_ten_figure.png (the first run's 10 x 10 figure).
Usage: python benchmarks/bench_mnist_ten.py [--runs 3] [--compare] [--quick]
       (--runs 0 --compare: the ten one-vs-all runs alone, into benchmarks/out/mnist_ten_compare.json)
       python benchmarks/bench_mnist_ten.py --score RUN_DIR [--seed S]   (judge a run folder made before)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import header, machine
from mnist_judges import Realism, judge_labels, nearest_neighbour_labels, train_judge

from viscause_gui.cli import main as viscause
from viscause_gui.core.experiments import mnist
from viscause_gui.core.experiments.mnist_ten import FIGURE_NAME, class_digits, ten_digits
from viscause_gui.core.nets.models import configure_torch_threads
from viscause_gui.core.store.rundir import RunModel

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
TARGETS = {"judge_accuracy": 0.95, "realism": 0.90, "run_s": 600.0}
DEFAULT_ALPHA = 0.5         # the run's and the app's default; --alphas judges the same final manipulator at others
N = mnist.N_DIGITS
# bench_mnist.py, 2026-12-02 (benchmarks/README.md, MNIST): digits 7, 3, 5, seeds 3-5, iteration 5 of 5 x 500
ONE_VS_ALL_MEASURED = {"when": "2026-12-02, bench_mnist.py, digits 7, 3 and 5 only, seeds 3-5, load 1.0-2.3",
                       "judge_merr_to_d": (0.008, 0.073), "judge_merr_away": (0.012, 0.134),
                       "realism": (0.966, 0.990), "run_s_per_digit": (160.0, 190.0)}


def judges_for(pool_images: np.ndarray, pool_labels: np.ndarray, heldout_images: np.ndarray) -> dict:
    return {"cnn": train_judge(pool_images, pool_labels),
            "realism": Realism.calibrate(pool_images, heldout_images),
            "pool": (pool_images, pool_labels)}


def judged(images: np.ndarray, originals: np.ndarray, target_digits: np.ndarray, judges: dict) -> dict:
    """The judges' verdicts: did they read the target digit, is the image realistic, how far it moved."""
    read = judge_labels(judges["cnn"], images)
    knn = nearest_neighbour_labels(images, *judges["pool"])
    l2 = np.linalg.norm((images - originals).reshape(len(images), -1), axis=1)
    return {"read": read, "ok": read == target_digits, "knn_ok": knn == target_digits,
            "realistic": judges["realism"].realistic(images), "l2": l2}


def summary(v: dict) -> dict:
    return {"n": len(v["ok"]), "judge_accuracy": float(v["ok"].mean()), "knn_accuracy": float(v["knn_ok"].mean()),
            "realism": float(v["realistic"].mean()), "l2_median": float(np.median(v["l2"])),
            "accepted_l2_median": float(np.median(v["l2"][v["ok"]])) if v["ok"].any() else None}


def pair_table(starts: np.ndarray, targets: np.ndarray, ok: np.ndarray) -> list[list[float | None]]:
    """acc[i][j]: the share of digit i's manipulations towards j the judge read as j (None on the diagonal)."""
    return [[None if i == j or not np.any((starts == i) & (targets == j)) else
             float(ok[(starts == i) & (targets == j)].mean()) for j in range(N)] for i in range(N)]


def run_cli(args: list[str], out: Path) -> float:
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    code = viscause(["run", "mnist", *args, "--oracle", "model", "--out", str(out)])
    assert code == 0, f"viscause run mnist {' '.join(args)} failed"
    return time.perf_counter() - t0


def score_ten(run: Path, seed: int, judges: dict | None = None, alphas: tuple[float, ...] = (DEFAULT_ALPHA,)) -> dict:
    """Judge a ten-outcome run folder: the 90 pairs on held-out digits by the final manipulator at each of
    `alphas` (the first in "heldout_pairs", every one in "heldout_pairs_by_alpha"), and every iteration's batch."""
    task = ten_digits(seed)
    if judges is None:
        judges = judges_for(task.pool.images, task.pool.need("labels"), task.heldout.images)
    model = RunModel(run)
    digits = class_digits(model.levels)
    class_of_digit = np.argsort(digits)
    held, labels = task.heldout.images, task.heldout.need("labels")
    starts = np.repeat(np.arange(len(held)), N - 1)
    targets = np.concatenate([[j for j in range(N) if j != labels[i]] for i in range(len(held))]).astype(np.int64)
    by_alpha = {}
    for alpha in alphas:
        t0 = time.perf_counter()
        result = model.manipulator().manipulate(held[starts], class_of_digit[targets], alpha)
        seconds = time.perf_counter() - t0
        v = judged(result.images, held[starts], targets, judges)
        by_alpha[str(alpha)] = {**summary(v), "alpha": alpha, "seconds": round(seconds, 1),
                                "pairs": pair_table(labels[starts], targets, v["ok"])}
    history = json.loads((run / "history.json").read_text())
    per_iteration = []
    for rec in history["iterations"]:
        with np.load(run / f"iteration_{rec['iteration']:02d}.npz") as z:
            b = judged(z["manipulated"], z["originals"], digits[z["targets"]], judges)
        per_iteration.append({"iteration": rec["iteration"], "oracle_merr": rec["merr"], **summary(b)})
    config = history["config"]
    return {"heldout_pairs": by_alpha[str(alphas[0])], "heldout_pairs_by_alpha": by_alpha,
            "iterations": per_iteration, "answers": config["answers_used"],
            "oracle_heldout": config["oracle_heldout"], "run_seconds_in_folder": config["seconds_total"]}


def score_one_vs_all(run: Path, digit: int, seed: int, judges: dict) -> dict:
    """One digit's run: its final manipulator makes its own held-out non-d digits into d; its last batch judged."""
    task = mnist.one_vs_all(digit, seed)
    held, labels = task.heldout.images, task.heldout.need("labels")
    others = np.flatnonzero(labels != digit)
    model = RunModel(run)
    shows_d = int(np.argmax(model.levels))           # the causal class "shows d"
    result = model.manipulator().manipulate(held[others], np.full(len(others), shows_d, np.int64), 0.5)
    v = judged(result.images, held[others], np.full(len(others), digit), judges)
    history = json.loads((run / "history.json").read_text())
    last = history["iterations"][-1]["iteration"]
    with np.load(run / f"iteration_{last:02d}.npz") as z:
        read = judge_labels(judges["cnn"], z["manipulated"])
        ok = (read == digit) == (z["targets"] == shows_d)
        realistic = judges["realism"].realistic(z["manipulated"])
    queries = sum(s["queries"] for s in history["config"]["iteration_summaries"])
    algorithm1 = len(history.get("premise", {}).get("rep_index", [])) or 10
    return {"digit": digit, "to_d": {**summary(v), "starts": labels[others].tolist(), "ok": v["ok"].tolist()},
            "last_batch": {"judge_accuracy": float(ok.mean()), "realism": float(realistic.mean())},
            "answers": algorithm1 + queries}


def compare(seed: int, iterations: int, queries: int, judges: dict, quick_args: list[str]) -> dict:
    """Today's ten one-vs-all runs, judged; times and answers summed."""
    rows, seconds, loads = [], 0.0, []
    for d in range(N):
        out = OUT / f"mnist_ten_ova_d{d}_seed{seed}"
        loads.append(os.getloadavg()[0])
        seconds += run_cli(["--digit", str(d), "--iterations", str(iterations), "--queries", str(queries),
                            "--seed", str(seed), *quick_args], out)
        rows.append(score_one_vs_all(out, d, seed, judges))
        r = rows[-1]
        print(f"one-vs-all digit {d}: {seconds:.0f} s so far, judge reads {d} in {_p(r['to_d']['judge_accuracy'])} of "
              f"held-out others made into {d}, realism {_p(r['to_d']['realism'])}, answers {r['answers']}", flush=True)
    starts = np.concatenate([r["to_d"]["starts"] for r in rows])
    targets = np.concatenate([[r["digit"]] * len(r["to_d"]["starts"]) for r in rows])
    ok = np.concatenate([r["to_d"]["ok"] for r in rows]).astype(bool)
    n = np.array([r["to_d"]["n"] for r in rows])
    return {"seconds": round(seconds, 1), "answers": int(sum(r["answers"] for r in rows)),
            "judge_accuracy": float(ok.mean()), "pairs": pair_table(starts, targets, ok),
            "realism": float(np.average([r["to_d"]["realism"] for r in rows], weights=n)),
            "l2_median": float(np.median([r["to_d"]["l2_median"] for r in rows])),
            "last_batch_judge_accuracy": float(np.mean([r["last_batch"]["judge_accuracy"] for r in rows])),
            "last_batch_realism": float(np.mean([r["last_batch"]["realism"] for r in rows])),
            "load_avg_at_starts": loads, "per_digit": [{k: v for k, v in r.items() if k != "to_d"} for r in rows]}


def _p(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def print_run(r: dict) -> None:
    h = r["heldout_pairs"]
    print(f"\n### seed {r['seed']}: run {r['run_seconds']:.0f} s (load average {r['load_before']:.1f} before, "
          f"{r['load_after']:.1f} after), answers {r['answers']['algorithm1']} (Algorithm 1) + "
          f"{r['answers']['algorithm2']} (Algorithm 2); oracle on held-out digits "
          f"{_p(r['oracle_heldout']['accuracy_answered'])} on answered, '?' {_p(r['oracle_heldout']['unsure_rate'])}\n")
    for a in r.get("heldout_pairs_by_alpha", {"": h}).values():
        print(f"held-out digits, all 90 (i, j) pairs, alpha {a.get('alpha', DEFAULT_ALPHA)} ({a['n']} manipulations, "
              f"{a['seconds']:.0f} s): judge reads j **{_p(a['judge_accuracy'])}**, kNN judge {_p(a['knn_accuracy'])}, "
              f"realism **{_p(a['realism'])}**, median L2 {a['l2_median']:.2f}\n")
    print("| iteration | oracle MErr | judge reads the target | kNN judge | realism | median L2 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for it in r["iterations"]:
        print(f"| {it['iteration']} | {_p(it['oracle_merr'])} | {_p(it['judge_accuracy'])} | {_p(it['knn_accuracy'])} "
              f"| {_p(it['realism'])} | {it['l2_median']:.2f} |")
    for a in r.get("heldout_pairs_by_alpha", {"": h}).values():
        print("\n" + pairs_markdown(a["pairs"], f"alpha {a.get('alpha', DEFAULT_ALPHA)}: judge reads j, held-out digit "
                                                 "i made into j (%)"))
    print("targets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r["targets"].items()))


def pairs_markdown(pairs: list[list[float | None]], title: str) -> str:
    lines = [f"| {title} | " + " | ".join(f"to {j}" for j in range(N)) + " |", "|---|" + "---:|" * N]
    for i, row in enumerate(pairs):
        cells = ["·" if v is None else f"{100 * v:.0f}" for v in row]
        lines.append(f"| a {i} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_targets(r: dict) -> dict:
    out = {}
    for a in r["heldout_pairs_by_alpha"].values():
        out[f"alpha {a['alpha']}: judge reads the target >= 95 % (90 pairs)"] = \
            a["judge_accuracy"] >= TARGETS["judge_accuracy"]
        out[f"alpha {a['alpha']}: realism >= 90 %"] = a["realism"] >= TARGETS["realism"]
    out["run <= 10 min"] = r["run_seconds"] <= TARGETS["run_s"]
    return out


def one_run(seed: int, iterations: int, queries: int, quick_args: list[str], alphas: tuple[float, ...]
            ) -> tuple[dict, Path, dict]:
    task = ten_digits(seed)
    judges = judges_for(task.pool.images, task.pool.need("labels"), task.heldout.images)
    out = OUT / f"mnist_ten_seed{seed}"
    before = os.getloadavg()[0]
    seconds = run_cli(["--outcomes", "ten", "--iterations", str(iterations), "--queries", str(queries),
                       "--seed", str(seed), *quick_args], out)
    r = {"seed": seed, "run_seconds": round(seconds, 1), "load_before": before, "load_after": os.getloadavg()[0],
         **score_ten(out, seed, judges, alphas)}
    r["targets"] = check_targets(r)
    return r, out, judges


def print_comparison(ten: list[dict], ova: dict | None) -> None:
    print("\n## ten outcomes in one run against ten one-vs-all runs\n")
    print("| | judge reads the target (held-out, towards each digit) | realism | answers | time |")
    print("|---|---:|---:|---:|---:|")
    rng = lambda xs, f: f(min(xs)) if min(xs) == max(xs) else f"{f(min(xs))}–{f(max(xs))}"  # noqa: E731
    for alpha in (ten[0]["heldout_pairs_by_alpha"] if ten else {}):
        held = [r["heldout_pairs_by_alpha"][alpha] for r in ten]
        print(f"| one run, ten outcomes ({len(ten)} runs), alpha {alpha} | "
              f"{rng([h['judge_accuracy'] for h in held], _p)} | "
              f"{rng([h['realism'] for h in held], _p)} | "
              f"{rng([sum(r['answers'].values()) for r in ten], str)} | "
              f"{rng([r['run_seconds'] for r in ten], lambda s: f'{s / 60:.1f} min')} |")
    if ova is not None:
        print(f"| ten one-vs-all runs (measured now, seed {ova['seed']}) | {_p(ova['judge_accuracy'])} | "
              f"{_p(ova['realism'])} | {ova['answers']} | {ova['seconds'] / 60:.1f} min |")
        print("\n" + pairs_markdown(ova["pairs"], "one-vs-all: judge reads j, held-out i made into j by run j (%)"))
    m = ONE_VS_ALL_MEASURED
    print(f"\none-vs-all as measured by bench_mnist.py ({m['when']}), iteration 5: judge MErr towards d "
          f"{_p(m['judge_merr_to_d'][0])}–{_p(m['judge_merr_to_d'][1])}, away "
          f"{_p(m['judge_merr_away'][0])}–{_p(m['judge_merr_away'][1])}, realism {_p(m['realism'][0])}–"
          f"{_p(m['realism'][1])}, {m['run_s_per_digit'][0]:.0f}–{m['run_s_per_digit'][1]:.0f} s per digit "
          f"(ten digits: {10 * m['run_s_per_digit'][0] / 60:.0f}–{10 * m['run_s_per_digit'][1] / 60:.0f} min)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="whole runs, seeds 0, 1, ... (default 3)")
    parser.add_argument("--compare", action="store_true", help="run the ten one-vs-all runs too (about 30 min)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 run, 2 iterations x 100 queries, "
                        "short training (its figures mean nothing)")
    parser.add_argument("--score", type=Path, default=None, help="judge this ten-outcome run folder only")
    parser.add_argument("--seed", type=int, default=0, help="with --score: the seed the run was made with")
    parser.add_argument("--alphas", type=float, nargs="+", default=[DEFAULT_ALPHA, 0.45],
                        help="judge the final manipulator at these alphas (the first is the headline; "
                        "default 0.5 0.45)")
    args = parser.parse_args()
    configure_torch_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(header("MNIST, ten outcomes in one run", info))
    if args.score is not None:
        print(json.dumps(score_ten(args.score, args.seed, alphas=tuple(args.alphas)), indent=1))
        return
    runs, (iterations, queries) = (1, (2, 100)) if args.quick else (args.runs, (5, 500))
    quick_args = ["--oracle-epochs", "2", "--epochs", "5", "--generative-epochs", "5"] if args.quick else []
    results: dict = {"machine": info, "iterations": iterations, "queries": queries, "quick": args.quick,
                     "alphas": args.alphas, "runs": []}
    judges = None
    for seed in range(runs):
        r, out, judges_seed = one_run(seed, iterations, queries, quick_args, tuple(args.alphas))
        judges = judges or judges_seed
        print_run(r)
        if seed == 0 and not args.quick:
            shutil.copyfile(out / FIGURE_NAME, ROOT / "docs" / "mnist_ten_figure.png")
        results["runs"].append(r)
        save(results, args.quick, args.runs)
    ova = None
    if args.compare:
        if judges is None:                   # --runs 0: the comparison alone, judged as run 0 would be
            task = ten_digits(0)
            judges = judges_for(task.pool.images, task.pool.need("labels"), task.heldout.images)
        ova = {"seed": 0, **compare(0, iterations, queries, judges, quick_args)}
        results["one_vs_all"] = ova
    print_comparison(results["runs"], ova)
    results["machine_end"] = machine()
    print(f"\nload average at the end: {results['machine_end']['load_avg']}")
    save(results, args.quick, args.runs)


def save(results: dict, quick: bool, runs: int) -> None:
    """benchmarks/out/mnist_ten.json (written after each run, so a stopped benchmark keeps what it measured);
    mnist_ten_compare.json for the comparison alone (--runs 0 --compare), mnist_ten_quick.json for --quick."""
    name = "mnist_ten" + ("_quick" if quick else "") + ("_compare" if runs == 0 else "")
    (OUT / f"{name}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
