"""The main window: menus, docks for the panels, status bar, data loading, settings.

The browser is docked on the left, the canvas with its readout is the central widget, and
the other panels (manipulator, learning, classes) share the right dock area as tabs.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QDockWidget, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from viscause_gui import __version__
from viscause_gui.core.experiments.registry import first_dataset
from viscause_gui.core.store.sweep import SweepError
from viscause_gui.gui.controllers.data_opening import DataOpener
from viscause_gui.gui.controllers.observational import ObservationalController
from viscause_gui.gui.controllers.session import SessionController, SessionWiring, SettingsPart
from viscause_gui.gui.data_dialog import BuiltinDialog
from viscause_gui.gui.help import help_html
from viscause_gui.gui.models.actions import ActionRegistry
from viscause_gui.gui.models.readout import ObservationalModel
from viscause_gui.gui.models.sweep_view import SweepView
from viscause_gui.gui.panels.browser import BrowserPanel
from viscause_gui.gui.panels.canvas import Canvas
from viscause_gui.gui.panels.classes import ClassesPanel
from viscause_gui.gui.panels.labelling import LabellingPanel
from viscause_gui.gui.panels.learning import LearningPanel
from viscause_gui.gui.panels.manipulator import ManipulatorPanel
from viscause_gui.gui.panels.readout import PredictionReadout
from viscause_gui.gui.panels.share import install_share
from viscause_gui.gui.settings import make_settings
from viscause_gui.gui.state import AppState
from viscause_gui.gui.teaching import install_teaching
from viscause_gui.gui.widgets.actions import build_menus
from viscause_gui.gui.widgets.dialogs import QtDialogs
from viscause_gui.gui.widgets.status_line import StatusLine
from viscause_gui.gui.widgets.sweep_dialog import SweepDialog
from viscause_gui.gui.workers import WorkerPool

Area = Qt.DockWidgetArea
# key, dock title, class, area. The three
# share the right side as tabs, so the window fits a 1366 x 768 screen.
PANELS: list[tuple[str, str, Any, Area]] = [
    ("manipulator", "Manipulator (α)", ManipulatorPanel, Area.RightDockWidgetArea),
    ("learning", "Learning", LearningPanel, Area.RightDockWidgetArea),
    ("classes", "Classes", ClassesPanel, Area.RightDockWidgetArea),
    ("labelling", "Oracle (label)", LabellingPanel, Area.RightDockWidgetArea),
]
FIRST_TAB = "learning"    # a new user trains first
FIRST_SIZE = QSize(1600, 1000)   # the window at a first start, when the screen has room




class MainWindow(QMainWindow):
    """The viscause main window. Tests may replace `show_message` to catch dialogs."""

    def __init__(self, state: AppState | None = None, workers: WorkerPool | None = None,
                 settings: QSettings | None = None, load_default: bool = True,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state or AppState(self)
        self.workers = workers or WorkerPool(self)
        self.settings = settings if settings is not None else make_settings()
        self.docks: dict[str, QDockWidget] = {}
        self.panels: dict[str, QWidget] = {}
        self.actions: dict[str, QAction] = {}
        self.sweep_dialog: SweepDialog | None = None
        self._closing = False
        self.dialogs = QtDialogs(self)
        self.opener = DataOpener(self.state, self.workers, self.settings, self.dialogs, lambda: self._closing)
        self.setWindowTitle("viscause")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self.obs_controller = ObservationalController(self.state, self.workers, self)
        self.obs_controller.model_ready.connect(self._on_obs_model)
        self.obs_controller.status.connect(self.readout_status)
        self._connect()
        self._restore_settings()
        if load_default and self.state.dataset is None:
            first = first_dataset()
            self.opener.load_now("builtin", first.name, first.defaults())
        elif self.state.dataset is not None:
            self._on_dataset()
            self.obs_controller.start()
        self.share, self.share_commands = install_share(self)            # Share → Let others answer
        labelling, learning = self.panels["labelling"], self.panels["learning"]
        self.session = SessionController(SessionWiring(
            self.state, labelling.session, labelling.answered, self.dialogs, self.settings, run=learning.run,
            oracles=learning.settings_box.enabled_oracles, plots=learning.charts.png_writers(),
            parts=(SettingsPart(labelling.session_settings, labelling.restore_session_settings),
                   SettingsPart(self.share.session_settings, self.share.restore_session_settings)),
            closing=lambda: self._closing,
            show_answers=lambda: (self.docks["labelling"].raise_(), labelling.setFocus())), parent=self)
        self.opener.guard = self.session
        self.session.exports.outcomes = lambda: None if self.state.dataset is None else self.state.dataset.outcome_names
        self.session.session_changed.connect(self.share.session_changed)   # a share serves one session
        # a new run over trained work asks as opening other data does: Save / Discard / Cancel
        learning.confirm_new_experiment = self.session.confirm_new_experiment
        self.teaching = install_teaching(self)     # presenter mode, lessons, CCT explorer (gui/teaching.py)
        self._build_menus()
        self.teaching.actions_built(self.actions)

    # ----- building -----
    def _build_central(self) -> None:
        self.canvas_panel = CanvasPanel(self.state, self.settings, self)
        self.canvas = self.canvas_panel.canvas
        self.readout = self.canvas_panel.readout
        self.setCentralWidget(self.canvas_panel)
        self.browser = BrowserPanel(self.state, self, thumb=int(self.settings.value("browser/thumb", 56)))
        self.add_panel("browser", "Data", self.browser, Area.LeftDockWidgetArea)

    def _build_docks(self) -> None:
        for key, title, cls, area in PANELS:
            self.add_panel(key, title, cls(self.state, self.workers, self), area)
        right = [self.docks[key] for key, *_ in PANELS if key in self.docks]
        for dock in right[1:]:
            self.tabifyDockWidget(right[0], dock)
        if FIRST_TAB in self.docks:
            self.docks[FIRST_TAB].raise_()
        sides = [self.docks["browser"], *right[:1]]
        self.resizeDocks(sides, [380, 560][:len(sides)], Qt.Orientation.Horizontal)
        self.panels["learning"].queue.use_oracle(self.panels["labelling"])   # every answer journalled
        labelling = self.panels["labelling"]       # its tab picked: the next key is an answer
        self.docks["labelling"].visibilityChanged.connect(lambda shown: shown and labelling.setFocus())

    def add_panel(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """Dock a panel; its toggle goes into the View menu (when the menus exist)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        dock.toggleViewAction().triggered.connect(lambda shown: shown and dock.raise_())   # its tab in front
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        self.panels[key] = widget
        return dock

    def _build_status_bar(self) -> None:
        self.status_line = StatusLine(self.statusBar())
        line = self.status_line
        self.data_label, self.worker_label, self.busy_bar = line.data_label, line.worker_label, line.busy_bar

    def _build_menus(self) -> None:
        """The menu bar from the action registry; each part of the window gives its commands."""
        registry = ActionRegistry()
        registry.add(self.teaching.lesson_specs())
        commands = {**self._commands(), **self.session_commands(), **self.share_commands,
                    **self.teaching.commands()}
        toggles = {"panels": [self.docks[key].toggleViewAction() for key in self.docks
                              if key not in self.teaching.docks],
                   "teaching panels": [dock.toggleViewAction() for dock in self.teaching.docks.values()]}
        for action in (a for section in toggles.values() for a in section):
            action.setToolTip(f"Show or hide the {action.text()} panel")
        self.actions.update(build_menus(self, registry, commands, self.canvas.actions, toggles))

    def _commands(self) -> dict[str, Callable[[], Any]]:
        return {"open_file": self.opener.open_file_dialog, "open_folder": self.opener.open_folder_dialog,
                "open_builtin": self.open_builtin_dialog, "quit": self.close, "help": self.show_help,
                "about": self.show_about, "reset_layout": self.reset_layout, "open_sweep": self.open_sweep_dialog}

    def session_commands(self) -> dict[str, Callable[[], Any]]:
        def s(name: str) -> Callable[[], Any]:        # looked up on use: tests may replace a method
            return lambda: getattr(self.session, name)()
        return {"save_session": s("save"), "save_session_as": s("save_as"), "open_session": s("open_dialog"),
                "export_answers": s("export_answers_dialog"), "export_causal": s("export_causal_dialog"),
                "export_plots": s("export_plots_dialog")}

    def _connect(self) -> None:
        self.state.dataset_changed.connect(self._on_dataset)
        self.state.status_message.connect(self._on_status_message)
        self.workers.busy_changed.connect(self.status_line.set_busy)
        self.panels["learning"].phase_changed.connect(self.status_line.set_run_phase)
        self.workers.failed.connect(self._on_worker_failed)
        self.browser.size_box.valueChanged.connect(self._on_thumb_size)

    # ----- messages -----
    def show_message(self, level: str, title: str, text: str) -> None:
        """Show a non-blocking message box; level is 'info', 'warning' or 'error'."""
        if self._closing:
            return
        icon = {"info": QMessageBox.Icon.Information, "warning": QMessageBox.Icon.Warning,
                "error": QMessageBox.Icon.Critical}.get(level, QMessageBox.Icon.Information)
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()

    def show_help(self) -> None:
        representatives = self.panels["learning"].next_config().representatives
        self.show_message("info", "How viscause works",
                          help_html(self.state.dataset, self.state.positive_label, representatives))

    def show_about(self) -> None:
        self.show_message("info", "About viscause", f"<b>viscause_gui {__version__}</b><br>"
                          "Visual causal feature learning (Chalupka, Perona, Eberhardt, UAI 2015) "
                          "as a desktop tool.")

    def readout_status(self, text: str) -> None:
        if self.readout.obs_model is None:
            self.readout.set_obs_model(None, text)

    # ----- opening data (gui/controllers/data_opening.py) -----
    def open_builtin_dialog(self) -> None:
        dialog = BuiltinDialog(self.settings, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            name, options = dialog.request()
            self.opener.open_builtin(name, **options)

    def open_sweep_dialog(self) -> None:
        folder = self.dialogs.open_folder("Open a sweep folder (viscause sweep --out DIR)", "")
        if folder:
            self.open_sweep(folder)

    def open_sweep(self, folder: str | Path) -> SweepDialog | None:
        """File → Open sweep…: the folder's table and figures in a window of their own (never imports Ray)."""
        try:
            view = SweepView.open(folder)
        except SweepError as exc:
            self.show_message("warning", "Open sweep", str(exc))
            return None
        self.sweep_dialog = SweepDialog(view, self)
        self.sweep_dialog.show()
        return self.sweep_dialog

    # ----- drag and drop -----
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_path(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        if not self.teaching.open_dropped(path):      # a lesson file opens as a lesson
            self.opener.open_path(path)

    @staticmethod
    def _dropped_path(mime) -> str | None:
        """The local file or folder to open (for IDX pairs, the images file)."""
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if not paths:
            return None
        images = [p for p in paths if "idx3" in Path(p).name or "images" in Path(p).name]
        return images[0] if images else paths[0]

    # ----- state -> window -----
    def _on_dataset(self) -> None:
        ds = self.state.dataset
        self.status_line.show_dataset(ds)
        if ds is not None:
            self.setWindowTitle(f"viscause — {ds.name}")

    def _on_obs_model(self, model: ObservationalModel | None) -> None:
        if model is not None:
            self.readout.set_obs_model(model, "ready")

    def _on_status_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def _on_worker_failed(self, text: str) -> None:
        self.show_message("error", "Background work failed", text)

    def _on_thumb_size(self, size: int) -> None:
        self.settings.setValue("browser/thumb", size)

    # ----- settings and closing -----
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(self._first_size())
        self._default_state = self.saveState()
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)

    def _first_size(self) -> QSize:
        """1600 x 1000, or the screen's free area when it is smaller (a 1366 x 768 laptop): a
        first start must show every panel, not run off the screen."""
        free = self.screen().availableGeometry()
        return QSize(min(FIRST_SIZE.width(), free.width()), min(FIRST_SIZE.height(), free.height()))

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for key, dock in self.docks.items():         # the lesson bar only with a lesson (never empty)
            dock.setVisible(key != "lesson" or self.teaching.controller.lesson is not None)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()

    def _stop_timers(self) -> None:
        for timer in self.findChildren(QTimer):
            timer.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask about unsaved work; save the layout, stop and join every worker (at most ~2 s), then close."""
        session = getattr(self, "session", None)
        if not self._closing and session is not None and not session.may_drop_work("Quit"):
            event.ignore()
            return
        if not self._closing:
            self._closing = True
            self.save_settings()
            if getattr(self, "share", None) is not None:
                self.share.stop()              # the web server and its thread
            if getattr(self, "session", None) is not None:
                self.session.close()
            self.state.blockSignals(True)      # late worker results must not start new work
            self.obs_controller.stop()
            self.panels["learning"].shutdown()
            self.workers.stop_all(1.5)
            QCoreApplication.processEvents()   # deliver the workers' last signals while we exist…
            self._stop_timers()                # …no panel's pending timer may start new work…
            self.workers.stop_all(0.5)         # …and stop whatever a panel started meanwhile
            QCoreApplication.processEvents()
        event.accept()


class CanvasPanel(QWidget):
    """Canvas above its readout: the central widget of the main window."""

    def __init__(self, state: AppState, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = Canvas(state, settings, self)
        self.readout = PredictionReadout(state, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.readout, 0)
