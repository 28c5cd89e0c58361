"""The main window: menus, docks for the panels, status bar, data loading, settings.

The browser is docked on the left, the canvas with its readout is the central widget, and
the other panels (manipulator, learning, classes) share the right dock area as tabs.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDialog, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from viscause_gui import __version__
from viscause_gui.core.data.dataset import Dataset, DatasetError
from viscause_gui.core.data.readers import load_path
from viscause_gui.core.experiments.registry import first_dataset, load_builtin
from viscause_gui.core.method.observe import ObservedClasses
from viscause_gui.core.nets.models import default_device
from viscause_gui.core.nets.training import TrainProgress
from viscause_gui.gui.controllers.session import SessionController, SessionWiring, SettingsPart
from viscause_gui.gui.data_dialog import BuiltinDialog
from viscause_gui.gui.help import help_html
from viscause_gui.gui.models.readout import ObservationalModel, observe_and_train
from viscause_gui.gui.panels.browser import BrowserPanel
from viscause_gui.gui.panels.canvas import Canvas
from viscause_gui.gui.panels.classes import ClassesPanel
from viscause_gui.gui.panels.labelling import LabellingPanel
from viscause_gui.gui.panels.learning import LearningPanel
from viscause_gui.gui.panels.manipulator import ManipulatorPanel
from viscause_gui.gui.panels.readout import PredictionReadout
from viscause_gui.gui.panels.share import install_share_menu
from viscause_gui.gui.settings import make_settings
from viscause_gui.gui.state import AppState
from viscause_gui.gui.teaching import install_teaching
from viscause_gui.gui.widgets.actions import make_action
from viscause_gui.gui.widgets.busy import BusySign
from viscause_gui.gui.widgets.dialogs import QtDialogs
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



def load_dataset(kind: str, target: str, options: dict[str, Any]) -> Dataset:
    """Load a data set (runs in a worker): kind 'builtin' (target = name) or 'path'."""
    if kind == "builtin":
        return load_builtin(target, **options)
    return load_path(target)


class ObservationalController(QObject):
    """Trains the readout's observational model in a worker whenever a data set is loaded."""

    model_ready = Signal(object)      # ObservationalModel or None
    status = Signal(str)

    KEY = "observational model"

    def __init__(self, state: AppState, workers: WorkerPool, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.workers = workers
        self.model: ObservationalModel | None = None
        self._cancel = threading.Event()
        state.dataset_changed.connect(self.start)

    def start(self) -> None:
        ds = self.state.dataset
        self.model = None
        if ds is None or (ds.t is None and ds.p_obs is None):
            self.stop()
            self.workers.cancel(self.KEY)
            self.status.emit("the data set has no T (no 't' or 'p_obs')")
            self.model_ready.emit(None)
            return
        self.stop()
        self._cancel = threading.Event()
        self.status.emit("training…")
        self.workers.start(self.KEY, _tagged, ds, self._cancel, on_yield=self._progress, on_return=self._ready)

    def stop(self) -> None:
        """Ask the running job to end soon (also inside the slow observational-class fit)."""
        self._cancel.set()

    def _progress(self, tagged: tuple[Dataset, Any]) -> None:
        ds, event = tagged
        if ds is not self.state.dataset:
            return
        if isinstance(event, ObservedClasses):
            event.apply_to(ds)
            self.state.status_message.emit(f"{len(set(event.obs_class.tolist()))} observational classes "
                                           "estimated from the samples of T")
            self.state.classes_changed.emit()
        elif isinstance(event, TrainProgress):
            self.status.emit(f"training… epoch {event.epoch}/{event.epochs}")

    def _ready(self, tagged: tuple[Dataset, ObservationalModel | None]) -> None:
        ds, model = tagged
        if ds is not self.state.dataset:
            return
        self.model = model
        self.model_ready.emit(model)


def _tagged(ds: Dataset, cancel: threading.Event) -> Iterator[tuple[Dataset, Any]]:
    """observe_and_train, each event and the result tagged with its data set (stale ones are dropped)."""
    steps = observe_and_train(ds, cancelled=cancel.is_set)
    while True:
        try:
            event = next(steps)
        except StopIteration as stop:
            return ds, stop.value
        yield ds, event


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
        self._closing = False
        self.setWindowTitle("viscause")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self.obs_controller = ObservationalController(self.state, self.workers, self)
        self.obs_controller.model_ready.connect(self._on_obs_model)
        self.obs_controller.status.connect(self.readout_status)
        self._build_menus()
        self._connect()
        self._restore_settings()
        if load_default and self.state.dataset is None:
            first = first_dataset()
            self.load_now("builtin", first.name, first.defaults())
        elif self.state.dataset is not None:
            self._on_dataset()
            self.obs_controller.start()
        labelling, learning = self.panels["labelling"], self.panels["learning"]
        self.session = SessionController(SessionWiring(
            self.state, labelling.session, labelling.answered, QtDialogs(self), self.settings, run=learning.run,
            oracles=learning.settings_box.enabled_oracles, plots=learning.charts.png_writers(),
            parts=(SettingsPart(labelling.session_settings, labelling.restore_session_settings),
                   SettingsPart(self.share.session_settings, self.share.restore_session_settings)),
            closing=lambda: self._closing,
            show_answers=lambda: (self.docks["labelling"].raise_(), labelling.setFocus())), parent=self)
        self.session.session_changed.connect(self.share.session_changed)   # a share serves one session
        # a new run over trained work asks as opening other data does: Save / Discard / Cancel
        learning.confirm_new_experiment = self.session.confirm_new_experiment
        self.teaching = install_teaching(self)     # presenter mode, lessons, CCT explorer (gui/teaching.py)

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
        bar = self.statusBar()
        self.data_label = QLabel("no data")
        self.data_label.setToolTip("The data set: name, N images × height × width")
        self.device_label = QLabel(f"device: {default_device().type.upper()}")
        self.device_label.setToolTip("Where the nets run (CUDA when available, else the CPU)")
        self._busy, self._run_phase = "", ""     # background work; what the learning run does
        self.worker_label = QLabel("idle")
        self.worker_label.setToolTip("Background work (training, loading) running now")
        self.busy_bar = BusySign()         # not an animated QProgressBar: that repainted at 60 Hz
        for widget in (self.data_label, self.device_label, self.busy_bar, self.worker_label):
            bar.addPermanentWidget(widget)

    def _make_action(self, key: str, text: str, tip: str, shortcut: str | QKeySequence | None,
                     slot: Callable[[], Any]) -> QAction:
        action = make_action(self, text, tip, shortcut, slot)
        self.actions[key] = action
        return action

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self._make_action("open_file", "&Open file…", "Open an .npz or MNIST IDX file",
                                         "Ctrl+O", self.open_file_dialog))
        menu.addAction(self._make_action("open_folder", "Open &folder…", "Open a folder of images "
                                         "(sub-folders become labels)", "Ctrl+Shift+O", self.open_folder_dialog))
        menu.addAction(self._make_action("open_builtin", "Open &built-in…", "Open a data set that ships "
                                         "with the app (a generated one with its generator's settings)",
                                         "Ctrl+B", self.open_builtin_dialog))
        menu.addSeparator()
        def s(name: str):                     # the session controller is created later: look it up on use
            return lambda: getattr(self.session, name)()
        for key, text, tip, shortcut, slot in (
                ("save_session", "&Save session", "Save the whole session (data, classes, answers, "
                 "weights, history) to its file", "Ctrl+S", s("save")),
                ("save_session_as", "Save session &as…", "Save the session to a new file", "Ctrl+Shift+S",
                 s("save_as")),
                ("open_session", "Open &session…", "Open a saved session and go on where it stopped", None,
                 s("open_dialog")),
                (None, None, None, None, None),
                ("export_answers", "Export answers CSV…", "Every answer and undo of the oracle as CSV", None,
                 s("export_answers_dialog")),
                ("export_causal", "Export causal data set (npz)…", "Images with their causal class, and the "
                 "answered manipulated images", None, s("export_causal_dialog")),
                ("export_plots", "Export plots (PNG)…", "The learning panel's plots as PNG images", None,
                 s("export_plots_dialog"))):
            if key is None:
                menu.addSeparator()
            else:
                menu.addAction(self._make_action(key, text, tip, shortcut, slot))
        menu.addSeparator()
        menu.addAction(self._make_action("quit", "&Quit", "Close the window (stops background work)",
                                         "Ctrl+Q", self.close))
        self._build_edit_menu()
        self._build_view_menu()
        install_share_menu(self)           # Share → Let others answer (self.share)
        menu = self.menuBar().addMenu("&Help")
        menu.addAction(self._make_action("help", "&How it works", "What C, S, P(T|I) and P(T|man I) mean",
                                         "F1", self.show_help))
        menu.addAction(self._make_action("about", "&About", "About viscause", None, self.show_about))
        for m in self.menuBar().findChildren(type(menu)):
            m.setToolTipsVisible(True)

    def _build_edit_menu(self) -> None:
        menu = self.menuBar().addMenu("&Edit")
        groups = (("undo", "redo", "revert"), ("pen", "eraser", "hbar", "vbar", "picker", "colour"),
                  ("noise", "shift_left", "shift_right", "shift_up", "shift_down", "invert", "clear"))
        for group in groups:
            for key in group:
                menu.addAction(self.canvas.actions[key])
            menu.addSeparator()

    def _build_view_menu(self) -> None:
        menu = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            action = dock.toggleViewAction()
            action.setToolTip(f"Show or hide the {dock.windowTitle()} panel")
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self._make_action("reset_layout", "Reset layout", "Show every panel in its "
                                         "default place", None, self.reset_layout))

    def _connect(self) -> None:
        self.state.dataset_changed.connect(self._on_dataset)
        self.state.status_message.connect(self._on_status_message)
        self.workers.busy_changed.connect(self._on_busy)
        self.panels["learning"].phase_changed.connect(self._on_run_phase)
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

    # ----- opening data -----
    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open data file", self.last_folder(),
            "Data sets (*.npz *-ubyte *-ubyte.gz *idx3*);;NumPy archives (*.npz);;All files (*)")
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images", self.last_folder())
        if path:
            self.open_path(path)

    def open_builtin_dialog(self) -> None:
        dialog = BuiltinDialog(self.settings, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            name, options = dialog.request()
            self.open_builtin(name, **options)

    def _may_replace_the_data(self) -> bool:
        session = getattr(self, "session", None)
        return session is None or session.may_drop_work("Open another data set")

    def open_path(self, path: str | Path) -> None:
        """Load a file or folder in a worker; errors give one warning and keep the old data."""
        if not self._may_replace_the_data():
            return
        path = Path(path)
        self.settings.setValue("paths/last_folder", str(path if path.is_dir() else path.parent))
        self._start_load("path", str(path), own_data=True)

    def open_builtin(self, name: str, **options: Any) -> None:
        if not self._may_replace_the_data():
            return
        self._start_load("builtin", name, options)

    def load_now(self, kind: str, target: str, options: dict[str, Any] | None = None) -> bool:
        """Load on the GUI thread (small data, first start); False and a warning on failure."""
        try:
            self._loaded(load_dataset(kind, target, options or {}))
        except DatasetError as exc:
            self._load_failed(exc)
            return False
        return True

    def last_folder(self) -> str:
        return str(self.settings.value("paths/last_folder", str(Path.home())))

    def _start_load(self, kind: str, target: str, options: dict[str, Any] | None = None,
                    own_data: bool = False) -> None:
        """Load in a worker; `own_data`: a person's own file or folder (its recipe is chosen from its images)."""
        self.statusBar().showMessage(f"loading {target}…")
        self.workers.start("load", load_dataset, kind, target, options or {},
                           on_return=lambda dataset: self._loaded(dataset, own_data), on_error=self._load_failed)

    def _loaded(self, dataset: Dataset, own_data: bool = False) -> None:
        if self._closing:
            return
        self.state.set_dataset(dataset, own_data)
        self.statusBar().showMessage(f"loaded {dataset.name}", 4000)

    def _load_failed(self, exc: BaseException) -> None:
        self.statusBar().clearMessage()
        if getattr(self, "session", None) is not None:
            self.session.stay()            # the old data and its session go on
        text = str(exc) if isinstance(exc, DatasetError) else f"{type(exc).__name__}: {exc}"
        self.show_message("warning", "Could not open the data", text)

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
            self.open_path(path)

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
        if ds is None:
            self.data_label.setText("no data")
            return
        size = " × ".join(str(d) for d in ds.shape)      # H × W, and C for colour
        self.data_label.setText(f"{ds.name}: {len(ds):,} × {size}")
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

    def _on_busy(self, description: str) -> None:
        self._busy = description
        self._show_work()
        self.busy_bar.set_busy(bool(description))

    def _on_run_phase(self, text: str) -> None:
        self._run_phase = text
        self._show_work()

    def _show_work(self) -> None:
        """Background work first; else what the learning run does (it may wait for a person); else idle."""
        busy, phase = self._busy, self._run_phase
        self.worker_label.setText(f"working: {busy}" if busy else (phase or "idle"))

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
