"""Background work: every long job runs in a superqt worker registered here.

`WorkerPool.start(generator_function, ...)` runs a generator in a thread (it yields
progress; quit() aborts between yields). The pool remembers running workers so the main
window can stop and join all of them when it closes, and so a newer job of the same `key`
(e.g. the α slider) supersedes an older one.
"""
from __future__ import annotations

import functools
import gc
import inspect
import sys
import time
from collections.abc import Callable
from typing import Any

import shiboken6
import torch
from PySide6.QtCore import QAbstractEventDispatcher, QCoreApplication, QObject, QThreadPool, QTimer, Signal
from superqt.utils import GeneratorWorker, WorkerBase, create_worker

from viscause_gui.core.system import foreground


def configure_gui_threads() -> None:
    """One torch thread per worker: two busy pools on two cores slow each other ~10x.

    The Qt thread pool gets room for a paused worker plus the live ones (training, the α
    slider, data loading, the map) even on a 2-core machine.
    """
    torch.set_num_threads(1)
    sys.setswitchinterval(0.0002)  # hand the GIL back to the GUI thread often (default 5 ms)
    QThreadPool.globalInstance().setMaxThreadCount(max(6, QThreadPool.globalInstance().maxThreadCount()))


def install_foreground_gate(app: QCoreApplication) -> foreground.ForegroundGate:
    """Background loops (training batches, manipulator steps, the α sweep) pause while the GUI
    thread works: from the moment Qt's event loop wakes (or a plot starts to repaint, see
    plots._AnnouncesRepaints) until it is about to sleep again. Call from the GUI thread once
    the application exists."""
    gate = foreground.ForegroundGate()
    dispatcher = QAbstractEventDispatcher.instance(app.thread())
    dispatcher.awake.connect(gate.busy)
    dispatcher.aboutToBlock.connect(gate.idle)
    foreground.install(gate)
    return gate


class GuiThreadGarbageCollector(QObject):
    """Python's cyclic garbage collector runs only on the GUI thread, from a timer.

    Left automatic, a collection runs in whichever thread happens to allocate, and a worker
    thread (importing a module, training) then deletes the Qt objects of closed windows and
    panels. Qt objects must be deleted on their own thread; here it deadlocked: the worker, in
    ~QObject, held a Qt lock and waited for Python's lock, which the GUI thread held while
    waiting for that Qt lock. The timer applies CPython's own thresholds (gc.get_threshold()) and
    its rule for the oldest generation: a full collection only once the objects that survived
    younger collections since the last full one exceed a quarter of all long-lived objects
    (frozen start-up objects included). Without that rule every tenth middle collection was a
    full one, and a full collection over a trained digit-mode session stalled the GUI ~85 ms.
    """

    FULL_RATIO = 0.25        # CPython's long_lived_pending > long_lived_total / 4

    def __init__(self, interval_ms: int = 100, parent: QObject | None = None):
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        # objects alive after the last full collection (counted once here, at start-up), and the
        # objects moved into the oldest generation since
        self.long_lived_total = len(gc.get_objects(2)) + gc.get_freeze_count()
        self.long_lived_pending = 0
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start()

    def collect_if_due(self) -> int | None:
        """Collect the oldest generation whose threshold is passed; returns it (None: none due)."""
        counts = gc.get_count()
        if counts[0] <= self._thresholds[0]:
            return None
        generation = 0
        while generation < 2 and counts[generation + 1] > self._thresholds[generation + 1]:
            generation += 1
        if generation == 2 and not self._full_collection_due():
            generation = 1
        if generation == 2:          # the survivors are the long-lived objects now
            found = gc.collect(2)
            self.long_lived_total = max(self.long_lived_total + self.long_lived_pending - found,
                                        gc.get_freeze_count())
            self.long_lived_pending = 0
        elif generation == 1:       # what survives moves into the oldest generation
            younger = len(gc.get_objects(0)) + len(gc.get_objects(1))
            self.long_lived_pending += max(younger - gc.collect(1), 0)
        else:
            gc.collect(0)
        return generation

    def _full_collection_due(self) -> bool:
        return self.long_lived_pending > self.FULL_RATIO * self.long_lived_total

    def uninstall(self) -> None:
        """Collect what is left here, stop the timer and give collection back to Python."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()


def install_gui_thread_garbage_collector(app: QCoreApplication) -> GuiThreadGarbageCollector:
    """Call from the GUI thread once the application exists (see GuiThreadGarbageCollector)."""
    return GuiThreadGarbageCollector(parent=app)


class WorkerFailed(Exception):
    """A RuntimeError raised inside a generator job (superqt's GeneratorWorker would swallow it)."""


def _reraise_runtime_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    if not inspect.isgeneratorfunction(func):
        return func

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any):
        try:
            return (yield from func(*args, **kwargs))
        except RuntimeError as exc:
            raise WorkerFailed(str(exc)) from exc

    return wrapper


PLAIN_WORDS = {"manipulate": "manipulating", "manipulate-sweep": "manipulating ahead for the α slider",
               "manipulate-selection": "manipulating the selection", "classes-map": "drawing the classes map",
               "load": "loading data"}      # worker keys as the status bar says them


class WorkerPool(QObject):
    busy_changed = Signal(str)   # a short description of what runs ("" when idle)
    failed = Signal(str)         # an error message from a worker, for the user

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._workers: dict[str, WorkerBase] = {}
        self._closed = False

    def start(self, key: str, func: Callable[..., Any], *args: Any,
              on_yield: Callable[[Any], None] | None = None,
              on_return: Callable[[Any], None] | None = None,
              on_error: Callable[[BaseException], None] | None = None,
              **kwargs: Any) -> WorkerBase | None:
        """Run func(*args, **kwargs) in a thread; a running worker with the same key is asked to quit.

        Returns None (and runs nothing) once stop_all() has been called: the window is closing.
        """
        if self._closed:
            return None
        self.cancel(key)
        worker = create_worker(_reraise_runtime_errors(func), *args, _start_thread=False,
                               _ignore_errors=True, **kwargs)
        if on_yield is not None and isinstance(worker, GeneratorWorker):
            worker.yielded.connect(on_yield)
        if on_return is not None:
            worker.returned.connect(on_return)
        worker.errored.connect(on_error or (lambda exc: self.failed.emit(f"{key}: {exc}")))
        worker.finished.connect(lambda k=key, w=worker: self._finished(k, w))
        self._workers[key] = worker
        self.busy_changed.emit(self.describe())
        worker.start()
        return worker

    def cancel(self, key: str) -> None:
        worker = self._workers.pop(key, None)
        if worker is not None:
            worker.quit()

    def is_running(self, key: str) -> bool:
        return key in self._workers

    def describe(self) -> str:
        """What runs, in words a person reads in the status bar."""
        return ", ".join(sorted(PLAIN_WORDS.get(key, key) for key in self._workers))

    def stop_all(self, timeout_s: float = 2.0) -> bool:
        """Ask every worker to quit and wait for them (closing the window). True if all ended."""
        self._closed = True
        for worker in list(self._workers.values()):
            worker.quit()
        self._workers.clear()
        deadline = time.monotonic() + timeout_s
        pool = QThreadPool.globalInstance()
        return pool.waitForDone(max(0, int((deadline - time.monotonic()) * 1000)))

    def _finished(self, key: str, worker: WorkerBase) -> None:
        if not shiboken6.isValid(self):   # a late signal after the window closed
            return
        if self._workers.get(key) is worker:
            del self._workers[key]
        self.busy_changed.emit(self.describe())
