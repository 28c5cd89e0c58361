"""The GUI thread's work per event does not grow with the data set, and repaints keep a pace.

Each test pins one cause of a stall found by profiling benchmarks/bench_gui.py (issue 13).
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool


class _Paints(QObject):
    """Counts the paint events a widget gets."""

    def __init__(self, widget):
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


class _Events(QObject):
    """Counts the layout requests and paint events some widgets get."""

    def __init__(self, *widgets):
        super().__init__()
        self.count = 0
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() in (QEvent.Type.Paint, QEvent.Type.LayoutRequest):
            self.count += 1
        return False


def _data(n: int, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(images=rng.random((n, 10, 10), dtype=np.float32), obs_class=rng.integers(0, 4, n),
                   name="random")



def shown_learning_panel(qtbot, dataset, size: tuple[int, int]):
    """A Learning panel on `dataset`, on screen at `size`, as the responsiveness tests watch it."""
    from viscause_gui.gui.panels.learning import LearningPanel

    state = AppState()
    state.set_dataset(dataset)
    panel = LearningPanel(state, WorkerPool())
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    return panel

def test_the_busy_sign_repaints_a_few_times_a_second_and_only_itself(qtbot):
    """An indeterminate QProgressBar repainted the status bar ~60 times a second during training;
    a QLabel's new text laid out the status bar and the window on every frame."""
    from PySide6.QtWidgets import QLabel, QMainWindow

    from viscause_gui.gui.widgets.busy import BusySign

    window = QMainWindow()
    window.setCentralWidget(QLabel("the window"))
    sign = BusySign()
    window.statusBar().addPermanentWidget(sign)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(50)
    paints, window_events = _Paints(sign), _Events(window, window.statusBar())
    sign.set_busy(True)
    qtbot.wait(1000)
    assert 2 <= paints.count <= 8
    assert window_events.count == 0                 # no layout, no repaint of the window or the bar
    sign.set_busy(False)
    assert not sign.busy


def test_new_classes_do_not_visit_every_row_of_the_browser(qtbot, monkeypatch):
    """dataChanged over all rows made Qt call rowCount() once per row (~50 ms per 10,000 images)."""
    from viscause_gui.gui.panels.browser import BrowserPanel, ThumbnailModel

    calls = [0]
    row_count = ThumbnailModel.rowCount

    def counted(self, *args):
        calls[0] += 1
        return row_count(self, *args)

    monkeypatch.setattr(ThumbnailModel, "rowCount", counted)     # before the model exists (Qt calls it)
    state = AppState()
    browser = BrowserPanel(state)
    qtbot.addWidget(browser)
    browser.resize(400, 600)
    browser.show()
    state.set_dataset(_data(10_000))
    qtbot.wait(50)
    calls[0] = 0
    state.classes_changed.emit()
    qtbot.wait(50)                                            # the repaint of the page on screen
    assert calls[0] < 500


def test_the_readout_computes_spurious_classes_once_per_change(qtbot, monkeypatch):
    """S over the whole data set was recomputed three times per readout refresh (every image shown,
    every retraining): ~100 ms per refresh at 60,000 images."""
    import viscause_gui.gui.state as state_module
    from viscause_gui.gui.panels.readout import PredictionReadout

    passes = [0]
    real = state_module.spurious_classes

    def counted(obs, causal):
        passes[0] += 1
        return real(obs, causal)

    monkeypatch.setattr(state_module, "spurious_classes", counted)
    state = AppState()
    readout = PredictionReadout(state)
    qtbot.addWidget(readout)
    data = _data(2_000)
    state.set_dataset(data)

    class Learned:                       # an experiment as far as the state asks
        causal_labels = (data.obs_class >= 2).astype(np.int64)
        nets: ClassVar[list] = []

    state.set_experiment(Learned())
    for i in range(5):
        state.select([i])
        readout.refresh()
    state.set_experiment(state.experiment)      # a retraining: same classes
    readout.refresh()
    assert passes[0] == 1
    class Relearned:
        causal_labels = (data.obs_class >= 1).astype(np.int64)
        nets: ClassVar[list] = []

    state.set_experiment(Relearned())            # new classes: computed again, once
    readout.refresh()
    readout.refresh()
    assert passes[0] == 2


def test_status_messages_do_not_resize_the_learning_plots(qtbot, grating):
    """A two-line message after a one-line one resized the splitter, and the three plots were then
    drawn from scratch (~50 ms mid-run on 2 cores)."""
    panel = shown_learning_panel(qtbot, grating[1], (560, 700))
    panel.status.setText("Iteration 3: MErr 0.100, MDist 2.00")
    qtbot.wait(20)
    size = panel.charts.loss_plot.size()
    panel.status.setText("Training the generative model of the images (the manipulator searches on the data "
                         "manifold it learns)…")
    qtbot.wait(20)
    assert panel.charts.loss_plot.size() == size
    panel.status.setText("Training the causal net…")
    qtbot.wait(20)
    assert panel.charts.loss_plot.size() == size
    panel.workers.stop_all()


def test_an_iteration_redraws_its_two_plots_in_separate_turns(qtbot, grating):
    """When an iteration ended mid-run, the MErr and MDist plots got their new point together and
    Qt repainted both in one turn of the event loop (10-40 ms each on a busy 2-core machine, back
    to back). The table row shows at once; each plot repaints in a turn of its own."""
    from viscause_gui.core.method.driver import BatchAnswered
    from viscause_gui.core.method.experiment import IterationRecord
    panel = shown_learning_panel(qtbot, grating[1], (900, 700))
    qtbot.wait(50)
    seen: list[tuple[str, int, int]] = []      # (plot painted, MErr points, MDist points) at each paint

    class _Watch(QObject):
        def __init__(self, name, widget):
            super().__init__()
            self.name = name
            widget.installEventFilter(self)

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                seen.append((self.name, len(panel.charts.merr_curve.getData()[0] or []),
                             len(panel.charts.mdist_curve.getData()[0] or [])))
            return False

    watches = [_Watch("merr", panel.charts.merr_plot.viewport()), _Watch("mdist", panel.charts.mdist_plot.viewport())]
    panel.run._goal, panel.run._worker = 3, object()          # as mid-run
    record = IterationRecord(iteration=1, merr=0.25, mdist=3.5, n_train=40, seconds=1.0)
    panel.run.on_event(BatchAnswered("algorithm2", 1, record))
    assert panel.table.rowCount() == 1                         # the row at once
    qtbot.waitUntil(lambda: len(panel.charts.mdist_curve.getData()[0] or []) == 1 and
                    any(name == "mdist" for name, _, _ in seen), timeout=2000)
    first_merr = next(s for s in seen if s[0] == "merr" and s[1] == 1)
    assert first_merr[2] == 0, "the MDist plot changed in the same turn as the MErr plot"
    assert panel.metrics() == ([1], [0.25], [3.5])
    assert list(panel.charts.merr_curve.getData()[1]) == [0.25] and list(panel.charts.mdist_curve.getData()[1]) == [3.5]
    panel.run._worker = None
    del watches
    panel.workers.stop_all()


def test_mid_run_the_classes_tables_and_the_cross_table_fill_in_separate_turns(qtbot, monkeypatch, grating):
    """New classes mid-run (Algorithm 1 answered) filled the class tables and the C x S table (a
    pass over the data set and a thumbnail per cell) in one turn: 8-36 ms on a busy machine on
    top of the other panels' redraws. The C x S table now fills in a later turn, right."""
    from viscause_gui.gui.panels.classes import ClassesPanel

    state, workers = AppState(), WorkerPool()
    data = grating[1]
    state.set_dataset(data)
    panel = ClassesPanel(state, workers)
    qtbot.addWidget(panel)
    panel.resize(700, 800)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: panel.map is not None, timeout=10000)
    assert panel.cross.columnCount() == 2
    seen: list[tuple[int, int]] = []        # (rows of the obs table, columns of C x S) at each obs-table paint

    class _Watch(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                seen.append((panel.obs_table.rowCount(), panel.cross.columnCount()))
            return False

    watch = _Watch()
    panel.obs_table.viewport().installEventFilter(watch)
    monkeypatch.setattr(workers, "is_running", lambda key: key == "learning")     # as mid-run
    data.obs_class = np.zeros(len(data), np.int64)        # one observational class: S = 0 everywhere
    state.classes_changed.emit()
    qtbot.waitUntil(lambda: panel.cross.columnCount() == 1, timeout=2000)
    first = next(s for s in seen if s[0] == 1)
    assert first[1] == 2, "the C x S table filled in the same turn as the class tables"
    counts = np.bincount(data.causal_class, minlength=2)
    for r in range(2):
        assert panel.cross.item(r, 0).text() == str(counts[r])
        assert not panel.cross.item(r, 0).icon().isNull()
    panel.obs_table.viewport().removeEventFilter(watch)
    workers.stop_all()


@pytest.mark.slow
def test_the_training_child_runs_at_a_lower_cpu_priority_than_the_window():
    """On 2 cores the training child, a worker of the window and the GUI thread can all want a
    core: the child is niced, so the scheduler serves the window first."""
    import os
    import time

    import pytest

    from viscause_gui.core.runtime.training_process import CHILD_NICENESS, TrainingProcess

    if not hasattr(os, "getpriority"):
        pytest.skip("no process priorities here")
    process = TrainingProcess()
    process.start()
    try:
        pid = process._proc.pid
        deadline = time.monotonic() + 30
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        while os.getpriority(os.PRIO_PROCESS, pid) == mine and time.monotonic() < deadline:
            time.sleep(0.05)                     # the child renices itself as it starts
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(mine + CHILD_NICENESS, 19)
    finally:
        process.close()


def test_a_training_event_does_not_repaint_inside_its_slot(qtbot, grating):
    """QProgressBar.setValue repaints at once (QWidget::repaint): each training event painted and
    flushed the window inside its slot (one took 44 ms in digit mode). The bar now repaints with
    the event loop's next turn, and shows the new value."""
    from viscause_gui.core.method.experiment import TrainEvent
    from viscause_gui.core.nets.training import TrainProgress
    panel = shown_learning_panel(qtbot, grating[1], (700, 600))
    qtbot.wait(50)
    paints = _Paints(panel.progress)
    panel.run._goal, panel.run._worker = 1, object()          # as mid-run
    panel.run.on_event(TrainEvent(1, 0, 1, TrainProgress(3, 10, 0.5, 0.6, 0.6)))
    assert paints.count == 0, "the progress bar painted inside the slot"
    qtbot.waitUntil(lambda: paints.count > 0, timeout=2000)
    assert panel.progress.value() == 300 and "epoch 3/10" in panel.progress.text()
    panel.run._worker = None
    panel.workers.stop_all()
