"""Live teaching in the main window: presenter mode, lessons, the confounding slider, the CCT
explorer, the start hint and the lessons in F1 help.

`install_teaching(window)` adds all of it to a built MainWindow (its menus, docks and the drop of
a lesson file) and returns the `Teaching` object that holds it. `WindowStage` is how a lesson's
step is carried out on the window's panels (gui.controllers.lessons drives it). This module sits
beside main_window: it imports panels and controllers, never main_window.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QIcon
from PySide6.QtWidgets import (QDockWidget, QFrame, QHBoxLayout, QLabel, QMainWindow, QPushButton, QSizePolicy,
                               QToolBar, QWidget)

from viscause_gui.core.lessons import (CANVAS, Lesson, LessonError, Step, check_lesson, find_lesson, load_lesson,
                                       resources_dir, save_lesson, shipped_lessons)
from viscause_gui.gui.controllers.lessons import Done, LessonController
from viscause_gui.gui.help import start_hint_html
from viscause_gui.gui.models.actions import LESSONS_MENU, ActionSpec
from viscause_gui.gui.panels.cct_explorer import CctExplorerPanel
from viscause_gui.gui.panels.confounding import ConfoundingPanel
from viscause_gui.gui.panels.lesson import LessonBar
from viscause_gui.gui.presenter import PresenterMode
from viscause_gui.gui.widgets.dialogs import QtDialogs

LESSON_SCHEME = "viscause-lesson"        # F1 help links: viscause-lesson:barometer
START_HINT_KEY = "hints/start_dismissed"
LESSON_RUN_KEYS = ("oracle", "queries_by", "label", "iterations", "queries", "alpha", "seed", "epochs",
                   "retrain_epochs")   # the RunForm keys a lesson sets
LESSON_TITLES = {"barometer": "Barometer", "causal_coarsening": "The Causal Coarsening Theorem",
                 "learning_to_manipulate": "Learning to manipulate", "digits": "Digits"}


def app_icon() -> QIcon:
    """The app's icon from resources/ (SVG, and PNGs for the sizes where SVG is not read)."""
    icon = QIcon()
    folder = resources_dir() / "icons"
    for path in sorted(folder.glob("viscause-*.png")):
        icon.addFile(str(path))
    if (folder / "viscause.svg").is_file():
        icon.addFile(str(folder / "viscause.svg"))
    return icon


def _once(signal, slot: Callable[..., Any]) -> None:
    """Connect `slot` to `signal` for one emission only."""
    def fire(*args: Any) -> None:
        with contextlib.suppress(RuntimeError, TypeError):
            signal.disconnect(fire)
        slot(*args)
    signal.connect(fire)


class WindowStage:
    """A lesson step carried out on the main window's panels (see controllers.lessons.Stage)."""

    def __init__(self, window: QMainWindow):
        self.window = window

    @property
    def state(self):
        return self.window.state

    def load_data(self, lesson: Lesson) -> str | None:
        """Open the lesson's data; why not in one line (the lesson bar shows it), or None."""
        path, opener = lesson.data_path(), self.window.opener
        if path is not None:
            return opener.load_or_say_why("path", str(path))
        return opener.load_or_say_why("builtin", lesson.data["builtin"], dict(lesson.data.get("options", {})))

    def show_panels(self, panels: list[str]) -> None:
        for key in panels:
            dock = self.window.docks.get(key)
            if dock is not None:
                dock.setVisible(True)
        if panels and panels[0] in self.window.docks:
            self.window.docks[panels[0]].raise_()

    def apply_settings(self, settings: dict[str, Any]) -> None:
        learning = self.window.panels["learning"]
        wanted = {k: v for k, v in settings.items() if k in LESSON_RUN_KEYS}
        if not learning.run.labels_only:
            wanted.pop("label", None)
        learning.form.update(wanted, learning.settings_box.enabled_oracles())
        manipulator = self.window.panels.get("manipulator")
        if manipulator is not None and "target" in settings:
            manipulator.choose_target(int(settings["target"]))

    def set_up(self, step: Step) -> None:
        canvas = step.setup.get("canvas")
        if canvas is not None:
            self.set_canvas(canvas)
        show = step.setup.get("show")
        if show is not None and show in self.window.docks:
            self.window.docks[show].setVisible(True)
            self.window.docks[show].raise_()

    def set_canvas(self, spec: Any) -> None:
        ds = self.state.dataset
        if ds is None or spec == "keep":
            return
        if isinstance(spec, dict):
            if "index" in spec:
                self.state.select([min(int(spec["index"]), len(ds) - 1)])
            elif ds.labels is not None:
                found = np.flatnonzero(ds.labels == int(spec["label"]))
                if len(found):
                    self.state.select([int(found[0])])
            return
        if spec == "selected":
            if len(self.state.selection):
                self.state.show_image(int(self.state.selection[0]))
            return
        assert spec in CANVAS
        image = np.zeros(ds.images.shape[1:], np.float32)
        h, w = image.shape[:2]
        if spec in ("vbar", "both"):
            image[:, w // 2 - 1] = 1.0
        if spec in ("hbar", "both"):
            image[h // 2 - 1, :] = 1.0
        self.state.set_current_image(image)

    def start(self, run: dict[str, Any], done: Done) -> None:
        action = run["action"]
        if action == "observe":
            self._observe(done)
        elif action in ("algorithm1", "algorithm2"):
            self._learn(action, run.get("iterations", 1), done)
        elif action == "manipulate":
            self._manipulate(float(run["alpha"]), done)
        else:
            done(f"unknown action {action!r}")

    def _observe(self, done: Done) -> None:
        obs = self.window.obs_controller
        if obs.model is not None:
            done("done")
            return
        ds = self.state.dataset
        if ds is None or (ds.t is None and ds.p_obs is None):
            done("the data set has no samples of T: no observational model")
            return
        _once(obs.model_ready, lambda model: done("done" if model is not None else "no observational model"))

    def _learn(self, action: str, iterations: int, done: Done) -> None:
        learning = self.window.panels["learning"]
        if learning.running:
            done("a learning run is going on; stop it first")
            return
        if action == "algorithm2":
            learning.form.set(iterations=int(iterations))
        ended: list[str] = []

        def finished(reason: str) -> None:
            learning.run_finished.disconnect(finished)
            ended.append(reason)
            done(reason)
        learning.run_finished.connect(finished)
        learning.run_algorithm1() if action == "algorithm1" else learning.run_algorithm2()
        if not learning.running and not ended:          # refused (the panel says why): no run, no end to wait for
            learning.run_finished.disconnect(finished)
            done("could not start: " + _plain(learning.status.text()))

    def _manipulate(self, alpha: float, done: Done) -> None:
        manipulator = self.window.panels["manipulator"]
        dock = self.window.docks["manipulator"]
        dock.setVisible(True)
        dock.raise_()
        if manipulator.model is None:
            done("no causal net yet: run Algorithm 1 first")
            return

        def shown(at: float) -> None:
            if abs(at - alpha) < 1e-6:
                manipulator.result_shown.disconnect(shown)
                done("done")
        manipulator.result_shown.connect(shown)
        if abs(manipulator.alpha - alpha) < 1e-6:
            manipulator.request()
        else:
            manipulator.alpha_slider.setValue(alpha)

    def cancel(self) -> None:
        learning = self.window.panels["learning"]
        if learning.running:
            learning.stop()

    # ----- what the readout shows, as numbers (the lesson tests read them) -----
    def readings(self) -> dict[str, Any]:
        """P(T=1 | I) and P(T=1 | man(I)) (np.float64; over K > 2 outcomes P(T | ·) as (K,) arrays) or None."""
        image = self.state.current_image
        out: dict[str, Any] = {"p_obs": None, "p_causal": None}
        if image is None:
            return out
        model = self.window.obs_controller.model
        if model is not None and image.shape == model.in_shape:
            out["p_obs"] = model.predict(image[None]).p_t[0]
            out["p_obs"] = float(out["p_obs"]) if np.ndim(out["p_obs"]) == 0 else out["p_obs"]
        exp = self.state.experiment
        if exp is not None and exp.nets:
            out["p_causal"] = exp.predict_causal(image[None])[0] @ exp.causal_levels
            out["p_causal"] = float(out["p_causal"]) if np.ndim(out["p_causal"]) == 0 else out["p_causal"]
        return out


def _plain(html: str) -> str:
    import re
    return re.sub(r"<[^>]+>", "", html).strip() or "see the Learning panel"


class Teaching(QObject):
    """Everything for teaching, added to a main window (see install_teaching)."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self.dialogs = QtDialogs(window)
        self.stage = WindowStage(window)
        self.controller = LessonController(self.stage, self)
        self.presenter = PresenterMode(window, window.settings)
        self.actions: dict[str, QAction] = {}
        self._build_docks()
        self._build_start_hint()
        self.controller.failed.connect(lambda text: self.dialogs.status(f"lesson: {text}", 8000))
        self.controller.closed.connect(lambda: self.docks["lesson"].setVisible(False))
        QDesktopServices.setUrlHandler(LESSON_SCHEME, self, "open_url")
        window.setWindowIcon(app_icon())

    # ----- building -----
    def _build_docks(self) -> None:
        w = self.window
        self.lesson_bar = LessonBar(self.controller)
        self.docks: dict[str, QDockWidget] = {}
        lesson = w.add_panel("lesson", "Lesson", self.lesson_bar, Qt.DockWidgetArea.TopDockWidgetArea)
        lesson.setTitleBarWidget(QWidget())     # no title bar: the bar names the lesson and has its own Close
        lesson.setVisible(False)
        self.docks["lesson"] = lesson
        self.cct = CctExplorerPanel(w.state, w.workers, w)
        self.confounding = ConfoundingPanel(w.state, w.workers, w)
        self.confounding.generate.connect(self._generate_grating)
        anchor = w.docks.get("classes")
        for key, title, panel in (("cct", "CCT explorer", self.cct), ("confounding", "Confounding", self.confounding)):
            dock = w.add_panel(key, title, panel, Qt.DockWidgetArea.RightDockWidgetArea)
            if anchor is not None:
                w.tabifyDockWidget(anchor, dock)
            dock.setVisible(False)        # View menu, or a lesson, shows them
            self.docks[key] = dock
        state = w.settings.value("window/state")
        if state is not None:              # the docks added now get their remembered place too
            w.restoreState(state)
        if w.docks.get("learning") is not None and not w.docks["learning"].isHidden():
            w.docks["learning"].raise_()         # a new user trains first (as main_window's FIRST_TAB)

    def commands(self) -> dict[str, Callable[[], Any]]:
        """What teaching's entries in the action registry (gui/models/actions.py) run."""
        lessons = {f"lesson_{name}": (lambda n=name: self.open_lesson(n)) for name in shipped_lessons()}
        return {"open_lesson": self.open_lesson_dialog, "save_lesson": self.save_lesson_dialog,
                "presenter": self.presenter.toggle, "zoom_in": self.presenter.zoom_in,
                "zoom_out": self.presenter.zoom_out, "lesson_next": self.controller.next,
                "lesson_back": self.controller.back, **lessons}

    @staticmethod
    def lesson_specs() -> list[ActionSpec]:
        """Help → Lessons: one entry per shipped lesson."""
        specs = []
        for name in shipped_lessons():
            title = LESSON_TITLES.get(name, name.replace("_", " ").capitalize())
            specs.append(ActionSpec(f"lesson_{name}", title, f"Open the lesson '{title}' (its data, panels and "
                                    "first step)", "help", "lessons", submenu=LESSONS_MENU))
        return specs

    def actions_built(self, actions: dict[str, QAction]) -> None:
        """The window made its actions: show the presenter mode's state, keep the step keys in step."""
        self.actions = actions
        actions["presenter"].setChecked(self.presenter.on)
        self.controller.step_changed.connect(lambda _i: self._enable_step_keys())
        self.controller.closed.connect(self._enable_step_keys)
        self.presenter.restore()

    def _enable_step_keys(self) -> None:
        for key in ("lesson_next", "lesson_back"):
            self.actions[key].setEnabled(self.controller.lesson is not None)

    def _build_start_hint(self) -> None:
        """A first start: a bar across the window's top suggests the first step (until dismissed)."""
        self.start_hint = None
        if str(self.window.settings.value(START_HINT_KEY, "false")).lower() == "true":
            return
        frame = QFrame()
        frame.setObjectName("startHint")
        frame.setStyleSheet("QFrame#startHint { background: #fff8d6; border: 1px solid #e0c96a; }")
        row = QHBoxLayout(frame)
        row.setContentsMargins(8, 2, 8, 2)
        text = QLabel()
        state = self.window.state

        def speak_of_the_data() -> None:
            text.setText(start_hint_html(state.dataset, state.positive_label))
            text.setToolTip(text.text())
        speak_of_the_data()
        for changed in (state.dataset_changed, state.behaviour_changed):
            changed.connect(speak_of_the_data)
        text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)   # one line (wrapped, a toolbar
        frame.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)  # would make it very tall)
        start = QPushButton("Start the Barometer lesson")
        start.setToolTip("Open the first lesson (Help → Lessons has them all)")
        start.clicked.connect(lambda _c=False: (self.dismiss_start_hint(), self.open_lesson("barometer")))
        close = QPushButton("Got it")
        close.setToolTip("Hide this hint (it does not come back)")
        close.clicked.connect(lambda _c=False: self.dismiss_start_hint())
        row.addWidget(text, 1)
        row.addWidget(start)
        row.addWidget(close)
        bar = QToolBar("First step")
        bar.setObjectName("start_hint")
        bar.setMovable(False)
        bar.toggleViewAction().setVisible(False)
        bar.addWidget(frame)
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.start_hint = bar

    def dismiss_start_hint(self) -> None:
        self.window.settings.setValue(START_HINT_KEY, True)
        if self.start_hint is not None:
            self.start_hint.setVisible(False)

    # ----- lessons -----
    def open_lesson(self, name_or_path: str | Path) -> bool:
        """Open a lesson (a file, or a shipped lesson's name); a bad file is one warning."""
        try:
            lesson = load_lesson(find_lesson(name_or_path))
        except LessonError as exc:
            self.dialogs.message("warning", "Could not open the lesson", str(exc))
            return False
        return self.start_lesson(lesson)

    def start_lesson(self, lesson: Lesson) -> bool:
        """Open a lesson already read (or made in code): checked as a file is first, so a value the app's
        own controls would refuse is one warning and changes nothing."""
        try:
            check_lesson(lesson)
        except LessonError as exc:
            self.dialogs.message("warning", "Could not open the lesson", str(exc))
            return False
        session = getattr(self.window, "session", None)
        if session is not None and not session.may_drop_work("Open a lesson"):
            return False
        self.dismiss_start_hint()
        self.docks["lesson"].setVisible(True)
        presenter_turned_on = lesson.presenter and not self.presenter.on
        if presenter_turned_on:                  # before the lesson shows its panels (the mode hides some)
            self.presenter.set_on(True)
        problems: list[str] = []
        self.controller.failed.connect(problems.append)
        try:
            opened = self.controller.open(lesson)
        finally:
            self.controller.failed.disconnect(problems.append)
        if not opened:
            self.docks["lesson"].setVisible(False)
            if presenter_turned_on:              # the window as it was
                self.presenter.set_on(False)
            self.dialogs.message("warning", "Could not open the lesson's data",
                                     f"{lesson.title}: {problems[-1] if problems else 'the data could not be opened'}")
        return opened

    @Slot(QUrl)
    def open_url(self, url: QUrl) -> None:
        """A viscause-lesson: link (F1 help)."""
        self.open_lesson(url.path() or url.toString().split(":", 1)[-1])

    def open_lesson_dialog(self) -> None:
        path = self.dialogs.open_file("Open lesson", str(resources_dir() / "lessons"),
                                      "Lessons (*.json *.toml);;All files (*)")
        if path:
            self.open_lesson(path)

    def save_lesson_dialog(self) -> None:
        path = self.dialogs.save_file("Save as lesson", self.window.opener.last_folder(), "Lessons (*.json)")
        if path:
            self.save_lesson(path)

    def current_lesson(self) -> Lesson:
        """The set-up now as a lesson: the data, the learning settings, the panels shown, and the open
        lesson's steps (or a first step that shows the canvas image)."""
        w = self.window
        ds = w.state.dataset
        if ds is None:
            raise LessonError("no data set is open")
        open_lesson = self.controller.lesson
        meta = ds.meta or {}
        if open_lesson is not None and open_lesson.data_path() is None:
            data = dict(open_lesson.data)
        elif meta.get("source") == "grating" and isinstance(meta.get("model"), dict):
            model = meta["model"]
            data = {"builtin": "grating", "options": {"n": int(meta.get("n", len(ds))), **{
                k: model[k] for k in ("noise", "p_h1", "base", "w_h1", "w_c") if k in model}}}
        elif open_lesson is not None:
            data = {"path": str(open_lesson.data_path())}
        else:
            from viscause_gui.core.experiments.registry import builtin_datasets
            if ds.name not in builtin_datasets():
                raise LessonError(f"{ds.name}: a lesson needs a built-in data set or a file; save the data as a "
                                  "file and open it first")
            data = {"builtin": ds.name}
        learning = w.panels["learning"]
        form = learning.form.to_json()
        settings: dict[str, Any] = {k: form[k] for k in LESSON_RUN_KEYS if k != "label"}
        settings["alpha"] = round(settings["alpha"], 3)
        if settings["oracle"] not in ("truth", "model", "human"):
            settings.pop("oracle")
        if learning.run.labels_only:
            settings["label"] = form["label"]
        panels = [k for k, d in w.docks.items() if k not in ("lesson",) and d.isVisible()]
        if open_lesson is not None:
            steps, title = open_lesson.steps, open_lesson.title
        else:
            index = w.state.current_index
            canvas: Any = {"index": int(index)} if index is not None else "keep"
            steps = [Step("The data set, and an image on the canvas.", {"canvas": canvas}),
                     Step("Algorithm 1: a few experiments per observational class give the causal classes.",
                          {}, {"action": "algorithm1"})]
            title = f"My lesson on {ds.name}"
        return Lesson(title, data, list(steps), "", settings, panels, self.presenter.on)

    def save_lesson(self, path: str | Path) -> Path | None:
        try:
            out = save_lesson(self.current_lesson(), path)
        except (LessonError, OSError) as exc:
            self.dialogs.message("warning", "Could not save the lesson", str(exc))
            return None
        self.dialogs.status(f"lesson saved to {out}", 6000)
        return out

    def _generate_grating(self, values: dict[str, float]) -> None:
        ds = self.window.state.dataset
        meta = (ds.meta or {}) if ds is not None else {}
        n = int(meta.get("n", 2000)) if meta.get("source") == "grating" else 2000
        self.window.opener.open_builtin("grating", n=n, **values)

    # ----- a lesson file dropped on the window -----
    def open_dropped(self, path: str) -> bool:
        """A dropped .json / .toml file is a lesson (True: handled); anything else is data."""
        if Path(path).suffix.lower() not in (".toml", ".json"):
            return False
        self.open_lesson(path)
        return True


def install_teaching(window: QMainWindow) -> Teaching:
    return Teaching(window)

