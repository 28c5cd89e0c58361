"""Train nets in a child process, so training never shares an interpreter lock with the GUI.

In one process a training thread and the GUI thread take turns at Python's lock: every Qt call
the GUI makes lets the trainer in, and a repaint that takes 3 ms alone took 17 ms beside training
on 2 cores. `TrainingProcess.wrap(routine)` gives a routine with the signature of
models.train_steps (yielding TrainProgress per epoch, training `net` in place) that runs the
same code in a spawned child and streams the progress back; the caller's thread only waits on
a pipe. The results are the same as in-process training (same code, same seeds, one torch
thread), which a test checks.

The child trains one epoch per request: a caller that stops asking (a paused worker) leaves it
idle, and closing the generator cancels the job within one batch (a newer job does too).
`close()` ends the child at once (kills it if it does not answer), e.g. when the window
closes mid-epoch.
"""
from __future__ import annotations

import contextlib
import copy
import io
import itertools
import logging
import multiprocessing as mp
import os
import queue
import threading
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np
import torch
from torch import nn

from viscause_gui.core.nets.training import TrainProgress
from viscause_gui.core.system import foreground

log = logging.getLogger(__name__)

POLL_S = 0.05          # how often a waiting job checks that the child is alive
CHILD_NICENESS = 10    # the child trains at a lower CPU priority than the window (see _serve)


class TrainingProcessError(RuntimeError):
    """The training child died or could not start; the message says why."""


class _Interrupted(Exception):
    """The parent sent something other than 'next' during a job: cancel it, then handle that."""

    def __init__(self, message: tuple):
        super().__init__(message[0])
        self.message = message


class _ChildInbox(foreground.ForegroundGate):
    """In the child, the training loops' between-batch hook: any message from the parent
    (a cancel, a newer job, quit) interrupts the job that runs."""

    def __init__(self, conn):
        super().__init__()
        self._conn = conn

    def wait(self) -> None:
        if self._conn.poll():
            raise _Interrupted(self._conn.recv())


def _serve(conn) -> None:
    """The child's loop: ("train", job, routine, net, images, targets, weights, config, device).

    It runs niced: on a machine with more runnable threads than cores (2 cores: this child, a
    worker of the window manipulating, the GUI thread, anything else) the scheduler then gives
    the window's threads the core first, and a repaint is not cut into pieces by training.
    """
    _lower_priority()
    torch.set_num_threads(1)
    foreground.install(_ChildInbox(conn))
    message = None
    while True:
        try:
            message = message or conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "quit":
            return
        if message[0] == "train":
            job, routine, net_bytes, specs, config, device = message[1:]
            images, targets, weights = (None if spec is None else _recv_array(conn, spec) for spec in specs)
            message = _train_job(conn, job, routine, net_bytes, images, targets, weights, config, device)
        else:
            message = None


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):    # no nice() here (Windows), or not allowed
        os.nice(CHILD_NICENESS)


def _train_job(conn, job: int, routine, net_bytes: bytes, images, targets, weights, config,
               device: str) -> tuple | None:
    """Run one job; returns the message that interrupted it when that asks for more (train, quit)."""
    try:
        net = _from_bytes(net_bytes, weights_only=False).to(device)
        for progress in routine(net, images, targets, weights, config, torch.device(device)):
            conn.send((job, "progress", progress))
            reply = conn.recv()
            if reply != ("next", job):
                raise _Interrupted(reply)
        conn.send((job, "done", _to_bytes({k: v.cpu() for k, v in net.state_dict().items()})))
    except _Interrupted as stop:
        conn.send((job, "cancelled", None))
        return stop.message if stop.message[0] in ("train", "quit") else None
    except Exception as exc:  # reported to the parent, which raises it there
        conn.send((job, "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))
    return None


class TrainingProcess:
    """One spawned child that runs training jobs (started on first use, or by start()).

    A newer job supersedes an older one still running (the child cancels the older one). A
    reader thread routes the child's messages to the job they belong to.
    """

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._inboxes: dict[int, queue.Queue] = {}
        self._jobs = itertools.count(1)
        self._current = 0

    def start(self) -> None:
        """Start the child now (it takes ~2 s to import torch); later jobs reuse it."""
        with self._start_lock:
            if self.is_alive():
                return
            parent, child = self._ctx.Pipe()
            proc = self._ctx.Process(target=_serve, args=(child,), daemon=True, name="viscause-training")
            proc.start()
            child.close()
            self._proc, self._conn = proc, parent
            threading.Thread(target=self._read, args=(parent,), daemon=True, name="training-reader").start()

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def wrap(self, routine: Callable[..., Iterator[TrainProgress]]) -> Callable[..., Iterator[TrainProgress]]:
        """A routine like `routine` (models.train_steps' signature) that runs in the child."""
        return InChildTraining(self, routine)

    def train(self, routine, net: nn.Module, images: np.ndarray, targets: np.ndarray,
              weights: np.ndarray | None = None, config=None, device=None) -> Iterator[TrainProgress]:
        """Run routine(net, ...) in the child; yields its progress; `net` gets the trained weights."""
        self.start()
        job = next(self._jobs)
        self._current = job
        inbox = self._inboxes[job] = queue.Queue()
        device = str(device or next(net.parameters()).device)
        finished = False
        try:
            self._send_job(("train", job, routine, _to_bytes(copy.deepcopy(net).cpu())), (images, targets, weights),
                           (config, device))
            while True:
                kind, payload = self._receive(job, inbox)
                if kind == "progress":
                    yield payload
                    self._send(("next", job))
                    continue
                finished = True
                if kind == "done":
                    net.load_state_dict(_from_bytes(payload, weights_only=True))
                    return
                if kind == "cancelled":
                    why = "a newer job replaced it" if self._current != job else "the training process was closed"
                    raise TrainingProcessError(f"training stopped: {why}")
                raise TrainingProcessError(f"training failed in the child process: {payload}")
        finally:
            self._inboxes.pop(job, None)
            if not finished and self.is_alive():
                self._send(("cancel", job))

    def close(self) -> None:
        """End the child now; a job waiting on it raises TrainingProcessError. A later job starts
        a new child."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(TrainingProcessError):
            self._send(("quit",))
        proc.join(0.3)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)

    # ----- plumbing -----
    def _connection(self) -> Connection:
        """The pipe to the child, which start() opened."""
        if self._conn is None:
            raise TrainingProcessError("the training process was never started")
        return self._conn

    def _send_job(self, head: tuple, arrays: tuple, tail: tuple) -> None:
        """The job message, then its arrays as raw bytes: pickling tens of MB would hold Python's
        lock for as long as the copy takes, while raw writes let the GUI thread run between them."""
        arrays = tuple(None if a is None else np.ascontiguousarray(a) for a in arrays)
        specs = tuple(None if a is None else (a.dtype.str, a.shape) for a in arrays)
        conn = self._connection()
        with self._send_lock:
            try:
                conn.send((*head, specs, *tail))
                for a in arrays:
                    if a is not None:
                        conn.send_bytes(memoryview(a).cast("B"))
            except (OSError, ValueError, BrokenPipeError) as exc:
                raise TrainingProcessError("the training process ended") from exc

    def _send(self, message: tuple) -> None:
        conn = self._connection()
        with self._send_lock:
            try:
                conn.send(message)
            except (OSError, ValueError, BrokenPipeError) as exc:
                raise TrainingProcessError("the training process ended") from exc

    def _read(self, conn) -> None:
        """Reader thread: each message of the child goes to its job's inbox (late ones are dropped)."""
        while True:
            try:
                job, kind, payload = conn.recv()
            except (EOFError, OSError):
                return
            inbox = self._inboxes.get(job)
            if inbox is not None:
                inbox.put((kind, payload))

    def _receive(self, job: int, inbox: queue.Queue) -> tuple[str, Any]:
        while True:
            try:
                return inbox.get(timeout=POLL_S)
            except queue.Empty:
                pass
            if self._current != job:
                raise TrainingProcessError("training stopped: a newer job replaced it")
            if not self.is_alive():
                raise TrainingProcessError("the training process ended")


class InChildTraining:
    """routine(net, images, targets, weights, config, device), run in a TrainingProcess."""

    def __init__(self, process: TrainingProcess, routine: Callable[..., Iterator[TrainProgress]]):
        self.process = process
        self.routine = routine

    def __call__(self, net, images, targets, weights=None, config=None, device=None) -> Iterator[TrainProgress]:
        try:
            self.process.start()
        except (OSError, RuntimeError) as exc:     # no processes allowed here: train in this thread
            log.warning("cannot start the training process (%s); training in this thread instead", exc)
            return self.routine(net, images, targets, weights, config, device)
        return self.process.train(self.routine, net, images, targets, weights, config, device)


_shared: TrainingProcess | None = None


def shared_training_process() -> TrainingProcess:
    """The process-wide TrainingProcess (one child serves every panel and window)."""
    global _shared
    if _shared is None:
        _shared = TrainingProcess()
    return _shared


def _recv_array(conn, spec: tuple[str, tuple[int, ...]]) -> np.ndarray:
    dtype, shape = np.dtype(spec[0]), spec[1]
    buffer = bytearray(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
    conn.recv_bytes_into(buffer)
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def _to_bytes(obj: Any) -> bytes:
    """Nets and weights travel as torch.save bytes: plain pipe data (torch's own pickling of
    tensors would pass shared-memory file descriptors, one per tensor)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _from_bytes(data: bytes, weights_only: bool) -> Any:
    # weights_only=False only for the net the parent itself sent to its own child
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=weights_only)
