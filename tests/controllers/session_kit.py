"""A window's session without a window (for tests/controllers/test_session_*.py): the AppState, an
AnswerSession whose view fires `answered` as the Oracle (label) panel does, ScriptedDialogs,
DictSettings, and `SessionLife` over them. Deferred calls (Qt's zero-time single shot in the app)
are kept in `App.later` and run by `App.run_later`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.gui.controllers.session_life import SessionLife, SessionWiring
from viscause_gui.gui.models.answer_session import AnswerSession
from viscause_gui.gui.models.dialogs import DictSettings, ScriptedDialogs
from viscause_gui.gui.state import AppState


class Hook:
    """A Qt-free signal."""

    def __init__(self) -> None:
        self.slots: list[Any] = []

    def connect(self, slot) -> None:
        self.slots.append(slot)

    def emit(self, *args) -> None:
        for slot in list(self.slots):
            slot(*args)


class PanelView:
    """The Oracle (label) panel as the answer session's view: every record written fires `answered`."""

    def __init__(self, answered: Hook) -> None:
        self.answered, self.errors = answered, []

    def show_current(self) -> None: ...
    def show_status(self, text: str) -> None: ...
    def show_error(self, text: str) -> None: self.errors.append(text)
    def record_written(self, record) -> None: self.answered.emit(record)
    def submitted(self, batch) -> None: ...


def grating(n: int = 60, seed: int = 0):
    return GratingModel().sample(n, seed)


@dataclass
class App:
    state: AppState
    answers: AnswerSession
    dialogs: ScriptedDialogs
    settings: DictSettings
    life: SessionLife
    later: list = field(default_factory=list)

    @property
    def files(self):
        return self.life.files

    def run_later(self) -> None:
        while self.later:
            self.later.pop(0)()

    def answer(self, n: int) -> None:
        """The person answers the next `n` images of the queue."""
        for _ in range(n):
            assert self.answers.answer(1.0, "y") is not None

    def wait_for_answers(self) -> Experiment:
        """An experiment whose Algorithm 1 batch (20 images) waits for a person (no training yet)."""
        exp = Experiment(self.state.dataset, ExperimentConfig(iterations=1, queries=4, epochs=1, retrain_epochs=1))
        batch = next(exp.steps())
        self.state.set_experiment(exp)
        self.state.queue.add(batch)
        return exp

    def messages(self, level: str | None = None) -> list[tuple[str, str, str]]:
        return [m for m in self.dialogs.messages if level is None or m[0] == level]


def start(tmp_path: Path, *, data=None, settings: DictSettings | None = None, answers: list | None = None,
          paths: list | None = None, plots: dict | None = None, check_recovery: bool = True) -> App:
    """A window starting: its data set, then its session (which may offer to recover one)."""
    state = AppState()
    state.set_dataset(grating() if data is None else data)
    answered = Hook()
    session = AnswerSession(state.queue, lambda: state.experiment, PanelView(answered),  # T's outcomes as the
                            data_outcomes=lambda: None if state.dataset is None else state.dataset.outcomes)  # panel
    state.queue.changed.connect(session.refresh)                  # as the panel does
    settings = settings if settings is not None else DictSettings(file_name=str(tmp_path / "viscause_gui.ini"))
    dialogs = ScriptedDialogs(answers=list(answers or []), paths=list(paths or []))
    later: list = []
    life = SessionLife(SessionWiring(state, session, answered, dialogs, settings, plots=plots or {}),
                       check_recovery=check_recovery, later=later.append)
    return App(state, session, dialogs, settings, life, later)


def killed(app: App) -> None:
    """The process dies: no save, no close, its journal's lock goes with it."""
    app.files.autosaver.wait()
    app.answers.close_journal()


def same_images(a, b) -> bool:
    return np.array_equal(a.images, b.images)
