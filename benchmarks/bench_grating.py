"""GRATING benchmark (issue 2 targets): 10,000 observational images, 20 iterations x 100 queries,
truth oracle, for the default recipe and the paper's recipe, through the real `viscause run`.

Prints the date and the machine, the first seed's table per iteration and the range over the
seeds (default three: 0, 1, 2) of the main figures; writes benchmarks/out/grating.json and
docs/grating_history.png (the first seed). Usage: python benchmarks/bench_grating.py [--seeds 0 1 2] [--quick]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import header, machine

from viscause_gui.cli import main as viscause
from viscause_gui.core.experiments.grating import GratingModel, TruthOracle, has_vbar, min_flips_to_class
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.nets.models import configure_torch_threads, new_net, predict_proba
from viscause_gui.core.nets.training import TrainConfig, train_classifier
from viscause_gui.core.store import rundir
from viscause_gui.core.store.figures import plot_history
from viscause_gui.core.store.rundir import RunModel

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def run(recipe: str, seed: int, iterations: int, queries: int, n_obs: int) -> Path:
    out = OUT / f"grating_{recipe}_seed{seed}"
    code = viscause(["run", "grating", "--iterations", str(iterations), "--queries", str(queries),
                     "--oracle", "truth", "--seed", str(seed), "--n-obs", str(n_obs),
                     "--recipe", recipe, "--out", str(out)])
    assert code == 0, f"viscause run failed for {recipe}"
    return out


def manipulation_quality(out: Path, model: GratingModel) -> list[dict]:
    """Per iteration: MErr by the truth, excess flips over the minimum, v-bar kept."""
    rows = []
    for path in sorted(out.glob("iteration_*.npz")):
        z = np.load(path)
        ok = model.causal_class(z["manipulated"]) == z["targets"]
        flips = np.abs(z["manipulated"] - z["originals"]).sum((1, 2))
        excess = flips - min_flips_to_class(z["originals"], z["targets"])
        rows.append({"merr": float(1 - ok.mean()),
                     "excess_flips_of_successes": float(excess[ok].mean()) if ok.any() else None,
                     "vbar_kept": float((has_vbar(z["manipulated"]) == has_vbar(z["originals"])).mean())})
    return rows


def causal_vs_observational(run_dir: Path, model: GratingModel, seed: int) -> dict:
    """Accuracy at telling the causal class (h-bar) of fresh images: causal net vs a net of T."""
    train = model.sample(10000, seed + 100)
    obs_net = new_net({"arch": "mlp", "in_shape": [10, 10], "hidden": [100], "n_classes": 2}, seed)
    train_classifier(obs_net, train.images, train.t, config=TrainConfig(weight_decay=1e-4, seed=seed))
    fresh = model.sample(5000, seed + 200)
    truth = fresh.causal_class
    threshold = model.causal_levels().mean()   # decide "T likely under manipulation" at the midpoint
    obs_says = (predict_proba(obs_net, fresh.images)[:, 1] > threshold).astype(int)
    _, causal_says = RunModel(run_dir).predict(fresh.images)
    vbar = has_vbar(fresh.images)
    return {"causal_net_acc": float((causal_says == truth).mean()),
            "observational_net_acc": float((obs_says == truth).mean()),
            "causal_net_acc_vbar_images": float((causal_says == truth)[vbar].mean()),
            "observational_net_acc_vbar_images": float((obs_says == truth)[vbar].mean())}


def confounded_comparison(seed: int, quick: bool) -> dict:
    """A strongly confounded GRATING (P(T)=0.1+0.5 H1+0.4 C): the v-bar outweighs the h-bar in P(T|I)."""
    model = GratingModel(w_h1=0.5, w_c=0.4)
    out = OUT / f"grating_confounded_seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    exp = Experiment(model.sample(10000, seed), ExperimentConfig(iterations=2 if quick else 5, seed=seed))
    exp.run(TruthOracle(model))
    rundir.save_model(out, exp)
    return causal_vs_observational(out, model, seed)


def one_seed(seed: int, quick: bool) -> dict:
    iterations, queries, n_obs = (3, 50, 2000) if quick else (20, 100, 10000)
    model = GratingModel()
    results: dict = {"seed": seed, "iterations": iterations, "queries": queries, "n_obs": n_obs}
    for recipe in ("default", "paper"):
        t0 = time.perf_counter()
        out = run(recipe, seed, iterations, queries, n_obs)
        history = json.loads((out / "history.json").read_text())
        results[recipe] = {"seconds": round(time.perf_counter() - t0, 1),
                           "iterations": [{**h, **q} for h, q in zip(history["iterations"],
                                                                      manipulation_quality(out, model))],
                           "nets": causal_vs_observational(out, model, seed)}
    results["confounded"] = confounded_comparison(seed, quick)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one whole benchmark per seed")
    parser.add_argument("--quick", action="store_true", help="3 iterations x 50 queries on 2,000 images")
    args = parser.parse_args()
    configure_torch_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(header("GRATING", info), flush=True)
    runs = [one_seed(seed, args.quick) for seed in args.seeds]
    first = runs[0]
    plot_history([{"label": recipe, "iterations": first[recipe]["iterations"]} for recipe in ("default", "paper")],
                 (OUT if args.quick else ROOT / "docs") / "grating_history.png",   # --quick never replaces the docs
                 title=f"GRATING, {first['n_obs']} images, {first['queries']} queries/iteration, truth oracle "
                       f"(seed {first['seed']})")
    (OUT / "grating.json").write_text(json.dumps({"machine": info, "runs": runs}, indent=2))
    print(f"\nseed {first['seed']}:")
    print_table(first)
    print_ranges(runs)


def print_ranges(runs: list[dict]) -> None:
    def rng(values, fmt="{:.1f}"):
        return fmt.format(min(values)) + ("" if min(values) == max(values) else "–" + fmt.format(max(values)))

    print(f"\nrange over seeds {[r['seed'] for r in runs]}:")
    print("| | default recipe | paper recipe |\n|---|---:|---:|")
    for label, get, fmt in (
            ("MErr at the last iteration (%)", lambda r, k: 100 * r[k]["iterations"][-1]["merr"], "{:.0f}"),
            ("MErr, mean of the last three (%)",
             lambda r, k: 100 * np.mean([i["merr"] for i in r[k]["iterations"][-3:]]), "{:.1f}"),
            ("whole run (s)", lambda r, k: r[k]["seconds"], "{:.0f}"),
            ("causal net's accuracy on fresh images (%)", lambda r, k: 100 * r[k]["nets"]["causal_net_acc"], "{:.1f}"),
            ("observational net's (%)", lambda r, k: 100 * r[k]["nets"]["observational_net_acc"], "{:.1f}")):
        default, paper = rng([get(r, "default") for r in runs], fmt), rng([get(r, "paper") for r in runs], fmt)
        print(f"| {label} | {default} | {paper} |")
    confounded = [r["confounded"] for r in runs]
    print(f"| confounded GRATING, causal / observational net (%) | "
          f"{rng([100 * c['causal_net_acc'] for c in confounded])} / "
          f"{rng([100 * c['observational_net_acc'] for c in confounded])} | |")


def print_table(r: dict) -> None:
    print("| iteration | MErr default | MDist default | excess flips | v-bar kept | MErr paper recipe | MDist paper |")
    print("|---|---|---|---|---|---|---|")
    for d, p in zip(r["default"]["iterations"], r["paper"]["iterations"]):
        excess = d["excess_flips_of_successes"]
        print(f"| {d['iteration']} | {100 * d['merr']:.0f}% | {d['mdist']:.2f} | "
              f"{excess if excess is None else round(excess, 2)} | "
              f"{100 * d['vbar_kept']:.0f}% | {100 * p['merr']:.0f}% | {p['mdist']:.2f} |")
    print(f"\nwhole run: default {r['default']['seconds']} s, paper recipe {r['paper']['seconds']} s")
    for name in ("default", "paper"):
        print(f"{name} nets: {r[name]['nets']}")
    print(f"confounded GRATING nets: {r['confounded']}")


if __name__ == "__main__":
    main()
