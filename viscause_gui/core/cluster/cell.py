"""One cell of a sweep: its command in a child process, its log, its peak memory and its end marker.

Ray-free, so that it can be tested without a cluster; engine.py runs `run_cell` as a Ray task. The
child dies with the process that started it (Linux: PR_SET_PDEATHSIG), so a killed Ray worker
leaves no run behind to hold the folder while Ray retries the cell.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from viscause_gui.core.store.atomic import atomic_write
from viscause_gui.core.store.rundir import STATE_FILE
from viscause_gui.core.store.sweep import ERROR_FILE, LOG_FILE, MARKER_FILE, STARTED_FILE

TRY_HEADER = "=== viscause sweep: try "     # each try's first line in the cell's log
ERROR_LINES = 40                              # the end of the log kept in error.txt


class CellKilled(RuntimeError):
    """The cell's process was killed by a signal (the kernel's OOM killer, a person): Ray tries it again."""


@dataclass(frozen=True)
class CellTask:
    """A command run in its own process; its output and markers go to `folder`."""

    name: str
    folder: str
    command: tuple[str, ...]
    cpus: int = 1
    gpus: float = 0.0
    cwd: str | None = None
    env: tuple[tuple[str, str], ...] = field(default_factory=tuple)   # added to the worker's environment


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGKILL when its parent (the Ray worker) dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG


def _peak_mib(rusage: Any) -> float:
    """ru_maxrss in MiB (kilobytes on Linux, bytes on macOS)."""
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return round(rusage.ru_maxrss / scale, 1)


def run_cell(task: CellTask) -> dict[str, Any]:
    """Run the cell's command to its end and write its marker; CellKilled when a signal ended it."""
    folder = Path(task.folder)
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / LOG_FILE
    env = {**os.environ, "OMP_NUM_THREADS": str(task.cpus), "MKL_NUM_THREADS": str(task.cpus), **dict(task.env)}
    started = time.perf_counter()
    with open(log_path, "ab") as log:
        tries = _count_tries(log_path) + 1
        log.write(f"{TRY_HEADER}{tries}: {' '.join(task.command)}\n".encode())
        log.flush()
        proc = subprocess.Popen(task.command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=task.cwd,
                                stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        atomic_write(folder / STARTED_FILE, lambda f: f.write(json.dumps(
            {"pid": proc.pid, "worker_pid": os.getpid(), "try": tries}).encode()))
        try:
            returncode, peak = _wait(proc)
        finally:
            if proc.poll() is None:       # the task was cancelled: its run goes with it
                proc.kill()
                proc.wait()
    seconds = round(time.perf_counter() - started, 2)
    if returncode < 0:
        raise CellKilled(f"{task.name}: its process was killed by signal {-returncode} "
                         f"({_signal_name(-returncode)}) after {seconds:.0f} s")
    status = _status(returncode, folder)
    if status == "failed":
        write_error(folder, f"exit code {returncode}; the end of {LOG_FILE}:\n{_log_tail(log_path)}")
    return write_marker(folder, {"status": status, "returncode": returncode, "seconds": seconds, "peak_mib": peak,
                                 "tries": tries})


def _wait(proc: subprocess.Popen) -> tuple[int, float | None]:
    """The child's exit status and its own peak memory (os.wait4: this child's rusage alone)."""
    if not hasattr(os, "wait4"):
        return proc.wait(), None
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, _peak_mib(rusage)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def _status(returncode: int, folder: Path) -> str:
    """done; waiting (a run whose offline oracle waits for its first answers: exit 0, not finished); failed."""
    if returncode != 0:
        return "failed"
    try:
        finished = json.loads((folder / "history.json").read_text(encoding="utf-8"))["config"]["finished"]
    except (OSError, ValueError, KeyError, TypeError):
        finished = False
    return "waiting" if not finished and (folder / STATE_FILE).exists() else "done"


def _count_tries(log_path: Path) -> int:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    return sum(1 for line in text.splitlines() if line.startswith(TRY_HEADER))


def _log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-ERROR_LINES:])


def write_error(folder: Path, text: str) -> None:
    atomic_write(Path(folder) / ERROR_FILE, lambda f: f.write((text.rstrip() + "\n").encode("utf-8")))


def write_marker(folder: Path, marker: dict[str, Any]) -> dict[str, Any]:
    """The cell's end marker, written atomically after its run folder is complete."""
    atomic_write(Path(folder) / MARKER_FILE, lambda f: f.write(json.dumps(marker).encode("utf-8")))
    return marker


def mark_failed(folder: Path, why: str) -> dict[str, Any]:
    """A cell whose task itself failed (its worker died more often than the retries allow, it was killed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    log = _log_tail(folder / LOG_FILE)
    write_error(folder, f"{why}\nthe end of {LOG_FILE}:\n{log}")
    return write_marker(folder, {"status": "failed", "returncode": None, "seconds": None, "peak_mib": None,
                                 "tries": _count_tries(folder / LOG_FILE)})


def clear_cell(folder: Path) -> None:
    """Before a cell runs (again): no marker, no started mark, no error and no log of an earlier try."""
    for name in (MARKER_FILE, STARTED_FILE, ERROR_FILE, LOG_FILE):
        (Path(folder) / name).unlink(missing_ok=True)


def started_info(folder: Path) -> dict[str, Any] | None:
    """The running try's pids (the cell's process and its Ray worker), once its task has started."""
    try:
        info = json.loads((Path(folder) / STARTED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None
