"""Data sets no recipe was made for (issue 22, item 5): the suite of benchmarks/unseen_suite.py through
`viscause run DATA.npz --oracle python:oracle.py:answer` as a new user would run it, defaults only,
nothing per set; one suite-wide setting lowers the iterations and queries (ITERATIONS, QUERIES) so
that the suite fits this machine. Each run is then scored with what the loop never saw (truth.npz):
- AMI of the observational classes the run found against the construction's four kinds;
- the oracle answers the run used (Algorithm 1 and 2);
- the causal net's accuracy on the broken-confound test set (`viscause predict`; the cause's truth,
  Colored MNIST also T in its test environment), beside the oracle's own accuracy there (its ceiling);
- of the last iteration's manipulations: how often the oracle accepts them (its answer's causal class
  is the target's), how often the confounded feature stays as it was, and the median change (L2) of
  the accepted ones against the distance to the nearest real image of the target class;
- wall time and peak memory (ru_maxrss of the run's process and its children).
Usage: nice -n 10 python benchmarks/bench_unseen.py [--sets NAME ...] [--seeds 0 1 2] [--quick] [--tag T]
       [--commit C]   (the package as committed in C: the before table is --commit cfb4335 --tag before)
       [--rescore]    (score the run folders of unseen_T.json again, run nothing)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import adjusted_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unseen_suite as suite
from machine import header, machine

OUT = Path(__file__).resolve().parent / "out"
ITERATIONS, QUERIES = 4, 20          # the one suite-wide setting (defaults 20, 100): about 100 answers, fits 2 cores
QUICK_ITERATIONS = 2
DATA_SEED = 0                        # the data are the same for every run seed
COLUMNS = ("n_obs_found", "ami", "answers", "causal_acc", "oracle_acc", "accepted", "cause_changed", "confound_kept",
           "change_median", "nearest_median", "seconds", "peak_mib")


PACKAGE: Path | None = None          # a package tree other than the installed one (--commit), for the children


def viscause(*args: str) -> list[str]:
    return [sys.executable, "-m", "viscause_gui.cli", *args]


def package_of_commit(commit: str, work: Path) -> Path:
    """The package as committed in `commit`, unpacked under `work` (the working tree is never touched)."""
    root = Path(__file__).resolve().parents[1]
    full = subprocess.run(["git", "rev-parse", commit], cwd=root, capture_output=True, text=True,
                          check=True).stdout.strip()
    target = work / f"package_{full[:12]}"
    if not (target / "viscause_gui").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", full, "viscause_gui", "resources", "sample_data"], cwd=root,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    if PACKAGE is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_child(command: list[str], log: Path) -> tuple[int, float, float]:
    """Run `command` in its log's folder, its output to `log`: exit code, wall seconds, peak MiB of it and its
    children. GNU time measures the peak: a child forked from this process would inherit this process's
    high-water mark (the sets it built) and report it as its own."""
    peak_file = log.with_suffix(".peak_kib")
    t0 = time.perf_counter()
    with open(log, "w") as out:
        # in the set's folder, as a user would: from the checkout, python -m would import its package first
        code = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(peak_file), *command], stdout=out,
                              stderr=subprocess.STDOUT, env=child_env(), cwd=log.parent).returncode
    return code, time.perf_counter() - t0, int(peak_file.read_text().split()[-1]) / 1024


def found_obs_classes(run_dir: Path) -> np.ndarray | None:
    """The observational classes the run found (its session's data set)."""
    with zipfile.ZipFile(run_dir / "run.vcsession") as z:
        if "data/obs_class.npy" not in z.namelist():
            return None
        return np.load(BytesIO(z.read("data/obs_class.npy")), allow_pickle=False)


def answers_used(run_dir: Path) -> int:
    """The oracle's answers: the batches taken and one it answered that the run refused (it waits as pending)."""
    with zipfile.ZipFile(run_dir / "run.vcsession") as z:
        experiment = json.loads(z.read("session.json"))["experiment"] or {}
    batches = experiment.get("batches", []) + ([experiment["pending"]] if experiment.get("pending") else [])
    return int(sum(batch["size"] for batch in batches))


def causal_accuracy(run_dir: Path, folder: Path, truth: dict, log: Path) -> dict:
    """The causal net on the broken-confound test set, against the cause (and T where the set has it)."""
    out = run_dir / "predict_test.npz"
    code, _, _ = run_child(viscause("predict", "--run", str(run_dir), "--images", str(folder / "test.npz"),
                                    "--out", str(out)), log)
    if code != 0:
        return {"causal_acc": None}
    high = np.load(out)["p_causal"] > np.mean(truth["levels"])
    result = {"causal_acc": float((high == truth["test_cause"]).mean())}
    if "test_t" in truth:
        result["acc_on_t"] = float((high == truth["test_t"]).mean())
    return result


def oracle_accuracy(folder: Path, truth: dict) -> float:
    answers = suite.load_oracle(folder)(np.load(folder / "test.npz")["images"])
    return float(((answers > np.mean(truth["levels"])) == truth["test_cause"]).mean())


def manipulation_scores(name: str, run_dir: Path, folder: Path, truth: dict) -> dict:
    """The last iteration's manipulations, judged by the oracle and the confound's measure. The run asks
    each to go up (its target's level above the level of the start image's causal class) or down; the
    oracle accepts one going up when it answers the high level of do(C), going down the low one."""
    batches = sorted(run_dir.glob("iteration_*.npz"))
    if not batches:
        return {"accepted": None, "cause_changed": None, "confound_kept": None, "change_median": None,
                "nearest_median": None}
    batch = np.load(batches[-1])
    originals, manipulated = batch["originals"], batch["manipulated"]
    run_levels = np.asarray(json.loads((run_dir / "model.json").read_text())["causal_levels"])
    up = run_levels[batch["targets"]] > run_levels[start_classes(run_dir, len(batches))]
    middle = np.mean(truth["levels"])
    oracle = suite.load_oracle(folder)
    answers, before = oracle(manipulated), oracle(originals)
    accepted = ~np.isnan(answers) & ((answers > middle) == up)
    changed = ~np.isnan(answers) & ((answers > middle) != (before > middle))
    change = np.sqrt(((manipulated - originals) ** 2).reshape(len(originals), -1).sum(1))
    nearest = nearest_of_class(originals, up, np.load(folder / "data.npz")["images"], truth["cause"])
    kept = suite.confound_of(name, originals) == suite.confound_of(name, manipulated)
    return {"accepted": float(accepted.mean()), "cause_changed": float(changed.mean()),
            "confound_kept": float(kept.mean()),
            "change_median": float(np.median(change[accepted])) if accepted.any() else None,
            "nearest_median": float(np.median(nearest)), "iteration": len(batches), "queries": len(originals)}


def start_classes(run_dir: Path, iteration: int) -> np.ndarray:
    """The run's causal class of each start image of an iteration's queries (its session's labels)."""
    with zipfile.ZipFile(run_dir / "run.vcsession") as z:
        batches = json.loads(z.read("session.json"))["experiment"]["batches"]
        k = next(i for i, b in enumerate(batches) if b["kind"] == "algorithm2" and b["iteration"] == iteration)
        source = np.load(BytesIO(z.read(f"experiment/batches/{k}/source_index.npy")), allow_pickle=False)
        labels = np.load(BytesIO(z.read("experiment/causal_labels.npy")), allow_pickle=False)
    return labels[source]


def save_grid(run_dir: Path, path: Path, count: int = 10) -> None:
    """The last iteration's first `count` originals (top row) over their manipulations (bottom row), as PNG."""
    batches = sorted(run_dir.glob("iteration_*.npz"))
    if not batches:
        return
    batch = np.load(batches[-1])
    rows = [np.concatenate(list(batch[key][:count]), axis=1) for key in ("originals", "manipulated")]
    grid = np.concatenate(rows, axis=0)
    if grid.ndim == 2:
        grid = 1.0 - grid                            # ink dark on white
    elif grid.shape[-1] == 2:
        grid = np.concatenate([grid, np.zeros_like(grid[..., :1])], axis=-1)
    scale = max(1, 256 // batch["originals"].shape[1])
    pixels = np.kron((grid * 255).clip(0, 255).astype(np.uint8),
                     np.ones((scale, scale) + (1,) * (grid.ndim - 2), np.uint8))
    Image.fromarray(pixels).save(path)


def nearest_of_class(originals: np.ndarray, target_high: np.ndarray, images: np.ndarray,
                     cause: np.ndarray) -> np.ndarray:
    """Per original, the L2 distance to the nearest other data image whose cause is the target's (the
    original itself left out: a run whose causal labels are wrong may ask for the original's own cause)."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    out = np.empty(len(originals))
    for i, (original, high) in enumerate(zip(originals.reshape(len(originals), -1), target_high)):
        squared = ((flat[cause == int(high)] - original) ** 2).sum(1)
        out[i] = np.sqrt(squared[squared > 1e-9].min())
    return out


def one_run(name: str, folder: Path, seed: int, iterations: int) -> dict:
    run_dir = folder / f"run_seed{seed}"
    command = viscause("run", str(folder / "data.npz"), "--oracle", f"python:{folder / 'oracle.py'}:answer",
                       "--out", str(run_dir), "--seed", str(seed), "--iterations", str(iterations),
                       "--queries", str(QUERIES))
    code, seconds, peak = run_child(command, folder / f"run_seed{seed}.log")
    tail = (folder / f"run_seed{seed}.log").read_text().strip().splitlines()[-3:]
    return scored({"set": name, "seed": seed, "exit_code": code, "seconds": round(seconds, 1),
                   "peak_mib": round(peak, 1), "log_tail": tail}, folder)


def scored(result: dict, folder: Path) -> dict:
    """`result` (a run's set, seed, exit code, time, memory) with the scores of its run folder."""
    name, seed = result["set"], result["seed"]
    run_dir = folder / f"run_seed{seed}"
    truth = dict(np.load(folder / "truth.npz"))
    result = {**result, "oracle_acc": oracle_accuracy(folder, truth)}
    if not (run_dir / "run.vcsession").exists():
        return result
    found = found_obs_classes(run_dir)
    result.update({"n_obs_found": None if found is None else len(np.unique(found)),
                   "ami": None if found is None else float(adjusted_mutual_info_score(truth["kind"], found)),
                   "answers": answers_used(run_dir)})
    history = json.loads((run_dir / "history.json").read_text()) if (run_dir / "history.json").exists() else {}
    result["merr"] = [round(r["merr"], 3) for r in history.get("iterations", [])]
    if (run_dir / "model.json").exists():
        result.update(causal_accuracy(run_dir, folder, truth, folder / f"predict_seed{seed}.log"))
        result.update(manipulation_scores(name, run_dir, folder, truth))
        save_grid(run_dir, folder / f"manipulations_seed{seed}.png")
    return result


def cell(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def table(runs: list[dict]) -> str:
    lines = ["| set | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    lines += [f"| {r['set']} | " + " | ".join(cell(r.get(c)) for c in COLUMNS) + " |" for r in runs]
    return "\n".join(lines)


def summary(runs: list[dict], sets: list[str]) -> str:
    """Mean and range over the seeds, per set and column."""
    lines = ["| set | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for name in sets:
        mine = [r for r in runs if r["set"] == name]
        cells = []
        for c in COLUMNS:
            values = [r[c] for r in mine if r.get(c) is not None]
            cells.append(f"{np.mean(values):.3g} ({min(values):.3g}–{max(values):.3g})" if values else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", choices=list(suite.SETS), default=list(suite.SETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true",
                        help=f"seed 0 only, {QUICK_ITERATIONS} iterations (not comparable)")
    parser.add_argument("--work", type=Path, default=OUT / "unseen_work", help="where the sets and run folders go")
    parser.add_argument("--tag", default="latest", help="the output is benchmarks/out/unseen_TAG.json")
    parser.add_argument("--rescore", action="store_true",
                        help="score the run folders of unseen_TAG.json again, run nothing")
    parser.add_argument("--commit", default=None,
                        help="run the package as committed there (e.g. the 'before' of a change), "
                             "not the working tree's")
    args = parser.parse_args()
    global PACKAGE
    PACKAGE = package_of_commit(args.commit, args.work) if args.commit else None
    if args.rescore:
        return rescore(args.work, OUT / f"unseen_{args.tag}.json")
    seeds, iterations = ([0], QUICK_ITERATIONS) if args.quick else (args.seeds, ITERATIONS)
    info = machine()
    print(header("Data sets no recipe was made for", info), flush=True)
    print(f"viscause run DATA.npz --oracle python:oracle.py:answer --iterations {iterations} --queries {QUERIES} "
          f"--seed S (every set alike); data seed {DATA_SEED}; package: {PACKAGE or 'the working tree'}", flush=True)
    for name in args.sets:
        t0 = time.perf_counter()
        suite.write_set(name, args.work / name, DATA_SEED)
        print(f"{name}: built in {time.perf_counter() - t0:.1f} s", flush=True)
    saved = {"machine": info, "iterations": iterations, "queries": QUERIES, "data_seed": DATA_SEED,
             "package": str(PACKAGE) if PACKAGE else "working tree", "commit": args.commit, "runs": []}
    OUT.mkdir(exist_ok=True)
    for seed in seeds:                   # every set's first seed before any set's second
        for name in args.sets:
            saved["runs"].append(one_run(name, args.work / name, seed, iterations))
            print(f"\n{table(saved['runs'][-1:])}\n  {' / '.join(saved['runs'][-1]['log_tail'])}", flush=True)
            (OUT / f"unseen_{args.tag}.json").write_text(json.dumps(saved, indent=1))     # what is done so far
    report(saved["runs"])


def report(runs: list[dict]) -> None:
    sets = list(dict.fromkeys(r["set"] for r in runs))
    seeds = sorted({r["seed"] for r in runs})
    for seed in seeds:
        print(f"\nseed {seed}:\n{table([r for r in runs if r['seed'] == seed])}")
    print(f"\nmean (range) over seeds {seeds}:\n{summary(runs, sets)}")


def rescore(work: Path, path: Path) -> None:
    """Score the run folders again (after a change to the scoring); time and memory stay as measured."""
    saved = json.loads(path.read_text())
    keep = ("set", "seed", "exit_code", "seconds", "peak_mib", "log_tail")
    saved["runs"] = [scored({k: r[k] for k in keep}, work / r["set"]) for r in saved["runs"]]
    path.write_text(json.dumps(saved, indent=1))
    report(saved["runs"])


if __name__ == "__main__":
    main()
