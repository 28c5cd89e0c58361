"""Story 6: observational vs causal partition, the map of the data and the C x S table."""
from __future__ import annotations

import numpy as np
import pytest

from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.experiments.grating import has_vbar
from viscause_gui.core.experiments.grating import TruthOracle
from viscause_gui.core.method.driver import drive
from viscause_gui.gui.panels.classes import ClassesPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool


@pytest.fixture
def panel(qtbot, grating):
    state, workers = AppState(), WorkerPool()
    state.set_dataset(grating[1])
    panel = ClassesPanel(state, workers)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.map is not None, timeout=10000)
    yield panel
    workers.stop_all()


def column(table, col: int) -> list[str]:
    return [table.item(r, col).text() for r in range(table.rowCount())]


def test_partition_tables_match_the_data(panel, grating):
    data = grating[1]
    classes, counts = np.unique(data.obs_class, return_counts=True)
    assert column(panel.obs_table, 0) == [str(c) for c in classes]
    assert column(panel.obs_table, 1) == [str(n) for n in counts]
    assert column(panel.obs_table, 2) == [f"{data.p_obs[data.obs_class == c].mean():.2f}" for c in classes]
    _causal, ccounts = np.unique(data.causal_class, return_counts=True)
    assert column(panel.causal_table, 1) == [str(n) for n in ccounts]
    assert column(panel.causal_table, 2) == ["0.25", "0.85"]          # P(T=1|man): 0.1 + 0.3/2 (+ 0.6)
    assert "ground truth" in panel.header.text()


def test_cross_table_counts_and_cell_selection(qtbot, panel, grating):
    data = grating[1]
    # GRATING: within each causal class (h-bar or not), S separates v-bar from no v-bar
    vbar = has_vbar(data.images)
    for r, c in np.ndindex(2, 2):
        expected = np.sum((data.causal_class == r) & (vbar == bool(c)))
        assert panel.cross.item(r, c).text() == str(expected)
        assert not panel.cross.item(r, c).icon().isNull()
    with qtbot.waitSignal(panel.state.selection_changed):
        panel.cross.cellClicked.emit(1, 0)
    expected = np.flatnonzero((data.causal_class == 1) & ~vbar)
    np.testing.assert_array_equal(panel.state.selection, expected)
    assert panel.state.current_index == expected[0]


def test_map_with_a_trained_net_and_point_click(qtbot, panel, grating):
    gm, data = grating
    exp = Experiment(data, ExperimentConfig(iterations=1, queries=5, epochs=3))
    for _ in drive(exp, TruthOracle(gm), None):
        pass
    with qtbot.waitSignal(panel.map_ready, timeout=10000):
        panel.state.set_experiment(exp)
    assert "learned by Algorithm 1" in panel.header.text()
    assert "hidden layer" in panel.map.source
    assert sum(len(item.data) for item in panel._scatters.values()) == len(data) == len(panel.map.index)
    assert column(panel.obs_table, 3)[0] == f"{exp.obs_answers[0]:.2f}"    # the oracle's answer per class
    item = list(panel._scatters.values())[-1]
    spot = item.points()[3]
    with qtbot.waitSignal(panel.state.selection_changed):
        item.sigClicked.emit(item, [spot], None)
    assert list(panel.state.selection) == [int(spot.data())]
    assert len(panel.selected_item.data) == 1                              # the selection ring


def test_map_subsamples_large_data_deterministically():
    from viscause_gui.gui.models.summaries import data_map, subsample

    a, b = subsample(12000, 5000), subsample(12000, 5000)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 5000 and np.all(np.diff(a) > 0)
    images = np.random.default_rng(0).random((6000, 4, 4)).astype(np.float32)
    m = data_map(images)
    assert m.xy.shape == (5000, 2) and "pixels" in m.source


def test_no_data_no_crash(qtbot):
    panel = ClassesPanel(AppState(), WorkerPool())
    qtbot.addWidget(panel)
    assert "Load a data set" in panel.header.text()
    assert panel.cross.rowCount() == 0


def test_a_snapshot_with_the_same_classes_does_not_recolour(qtbot, grating):
    """Algorithm 2 hands over new nets every iteration; the classes (Algorithm 1's) stay."""

    gm, data = grating
    state = AppState()
    state.set_dataset(data)
    exp = Experiment(data, ExperimentConfig(iterations=1, queries=5, epochs=2))
    for _ in drive(exp, TruthOracle(gm), None):
        pass
    exp.causal_labels = 1 - exp.causal_labels         # differ from the data set's own classes
    with qtbot.waitSignals([state.classes_changed, state.model_changed]):
        state.set_experiment(exp)
    with qtbot.assertNotEmitted(state.classes_changed), qtbot.waitSignal(state.model_changed):
        state.set_experiment(exp.snapshot())
    other = exp.snapshot()
    other.causal_labels = exp.causal_labels.copy()     # equal contents, another array: still the same
    with qtbot.assertNotEmitted(state.classes_changed):
        state.set_experiment(other)
    changed = exp.snapshot()
    changed.causal_labels = 1 - exp.causal_labels
    with qtbot.waitSignal(state.classes_changed):
        state.set_experiment(changed)
