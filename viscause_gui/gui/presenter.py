"""Presenter mode: the window for a projector.

Larger fonts everywhere (the application font, plot axes), thicker plot lines, the high-contrast
style of resources/presenter.qss, the secondary panels and status details hidden so the canvas is
one large image area, a red PRESENTER sign in the menu bar, and a quick zoom (Ctrl+= / Ctrl+-).
Turning it off puts every font, line, panel and the layout back. The mode and its zoom are
remembered (QSettings 'presenter/on', 'presenter/zoom', and the panels it hid: 'presenter/hidden_panels').
"""
from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QWidget

from viscause_gui.core.lessons import resources_dir

BASE_SCALE = 1.45             # fonts at zoom 1: 1.45 x the desktop's (the window still fits 1280 x 720)
ZOOM_MIN, ZOOM_MAX, ZOOM_STEP = 0.6, 2.0, 0.1
HIDDEN_DOCKS = ("browser", "labelling")    # secondary in front of a class (back with the mode off)
HIDDEN_PANELS_KEY = "presenter/hidden_panels"   # the docks the mode hid: a layout saved in the mode lacks them
LINE_SCALE = 2.5
PLOT_TEXT_SCALE = 0.7          # axis text: the plots are small, their numbers must not overlap
LESSON_TEXT_SCALE = 1.3        # a lesson step's text: the largest on screen
SIDE_TEXT_SCALE = 0.75        # the panels beside the canvas: secondary, smaller than the canvas and the lesson
RIGHT_SHARE = 0.40             # the right-hand panels' share of the width: the canvas gets the rest


def presenter_style() -> str:
    path = resources_dir() / "presenter.qss"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


class PresenterMode:
    def __init__(self, window: QMainWindow, settings: QSettings):
        self.window = window
        self.settings = settings
        self.on = False
        self.zoom = _float(settings.value("presenter/zoom", 1.0), 1.0)
        self._saved: dict[str, Any] = {}
        self.sign = QLabel("  PRESENTER  ")
        self.sign.setObjectName("presenterSign")
        self.sign.setToolTip("Presenter mode is on (View → Presenter mode, F11 turns it off)")
        self.sign.setStyleSheet("QLabel { background: #c0392b; color: white; font-weight: bold; }")
        self.sign.setVisible(False)
        window.menuBar().setCornerWidget(self.sign, Qt.Corner.TopRightCorner)

    def restore(self) -> None:
        """Turn the mode on when it was on at the last close. The layout saved then lacks the panels the
        mode hid (the Data and Oracle panels): they are remembered, so turning the mode off shows them."""
        if str(self.settings.value("presenter/on", "false")).lower() == "true":
            self.set_on(True, also_hidden=self._panels_hidden_last_time())

    def toggle(self) -> None:
        self.set_on(not self.on)

    def set_on(self, on: bool, also_hidden: tuple[str, ...] = ()) -> None:
        """On: hide the secondary panels (and `also_hidden`'s, as hidden by the mode), scale everything up;
        off: everything as it was."""
        if on == self.on:
            return
        if on:
            self._turn_on(also_hidden)
        else:
            self._turn_off()
        self.sign.setVisible(self.on)
        self.settings.setValue("presenter/on", self.on)
        action = getattr(self.window, "actions", {}).get("presenter")
        if action is not None and action.isChecked() != self.on:
            action.setChecked(self.on)

    def _shown(self, widget: QWidget) -> bool:
        """Shown, or to be shown with the window (at a start the window is not shown yet)."""
        return widget.isVisibleTo(self.window)

    def _right_docks(self) -> list[QDockWidget]:
        return [d for k, d in self.window.docks.items() if k in ("learning", "manipulator") and self._shown(d)]

    def _turn_on(self, also_hidden: tuple[str, ...]) -> None:
        w = self.window
        bar = w.statusBar()
        right = self._right_docks()[:1]
        hidden = {k: d for k, d in w.docks.items() if k in HIDDEN_DOCKS and (self._shown(d) or k in also_hidden)}
        self._saved = {"font": QFont(QApplication.instance().font()), "style": w.styleSheet(),
                       "docks": list(hidden.values()), "right": (right, [d.width() for d in right]),
                       "status": [x for x in bar.findChildren(QWidget) if self._shown(x)],
                       "status_bar": self._shown(bar),
                       "secondary": [x for x in self.secondary_widgets() if self._shown(x)]}
        self.settings.setValue(HIDDEN_PANELS_KEY, ",".join(hidden))
        self.on = True
        for dock in self._saved["docks"]:
            dock.setVisible(False)
        for widget in self._saved["status"]:
            if widget is not getattr(w, "worker_label", None):
                widget.setVisible(False)
        bar.setVisible(False)        # 720 px high: every line counts (the lesson bar shows work)
        for widget in self._saved["secondary"]:
            widget.setVisible(False)
        self._apply_scale()

    def _turn_off(self) -> None:
        w = self.window
        self.on = False
        self.settings.remove(HIDDEN_PANELS_KEY)
        w.setStyleSheet(self._saved.get("style", ""))
        self._scale_plots(None, 1.0)
        for dock in self._saved.get("docks", []):     # (no restoreState: it would undo what happened since)
            dock.setVisible(True)
        docks, widths = self._saved.get("right", ([], []))
        if docks:
            w.resizeDocks(docks, widths, Qt.Orientation.Horizontal)
        for widget in self._saved.get("status", []) + self._saved.get("secondary", []):
            widget.setVisible(True)
        w.statusBar().setVisible(self._saved.get("status_bar", True))

    def _panels_hidden_last_time(self) -> tuple[str, ...]:
        value = str(self.settings.value(HIDDEN_PANELS_KEY, "") or "")
        return tuple(key for key in value.split(",") if key in HIDDEN_DOCKS)

    def secondary_widgets(self) -> list[QWidget]:
        """Hidden in front of a class: the canvas's edit tools (noise, shifts, invert), the readout's
        data section and its hint line."""
        out: list[QWidget] = []
        canvas = getattr(self.window, "canvas", None)
        edits = None if canvas is None else canvas.findChild(QWidget, "canvas_edits")
        if edits is not None:
            out.append(edits)
        readout = getattr(self.window, "readout", None)
        if readout is not None:
            if "data" in getattr(readout, "groups", {}):
                out.append(readout.groups["data"])
            out += [x for x in readout.findChildren(QLabel) if x.text().startswith("Hover over")]
        return out

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom + ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom - ZOOM_STEP)

    def set_zoom(self, zoom: float) -> None:
        self.zoom = round(min(max(zoom, ZOOM_MIN), ZOOM_MAX), 2)
        self.settings.setValue("presenter/zoom", self.zoom)
        if self.on:
            self._apply_scale()

    @property
    def scale(self) -> float:
        return BASE_SCALE * self.zoom

    def _apply_scale(self) -> None:
        """Fonts through the style sheet (a style sheet overrides the application font), plots directly."""
        pt = self.point_size()
        side = pt * SIDE_TEXT_SCALE
        self.window.setStyleSheet(presenter_style() + f"\n* {{ font-size: {side:.1f}pt; }}\n"
                                  f"CanvasPanel, CanvasPanel *, LessonBar, LessonBar * {{ font-size: {pt:.1f}pt; }}\n"
                                  f"QLabel#lessonText {{ font-size: {pt * LESSON_TEXT_SCALE:.1f}pt; }}\n")
        self._scale_plots(self.scale * PLOT_TEXT_SCALE, LINE_SCALE)
        resize = getattr(self.window, "resizeDocks", None)
        right = self._right_docks()
        if resize is not None and right:
            resize(right[:1], [int(self.window.width() * RIGHT_SHARE)], Qt.Orientation.Horizontal)

    def point_size(self) -> float:
        base = self._saved.get("font", QApplication.instance().font())
        size = base.pointSizeF() if base.pointSizeF() > 0 else 9.0
        return size * self.scale

    def _scale_plots(self, text_scale: float | None, line_scale: float) -> None:
        """Axis text and curve widths of every pyqtgraph plot in the window (text_scale None: pyqtgraph's own)."""
        base = self._saved.get("font", QApplication.instance().font())
        size = base.pointSizeF() if base.pointSizeF() > 0 else 9.0
        tick = None if text_scale is None else QFont(base)
        if tick is not None:
            tick.setPointSizeF(size * text_scale * 0.9)
        for plot in self.window.findChildren(pg.PlotWidget):
            item = plot.getPlotItem()
            for name in ("left", "bottom"):
                axis = item.getAxis(name)
                axis.setStyle(tickFont=tick)
                axis.label.setFont(tick if tick is not None else QFont(base))
            for curve in item.listDataItems():
                pen = curve.opts.get("pen")
                if pen is None:
                    continue
                pen = pg.mkPen(pen)
                width = curve.__dict__.setdefault("_presenter_width", pen.widthF() or 1.0)
                pen.setWidthF(width * line_scale)
                curve.setPen(pen)


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
