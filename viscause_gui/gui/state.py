"""The application state shared by every panel: one data set, its truth, one experiment, a
selection, and the oracle queue.

Panels read from it and call its methods; they listen to its signals to redraw. It holds
core objects only and runs no long work itself (workers do, see workers.py).
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PySide6.QtCore import QObject, Signal

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.registry import Truth, truth_for
from viscause_gui.core.method.experiment import MANUAL, Experiment, QueryBatch
from viscause_gui.core.method.partitions import spurious_classes


class OracleQueue(QObject):
    """Query batches waiting for a person's answers, in the order they came.

    With the human oracle the learning run stops at a query batch (Experiment.pending) and
    adds it here; batches of kind MANUAL come from the manipulator panel. `changed` is
    emitted whenever the queue or an answer in it changes. `answer` takes a whole batch's
    answers: Algorithm batches go to Experiment.answer and leave the queue; manual batches
    keep their answers and wait until the learning panel adds them to the causal data.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._batches: list[QueryBatch] = []
        self.answer_count = None        # set by the answering panel: batch -> answers given so far

    def __iter__(self) -> Iterator[QueryBatch]:
        return iter(list(self._batches))

    def __len__(self) -> int:
        return len(self._batches)

    def __getitem__(self, i: int) -> QueryBatch:
        return self._batches[i]

    def contains(self, batch: QueryBatch) -> bool:
        """Identity test (QueryBatch == compares numpy arrays and cannot be used)."""
        return any(b is batch for b in self._batches)

    def add(self, batch: QueryBatch, notify: bool = True) -> None:
        """Queue a batch; notify=False when the caller emits `changed` itself once it is ready."""
        if not self.contains(batch):
            self._batches.append(batch)
        if notify:
            self.changed.emit()

    def remove(self, *batches: QueryBatch) -> None:
        ids = {id(b) for b in batches}
        self._batches = [b for b in self._batches if id(b) not in ids]
        self.changed.emit()

    def replace(self, old: QueryBatch, new: QueryBatch) -> None:
        """Put `new` where `old` was (e.g. a waiting batch cut to a smaller Q)."""
        self._batches = [new if b is old else b for b in self._batches]
        self.changed.emit()

    def answered_any(self, batch: QueryBatch) -> bool:
        """Whether a person answered an image of this batch already (asked of the answering panel)."""
        return self.answer_count is not None and self.answer_count(batch) > 0

    def clear(self) -> None:
        self._batches.clear()
        self.changed.emit()

    def waiting(self) -> list[QueryBatch]:
        """The batches that still wait for answers."""
        return [b for b in self._batches if b.answers is None]

    def answered_manual(self) -> list[QueryBatch]:
        """Manual batches with their answers, waiting to join the causal data."""
        return [b for b in self._batches if b.kind == MANUAL and b.answers is not None]

    def answer(self, batch: QueryBatch, answers: np.ndarray, experiment: Experiment | None) -> None:
        """Answer a queued batch: P(T=1) per image (NaN = no answer); over K > 2 outcomes an outcome index per
        image or (B, K) rows of outcome shares. Raises ValueError if it cannot."""
        answers = np.asarray(answers, np.float64)
        if answers.ndim != 2:
            answers = answers.reshape(-1)
        if batch.kind == MANUAL:
            if answers.shape[0] != len(batch):
                raise ValueError(f"expected {len(batch)} answers, got {answers.shape[0]}")
            batch.answers = answers
            self.changed.emit()
            return
        if experiment is None or experiment.pending is not batch:
            raise ValueError("this query batch is no longer waiting for answers")
        try:
            experiment.answer(answers)
        except RuntimeError as exc:
            batch.answers = None            # Experiment.answer stores them before it checks them
            raise ValueError(str(exc)) from exc
        self.remove(batch)


class AppState(QObject):
    dataset_changed = Signal()            # a new data set is loaded
    classes_changed = Signal()            # obs / causal / spurious classes changed
    model_changed = Signal()              # causal nets retrained
    selection_changed = Signal()          # self.selection changed
    current_image_changed = Signal()      # the image on the canvas changed
    behaviour_changed = Signal()          # positive_label changed: what T asks about
    status_message = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.truth: Truth | None = None   # the exact model behind the data set, when an experiment knows it
        self.own_data = False             # a person's own file or folder (File → Open…), not built-in data: the
                                          # Learning panel chooses the recipe from its images, as `viscause run DATA`
        self.experiment: Experiment | None = None
        self.selection: np.ndarray = np.zeros(0, np.int64)
        self.current_index: int | None = None
        self.current_image: np.ndarray | None = None
        self.positive_label: int | None = None   # labels-only data: T = 1 for images with this label
        self.question_text: str | None = None    # the question in the person's words (None: from T)
        self.queue = OracleQueue(self)
        self._spurious: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None   # (obs, causal, S)
        self._announced_causal: np.ndarray | None = None   # the causal classes the panels last heard of

    # ----- data -----
    def set_dataset(self, dataset: Dataset, own_data: bool = False) -> None:
        """Replace the data set (the caller has already loaded and validated it); `own_data`: a person's
        own file or folder, not a built-in data set, a lesson's or a session's."""
        self.dataset = dataset
        self.own_data = own_data
        self.truth = truth_for(dataset)
        self.experiment = None
        self._announced_causal = None
        self.selection = np.zeros(0, np.int64)
        self.dataset_changed.emit()
        self.queue.clear()             # after the panels let go of the old experiment
        self.classes_changed.emit()
        self.select([0] if len(dataset) else [])

    def set_positive_label(self, label: int | None) -> None:
        """The behaviour T on a data set with labels only: T = 1 for this label (None: not such data)."""
        label = None if label is None else int(label)
        if label != self.positive_label:
            self.positive_label = label
            self.behaviour_changed.emit()

    def set_question(self, text: str | None) -> None:
        """The question asked about each image, in words (None or empty: the default for T)."""
        text = (text or "").strip()[:300] or None
        if text == self.default_question():
            text = None
        if text != self.question_text:
            self.question_text = text
            self.behaviour_changed.emit()

    def question(self) -> str:
        """The question the oracle answers about each image, in words."""
        return self.question_text or self.default_question()

    def default_question(self) -> str:
        """The question from T alone (the digit of a digit behaviour)."""
        if self.positive_label is not None:
            return f"Does this image show a {self.positive_label}?"
        if self.dataset is not None and self.dataset.n_outcomes > 2:
            return f"Which of the {self.dataset.n_outcomes} outcomes of T happens for this image?"
        return "Does T happen for this image (T = 1)?"

    def set_experiment(self, experiment: Experiment | None) -> None:
        """New nets (model_changed); classes_changed only if the causal classes differ from those the panels
        last heard of.

        Algorithm 2 hands over a snapshot after every training; its classes are Algorithm 1's,
        and recolouring 10,000 thumbnails for nothing would stall the GUI thread.
        """
        self.experiment = experiment
        self._announce_causal_classes()
        self.model_changed.emit()

    def show_classes_of(self, experiment: Experiment | None) -> None:
        """The experiment's answers may have changed its causal classes in place (a person answered
        Algorithm 1 in the queue): tell the panels when they did."""
        if experiment is self.experiment:
            self._announce_causal_classes()

    def _announce_causal_classes(self) -> None:
        # compared with what was announced, not with the experiment before: answers change it in place
        now = self.causal_classes()
        if not _same_labels(self._announced_causal, now):
            self._announced_causal = None if now is None else now.copy()
            self._spurious = None
            self.classes_changed.emit()

    # ----- classes per image (None when not known yet) -----
    def obs_classes(self) -> np.ndarray | None:
        return None if self.dataset is None else self.dataset.obs_class

    def causal_classes(self) -> np.ndarray | None:
        """The causal classes learned by the experiment (None before Algorithm 1: a data set's
        own causal_class, e.g. GRATING's generator truth, is `given_causal_classes`)."""
        if self.experiment is not None and self.experiment.causal_labels is not None:
            return self.experiment.causal_labels
        return None

    def given_causal_classes(self) -> np.ndarray | None:
        """The causal class the data set came with (a generator's truth), not a learned one."""
        return None if self.dataset is None else self.dataset.causal_class

    def spurious_classes(self) -> np.ndarray | None:
        """S per image, computed once per pair of (obs, causal) arrays: the readout asks for it on
        every image and every retraining, and it takes a pass over the whole data set."""
        obs, causal = self.obs_classes(), self.causal_classes()
        if obs is None or causal is None:
            return None
        cached = self._spurious
        if cached is not None and cached[0] is obs and cached[1] is causal:
            return cached[2]
        spurious = spurious_classes(obs, causal)
        self._spurious = (obs, causal, spurious)
        return spurious

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
