"""The readout's observational model, trained in a worker whenever a data set is loaded.

Its events are tagged with the data set they belong to: a late result for data the person has
since replaced is dropped. The model learns the observational classes the data set shows: where a
run found them first (both estimate them from samples of T, and a run's classes are its
experiment's), the readout's own estimate is dropped and it learns the run's instead.
"""
from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

from PySide6.QtCore import QObject, Signal

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.observe import ObservedClasses
from viscause_gui.core.nets.training import TrainProgress
from viscause_gui.gui.models.readout import ObservationalModel, observe_and_train
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool


class ObservationalController(QObject):
    """Trains the readout's observational model in a worker whenever a data set is loaded."""

    model_ready = Signal(object)      # ObservationalModel or None
    status = Signal(str)

    KEY = "observational model"

    def __init__(self, state: AppState, workers: WorkerPool, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.workers = workers
        self.model: ObservationalModel | None = None
        self._cancel = threading.Event()
        self._classes_learned: Any = None     # the data set's obs_class the model learns (None: it estimates them)
        state.dataset_changed.connect(self.start)
        state.classes_changed.connect(self._follow_classes)

    def start(self) -> None:
        ds = self.state.dataset
        self.model = None
        if ds is None or (ds.t is None and ds.p_obs is None):
            self.stop()
            self.workers.cancel(self.KEY)
            self.status.emit("the data set has no T (no 't' or 'p_obs')")
            self.model_ready.emit(None)
            return
        self.stop()
        self._cancel = threading.Event()
        self._classes_learned = ds.obs_class
        self.status.emit("training…")
        self.workers.start(self.KEY, _tagged, ds, self._cancel, on_yield=self._progress, on_return=self._ready)

    def stop(self) -> None:
        """Ask the running job to end soon (also inside the slow observational-class fit)."""
        self._cancel.set()

    def _progress(self, tagged: tuple[Dataset, Any]) -> None:
        ds, event = tagged
        if ds is not self.state.dataset:
            return
        if isinstance(event, ObservedClasses):
            if ds.obs_class is not None:       # a run found the classes first: learn those (a late event of a
                if ds.obs_class is not self._classes_learned:     # job cancelled for them is dropped)
                    self.start()
                return
            event.apply_to(ds)
            self._classes_learned = ds.obs_class
            self.state.status_message.emit(f"{len(set(event.obs_class.tolist()))} observational classes "
                                           "estimated from the samples of T")
            self.state.classes_changed.emit()
        elif isinstance(event, TrainProgress):
            self.status.emit(f"training… epoch {event.epoch}/{event.epochs}")

    def _follow_classes(self) -> None:
        """The data set's observational classes were replaced (a run's, or none for a new label): learn them."""
        ds = self.state.dataset
        if ds is not None and ds.obs_class is not self._classes_learned:
            self.start()

    def _ready(self, tagged: tuple[Dataset, ObservationalModel | None]) -> None:
        ds, model = tagged
        if ds is not self.state.dataset:
            return
        self.model = model
        self.model_ready.emit(model)


def _tagged(ds: Dataset, cancel: threading.Event) -> Generator[tuple[Dataset, Any], None, tuple[Dataset, Any]]:
    """observe_and_train, each event and the result tagged with its data set (stale ones are dropped)."""
    steps = observe_and_train(ds, cancelled=cancel.is_set)
    while True:
        try:
            event = next(steps)
        except StopIteration as stop:
            return ds, stop.value
        yield ds, event
