"""The application state shared by every panel: one data set, one experiment, a selection.

Panels read from it and call its methods; they listen to its signals to redraw. It holds
core objects only and runs no long work itself (workers do, see workers.py).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, QueryBatch
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.partitions import spurious_classes


class AppState(QObject):
    dataset_changed = Signal()            # a new data set is loaded
    classes_changed = Signal()            # obs / causal / spurious classes changed
    model_changed = Signal()              # causal nets retrained
    selection_changed = Signal()          # self.selection changed
    current_image_changed = Signal()      # the image on the canvas changed
    queries_changed = Signal()            # oracle queue changed
    status_message = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.grating: GratingModel | None = None   # set when the data set is GRATING: truth oracle
        self.experiment: Experiment | None = None
        self.selection: np.ndarray = np.zeros(0, np.int64)
        self.current_index: int | None = None
        self.current_image: np.ndarray | None = None
        self.human_queue: list[QueryBatch] = []

    # ----- data -----
    def set_dataset(self, dataset: Dataset, grating: GratingModel | None = None) -> None:
        """Replace the data set (the caller has already loaded and validated it)."""
        self.dataset = dataset
        self.grating = grating
        self.experiment = None
        self.selection = np.zeros(0, np.int64)
        self.human_queue.clear()
        self.dataset_changed.emit()
        self.classes_changed.emit()
        self.select([0] if len(dataset) else [])

    def set_experiment(self, experiment: Experiment | None) -> None:
        """New nets (model_changed); classes_changed only if the causal classes differ.

        Algorithm 2 hands over a snapshot after every training; its classes are Algorithm 1's,
        and recolouring 10,000 thumbnails for nothing would stall the GUI thread.
        """
        before = self.causal_classes()
        self.experiment = experiment
        if not _same_labels(before, self.causal_classes()):
            self.classes_changed.emit()
        self.model_changed.emit()

    # ----- classes per image (None when not known yet) -----
    def obs_classes(self) -> np.ndarray | None:
        return None if self.dataset is None else self.dataset.obs_class

    def causal_classes(self) -> np.ndarray | None:
        if self.experiment is not None and self.experiment.causal_labels is not None:
            return self.experiment.causal_labels
        return None if self.dataset is None else self.dataset.causal_class

    def spurious_classes(self) -> np.ndarray | None:
        obs, causal = self.obs_classes(), self.causal_classes()
        if obs is None or causal is None:
            return None
        return spurious_classes(obs, causal)

    # ----- selection and canvas -----
    def select(self, indices) -> None:
        self.selection = np.asarray(list(indices), np.int64)
        self.selection_changed.emit()
        if len(self.selection):
            self.show_image(int(self.selection[0]))

    def show_image(self, index: int) -> None:
        assert self.dataset is not None
        self.current_index = index
        self.current_image = self.dataset.images[index].copy()
        self.current_image_changed.emit()

    def set_current_image(self, image: np.ndarray) -> None:
        """The canvas edited the image (it is no longer a data set image)."""
        self.current_index = None
        self.current_image = np.asarray(image, np.float32)
        self.current_image_changed.emit()


def _same_labels(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a is b or (a.shape == b.shape and bool(np.array_equal(a, b)))
