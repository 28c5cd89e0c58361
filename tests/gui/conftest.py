"""GUI tests run offscreen; QSettings go to a temporary folder."""
from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QSettings, Qt

from viscause_gui.gui.app import configure_pyqtgraph, warm_up_torch
from viscause_gui.gui.workers import (configure_gui_threads, install_foreground_gate,
                                      install_gui_thread_garbage_collector)

# in time after the imports: Qt reads it when pytest-qt's qapp fixture makes the QApplication
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

configure_gui_threads()
configure_pyqtgraph()
warm_up_torch()


@pytest.fixture(scope="session", autouse=True)
def _foreground_gate(qapp):
    """As in the app: workers' loops give way while the GUI thread is busy (core.foreground)."""
    install_foreground_gate(qapp)


@pytest.fixture(scope="package", autouse=True)
def _garbage_collected_on_the_gui_thread(qapp):
    """As in the app: a worker thread must never collect (and so delete) a closed window's widgets."""
    collector = install_gui_thread_garbage_collector(qapp)
    yield collector
    collector.uninstall()


@pytest.fixture
def grating():
    """(GRATING model, 500 of its images, seed 0): fresh for each test (panels may annotate it)."""
    from viscause_gui.core.experiments.grating import GratingModel

    gm = GratingModel()
    return gm, gm.sample(500, 0)


@pytest.fixture
def settings(tmp_path) -> QSettings:
    """A QSettings file of its own for each test."""
    return QSettings(str(tmp_path / "viscause_gui.ini"), QSettings.Format.IniFormat)


@pytest.fixture(autouse=True)
def _join_workers(qtbot):
    """After each test, let background workers end while the widgets still exist.

    (This fixture uses qtbot, so it is torn down before qtbot closes and deletes the widgets;
    a worker that outlived its test would otherwise deliver its result to a deleted widget
    during a later test.)
    """
    yield
    from PySide6.QtCore import QCoreApplication, QThreadPool

    pool = QThreadPool.globalInstance()
    for _ in range(3):
        pool.waitForDone(10_000)
        QCoreApplication.processEvents()
        if pool.activeThreadCount() == 0:
            break


def open_main_window(qtbot, settings):
    """The main window as a person sees it (shown, large enough for every panel), with its
    message boxes collected in `window.messages` instead of waiting for a click."""
    from viscause_gui.gui.main_window import MainWindow

    window = MainWindow(settings=settings)
    window.messages = []
    window.show_message = lambda level, title, text: window.messages.append((level, title, text))
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    qtbot.waitExposed(window)
    return window


def pick_item(qtbot, combo, key: str) -> None:
    """Open a combo box's list and click the item whose data is `key`, as a person does."""
    pick_row(qtbot, combo, combo.findData(key))


def pick_text(qtbot, combo, text: str) -> None:
    """Open a combo box's list and click the item that reads `text`, as a person does."""
    pick_row(qtbot, combo, combo.findText(text))


def pick_row(qtbot, combo, row: int) -> None:
    assert row >= 0, "no such item in the list"
    combo.showPopup()
    view = combo.view()
    index = view.model().index(row, 0)
    qtbot.waitUntil(lambda: view.isVisible() and view.visualRect(index).height() > 0, timeout=2000)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=2000)


@pytest.fixture
def shown_window(qtbot, settings):
    """The main window as a person sees it (open_main_window)."""
    return open_main_window(qtbot, settings)
