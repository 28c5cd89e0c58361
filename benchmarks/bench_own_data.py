"""Your own colour images and your own oracle, headless (issue 12 target): a folder of 10,000
32x32 RGB PNG files through `viscause run FOLDER --oracle python:FILE.py:answer` in <= 3 minutes
on this 2-core machine, peak memory below 2 GB.

The folder is made here (seeded): a lying or a standing bar (its orientation causes T) in red or
blue (the colour follows a hidden cause of T, so it only correlates) on a dark noisy background; the
sub-folder is the observed sample of T ("0" or "1"), read with --t-label 1. The oracle, written
beside it, answers P(T=1 | man(I)) from the shape alone: whether the bright pixels spread wider
than high. Each run is a fresh process (`viscause run`, observational classes
first, then Algorithms 1 and 2); its wall time and peak memory (ru_maxrss of the child) are
reported, three runs.
Usage: python benchmarks/bench_own_data.py [--images 10000] [--runs 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import header, machine

OUT = Path(__file__).resolve().parent / "out"
SIZE = 32
MANIPULATOR = "manifold"        # pixel search on such images makes changes a net accepts and the oracle does not
ORACLE = '''import numpy as np

def answer(images):
    """P(T=1 | do(bar)): 0.825 for a lying bar, 0.325 for a standing one."""
    bright = images.max(axis=3) > 0.5
    wide, high = bright.any(axis=1).sum(axis=1), bright.any(axis=2).sum(axis=1)
    out = np.where(wide > high, 0.825, 0.325)
    out[(wide < 3) | (high < 3) | (wide == high)] = np.nan     # no bar to judge: cannot say
    return out
'''


def make_folder(root: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for label in ("0", "1"):
        (root / label).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        hidden = rng.random() < 0.5
        lying = rng.random() < 0.5
        t = rng.random() < 0.2 + 0.5 * lying + 0.25 * hidden
        red = rng.random() < (0.85 if hidden else 0.15)
        long, short = rng.integers(6, 10), rng.integers(2, 4)
        cy, cx = rng.integers(10, SIZE - 10), rng.integers(10, SIZE - 10)
        half_h, half_w = (short, long) if lying else (long, short)
        mask = (np.abs(yy - cy) < half_h) & (np.abs(xx - cx) < half_w)
        image = rng.integers(0, 40, (SIZE, SIZE, 3))
        image[mask] = (230, 40, 40) if red else (40, 60, 230)
        Image.fromarray(image.astype(np.uint8), "RGB").save(root / str(int(t)) / f"{i:05d}.png")


def one_run(folder: Path, oracle: Path, out: Path, seed: int) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "viscause_gui.cli", "run", str(folder), "--t-label", "1",
                           "--oracle", f"python:{oracle}:answer", "--iterations", "3", "--queries", "100",
                           "--manipulator", MANIPULATOR,
                           "--seed", str(seed), "--out", str(out)], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024   # the largest child so far
    if proc.returncode != 0:
        raise SystemExit(f"viscause run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    history = json.loads((out / "history.json").read_text())
    return {"seed": seed, "seconds": round(seconds, 1), "peak_mib": round(peak_mib, 1),
            "merr": [r["merr"] for r in history["iterations"]], "stderr_tail": proc.stderr.strip().splitlines()[-3:]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="make the folder here and keep it")
    args = parser.parse_args()
    info = machine()
    print(header("Own colour data", info), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        folder, oracle = root / "shapes", root / "shape_oracle.py"
        t0 = time.perf_counter()
        make_folder(folder, args.images)
        oracle.write_text(ORACLE)
        print(f"made {args.images} {SIZE}x{SIZE} RGB PNG files in {time.perf_counter() - t0:.1f} s", flush=True)
        runs = [one_run(folder, oracle, root / f"run{k}", seed=k) for k in range(args.runs)]
    for r in runs:
        print(f"seed {r['seed']}: {r['seconds']} s, peak {r['peak_mib']} MiB, MErr by iteration {r['merr']}")
    seconds, peaks = [r["seconds"] for r in runs], [r["peak_mib"] for r in runs]
    print(f"\nwall time {min(seconds)}–{max(seconds)} s (target <= 180 s); peak memory {min(peaks)}–{max(peaks)} MiB "
          f"(target < 2048 MiB; the largest of the runs so far)")
    OUT.mkdir(exist_ok=True)
    (OUT / "own_data.json").write_text(json.dumps({"machine": info, "images": args.images, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
