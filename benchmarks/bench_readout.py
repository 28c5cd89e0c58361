"""Readout benchmark: the app's observational readout on its default GRATING data, against the truth.

Per seed (default three: 0, 1, 2) the app's default GRATING data set is built as the app builds it
(the built-in's generator defaults, 2,000 images, that seed), the readout is trained as the app's
ObservationalController trains it (`observe_and_train`, one torch thread as in the app's workers),
and it is scored on a held-out probe set: `--per-kind` random images of every kind below, with the
data's noise pixels, against the construction's exact P(T=1 | I) and observational class.

Kinds: none, vbar, hbar, both (full bars at every column / row in turn), and near misses:
broken_* (a full bar with one pixel cleared, away from any crossing), short_* (a run of 5 to 9
pixels of a row / column), each alone and beside a full bar of the other direction.

Prints the date and the machine, a table per seed and the summary; writes the result under its tag
in benchmarks/out/readout.json (other tags kept).
Usage: python benchmarks/bench_readout.py [SEED ...] [--per-kind N] [--tag before|after] [--undeclared]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))   # the package, installed or not
from machine import header, machine

from viscause_gui.core.experiments.grating import GratingModel, has_hbar, has_vbar
from viscause_gui.core.experiments.registry import load_builtin, truth_for
from viscause_gui.gui.models.readout import observe_and_train
from viscause_gui.core.nets.models import configure_torch_threads
from viscause_gui.core.nets.training import run_to_end

OUT = Path(__file__).resolve().parent / "out"
FULL_BARS = ("none", "vbar", "hbar", "both")     # the images the data has; the other kinds are near misses
TOLERANCE = 0.05
# kind -> (horizontal part, vertical part): "" none, "full", "broken" (one pixel cleared), "short" (5-9 pixels)
KINDS = {
    "none": ("", ""), "vbar": ("", "full"), "hbar": ("full", ""), "both": ("full", "full"),
    "broken_hbar": ("broken", ""), "broken_hbar+vbar": ("broken", "full"),
    "broken_vbar": ("", "broken"), "broken_vbar+hbar": ("full", "broken"),
    "short_hbar": ("short", ""), "short_hbar+vbar": ("short", "full"),
    "short_vbar": ("", "short"), "short_vbar+hbar": ("full", "short"),
}


def app_default_grating(seed: int) -> tuple:
    """The data set the app opens first, with its generator defaults and `seed`, and its truth model."""
    from viscause_gui.core.experiments.registry import first_dataset

    first = first_dataset()
    options = {**first.defaults(), "seed": seed}
    data = load_builtin(first.name, **options)
    truth = truth_for(data)
    return data, truth.model


def _line(size: int, part: str, rng: np.random.Generator, avoid: int | None) -> np.ndarray:
    """Which pixels of one row (or column) a part inks: full, broken (one cleared, never at `avoid`), short."""
    ink = np.zeros(size, bool)
    if part == "full":
        ink[:] = True
    elif part == "broken":
        ink[:] = True
        ink[rng.choice([k for k in range(size) if k != avoid])] = False
    elif part == "short":
        length = int(rng.integers(5, size))
        start = int(rng.integers(0, size))
        ink[(start + np.arange(length)) % size] = True
    return ink


def probe_image(kind: str, position: int, model: GratingModel, rng: np.random.Generator) -> np.ndarray:
    """One image of `kind`: the horizontal part at row `position`, the vertical part at a random column,
    noise pixels as the data has them (never on a pixel a part leaves empty in its line)."""
    s = model.size
    h_part, v_part = KINDS[kind]
    row = position if h_part else int(rng.integers(0, s))
    col = int(rng.integers(0, s)) if h_part else position
    image = (rng.random((s, s)) < model.noise).astype(np.float32)
    h_ink = _line(s, h_part, rng, avoid=col if v_part else None)
    v_ink = _line(s, v_part, rng, avoid=row if h_part else None)
    if h_part:
        image[row, :] = h_ink
    if v_part:
        image[:, col] = v_ink
    if h_part and v_part:
        image[row, col] = float(h_ink[col] or v_ink[row])
    return image


def probe_set(model: GratingModel, per_kind: int, seed: int) -> dict[str, np.ndarray]:
    """`per_kind` images of every kind whose bars are exactly the kind's (noise may complete nothing)."""
    rng = np.random.default_rng(10_000 + seed)
    out = {}
    for kind, (h_part, v_part) in KINDS.items():
        images = []
        while len(images) < per_kind:
            image = probe_image(kind, len(images) % model.size, model, rng)
            if has_hbar(image[None])[0] == (h_part == "full") and has_vbar(image[None])[0] == (v_part == "full"):
                images.append(image)
        out[kind] = np.stack(images)
    return out


def score(readout, model: GratingModel, probes: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per kind: the truth, max and mean |readout - truth|, the share within the tolerance, class accuracy."""
    rows = {}
    for kind, images in probes.items():
        truth = model.p_obs(images)
        predicted = readout.predict(images)
        error = np.abs(predicted.p_t - truth)
        rows[kind] = {"truth": round(float(truth.mean()), 3), "readout_mean": round(float(predicted.p_t.mean()), 3),
                      "max_error": round(float(error.max()), 3), "mean_error": round(float(error.mean()), 4),
                      "within_tol": round(float(np.mean(error <= TOLERANCE)), 4),
                      "class_accuracy": round(float(np.mean(predicted.obs_class == model.obs_class(images))), 4)}
    return rows


def one_seed(seed: int, per_kind: int, declared: bool = True) -> dict:
    data, model = app_default_grating(seed)
    if not declared:         # what the readout makes of the images without GRATING's declared invariance
        data.meta = {**data.meta, "invariances": []}
    started = time.perf_counter()
    readout = run_to_end(observe_and_train(data))
    seconds = time.perf_counter() - started
    kinds = score(readout, model, probe_set(model, per_kind, seed))
    row = {"seed": seed, "n": len(data), "train_seconds": round(seconds, 2)}
    for group, names in (("bars", FULL_BARS), ("near_misses", [k for k in KINDS if k not in FULL_BARS])):
        row[f"{group}_max_error"] = max(kinds[k]["max_error"] for k in names)
        row[f"{group}_min_class_accuracy"] = min(kinds[k]["class_accuracy"] for k in names)
    row["all_within_tol"] = bool(max(k["max_error"] for k in kinds.values()) <= TOLERANCE)
    row["kinds"] = kinds
    print_seed(row)
    return row


def print_seed(row: dict) -> None:
    print(f"\n## seed {row['seed']}: {row['n']} images, readout trained in {row['train_seconds']:.1f} s")
    print("| kind | truth | readout (mean) | max error | mean error | within 0.05 | class accuracy |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, k in row["kinds"].items():
        print(f"| {kind} | {k['truth']:.2f} | {k['readout_mean']:.3f} | {k['max_error']:.3f} | "
              f"{k['mean_error']:.4f} | {k['within_tol']:.3f} | {k['class_accuracy']:.3f} |", flush=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--per-kind", type=int, default=200, help="probe images per kind")
    parser.add_argument("--undeclared", action="store_true",
                        help="drop the data set's declared invariances (GRATING's cyclic shifts) before training")
    parser.add_argument("--tag", default="latest", help="the key of the result in readout.json (e.g. before, after)")
    args = parser.parse_args(argv)
    configure_torch_threads(1)        # the app's workers train on one thread
    info = machine()
    print(header("readout", info), flush=True)
    runs = [one_seed(seed, args.per_kind, not args.undeclared) for seed in args.seeds]
    print("\n| seed | train (s) | bars: worst max error | bars: lowest class accuracy | near misses: worst max error "
          "| near misses: lowest class accuracy | all within 0.05 |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for r in runs:
        print(f"| {r['seed']} | {r['train_seconds']:.1f} | {r['bars_max_error']:.3f} | "
              f"{r['bars_min_class_accuracy']:.3f} | "
              f"{r['near_misses_max_error']:.3f} | {r['near_misses_min_class_accuracy']:.3f} | {r['all_within_tol']} |")
    result = {"machine": info, "per_kind": args.per_kind, "tolerance": TOLERANCE,
              "declared_invariances": not args.undeclared, "runs": runs}
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "readout.json"          # one entry per tag (e.g. before, after), kept side by side
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[args.tag or "latest"] = result
    path.write_text(json.dumps(saved, indent=1))
    return result


if __name__ == "__main__":
    main()
