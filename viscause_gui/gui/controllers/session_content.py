"""What a session holds, taken from the app and put back (Qt-free).

A session is the data set (or the experiment, which holds it), every answer and undo of the
answer journal, and the settings around them: what T asks about and the question in words (the
AppState), the learning run's settings, goal and loss curve (`RunSource`, the Learning panel's
RunController), and settings others keep (`SettingsPart`: the Oracle (label) panel's blind mode
and answers per image, the share's k, vote rule and hand-on time).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from viscause_gui.core.method.experiment import Experiment, QueryBatch
from viscause_gui.core.store.session import SessionData, SessionError
from viscause_gui.gui.models.answer_session import AnswerSession
from viscause_gui.gui.models.run_form import RunForm


@dataclass(frozen=True)
class SettingsPart:
    """Settings a session keeps for someone else: `save` gives keys for the session's settings,
    `restore` gets the settings of a session opened or recovered (bad or missing values: its defaults)."""

    save: Callable[[], dict[str, Any]]
    restore: Callable[[Mapping[str, Any]], None]


class RunSource(Protocol):
    """What a session needs of the learning run (controllers.run.RunController)."""

    experiment: Experiment | None         # the live experiment (the worker's while it runs)
    form: RunForm

    @property
    def running(self) -> bool: ...
    @property
    def goal(self) -> tuple[Any, int]: ...
    @property
    def labels_only(self) -> bool: ...
    def settings_for_session(self) -> dict: ...
    def restore_settings(self, saved: object, oracle: object, oracles: tuple[str, ...]) -> None: ...
    def wait_for_answers(self, goal: Any) -> None: ...


class SessionContent:
    """The session as the app holds it now (`take`), and a loaded one made the app's (`put_back`)."""

    def __init__(self, state: Any, answers: AnswerSession, run: RunSource | None = None,
                 oracles: Callable[[], tuple[str, ...]] = tuple, parts: Sequence[SettingsPart] = ()):
        self.state, self.answers, self.run = state, answers, run
        self.oracles, self.parts = oracles, tuple(parts)

    # ----- the experiment and the work -----
    def running(self) -> bool:
        return self.run is not None and self.run.running

    def experiment(self) -> Experiment | None:
        """The experiment, also while a run owns it."""
        return self.run.experiment if self.run is not None else self.state.experiment

    def live_experiment(self) -> Experiment | None:
        """The experiment when no run owns it (None while it runs)."""
        return None if self.running() else self.experiment()

    def has_work(self) -> bool:
        """An experiment or answers: what a person would not want to lose."""
        return self.experiment() is not None or bool(self.answers.records())

    def describe_work(self) -> str:
        exp = self.experiment()
        n = sum(r.type == "answer" for r in self.answers.records())
        parts = ([] if exp is None else [describe_experiment(exp)]) + ([f"{n} answer(s)"] if n else [])
        return " and ".join(parts) or "changes"

    # ----- taking it -----
    def take(self, session_id: str, created: str) -> SessionData:
        """The session now; SessionError while the experiment runs or when there is no data."""
        if self.running():
            raise SessionError("the experiment is running; save when it waits for answers or has stopped")
        exp = self.live_experiment()
        settings: dict[str, Any] = {}
        for part in self.parts:
            settings.update(part.save())
        settings["positive_digit"] = self.state.positive_label
        settings["question"] = self.state.question()          # what the oracle is asked, in words
        if self.run is not None:
            goal, base = self.run.goal
            settings.update(oracle=self.run.form.oracle, goal=goal, goal_base=base,
                            learning=self.run.settings_for_session())
        answers = self.answers.records()
        if exp is not None:
            return SessionData(experiment=exp, answers=answers, settings=settings,
                               session_id=session_id, created=created)
        if self.state.dataset is None:
            raise SessionError("there is no data to save")
        return SessionData(dataset=self.state.dataset, answers=answers, settings=settings,
                           session_id=session_id, created=created)

    # ----- putting it back -----
    def put_back(self, session: SessionData) -> QueryBatch | None:
        """Make a loaded session the app's: its data set, settings and experiment. The batch its
        experiment waits on is queued without notice and returned (the journal's answers to it are
        replayed by whoever opens the journal next)."""
        settings = session.settings
        self.state.set_dataset(session.dataset)
        for part in self.parts:
            part.restore(settings)
        positive = settings.get("positive_digit")
        if isinstance(positive, int) and not isinstance(positive, bool):     # what T asks about
            if self.run is not None and self.run.labels_only:
                self.run.form.set(label=positive)
            self.state.set_positive_label(positive)
        question = settings.get("question")
        self.state.set_question(question if isinstance(question, str) else None)
        pending = None
        exp = session.experiment
        if exp is not None:
            self.state.set_experiment(exp)
            if self.run is not None and self.run.experiment is not exp:   # the run adopts on model_changed
                self.run.experiment = exp
            if exp.pending is not None:
                if self.run is not None:
                    self.run.wait_for_answers(settings.get("goal"))
                pending = exp.pending
                self.state.queue.add(pending, notify=False)
        if self.run is not None:
            self.run.restore_settings(settings.get("learning"), settings.get("oracle"), self.oracles())
        return pending


def describe_experiment(exp: Any) -> str:
    """An experiment in the person's words: how far it got."""
    if exp.history:
        return f"an experiment with {len(exp.history)} iteration(s) of Algorithm 2"
    if exp.nets:
        return "an experiment trained by Algorithm 1"
    return "an experiment waiting for answers to Algorithm 1"
