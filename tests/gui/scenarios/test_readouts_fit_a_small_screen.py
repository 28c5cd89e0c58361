"""A new user on a 1280 x 720 screen read "not trai" and "nee C" under the canvas, and the
canvas's tools ran past its edge (in presenter mode too); the S(i) line was clipped at any
size. Every label of the readout now shows its whole text (on one line, or wrapped between
phrases, or elided with the whole text in its tooltip) and every canvas tool is on screen."""
from __future__ import annotations

import contextlib

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel, QToolBar, QToolButton
from pytestqt.exceptions import TimeoutError as WaitTimeout

from .people import press

WAIT_MS = 30_000
SIZES = [(1280, 720), (1600, 1000)]
ALWAYS_SHOWN = ("pen", "eraser", "hbar", "vbar", "undo", "redo", "revert")    # presenter mode too


def shown_labels(window) -> list[QLabel]:
    return [label for label in window.readout.findChildren(QLabel) if label.isVisible() and label.text()]


def laid_out(label: QLabel) -> QTextDocument:
    """The label's text laid out as the label lays it out: at its width when it wraps."""
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    doc.setDefaultFont(label.font())
    if label.textFormat() == Qt.TextFormat.RichText or Qt.mightBeRichText(label.text()):
        doc.setHtml(label.text())
    else:
        doc.setPlainText(label.text())
    if label.wordWrap():
        doc.setTextWidth(label.contentsRect().width())
    return doc


def breaks_a_word(doc: QTextDocument) -> bool:
    """Whether a line ends inside a word or a phrase kept whole (Qt breaks one too wide anywhere)."""
    block = doc.begin()
    while block.isValid():
        layout, text = block.layout(), block.text()
        for i in range(layout.lineCount() - 1):
            line = layout.lineAt(i)
            if text[line.textStart() + line.textLength() - 1] not in " -":
                return True
        block = block.next()
    return False


def cut_text(label: QLabel) -> str | None:
    """What of the label's text does not show ('text (needs w x h, has w x h)'), or None."""
    room, doc = label.contentsRect(), laid_out(label)
    width, height = doc.idealWidth(), doc.size().height()
    if width <= room.width() + 0.5 and height <= room.height() + 0.5 and not breaks_a_word(doc):
        return None
    if doc.toPlainText() in label.toolTip():          # elided, the whole text a hover away
        return None
    broken = " broken inside a word" if breaks_a_word(doc) else ""
    return f"{doc.toPlainText()!r} (needs {width:.0f} x {height:.0f}, has {room.width()} x {room.height()}){broken}"


def hidden_tools(window) -> list[str]:
    """The drawing tools a person cannot see on the canvas: without a button on screen (behind a
    toolbar's » button), or with a button cut by the canvas's edge; and any » button shown."""
    canvas = window.canvas
    shown = {}
    for button in canvas.findChildren(QToolButton):
        if button.isVisible() and button.defaultAction() is not None:
            shown[button.defaultAction()] = button
    out = []
    for key in ALWAYS_SHOWN:
        button = shown.get(canvas.actions[key])
        if button is None:
            out.append(key)
        elif not canvas.rect().contains(QRect(button.mapTo(canvas, QPoint(0, 0)), button.size())):
            out.append(f"{key} (cut by the canvas's edge)")
    for bar in canvas.findChildren(QToolBar):
        extension = [b for b in bar.findChildren(QToolButton) if b.objectName() == "qt_toolbar_ext_button"]
        if bar.isVisible() and any(b.isVisible() for b in extension):
            out.append("»")
    return out


def run_algorithm1(qtbot, window) -> None:
    learning = window.panels["learning"]
    learning.epochs_spin.setValue(2)
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        press(qtbot, window, Qt.Key.Key_F4)


def settle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.readout.values["p_obs"].text().replace(".", "").isdigit(), timeout=WAIT_MS)
    qtbot.wait(300)


def assert_nothing_cut(qtbot, window) -> None:
    """Once the layout has settled (its relayout is a posted event: late on a loaded machine),
    no readout text is cut."""
    def cut() -> list[str]:
        return [c for c in (cut_text(label) for label in shown_labels(window)) if c]
    with contextlib.suppress(WaitTimeout):
        qtbot.waitUntil(lambda: not cut(), timeout=3_000)
    assert not cut(), cut()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_readout_label_and_canvas_tool_shows_before_and_after_learning(qtbot, shown_window, size):
    window = shown_window
    window.resize(*size)
    settle(qtbot, window)
    assert_nothing_cut(qtbot, window)
    assert not hidden_tools(window)
    run_algorithm1(qtbot, window)
    for tool in ("vbar", "hbar"):          # S(i) of an image its observational class never had with C
        window.canvas.drawing.set_tool(tool)
        window.canvas.drawing.press(4, 4)
        window.canvas.drawing.release()
        qtbot.wait(300)                    # the readout follows the canvas after its coalescing timer
        assert_nothing_cut(qtbot, window)
    assert window.readout.values["spurious"].text() not in ("—", "needs C")


def test_presenter_mode_at_1280x720_shows_every_readout_label_and_canvas_tool(qtbot, shown_window):
    window = shown_window
    window.resize(1280, 720)
    press(qtbot, window, Qt.Key.Key_F11)
    assert window.teaching.presenter.on
    settle(qtbot, window)
    assert_nothing_cut(qtbot, window)
    assert not hidden_tools(window)
