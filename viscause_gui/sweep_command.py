"""`viscause sweep SPEC.toml --out DIR`: many `viscause run`s as one command, on Ray (docs/sweeps.md).

cli.py parses the command line and hands each cell's `viscause run` arguments to `check` (the very
parser and checks of `viscause run`), so a bad spec is refused in one line before anything runs.
Ray is imported only once the spec is known to be good (it is an optional extra).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from viscause_gui.core.cluster.cell import CellTask
from viscause_gui.core.cluster.progress import ProgressDisplay
from viscause_gui.core.store.sweep import (PERSON_ORACLES, Cell, SweepError, cell_folder, cells_to_run, check_record,
                                           read_marker, read_spec, status_counts)
from viscause_gui.core.store.sweep_results import CSV_FILE, write_csv, write_figures

INSTALL_RAY = "viscause sweep runs on Ray, which is not installed: pip install \"viscause_gui[cluster]\" " \
              "(or pip install \"ray>=2.9\")"
EXIT_CELLS_FAILED = 6       # the sweep ended with failed cells (the others are done; a rerun tries those again)


def add_parser(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser("sweep", help="many runs (a grid or a list of cells) as one command, on Ray",
                           epilog="Each cell is one `viscause run` into DIR/cells/<name>/; rerunning the command "
                                  "skips finished cells. Exit codes: 0 every cell done or waiting, 2 bad input "
                                  f"(nothing ran), {EXIT_CELLS_FAILED} some cells failed (their error.txt says "
                                  "why; a rerun tries them again), 130 interrupted.")
    sweep.add_argument("spec", type=Path, help="the sweep's spec (TOML; docs/sweeps.md)")
    sweep.add_argument("--out", type=Path, required=True, help="the sweep folder: sweep.csv, figures, cells/")
    sweep.add_argument("--address", default=None,
                       help="join the Ray cluster at this address (e.g. HEAD:6379, after `ray start --head` "
                            "there); default: a local cluster on this machine")
    sweep.add_argument("--cpus", type=_positive, default=None,
                       help="the local cluster's CPUs (default: the machine's cores)")
    sweep.add_argument("--cpus-per-cell", type=_positive, default=1,
                       help="CPUs each cell's task asks for; torch's threads follow (default 1: a seed gives "
                            "the same result on every machine)")
    sweep.add_argument("--gpus-per-cell", type=float, default=0.0,
                       help="GPUs each cell's task asks for (default 0: the cells run on CPUs)")
    sweep.add_argument("--retries", type=int, default=None,
                       help="times a cell is tried again when its worker dies or its process is killed (default 2)")
    sweep.add_argument("--oracle", default=None,
                       help="the oracle of every cell, over the spec's: the one place for python:MODULE:FUNCTION "
                            "or python:FILE.py:FUNCTION (a spec never names code to run)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def run_sweep(args: argparse.Namespace, check: Callable[[list[str]], None],
              progress: Callable[[str], None]) -> int:
    if args.oracle in PERSON_ORACLES:
        raise SweepError(f"--oracle {args.oracle} needs a person; a sweep runs unattended")
    spec = read_spec(args.spec)
    cells = spec.cells if args.oracle is None else tuple(c.with_option("oracle", args.oracle) for c in spec.cells)
    commands = {}
    for cell in cells:
        run_args = cell.argv()
        try:
            check(run_args)
        except ValueError as exc:
            raise SweepError(f"cell {cell.name}: {exc}") from None
        commands[cell.name] = [*run_args, f"--threads={args.cpus_per_cell}"]
    if args.retries is not None and args.retries < 0:
        raise SweepError(f"--retries must be 0 or more, got {args.retries}")
    try:
        from viscause_gui.core.cluster import engine
    except ImportError:
        raise SweepError(INSTALL_RAY) from None
    out = args.out.resolve()
    check_record(out, spec.text, commands)
    todo = cells_to_run(out, commands)
    tasks = [CellTask(name, str(cell_folder(out, name)),
                      (sys.executable, "-m", "viscause_gui", *commands[name], f"--out={cell_folder(out, name)}"),
                      cpus=args.cpus_per_cell, gpus=args.gpus_per_cell,
                      env=() if args.gpus_per_cell else (("CUDA_VISIBLE_DEVICES", ""),)) for name in todo]
    retries = engine.DEFAULT_RETRIES if args.retries is None else args.retries
    progress(f"{len(cells)} cells, {len(tasks)} to run ({len(cells) - len(tasks)} finished earlier); "
             f"a killed cell is tried again up to {retries} times")
    if tasks:
        cluster = engine.Cluster.join(args.address, args.cpus)
        try:
            engine.run_tasks(tasks, retries, ProgressDisplay(_stderr, sys.stderr.isatty()),
                             skipped=len(cells) - len(tasks))
        finally:
            cluster.close()
    return _summarize(out, cells, progress)


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _summarize(out: Path, cells: tuple[Cell, ...], progress: Callable[[str], None]) -> int:
    write_csv(out, cells)
    write_figures(out, cells)
    statuses = [(read_marker(cell_folder(out, c.name)) or {}).get("status", "not run") for c in cells]
    counts = status_counts(statuses)
    failed = [c.name for c, s in zip(cells, statuses) if s == "failed"]
    progress(f"{len(cells)} cells: {counts['done']} done, {counts['waiting']} waiting, {counts['failed']} failed"
             + (f" ({', '.join(failed)}: see cells/<name>/error.txt; rerun the command to try them again)"
                if failed else "") + f"; results in {out / CSV_FILE}")
    return EXIT_CELLS_FAILED if failed else 0
