"""Every benchmark, one after another, from one command: the figures of benchmarks/README.md.

Runs each `benchmarks/bench_*.py` (each prints its date and machine, runs three times and reports
the range) in a fresh process with one torch thread, shows its output as it comes, keeps it in
benchmarks/out/<name>.txt and writes benchmarks/out/report.md with all of them in order. A
benchmark that fails is reported and the others still run; the exit code says whether all passed.
On this project's 2-core machine the whole set takes about 3.5 hours (MNIST 40 minutes, the queries on MNIST
36 minutes, the three-outcome set 45-80 minutes, MNIST with ten outcomes 35 minutes).
Usage: python benchmarks/run_all.py [--only grating observe ...] [--skip mnist ...]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def benchmarks() -> dict[str, Path]:
    """name -> script, e.g. "grating" -> bench_grating.py, in name order."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def run_one(name: str, script: Path) -> tuple[int, float, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=HERE.parent)
    lines = []
    for line in proc.stdout:
        print(f"[{name}] {line}", end="", flush=True)
        lines.append(line)
    code = proc.wait()
    text = "".join(lines)
    (OUT / f"{name}.txt").write_text(text)
    return code, time.perf_counter() - started, text


def main() -> int:
    known = benchmarks()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(known), default=None)
    parser.add_argument("--skip", nargs="+", choices=sorted(known), default=[])
    args = parser.parse_args()
    chosen = [n for n in (args.only or known) if n not in args.skip]
    OUT.mkdir(exist_ok=True)
    info = machine()
    report = [f"# Benchmarks, {info['date']}\n", f"{info['cpu']}, {info['cores']} cores, load average "
              f"{info['load_avg']} at the start, torch {info['torch']}\n"]
    failed = []
    for name in chosen:
        code, seconds, text = run_one(name, known[name])
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        if code != 0:
            failed.append(name)
        report.append(f"\n## {name} ({known[name].name}): {status}, {seconds / 60:.1f} min\n\n"
                      f"```\n{text.strip()}\n```\n")
    (OUT / "report.md").write_text("".join(report))
    print(f"\nreport: {OUT / 'report.md'}; " + (f"failed: {', '.join(failed)}" if failed else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
