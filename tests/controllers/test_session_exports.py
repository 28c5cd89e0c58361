"""Exports and earlier answers without a window (controllers.session_exports, earlier_answers): each
export that fails gives one message and changes nothing; the plots are written by the window's
writers; answers other sessions gave to the same images are offered, and taken only on Yes."""
from __future__ import annotations

import csv

from viscause_gui.gui.models.dialogs import Choice

from .session_kit import start


def test_answers_csv_and_its_failure(tmp_path):
    app = start(tmp_path, paths=[str(tmp_path / "answers.csv")])
    app.wait_for_answers()
    app.answer(2)
    app.life.exports.answers_dialog()
    with open(tmp_path / "answers.csv", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 2
    assert not app.life.exports.answers(tmp_path / "no-such-folder" / "answers.csv")
    assert [m[:2] for m in app.dialogs.messages] == [("warning", "Could not export the answers")]


def test_the_causal_data_set_needs_an_experiment(tmp_path):
    app = start(tmp_path, paths=[None])
    app.life.exports.causal_dialog()                              # cancelled: nothing, no message
    assert not app.dialogs.messages
    assert not app.life.exports.causal(tmp_path / "causal.npz")
    [(level, title, text)] = app.dialogs.messages
    assert (level, title) == ("warning", "Could not export the causal data set") and "no experiment" in text
    assert not (tmp_path / "causal.npz").exists()


def test_plots_are_written_by_the_windows_writers_and_a_failure_says_which(tmp_path):
    wrote: list[str] = []

    def writer(ok: bool):
        return lambda path: wrote.append(path) or ok

    app = start(tmp_path, plots={"loss": writer(True), "merr": writer(True), "mdist": writer(True)})
    written = app.life.exports.plots(tmp_path / "run.png")
    assert [p.name for p in written] == ["run-loss.png", "run-merr.png", "run-mdist.png"] and not app.dialogs.messages
    assert wrote == [str(p) for p in written]
    app = start(tmp_path / "b", plots={"loss": writer(True), "merr": writer(False), "mdist": writer(True)})
    assert [p.name for p in app.life.exports.plots(tmp_path / "run")] == ["run-loss.png"]
    [(level, title, text)] = app.dialogs.messages
    assert (level, title) == ("warning", "Could not export the plots") and "run-merr.png" in text


def earlier_session(tmp_path, n=5):
    """A session that answered the first n images of its Algorithm 1 batch, then was discarded (its
    journal set aside in the recovery folder, where later sessions look)."""
    first = start(tmp_path, answers=[Choice.DISCARD])
    first.wait_for_answers()
    first.answer(n)
    assert first.life.may_drop_work("Quit")
    first.life.close()
    return first


def test_earlier_answers_to_the_same_images_are_offered_and_taken_on_yes(tmp_path):
    first = earlier_session(tmp_path)
    app = start(tmp_path, settings=first.settings, answers=[True])
    app.wait_for_answers()                                        # the same data, the same batch
    assert app.later and app.answers.records() == []             # looked for once the queue is done
    app.run_later()
    [(title, text)] = app.dialogs.asked
    assert title == "Reuse earlier answers?" and "5 answer(s) to 5 of the 20 image(s)" in text
    records = app.answers.records()
    assert len(records) == 5 and all(r.reused_from.startswith(first.files.session_id + ":") for r in records)
    assert all(r.session == app.files.session_id for r in records)
    assert app.dialogs.statuses[-1] == "reused 5 earlier answer(s)" and app.life.has_unsaved_work()


def test_earlier_answers_are_not_taken_on_no_or_with_no_one_to_ask(tmp_path):
    first = earlier_session(tmp_path)
    for answers in ([False], []):
        app = start(tmp_path / str(len(answers)), settings=first.settings, answers=answers)
        app.wait_for_answers()
        app.run_later()
        assert len(app.dialogs.asked) == 1 and app.answers.records() == [] and not app.dialogs.messages
        app.dialogs.answers.append(Choice.DISCARD)            # this one leaves nothing to recover
        assert app.life.may_drop_work("Quit")
        app.life.close()


def test_nothing_is_offered_while_the_window_closes(tmp_path):
    first = earlier_session(tmp_path)
    app = start(tmp_path, settings=first.settings, answers=[True])
    app.life.earlier.closing = lambda: True
    app.wait_for_answers()
    app.run_later()
    assert app.dialogs.asked == [] and app.answers.records() == []
