"""Stepping through a lesson: Back / Next / Play with a pace (no widgets; testable without a window).

The controller knows the lesson (core.lessons) and a `Stage`, the thing that carries a step out:
in the app `gui.teaching.WindowStage` (the main window's panels), in tests a stand-in. Going to a
step applies the settings in force there (the lesson's and every earlier step's) and the step's
set-up, then starts its run; the controller is busy until the stage reports the run's end. A
step's run happens once: going Back shows an earlier step's text and set-up again without
undoing what later steps learned, and Next over a step already run does not run it again
(`restart` reloads the data and starts from the first step, the same as the first time: every
run takes its seed from the lesson).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from viscause_gui.core.lessons import Lesson, Step

Done = Callable[[str], None]
OK_OUTCOMES = ("done", "goal", "human")


class Stage(Protocol):
    def load_data(self, lesson: Lesson) -> str | None:
        """Open the lesson's data; a problem in one line, or None."""

    def show_panels(self, panels: list[str]) -> None: ...

    def apply_settings(self, settings: dict[str, Any]) -> None: ...

    def set_up(self, step: Step) -> None:
        """The step's canvas image and the panel it brings forward."""

    def start(self, run: dict[str, Any], done: Done) -> None:
        """Start the run; call done(outcome) when it ends (perhaps at once): 'done', 'goal',
        'human' (waits for a person) or an error's text."""

    def cancel(self) -> None: ...


class LessonController(QObject):
    step_changed = Signal(int)        # the step now shown (0-based)
    busy_changed = Signal(bool)       # a step's run is going on
    playing_changed = Signal(bool)
    failed = Signal(str)              # a step's run or the data could not be done
    finished = Signal()               # the last step's run ended
    closed = Signal()

    MIN_PACE_S, MAX_PACE_S = 1.0, 120.0

    def __init__(self, stage: Stage, parent: QObject | None = None):
        super().__init__(parent)
        self.stage = stage
        self.lesson: Lesson | None = None
        self.index = -1
        self.busy = False
        self.pace_s = 8.0
        self._ran: set[int] = set()
        self._token = 0               # a run's end from before a restart / close is ignored
        self._play_timer = QTimer(self)
        self._play_timer.setSingleShot(True)
        self._play_timer.timeout.connect(self._play_tick)
        self.playing = False

    # ----- opening -----
    def open(self, lesson: Lesson) -> bool:
        """Load the lesson's data and show its first step (running it). False (and `failed`) when
        the data cannot be opened."""
        self.close(emit=False)
        problem = self.stage.load_data(lesson)
        if problem is not None:
            self.failed.emit(problem)
            return False
        self.lesson = lesson
        self.stage.show_panels(list(lesson.panels))
        self.go(0)
        return True

    def restart(self) -> bool:
        """The lesson from the start, data reloaded: what the first rehearsal showed."""
        return self.open(self.lesson) if self.lesson is not None else False

    def close(self, emit: bool = True) -> None:
        self.pause()
        if self.busy:
            self.stage.cancel()
        self._token += 1
        self._set_busy(False)
        self.lesson, self.index = None, -1
        self._ran.clear()
        if emit:
            self.closed.emit()

    # ----- stepping -----
    @property
    def step(self) -> Step | None:
        return None if self.lesson is None or self.index < 0 else self.lesson.steps[self.index]

    def can_back(self) -> bool:
        return self.lesson is not None and self.index > 0 and not self.busy

    def can_next(self) -> bool:
        return self.lesson is not None and self.index + 1 < len(self.lesson) and not self.busy

    def next(self) -> bool:
        if not self.can_next():
            return False
        self.go(self.index + 1)
        return True

    def back(self) -> bool:
        if not self.can_back():
            return False
        self.pause()
        self.go(self.index - 1, run=False)
        return True

    def go(self, index: int, run: bool = True) -> None:
        """Show step `index`: settings, set-up, and (once) its run."""
        assert self.lesson is not None
        self.index = index
        step = self.lesson.steps[index]
        self.stage.apply_settings(self.lesson.settings_at(index))
        self.stage.set_up(step)
        self.step_changed.emit(index)
        if run and step.run is not None and index not in self._ran:
            self._set_busy(True)
            token = self._token
            self.stage.start(dict(step.run), functools.partial(self._ended, token, index))
        elif index == len(self.lesson) - 1:
            self._at_end()
        else:
            self._schedule_play()

    def _ended(self, token: int, index: int, outcome: str) -> None:
        if token != self._token or self.lesson is None:
            return
        self._set_busy(False)
        if outcome not in OK_OUTCOMES:
            self.pause()
            self.failed.emit(f"step {index + 1}: {outcome}")
            return
        self._ran.add(index)
        self.step_changed.emit(self.index)       # the buttons: Next is possible again
        if index == len(self.lesson) - 1:
            self._at_end()
        else:
            self._schedule_play()

    def _at_end(self) -> None:
        self.pause()
        self.finished.emit()

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.busy_changed.emit(busy)

    # ----- playing -----
    def set_pace(self, seconds: float) -> None:
        """Seconds a step stays on screen (after its run ended) while playing."""
        self.pace_s = min(max(float(seconds), self.MIN_PACE_S), self.MAX_PACE_S)

    def play(self) -> None:
        if self.lesson is None or self.index + 1 >= len(self.lesson):
            return
        self.playing = True
        self.playing_changed.emit(True)
        self._schedule_play()

    def pause(self) -> None:
        self._play_timer.stop()
        if self.playing:
            self.playing = False
            self.playing_changed.emit(False)

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def _schedule_play(self) -> None:
        if self.playing and not self.busy:
            self._play_timer.start(int(self.pace_s * 1000))

    def _play_tick(self) -> None:
        if self.playing and not self.next() and not self.busy:
            self.pause()
