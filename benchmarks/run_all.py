"""Every benchmark, one after another, from one command: the figures of benchmarks/README.md.

Runs each `benchmarks/bench_*.py` (each prints its date and machine, runs three times and reports
the range) in a fresh process with one torch thread, shows its output as it comes, keeps it in
benchmarks/out/<name>.txt and writes benchmarks/out/report.md with all of them in order. A
benchmark that fails is reported and the others still run; the exit code says whether all passed.
On this project's 2-core machine the whole set takes about 3.5 hours (MNIST 40 minutes, the queries on MNIST
36 minutes, the three-outcome set 45-80 minutes, MNIST with ten outcomes 35 minutes).
With --ray the chosen benchmarks run as Ray tasks through `viscause sweep`'s engine (core/cluster/engine.py),
as many at once as the cluster has CPUs: a local cluster, or an existing one with --address (the
repository at the same path on every machine). Each still has one torch thread; a benchmark's
timings then share the machine with the others running beside it.
Usage: python benchmarks/run_all.py [--only grating observe ...] [--skip mnist ...] [--ray [--address HEAD:6379]]
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


def run_on_ray(chosen: list[str], known: dict[str, Path], address: str | None) -> dict[str, tuple[int, float, str]]:
    """Each benchmark a Ray task (one CPU); name -> (exit code, seconds, output), as run_one gives."""
    from viscause_gui.core.cluster import engine
    from viscause_gui.core.cluster.cell import TRY_HEADER, CellTask
    from viscause_gui.core.cluster.progress import ProgressDisplay
    from viscause_gui.core.store.sweep import LOG_FILE, read_marker

    folders = {name: OUT / "ray" / name for name in chosen}
    tasks = [CellTask(name, str(folders[name]), (sys.executable, str(known[name])), cwd=str(HERE.parent),
                      env=(("QT_QPA_PLATFORM", "offscreen"),)) for name in chosen]
    cluster = engine.Cluster.join(address, None)
    try:
        display = ProgressDisplay(lambda text: print(text, end="", flush=True), tty=False)
        engine.run_tasks(tasks, engine.DEFAULT_RETRIES, display)
    finally:
        cluster.close()
    results = {}
    for name in chosen:
        marker = read_marker(folders[name]) or {}
        log = (folders[name] / LOG_FILE).read_text(errors="replace") if (folders[name] / LOG_FILE).exists() else ""
        text = "".join(line for line in log.splitlines(keepends=True) if not line.startswith(TRY_HEADER))
        (OUT / f"{name}.txt").write_text(text)
        code = marker.get("returncode")
        results[name] = (1 if code is None else code, marker.get("seconds") or 0.0, text)
    return results


def main() -> int:
    known = benchmarks()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(known), default=None)
    parser.add_argument("--skip", nargs="+", choices=sorted(known), default=[])
    parser.add_argument("--ray", action="store_true", help="run them as Ray tasks, as many at once as the cluster's "
                                                          "CPUs (pip install \"viscause_gui[cluster]\")")
    parser.add_argument("--address", default=None, help="with --ray: the Ray cluster to join (default: a local one)")
    args = parser.parse_args()
    chosen = [n for n in (args.only or known) if n not in args.skip]
    OUT.mkdir(exist_ok=True)
    info = machine()
    report = [f"# Benchmarks, {info['date']}\n", f"{info['cpu']}, {info['cores']} cores, load average "
              f"{info['load_avg']} at the start, torch {info['torch']}\n"]
    failed = []
    started = time.perf_counter()
    ray_results = run_on_ray(chosen, known, args.address) if args.ray else {}
    for name in chosen:
        code, seconds, text = ray_results[name] if args.ray else run_one(name, known[name])
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        if code != 0:
            failed.append(name)
        report.append(f"\n## {name} ({known[name].name}): {status}, {seconds / 60:.1f} min\n\n"
                      f"```\n{text.strip()}\n```\n")
    report.append(f"\nThe set: {(time.perf_counter() - started) / 60:.1f} min wall-clock"
                  f"{' (Ray tasks)' if args.ray else ' (one after another)'}\n")
    (OUT / "report.md").write_text("".join(report))
    print(f"\nreport: {OUT / 'report.md'}; " + (f"failed: {', '.join(failed)}" if failed else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
