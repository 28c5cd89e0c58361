"""View → CCT explorer showed the panel as a tab behind the Classes panel: a person saw nothing
happen. A panel chosen in the View menu now comes to the front."""
from __future__ import annotations

from PySide6.QtWidgets import QTabBar

from .people import choose_in_menu


def current_tabs(window) -> set[str]:
    """The titles of the dock tabs a person sees in front."""
    return {bar.tabText(bar.currentIndex()) for bar in window.findChildren(QTabBar)
            if bar.isVisible() and bar.count()}


def test_view_cct_explorer_brings_its_tab_to_the_front(qtbot, shown_window):
    window = shown_window
    dock = window.docks["cct"]
    assert not dock.isVisible()
    choose_in_menu(qtbot, window, "View", "CCT explorer")
    assert dock.toggleViewAction().isChecked()               # shown…
    qtbot.waitUntil(lambda: "CCT explorer" in current_tabs(window), timeout=2_000)    # …and in front
    assert dock.isVisible() and window.teaching.cct.isVisible()
    assert window.teaching.cct.visibleRegion().boundingRect().height() > 100


def test_view_confounding_brings_its_tab_to_the_front(qtbot, shown_window):
    window = shown_window
    choose_in_menu(qtbot, window, "View", "Confounding")
    qtbot.waitUntil(lambda: "Confounding" in current_tabs(window), timeout=2_000)
    assert window.teaching.confounding.isVisible()
