"""The lesson controller without a window: a stand-in stage records what each step asks for."""
from __future__ import annotations

import pytest

from viscause_gui.core.lessons import Lesson, Step
from viscause_gui.gui.controllers.lessons import LessonController


class FakeStage:
    def __init__(self, finish_at_once: bool = True, problem: str | None = None):
        self.log: list[tuple] = []
        self.finish_at_once = finish_at_once
        self.problem = problem
        self.pending = None

    def load_data(self, lesson):
        self.log.append(("load", lesson.data["builtin"]))
        return self.problem

    def show_panels(self, panels):
        self.log.append(("panels", tuple(panels)))

    def apply_settings(self, settings):
        self.log.append(("settings", dict(settings)))

    def set_up(self, step):
        self.log.append(("setup", step.text))

    def start(self, run, done):
        self.log.append(("run", run["action"]))
        if self.finish_at_once:
            done("done")
        else:
            self.pending = done

    def cancel(self):
        self.log.append(("cancel",))


def lesson() -> Lesson:
    return Lesson("L", {"builtin": "grating"}, [
        Step("one", {"canvas": "blank"}, {"action": "observe"}),
        Step("two", {"seed": 3}),
        Step("three", {}, {"action": "algorithm1"}),
    ], settings={"oracle": "truth"}, panels=["classes"])


def runs(stage):
    return [entry[1] for entry in stage.log if entry[0] == "run"]


def test_next_and_back(qtbot):
    stage = FakeStage()
    c = LessonController(stage)
    ended = []
    c.finished.connect(lambda: ended.append(1))
    assert c.open(lesson())
    assert c.index == 0 and runs(stage) == ["observe"] and ("panels", ("classes",)) in stage.log
    assert not c.can_back()
    assert c.next() and c.index == 1
    assert stage.log[-1] == ("setup", "two")
    assert [e for e in stage.log if e[0] == "settings"][-1][1] == {"seed": 3, "oracle": "truth"}
    assert c.next() and c.index == 2 and runs(stage) == ["observe", "algorithm1"] and ended == [1]
    assert not c.next()
    assert c.back() and c.index == 1 and c.back() and c.index == 0
    assert runs(stage) == ["observe", "algorithm1"], "Back runs nothing"
    c.next(), c.next()
    assert runs(stage) == ["observe", "algorithm1"], "a step's run happens once"
    assert c.restart() and runs(stage) == ["observe", "algorithm1", "observe"]


def test_busy_while_a_run_goes_on_and_failures_stop(qtbot):
    stage = FakeStage(finish_at_once=False)
    c = LessonController(stage)
    failures = []
    c.failed.connect(failures.append)
    c.open(lesson())
    assert c.busy and not c.can_next()
    stage.pending("done")
    assert not c.busy and c.next() and c.next()
    c.play()
    stage.pending("the oracle failed")
    assert failures == ["step 3: the oracle failed"] and not c.playing and not c.busy


def test_play_goes_on_by_itself_at_its_pace(qtbot):
    stage = FakeStage()
    c = LessonController(stage)
    c.open(lesson())
    c.set_pace(0.01)
    assert c.pace_s == c.MIN_PACE_S          # at least a second per step
    c.pace_s = 0.05
    with qtbot.waitSignal(c.finished, timeout=3000):
        c.play()
    assert c.index == 2 and not c.playing


def test_data_that_cannot_be_opened(qtbot):
    c = LessonController(FakeStage(problem="grating: n must be positive"))
    failures = []
    c.failed.connect(failures.append)
    assert not c.open(lesson()) and failures == ["grating: n must be positive"] and c.lesson is None


def test_close_ignores_a_late_end(qtbot):
    stage = FakeStage(finish_at_once=False)
    c = LessonController(stage)
    c.open(lesson())
    done = stage.pending
    c.close()
    assert ("cancel",) in stage.log
    done("done")                 # the cancelled run ends late: nothing happens
    assert c.lesson is None and c.index == -1


@pytest.fixture(autouse=True)
def _qapp(qapp):
    return qapp
