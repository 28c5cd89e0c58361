"""Esc did not close the share window (Share → Let others answer…). It now closes it as its title
bar's close button does: without a question, since nothing is lost (sharing goes on, and the Share
menu brings the window back with the same address)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from .people import choose_in_menu


def open_share_window(qtbot, window):
    choose_in_menu(qtbot, window, "Share", "Let others answer…")
    share_window = window.share_window
    qtbot.waitExposed(share_window)
    share_window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is share_window, timeout=5_000)
    return share_window


def test_esc_closes_the_share_window_and_sharing_goes_on(qtbot, shown_window):
    window = shown_window
    share_window = open_share_window(qtbot, window)
    qtbot.keyClick(share_window, Qt.Key.Key_Escape)
    assert not share_window.isVisible()

    share_window = open_share_window(qtbot, window)
    qtbot.mouseClick(share_window.start_button, Qt.MouseButton.LeftButton)
    try:
        assert window.share.running
        address = share_window.address.text()
        qtbot.keyClick(share_window.question, Qt.Key.Key_Escape)       # the typing place has the focus
        assert not share_window.isVisible() and window.share.running and not window.messages
        share_window = open_share_window(qtbot, window)
        assert share_window.address.text() == address
    finally:
        window.share.stop()
