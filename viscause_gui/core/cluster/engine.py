"""The sweep engine: each cell is a Ray task (docs/sweeps.md). Imported only by `viscause sweep` and
benchmarks/run_all.py --ray; it is the one module of the package that imports Ray.

Ray schedules the tasks on the cluster's CPUs (and GPUs), retries a task whose worker died
(`max_retries`) or whose process was killed (CellKilled), and runs on one machine or many: a local
cluster by default, an existing one by address.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ray
from ray.exceptions import RayError

from viscause_gui.core.cluster.cell import CellKilled, CellTask, clear_cell, mark_failed, run_cell, started_info
from viscause_gui.core.cluster.progress import ProgressDisplay, SweepProgress

DEFAULT_RETRIES = 2       # a cell whose worker dies or whose process is killed runs at most 1 + 2 times
POLL_SECONDS = 1.0


@ray.remote
def _cell_task(task: CellTask) -> dict:
    return run_cell(task)


@dataclass
class Cluster:
    """The Ray cluster a sweep runs on; `close` shuts down only a cluster this command started."""

    started_here: bool

    @staticmethod
    def join(address: str | None, cpus: int | None) -> Cluster:
        """`ray.init`: a local cluster with `cpus` CPUs (default: the machine's cores) or the cluster at
        `address`; a cluster already joined by this process (a test's) is used as it is."""
        if ray.is_initialized():
            return Cluster(started_here=False)
        if address:
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            except ConnectionError as exc:
                raise ValueError(f"--address {address}: cannot join the Ray cluster there ({exc}); a cluster with "
                                 "token authentication needs RAY_AUTH_MODE=token and its token here too "
                                 "(docs/sweeps.md)") from None
        else:
            ray.init(num_cpus=cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        return Cluster(started_here=True)

    def cpus(self) -> int:
        return int(ray.cluster_resources().get("CPU", 1))

    def close(self) -> None:
        if self.started_here:
            ray.shutdown()


def run_tasks(tasks: Sequence[CellTask], retries: int, display: ProgressDisplay, skipped: int = 0,
              on_finish: Callable[[CellTask, dict], None] | None = None) -> dict[str, str]:
    """Run every task on the cluster joined (Cluster.join); each task's status: done, waiting or failed.
    A failed cell does not stop the others."""
    _check_resources(tasks)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)) // max(1, max((t.cpus for t in tasks), default=1)))
    progress = SweepProgress(total=len(tasks), slots=slots, skipped=skipped)
    pending = {}
    for task in tasks:
        clear_cell(Path(task.folder))
        options = {"num_cpus": task.cpus, "max_retries": retries, "retry_exceptions": [CellKilled]}
        if task.gpus:
            options["num_gpus"] = task.gpus
        pending[_cell_task.options(**options).remote(task)] = task
    try:
        while pending:
            progress.running = sum(started_info(Path(t.folder)) is not None for t in pending.values())
            display.show(progress.line())
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_SECONDS)
            for ref in ready:
                task = pending.pop(ref)
                marker = _result(ref, task, retries)
                progress.finish(task.name, marker["status"], marker.get("seconds"))
                if marker["status"] == "failed":
                    display.say([f"cell {task.name} failed: see {task.folder}/error.txt"])
                if on_finish is not None:
                    on_finish(task, marker)
        progress.running = 0
        display.show(progress.line())
    finally:
        for ref in pending:           # an interrupted sweep: its running cells stop (a rerun resumes them)
            ray.cancel(ref, force=True)
        display.close()
    return dict(progress.statuses)


def _check_resources(tasks: Sequence[CellTask]) -> None:
    """A task no machine of the cluster can hold would wait for ever: refused in one line instead."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    needs = (("CPU", max((t.cpus for t in tasks), default=0)), ("GPU", max((t.gpus for t in tasks), default=0)))
    for kind, need in needs:
        most = max((n.get(kind, 0) for n in nodes), default=0)
        if need > most:
            option = "--cpus-per-cell" if kind == "CPU" else "--gpus-per-cell"
            raise ValueError(f"{option} {need:g}: no machine of the cluster has that many {kind}s (at most {most:g})")


def _result(ref: ray.ObjectRef, task: CellTask, retries: int) -> dict:
    """The task's marker; a task that failed in Ray (its worker died, killed past its retries) is marked failed."""
    try:
        return ray.get(ref)
    except RayError as exc:
        why = str(exc).strip().splitlines()
        return mark_failed(Path(task.folder), f"the task failed after {1 + retries} tries at most: "
                                        f"{why[-1] if why else type(exc).__name__}")
