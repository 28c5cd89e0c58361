"""File → Open sweep… as a person uses it: the menu entry, a folder chosen, the table and the
figures shown, a cell chosen and its run folder shown in the file manager."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog

from tests.gui.conftest import pick_text
from tests.gui.test_main_window import make_window
from tests.models.test_sweep_view import make_sweep
from viscause_gui.core.store.sweep import MERR_FIGURE
from viscause_gui.core.store.sweep_results import write_figures
from viscause_gui.gui.models.sweep_view import CELL_FIGURE_TITLE, CELL_MANIPULATIONS_TITLE

pytestmark = pytest.mark.slow        # the main window


@pytest.fixture
def sweep(tmp_path) -> Path:
    folder = make_sweep(tmp_path / "sweep")
    write_figures(folder, [])                       # real PNGs of the summary (empty: no cell has run)
    (folder / "cells" / "seed-0" / "history.png").write_bytes((folder / MERR_FIGURE).read_bytes())
    return folder


def open_from_menu(qtbot, window, folder: Path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    window.actions["open_sweep"].trigger()
    return window.sweep_dialog


def test_the_menu_opens_a_sweep_and_shows_a_cells_run_folder(qtbot, settings, sweep, monkeypatch):
    window = make_window(qtbot, settings, load_default=False)
    dialog = open_from_menu(qtbot, window, sweep, monkeypatch)
    assert dialog is not None and dialog.isVisible()
    assert dialog.summary.text().startswith("2 cells: 1 done, 1 failed")
    table = dialog.table
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == [
        "cell", "status", "run", "seed", "merr"]
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == ["seed-0", "seed-1"]
    assert not dialog.picture.pixmap().isNull()                 # the first summary figure
    assert not dialog.show_folder.isEnabled()                   # no cell chosen yet

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    rect = table.visualItemRect(table.item(0, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dialog.show_folder.isEnabled()
    pick_text(qtbot, dialog.figures, CELL_FIGURE_TITLE)
    assert dialog.picture.text() == "" and not dialog.picture.pixmap().isNull()
    qtbot.mouseClick(dialog.show_folder, Qt.MouseButton.LeftButton)
    assert [Path(u.toLocalFile()) for u in opened] == [sweep / "cells" / "seed-0"]

    rect = table.visualItemRect(table.item(1, 1))               # a failed cell that left no folder
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dialog.picture.text() == "no figure: choose a cell that has run"
    qtbot.mouseClick(dialog.show_folder, Qt.MouseButton.LeftButton)
    assert len(opened) == 1


def test_a_chosen_cells_last_manipulations_show_in_pairs(qtbot, settings, sweep, monkeypatch):
    rng = np.random.default_rng(0)
    originals = rng.random((20, 10, 10)).astype(np.float32)
    np.savez_compressed(sweep / "cells" / "seed-0" / "iteration_03.npz", originals=originals,
                        manipulated=1 - originals, targets=np.zeros(20, np.int64))
    window = make_window(qtbot, settings, load_default=False)
    dialog = open_from_menu(qtbot, window, sweep, monkeypatch)
    pick_text(qtbot, dialog.figures, CELL_MANIPULATIONS_TITLE)
    assert dialog.picture.pixmap().isNull()
    assert dialog.picture.text() == "no manipulations: choose a cell that has run Algorithm 2"
    table = dialog.table
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(0, 1)).center())
    shown = dialog.picture.pixmap()
    assert not shown.isNull() and dialog.picture.text() == ""
    assert shown.width() > 4 * shown.height()                   # 12 pairs side by side, two rows
    assert dialog.picture.toolTip() == "iteration 3: start images (top) and their manipulations (bottom)"
    image = shown.toImage()                                     # the first start image, then its manipulation
    top, bottom = image.pixelColor(6, 6), image.pixelColor(6, 6 + shown.height() // 2)
    assert top != bottom


def test_a_folder_that_is_not_a_sweep_says_so(qtbot, settings, tmp_path, monkeypatch):
    window = make_window(qtbot, settings, load_default=False)
    assert open_from_menu(qtbot, window, tmp_path, monkeypatch) is None
    assert window.messages == [("warning", "Open sweep", f"{tmp_path}: not a sweep folder (no readable sweep.json: "
                                f"[Errno 2] No such file or directory: '{tmp_path / 'sweep.json'}')")]
