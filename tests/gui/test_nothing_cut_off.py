"""What a person reads is not cut off: a first start fits the screen, and at a laptop's
1366 x 768 every table header of every panel shows its whole text (a header like
"P(T=1|ma…" hides what the column is)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QHeaderView, QTabBar

from viscause_gui.gui.main_window import MainWindow

WAIT_MS = 30_000


def test_a_first_start_fits_the_screen(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    free, least = window.screen().availableGeometry(), window.minimumSizeHint()
    assert window.width() <= max(free.width(), least.width())
    assert window.height() <= max(free.height(), least.height())


def _cut_headers(dock: QDockWidget) -> list[str]:
    """'panel text (shown px < needed px)' for each shown header section of the panel too narrow
    for its text, and each table whose columns run past its edge (they would need scrolling)."""
    cut = []
    for header in dock.findChildren(QHeaderView):
        if not header.isVisible() or header.orientation() != Qt.Orientation.Horizontal:
            continue
        model, panel = header.model(), dock.windowTitle()
        if header.length() > header.width() + 1:
            cut.append(f"{panel}: columns run {header.length() - header.width()} px past the table")
        for i in range(header.count()):
            if header.isSectionHidden(i):
                continue
            text = str(model.headerData(i, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) or "")
            needed = header.sectionSizeFromContents(i).width()
            if text and header.sectionSize(i) < needed:
                cut.append(f"{panel} {text!r} ({header.sectionSize(i)} px < {needed} px)")
    return cut


def _dock_shown_by(window: MainWindow, bar: QTabBar, i: int) -> QDockWidget:
    """The panel a tab shows: a dock tab's own panel, or the panel a tab inside a panel belongs to."""
    for dock in window.docks.values():
        if dock.windowTitle() == bar.tabText(i):
            return dock
    widget = bar
    while not isinstance(widget, QDockWidget):
        widget = widget.parentWidget()
    return widget


@pytest.mark.slow
def test_no_table_header_is_cut_off_on_a_laptop_screen(qtbot, shown_window):
    window = shown_window
    window.resize(1366, 768)
    learning = window.panels["learning"]
    learning.epochs_spin.setValue(2)
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        qtbot.mouseClick(learning.buttons["run1"], Qt.MouseButton.LeftButton)
    cut, seen = [], set()
    for bar in window.findChildren(QTabBar):
        for i in range(bar.count()):
            if bar.isVisible() and bar.isTabEnabled(i):
                qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(i).center())
                qtbot.wait(50)
                dock = _dock_shown_by(window, bar, i)
                seen.add(dock.windowTitle())
                cut += _cut_headers(dock)
    assert {"Learning", "Classes"} <= seen
    assert not sorted(set(cut)), sorted(set(cut))


def test_the_oracle_question_wraps_as_a_sentence_and_its_keys_stay_whole(qtbot, shown_window):
    """The question and its key hint wrapped together mid-hint ("… 0/n = no · ? =" / "cannot say)"):
    the keys now have a line of their own and each key's meaning never breaks."""
    labelling = shown_window.panels["labelling"]
    question, keys = labelling.question.text().split("<br>")
    assert question == shown_window.state.question()
    assert "1/y&nbsp;=&nbsp;yes" in keys and "?&nbsp;=&nbsp;cannot&nbsp;say" in keys and " · " in keys


def test_the_readout_wraps_between_phrases_only(qtbot, shown_window):
    """At 1366 x 768 the readout under the canvas read "h-bar no · v-" / "bar no", "not trained" /
    "yet" and "needs obs." / "class and C": phrases now stay whole and the messages are short."""
    window = shown_window
    window.resize(1366, 768)
    readout = window.readout
    qtbot.waitUntil(lambda: readout.truth_text("bars") != "", timeout=WAIT_MS)
    assert readout.truth_text("bars") == "h-bar no · v-bar no"               # what a person reads
    bars = readout.truth_values["bars"].text()                                # how it may wrap
    assert bars == "<nobr>h\u2011bar no</nobr> · <nobr>v\u2011bar no</nobr>"
    assert readout.values["causal"].text() == "not trained"
    assert readout.values["spurious"].text() == "needs C"
    assert "<nobr>obs 0</nobr>" in readout.values["source"].text()
