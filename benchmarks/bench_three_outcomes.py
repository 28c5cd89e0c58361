"""T with three outcomes and a confound (benchmarks/three_outcomes.py) through `viscause run DATA` as a user runs it:
`viscause run data.npz --oracle python:oracle.py:answer --out run`, the defaults only (20 iterations of 100
queries; --iterations/--queries lower them for a short check). Each run is scored with what the loop never saw:
- the observational classes found against the construction's nine (shape x colour): AMI, and the share of
  images whose class's majority has their shape;
- the causal levels Algorithm 1 found (P(T | do) per causal class) against the truth's three;
- the causal net's accuracy on the broken-confound test set (`viscause predict`): a test image counts as right
  when the outcome its causal class makes most probable is its shape's (the truth's levels put the most on the
  shape's own outcome), beside the oracle's own accuracy there (its ceiling) and the share of test images whose
  most probable outcome given the image, P(T | I), is their shape's (what the observational data alone would
  say: about a third with the strong confound);
- of the last iteration's manipulations: how often the oracle's answer is the target class, how often the
  background colour (the confound) stays as it was;
- wall time and peak memory of the run (GNU time).
Usage: nice -n 10 python benchmarks/bench_three_outcomes.py [--confound strong|mild] [--seeds 0 1 2]
                  [--iterations N --queries Q] [--tag T]
       python benchmarks/bench_three_outcomes.py --score RUN_DIR --set SET_DIR   (score a run folder made before)
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import three_outcomes as t3
from machine import header

OUT = Path(__file__).resolve().parent / "out"


def viscause(*args: str) -> list[str]:
    return [sys.executable, "-m", "viscause_gui.cli", *args]


def run(command: list[str], cwd: Path, log: Path) -> tuple[int, float, float]:
    """Exit code, wall seconds and peak MiB (the process and its children, GNU time) of a command in `cwd`."""
    peak = log.with_suffix(".peak_kib")
    started = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(peak), *command], cwd=cwd, stdout=out,
                              stderr=subprocess.STDOUT, env=dict(os.environ)).returncode
    seconds = time.perf_counter() - started
    try:
        mib = int(peak.read_text().split()[-1]) / 1024
    except (OSError, ValueError, IndexError):
        mib = float("nan")
    return code, seconds, mib


def oracle_of(folder: Path):
    spec = importlib.util.spec_from_file_location(f"three_outcomes_oracle_{folder.name}", folder / "oracle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score(run_dir: Path, folder: Path) -> dict:
    """The scores of a finished run folder on its set (see the module docstring)."""
    truth = np.load(folder / "truth.npz")
    oracle = oracle_of(folder)
    state = run_dir / "run.vcsession"
    from viscause_gui.core.store.session_reader import load_session
    exp = load_session(state).experiment
    obs = exp.obs_class
    purity = sum(np.bincount(truth["cause"][obs == c]).max() for c in np.unique(obs)) / len(obs)
    levels = np.asarray(exp.causal_levels)
    pred = run_dir / "pred.npz"
    subprocess.run(viscause("predict", "--run", str(run_dir), "--images", str(folder / "test.npz"), "--out", str(pred)),
                   check=True, capture_output=True)
    predicted = np.load(pred)
    test = np.load(folder / "test.npz")["images"]
    outcome_of_class = levels.argmax(axis=1)                # the outcome each causal class makes most probable
    causal_acc = float(np.mean(outcome_of_class[predicted["causal_class"]] == truth["test_cause"]))
    oracle_acc = float(np.mean(oracle.shape_of(test) == truth["test_cause"]))
    confound = json.loads(str(np.load(folder / "data.npz")["meta"])).get("confound", "mild")
    observational = t3.p_t_given(truth["test_cause"], truth["test_confound"], confound).argmax(axis=1)
    last = np.load(sorted(run_dir.glob("iteration_*.npz"))[-1])
    answered = exp.class_of_answer(last["answers"])
    kept = t3.confound_of(last["manipulated"]) == t3.confound_of(last["originals"])
    return {"classes_found": int(obs.max()) + 1, "ami": float(adjusted_mutual_info_score(truth["kind"], obs)),
            "shape_purity": float(purity), "causal_levels": np.round(levels, 3).tolist(),
            "true_levels": np.round(truth["levels"], 3).tolist(),
            "answers": int(sum(len(b) for b in exp.batches)), "iterations": len(exp.history),
            "causal_acc": causal_acc, "oracle_acc": oracle_acc,
            "observational_acc": float(np.mean(observational == truth["test_cause"])),
            "accepted_last": float(np.mean(answered == last["targets"])),
            "confound_kept_last": float(np.mean(kept)),
            "merr": [round(r.merr, 3) for r in exp.history]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--iterations", type=int, default=None, help="default: viscause run's own (20)")
    parser.add_argument("--queries", type=int, default=None, help="default: viscause run's own (100)")
    parser.add_argument("--n", type=int, default=3000, help="images in the data set")
    parser.add_argument("--tag", default="default")
    parser.add_argument("--confound", choices=sorted(t3.CONFOUNDS), default="strong")
    parser.add_argument("--score", type=Path, default=None, help="score this run folder, run nothing")
    parser.add_argument("--set", type=Path, default=None, help="with --score: the set's folder")
    args = parser.parse_args()
    if args.score is not None:
        print(json.dumps(score(args.score, args.set), indent=1))
        return
    print(header("three outcomes"))
    results = []
    for seed in args.seeds:
        folder = OUT / f"three_outcomes_{args.confound}"
        t3.write(folder, seed=0, n=args.n, confound=args.confound)   # the data are the same for every run seed
        run_dir = folder / f"run_{args.tag}_{seed}"
        extra = [*(["--iterations", str(args.iterations)] if args.iterations else []),
                 *(["--queries", str(args.queries)] if args.queries else [])]
        code, seconds, mib = run(viscause("run", "data.npz", "--oracle", "python:oracle.py:answer", "--seed", str(seed),
                                          "--out", str(run_dir), *extra), folder, folder / f"run_{args.tag}_{seed}.log")
        if code != 0:
            print(f"seed {seed}: viscause run exited {code}; see {folder / f'run_{args.tag}_{seed}.log'}")
            continue
        result = {"seed": seed, "seconds": round(seconds, 1), "peak_mib": round(mib), **score(run_dir, folder)}
        results.append(result)
        print(json.dumps(result), flush=True)
    (OUT / f"three_outcomes_{args.confound}_{args.tag}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
