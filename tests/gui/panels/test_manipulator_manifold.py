"""The manipulator panel on grey images: the data-manifold search, the pixel search, the path strip."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.core.method.test_manifold_experiment import BarOracle
from tests.core.nets.test_generative import bars
from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.method.manipulator_model import MANIFOLD, PIXELS
from viscause_gui.gui.panels.manipulator import PATH_STEPS, ManipulatorPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool


@pytest.fixture(scope="module")
def trained():
    images, labels = bars(400, seed=4)
    data = Dataset(images=images, obs_class=labels, name="bars")
    exp = Experiment(data, ExperimentConfig(iterations=1, queries=20, seed=0, manipulator="manifold",
                                            generative_epochs=25, generative_code=8, epochs=10, augment_shifts=0,
                                            net={"arch": "mlp", "hidden": [32]}, batch_size=32))
    exp.run(BarOracle())
    return data, exp


def shown_panel(qtbot, data: Dataset, exp: Experiment):
    """The manipulator panel shown with `data` loaded and `exp` set, as the app shows it (a generator:
    yields the panel, then stops its workers)."""
    state, workers = AppState(), WorkerPool()
    state.set_dataset(data)
    panel = ManipulatorPanel(state, workers)
    qtbot.addWidget(panel)
    panel.show()
    state.set_experiment(exp)
    yield panel
    workers.stop_all()


@pytest.fixture
def panel(qtbot, trained):
    yield from shown_panel(qtbot, *trained)


def _choose(qtbot, combo, data) -> None:
    """Pick an item of a combo box as a person does: click it, then arrow keys and Return."""
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)
    combo.hidePopup()
    while combo.currentData() != data:
        qtbot.keyClick(combo, Qt.Key.Key_Down if combo.findData(data) > combo.currentIndex() else Qt.Key.Key_Up)


@pytest.mark.slow
def test_the_manifold_search_is_the_default_and_shows_its_path(qtbot, panel):
    assert panel.search_combo.isEnabled() and panel.search_combo.currentData() == MANIFOLD
    qtbot.waitUntil(lambda: panel.manipulation.result is not None, timeout=10000)
    assert panel.manipulation.result.codes is not None
    assert panel.path_box.isVisible()
    first, last = (np.asarray(panel.path_items[i].image) for i in (0, PATH_STEPS - 1))
    np.testing.assert_allclose(1.0 - first, panel.state.current_image, atol=1e-5)   # starts at the original
    np.testing.assert_allclose(1.0 - last, panel.manipulation.result.images[0], atol=1e-4)      # ends at the result


def test_choosing_pixels_searches_pixels_and_hides_the_path(qtbot, panel):
    jobs = panel.manipulation
    qtbot.waitUntil(lambda: jobs.result is not None, timeout=10000)
    manifold_image = jobs.result.images[0].copy()
    _choose(qtbot, panel.search_combo, PIXELS)
    qtbot.waitUntil(lambda: jobs.result is not None and jobs.result.codes is None, timeout=10000)
    assert not panel.path_box.isVisible()
    assert not np.allclose(jobs.result.images[0], manifold_image)
    _choose(qtbot, panel.search_combo, MANIFOLD)
    qtbot.waitUntil(lambda: jobs.result is not None and jobs.result.codes is not None, timeout=10000)
    np.testing.assert_allclose(jobs.result.images[0], manifold_image, atol=1e-6)   # same search, same result


def test_binary_data_offers_only_pixels(qtbot):
    from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
    gm = GratingModel()
    data = gm.sample(300, 0)
    exp = Experiment(data, ExperimentConfig(iterations=1, queries=5, epochs=4, seed=0, manipulator="manifold"))
    exp.run(TruthOracle(gm))
    state, workers = AppState(), WorkerPool()
    state.set_dataset(data)
    panel = ManipulatorPanel(state, workers)
    qtbot.addWidget(panel)
    state.set_experiment(exp)
    assert panel.search_combo.currentData() == PIXELS and not panel.search_combo.isEnabled()
    workers.stop_all()


def test_a_new_model_keeps_the_search_a_person_chose(qtbot, panel, trained):
    """After each training run the panel gets a new model; choosing pixels must not snap back."""
    jobs = panel.manipulation
    _, exp = trained
    _choose(qtbot, panel.search_combo, PIXELS)
    panel.state.set_experiment(exp)                     # what the end of an iteration does
    assert panel.search_combo.currentData() == PIXELS and panel.model.search == PIXELS
    qtbot.waitUntil(lambda: jobs.result is not None and jobs.result.codes is None, timeout=10000)


def test_the_images_stay_put_when_the_path_strip_hides(qtbot, panel):
    qtbot.waitUntil(lambda: panel.manipulation.result is not None and panel.path_box.isVisible(), timeout=10000)
    panel.resize(500, 700)
    qtbot.wait(50)
    where = panel.result_item.getViewWidget().geometry()
    _choose(qtbot, panel.search_combo, PIXELS)
    qtbot.waitUntil(lambda: panel.manipulation.result is not None and not panel.path_box.isVisible(), timeout=10000)
    qtbot.wait(50)
    assert panel.result_item.getViewWidget().geometry() == where


def test_the_path_strip_is_decoded_in_the_worker_not_on_the_gui_thread(qtbot, panel, monkeypatch):
    """Decoding the strip through the generative model took the GUI thread several ms per α."""
    import threading

    from viscause_gui.core.method.manipulator_model import ManipulatorModel

    jobs = panel.manipulation
    qtbot.waitUntil(lambda: jobs.result is not None, timeout=10000)
    threads: list[int] = []
    real = ManipulatorModel.path

    def noted(self, *args, **kwargs):
        threads.append(threading.get_ident())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ManipulatorModel, "path", noted)
    jobs.prefetch = False
    for alpha in (0.2, 0.8, 0.2):                      # new, new, then from the cache
        panel.alpha_slider.setValue(alpha)
        qtbot.waitUntil(lambda a=alpha: jobs.result_key is not None and jobs.result_key[1] == a, timeout=10000)
        assert panel.path_box.isVisible()
    assert threads and threading.get_ident() not in threads     # the sweep may decode more
    last = np.asarray(panel.path_items[PATH_STEPS - 1].image)
    np.testing.assert_allclose(1.0 - last, jobs.result.images[0], atol=1e-4)
