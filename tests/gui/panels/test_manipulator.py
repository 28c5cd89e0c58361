"""Story 4: the α slider, the target class and the oracle queue of the manipulator panel."""
from __future__ import annotations

import numpy as np
import pytest

from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
from viscause_gui.core.method.driver import drive
from viscause_gui.core.method.experiment import MANUAL, Experiment, ExperimentConfig
from viscause_gui.gui.panels.manipulator import ManipulatorPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool


@pytest.fixture(scope="module")
def trained():
    """A GRATING experiment after Algorithm 1 and the first training (nets exist)."""
    gm = GratingModel()
    data = gm.sample(500, 0)
    exp = Experiment(data, ExperimentConfig(iterations=1, queries=5, epochs=8, seed=0))
    for _ in drive(exp, TruthOracle(gm), None):
        pass
    assert exp.nets
    return gm, data, exp


@pytest.fixture
def panel(qtbot, trained):
    _gm, data, exp = trained
    state, workers = AppState(), WorkerPool()
    state.set_dataset(data)
    panel = ManipulatorPanel(state, workers)
    qtbot.addWidget(panel)
    state.set_experiment(exp)
    yield panel
    workers.stop_all()


def shown_image(panel: ManipulatorPanel) -> np.ndarray:
    """The manipulated image on the ImageItem, back in ink units."""
    return 1.0 - np.asarray(panel.result_item.image)


def wait_alpha(qtbot, panel: ManipulatorPanel, alpha: float) -> None:
    jobs = panel.manipulation
    qtbot.waitUntil(lambda: jobs.result_key is not None and jobs.result_key[1] == alpha, timeout=10000)


def test_without_a_net_the_panel_says_what_to_do(qtbot, trained):
    _gm, data, _ = trained
    state = AppState()
    state.set_dataset(data)
    panel = ManipulatorPanel(state, WorkerPool())
    qtbot.addWidget(panel)
    assert panel.stack.currentIndex() == 0
    assert "Train a causal net first" in panel.message.text()


def test_alpha_slider_changes_the_manipulated_image(qtbot, panel):
    image = panel.state.current_image
    panel.alpha_slider.setValue(0.0)
    wait_alpha(qtbot, panel, 0.0)
    at0 = shown_image(panel)
    assert panel.manipulation.result.distance[0] > 0 and not np.array_equal(at0, image)
    np.testing.assert_allclose(at0, panel.manipulation.result.images[0], atol=1e-6)
    panel.alpha_slider.setValue(1.0)
    wait_alpha(qtbot, panel, 1.0)
    np.testing.assert_allclose(shown_image(panel), image, atol=1e-6)   # α = 1: stay where you are
    assert "Hamming distance: 0" in panel.distance_label.text()
    diff = np.asarray(panel.diff_item.image)
    assert diff.shape == (*image.shape, 3) and np.all(diff == 255)        # no change: white


def test_readouts_wrap_instead_of_widening_the_panel(qtbot, panel):
    """A wider minimum would widen the whole dock area mid-run and repaint every plot in it."""
    panel.alpha_slider.setValue(0.0)
    wait_alpha(qtbot, panel, 0.0)
    labels = (panel.original_label, panel.result_label, panel.distance_label)
    assert all(len(label.text()) > 20 for label in labels)
    assert all(label.minimumSizeHint().width() < 150 for label in labels)
    assert panel.minimumSizeHint().width() <= 420


def test_newer_alpha_supersedes_older(qtbot, panel):
    panel.manipulation.prefetch = False                 # every α below is computed, none comes from the cache
    shown: list[float] = []
    panel.result_shown.connect(shown.append)
    for alpha in (0.1, 0.2, 0.3, 0.9):     # no event processing in between: a fast drag
        panel.alpha_slider.setValue(alpha)
    wait_alpha(qtbot, panel, 0.9)
    qtbot.wait(300)                        # a late result for an older α must not land
    assert shown == [0.9]
    assert panel.manipulation.result_key[1] == 0.9
    model = panel.state.experiment.manipulator_model()
    expected = model.manipulate(panel.state.current_image[None], np.array([panel.manipulation.result_key[0]]), 0.9)
    np.testing.assert_allclose(shown_image(panel), expected.images[0], atol=1e-6)


def test_slider_steps_are_prefetched(qtbot, panel):
    from viscause_gui.gui.controllers.manipulation import SWEEP_ALPHAS

    wait_alpha(qtbot, panel, 0.5)
    target = panel.manipulation.result_key[0]
    qtbot.waitUntil(lambda: all((target, float(a)) in panel.manipulation.cache for a in SWEEP_ALPHAS), timeout=20000)
    shown: list[float] = []
    panel.result_shown.connect(shown.append)
    panel.alpha_slider.setValue(0.25)
    assert shown == [0.25]                  # on screen at once, no worker round trip
    model = panel.state.experiment.manipulator_model()
    expected = model.manipulate(panel.state.current_image[None], np.array([target]), 0.25)
    np.testing.assert_allclose(shown_image(panel), expected.images[0], atol=1e-6)


def test_target_combo(qtbot, panel):
    predicted = int(panel.manipulation.probs.argmax())
    assert panel.target_combo.currentIndex() == 0          # auto
    assert panel.manipulation.target() != predicted                     # the class other than the prediction
    panel.alpha_slider.setValue(0.0)
    for k in range(panel.model.n_classes):
        panel.target_combo.setCurrentIndex(panel.target_combo.findData(k))
        qtbot.waitUntil(lambda k=k: panel.manipulation.result_key == (k, 0.0), timeout=10000)
        assert f"P(C = {k})" in panel.result_label.text()
    own = panel.target_combo.findData(predicted)
    panel.target_combo.setCurrentIndex(own)
    qtbot.waitUntil(lambda: panel.manipulation.result_key == (predicted, 0.0), timeout=10000)
    assert panel.manipulation.result.predicted_class[0] == predicted      # stays in (pushed deeper into) its class


def test_a_lesson_names_the_target_as_a_person_picks_it(qtbot, panel):
    """A lesson's `target` setting (teaching.WindowStage.apply_settings) picks that class in the Target list."""
    k = panel.model.n_classes - 1
    assert panel.choose_target(k)
    assert panel.target_combo.currentData() == k
    qtbot.waitUntil(lambda: panel.manipulation.result_key is not None and panel.manipulation.result_key[0] == k,
                    timeout=10000)
    assert not panel.choose_target(panel.model.n_classes)          # no such class: the choice stays
    assert panel.target_combo.currentData() == k


def test_send_result_and_selection_to_the_queue(qtbot, panel):
    state = panel.state
    panel.alpha_slider.setValue(0.2)
    wait_alpha(qtbot, panel, 0.2)
    with qtbot.waitSignal(state.queue.changed, timeout=2000):
        panel.send_button.click()
    assert len(state.queue) == 1
    batch = state.queue[0]
    assert batch.kind == MANUAL and len(batch) == 1 and batch.answers is None
    np.testing.assert_array_equal(batch.images[0], panel.manipulation.result.images[0])
    np.testing.assert_array_equal(batch.originals[0], state.current_image)
    assert batch.targets[0] == panel.manipulation.result_key[0] and batch.source_index[0] == state.current_index

    state.select([3, 4, 5])
    with qtbot.waitSignal(state.queue.changed, timeout=20000):
        panel.selection_button.click()
    batch = state.queue[1]
    assert len(batch) == 3 and list(batch.source_index) == [3, 4, 5]
    np.testing.assert_array_equal(batch.originals, state.dataset.images[[3, 4, 5]])
    probs = panel.model.predict(batch.originals)
    assert np.all(batch.targets != probs.argmax(1))          # auto: away from each image's class
    assert panel.selection_button.isEnabled()
    assert "waiting for the oracle" in panel.status.text()


def test_new_image_shows_its_own_manipulation(qtbot, panel):
    panel.alpha_slider.setValue(0.0)
    wait_alpha(qtbot, panel, 0.0)
    panel.state.select([7])
    wait_alpha(qtbot, panel, 0.0)
    np.testing.assert_array_equal(1.0 - np.asarray(panel.original_item.image), panel.state.dataset.images[7])
    assert panel.manipulation.result.images[0].shape == panel.state.dataset.images[7].shape
    np.testing.assert_allclose(shown_image(panel), panel.manipulation.result.images[0])


def test_the_sweep_resumes_once_when_a_training_run_ends(qtbot, panel):
    """A run starting stops the background sweep and its end restarts it: once (starting the
    sweep changes the workers again, which used to restart it without end: RecursionError)."""
    import threading

    wait_alpha(qtbot, panel, 0.5)
    panel.manipulation.cache.clear()                     # so that the sweep has work to do when the run ends
    release = threading.Event()

    def training():
        release.wait(5)
        yield 1

    starts = []
    real_start = panel.workers.start
    panel.workers.start = lambda key, *a, **k: (starts.append(key), real_start(key, *a, **k))[1]
    real_start("learning", training)
    qtbot.waitUntil(lambda: panel.workers.is_running("learning"), timeout=2000)
    assert not panel.workers.is_running("manipulate-sweep")
    release.set()
    qtbot.waitUntil(lambda: not panel.workers.is_running("learning"), timeout=5000)
    qtbot.waitUntil(lambda: "manipulate-sweep" in starts, timeout=5000)
    qtbot.wait(100)
    assert starts.count("manipulate-sweep") == 1


def test_the_alpha_slider_moves_by_keyboard_as_its_tooltip_says(qtbot, panel):
    """superqt's float slider ignored every key; a person clicks the handle and uses the arrows."""
    from PySide6.QtCore import Qt
    panel.show()
    inner = panel.alpha_slider._slider
    qtbot.mouseClick(inner, Qt.MouseButton.LeftButton, pos=inner.rect().center())
    start = panel.alpha_slider.value()
    qtbot.keyClick(inner, Qt.Key.Key_Right)
    assert panel.alpha_slider.value() == pytest.approx(start + 0.05)
    qtbot.keyClick(inner, Qt.Key.Key_Left)
    qtbot.keyClick(inner, Qt.Key.Key_Left)
    assert panel.alpha_slider.value() == pytest.approx(start - 0.05)
    qtbot.keyClick(inner, Qt.Key.Key_End)
    wait_alpha(qtbot, panel, 1.0)                        # the manipulation follows the keys
    qtbot.keyClick(inner, Qt.Key.Key_Home)
    assert panel.alpha_slider.value() == 0.0
    assert "arrow keys" in panel.alpha_slider.toolTip()


def test_the_status_bar_says_what_runs_in_plain_words(qtbot, panel):
    said = []
    panel.workers.busy_changed.connect(said.append)
    panel.alpha_slider.setValue(0.35)
    wait_alpha(qtbot, panel, 0.35)
    qtbot.waitUntil(lambda: any("for the α slider" in s for s in said), timeout=5000)
    assert not any("manipulate-" in s for s in said)


def test_a_narrow_readout_never_breaks_inside_a_formula(qtbot, panel):
    """'P(T=1|' on one line and 'man i)' on the next, seen in a narrow dock."""
    from PySide6.QtGui import QTextLayout
    text = panel.original_label.text()
    layout = QTextLayout(text, panel.original_label.font())
    layout.beginLayout()
    lines = []
    while (line := layout.createLine()).isValid():
        line.setLineWidth(60)
        lines.append(text[line.textStart():line.textStart() + line.textLength()].strip())
    layout.endLayout()
    assert len(lines) >= 2                               # it does wrap, between the parts
    formula = [line for line in lines if "P(T=1|" in line]
    assert len(formula) == 1 and "man" in formula[0] and "≈" in formula[0]
