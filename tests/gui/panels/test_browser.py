"""The thumbnail browser: virtualised at 60,000 images, class filters, selection both ways."""
from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.gui.panels.browser import INDEX_ROLE, BrowserPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.widgets.images import ink_qimage


@pytest.fixture
def grating_state() -> AppState:
    st = AppState()
    model = GratingModel()
    st.set_dataset(model.sample(300, 1))
    return st


def learn_the_truth(state: AppState) -> None:
    """As if Algorithm 1 had learned GRATING's true causal classes (the browser reads only these)."""
    state.set_experiment(SimpleNamespace(causal_labels=state.dataset.causal_class.copy()))


@pytest.fixture
def browser(qtbot, grating_state) -> BrowserPanel:
    panel = BrowserPanel(grating_state)
    qtbot.addWidget(panel)
    panel.resize(500, 400)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_opens_60k_images_quickly(qtbot):
    rng = np.random.default_rng(0)
    images = (rng.random((60_000, 10, 10)) < 0.1).astype(np.float32)
    st = AppState()
    st.set_dataset(Dataset(images=images, obs_class=rng.integers(0, 4, 60_000)))
    start = time.perf_counter()
    panel = BrowserPanel(st)
    qtbot.addWidget(panel)
    panel.resize(800, 600)
    panel.show()
    qtbot.waitExposed(panel)
    panel.grab()                                   # paints the visible thumbnails
    elapsed = time.perf_counter() - start
    assert panel.model.rowCount() == 60_000
    assert elapsed < 5.0, f"opening 60k thumbnails took {elapsed:.2f} s"
    assert len(panel.delegate._cache) < 500         # only what is on screen was rendered
    bar = panel.view.verticalScrollBar()
    bar.setValue(bar.maximum())
    panel.grab()
    assert panel.view.indexAt(panel.view.viewport().rect().center()).row() > 59_000


def test_thumbnails_draw_ink_dark_on_white():
    image = np.zeros((4, 4), np.float32)
    image[1, 2] = 1.0
    qimg = ink_qimage(image)
    assert qimg.pixelColor(0, 0).lightness() == 255
    assert qimg.pixelColor(2, 1).lightness() == 0


def test_badges_know_the_classes(browser, grating_state):
    learn_the_truth(grating_state)
    model, shown = browser.model, browser.shown
    i = model.index(7).data(INDEX_ROLE)
    assert shown.class_of("obs", i) == grating_state.dataset.obs_class[i]
    assert shown.class_of("causal", i) == grating_state.dataset.causal_class[i]
    assert shown.class_of("spurious", i) is not None
    tip = model.index(7).data(Qt.ItemDataRole.ToolTipRole)
    assert "causal class C" in tip and "spurious class S" in tip
    assert not browser.grab().isNull()


def test_filter_by_class(browser, grating_state):
    learn_the_truth(grating_state)
    obs = grating_state.dataset.obs_class
    browser.set_filter("obs", 2)
    shown = browser.visible_indices()
    assert len(shown) == int(np.sum(obs == 2)) > 0
    assert np.all(obs[shown] == 2)
    assert "of 300" in browser.count_label.text()
    browser.set_filter("causal", 0)                 # obs 2 = h-bar only: none have C = 0
    assert browser.model.rowCount() == 0
    browser.set_filter("obs", None)
    causal = grating_state.dataset.causal_class
    assert np.all(causal[browser.visible_indices()] == 0)
    browser.set_filter("causal", None)
    assert browser.model.rowCount() == 300


def test_filter_combos_list_the_classes(browser):
    combo = browser.filters["obs"]
    assert [combo.itemText(k) for k in range(combo.count())] == ["all", "0", "1", "2", "3"]


def test_selecting_a_thumbnail_opens_it(qtbot, browser, grating_state):
    index = browser.model.index(12)
    rect = browser.view.visualRect(index)
    qtbot.mouseClick(browser.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert grating_state.selection.tolist() == [12]
    assert grating_state.current_index == 12
    np.testing.assert_array_equal(grating_state.current_image, grating_state.dataset.images[12])


def test_selection_in_a_filtered_view_maps_to_dataset_indices(browser, grating_state):
    browser.set_filter("obs", 3)
    sm = browser.view.selectionModel()
    sm.setCurrentIndex(browser.model.index(2), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    expected = int(browser.visible_indices()[2])
    assert grating_state.current_index == expected
    assert grating_state.dataset.obs_class[expected] == 3


def test_selection_from_another_panel_updates_the_view(browser, grating_state):
    grating_state.select([40, 41, 42, 100])
    rows = sorted(ix.row() for ix in browser.view.selectionModel().selectedIndexes())
    assert rows == [40, 41, 42, 100]
    assert grating_state.current_index == 40


def test_thumbnail_cache_is_bounded(browser):
    browser.delegate.cache_size = 10
    browser.delegate.clear_cache()
    for i in range(30):
        browser.delegate.thumbnail(i)
    assert len(browser.delegate._cache) == 10
    browser.set_thumb_size(32)
    assert browser.delegate.thumb == 32 and not browser.delegate._cache
