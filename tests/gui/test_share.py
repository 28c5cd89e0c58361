"""Issue 15: Share → Let others answer in the main window. Annotators answer over HTTP on
127.0.0.1; the votes go to the experiment and the loop goes on by itself; the tally, the
journal (annotator ids and times) and the export show exactly those answers; the question is
kept in the session; closing the window stops the server."""
from __future__ import annotations

import csv
import http.client
import json
import math

import pytest
from PySide6.QtCore import Qt

from viscause_gui.core.experiments.grating import GratingModel, has_hbar
from viscause_gui.core.share.server import Limits
from viscause_gui.core.store.journal import read_journal
from viscause_gui.core.store.session import journal_path
from viscause_gui.core.store.votes import resolve
from viscause_gui.gui.main_window import MainWindow

pytestmark = pytest.mark.slow      # the main window runs Algorithm 1 and shares its batch with web clients

WAIT_MS = 60_000


def api(port: int, token: str, name: str, obj) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", f"/j/{token}/api/{name}", json.dumps(obj), {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


def decode_png(data_url: str):
    import base64
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


@pytest.fixture
def window(qtbot, settings):
    window = MainWindow(settings=settings, load_default=False)
    window.messages = []
    window.show_message = lambda level, title, text: window.messages.append((level, title, text))
    qtbot.addWidget(window)
    gm = GratingModel()
    window.state.set_dataset(gm.sample(500, 0))
    learning = window.panels["learning"]
    learning.iterations_spin.setValue(1)
    learning.queries_spin.setValue(6)
    learning.epochs_spin.setValue(2)
    learning.retrain_spin.setValue(2)
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
    window.share.limits = Limits(annotator_rate=1000, annotator_burst=1000)   # scripted people are quick
    yield window
    window.share.stop()


def answer_all(port, token, people, images_of, truthful=True) -> list[tuple[str, str, int, str]]:
    """Each annotator answers until the page says wait; (name, batch, index, answer) of each answer."""
    given = []
    for secret, name in people:
        while True:
            status, item = api(port, token, "next", {"annotator": secret})
            assert status == 200
            if item["wait"]:
                break
            image = images_of(item["batch"])[item["index"]]
            ans = ("yes" if has_hbar(image) else "no") if truthful else "?"
            status, _ = api(port, token, "answer", {"annotator": secret, "batch": item["batch"],
                                                     "index": item["index"], "answer": ans})
            assert status == 200
            given.append((name, item["batch"], item["index"], ans))
    return given


def test_the_class_answers_and_the_loop_goes_on(qtbot, window, tmp_path):
    learning, share = window.panels["learning"], window.share
    window.state.set_question("Is there a horizontal bar?")
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        learning.buttons["step"].click()                        # Algorithm 1's batch waits for answers
    batch = window.state.queue.waiting()[0]
    window.actions["share"].trigger()
    sw = window.share_window
    sw.k.setValue(2)
    qtbot.mouseClick(sw.start_button, Qt.MouseButton.LeftButton)
    assert share.running and share.server.host == "127.0.0.1"
    assert sw.join.text().endswith(share.server.join_code) and not sw.qr.pixmap().isNull()
    port, token = share.server.port, share.server.token
    people = []
    for _ in range(3):
        _status, hello = api(port, token, "hello", {"annotator": None, "device": None})
        assert hello["question"] == "Is there a horizontal bar?"
        people.append((hello["annotator"], "web:" + hello["name"]))
    _status, item = api(port, token, "next", {"annotator": people[0][0]})
    shown = decode_png(item["image"])
    assert shown.shape[0] >= 100                                  # enlarged for a phone
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS) as finished:
        given = answer_all(port, token, people, lambda key: batch.images)
    assert finished.args == ["human"]                              # the votes went in; Algorithm 2 asks
    assert len(given) == 2 * len(batch)
    assert [b.kind for b in window.state.queue.waiting()] == ["algorithm2"]
    qtbot.waitUntil(lambda: share.hub.offered() == ["algorithm2:1"], timeout=5000)
    # the journal holds exactly those answers, with annotator ids and times
    records = read_journal(journal_path(window.session.files.session_file())).records
    web = [r for r in records if r.annotator.startswith("web:")]
    assert sorted((r.annotator, r.batch, r.index) for r in web) == sorted((n, b, i) for n, b, i, _ in given)
    assert all(r.time and r.image_sha256 for r in web)
    # the experiment got the majority votes (truthful annotators: the truth)
    assert learning.experiment.batches[0].answers.tolist() == [1.0 if has_hbar(im) else 0.0 for im in batch.images]
    # the tally: this batch now, every answer overall
    share.count()                                                # counted off the GUI thread
    qtbot.waitUntil(lambda: sw.people_model.rowCount() == 3 and sw.tally_model.rowCount() == 6, timeout=5000)
    tally = share.tally()
    assert tally.batches[0]["key"] == "algorithm2:1" and tally.overall.answers == len(given)
    assert tally.overall.percent == 1.0
    assert {p["name"] for p in tally.annotators} == {n for _, n in people}
    # export: every answer with its annotator id
    out = tmp_path / "answers.csv"
    assert window.session.exports.answers(out)
    with open(out, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sum(r["annotator"].startswith("web:") for r in rows) == len(given)
    # the question is kept in the session
    assert window.session.current_session().settings["question"] == "Is there a horizontal bar?"
    thread = share.server._thread
    window.close()
    assert not share.running and not thread.is_alive()


def test_undo_ties_and_keyboard_count_together(qtbot, window):
    """k = 2 with a tie rule: one web annotator and the person at the keyboard answer; a web undo
    gives the image back; '?' answers are left out of the vote."""
    learning, labelling, share = window.panels["learning"], window.panels["labelling"], window.share
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        learning.buttons["step"].click()
    batch = window.state.queue.waiting()[0]
    from viscause_gui.core.share.consensus import VoteRule
    share.start(2, rule=VoteRule(ties="yes"))
    port, token = share.server.port, share.server.token
    _, hello = api(port, token, "hello", {"annotator": None, "device": None})
    me = hello["annotator"]
    _, first = api(port, token, "next", {"annotator": me})
    api(port, token, "answer", {"annotator": me, "batch": first["batch"], "index": first["index"], "answer": "no"})
    assert api(port, token, "undo", {"annotator": me})[0] == 200
    _, again = api(port, token, "next", {"annotator": me})
    assert again["index"] == first["index"]                      # answer it again
    # the web annotator says '?' to all, the keyboard the truth: '?' is left out, so the truth wins
    answer_all(port, token, [(me, "web")], lambda key: batch.images, truthful=False)
    qtbot.wait(400)                                               # the coalesced refresh
    assert labelling.needed() == 2
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        for _ in range(len(batch)):
            b, i = labelling.current()
            qtbot.keyClicks(labelling, "y" if has_hbar(b.images[i]) else "n")
    assert learning.experiment.batches[0].answers.tolist() == [1.0 if has_hbar(im) else 0.0 for im in batch.images]
    records = labelling.records()
    final = resolve(records)
    assert sum(1 for k in final if k[2] == "user") == len(batch)
    assert sum(1 for k, r in final.items() if k[2].startswith("web:") and math.isnan(r.value)) == len(batch)
    assert any(r.type == "undo" and r.annotator.startswith("web:") for r in records)


def test_the_question_and_the_share_settings_are_kept_in_the_session(qtbot, window, tmp_path):
    from viscause_gui.core.share.consensus import VoteRule

    window.state.set_question("Is there a horizontal bar?")
    window.share.start(3, lease_s=90, rule=VoteRule(ties="half", unknown="vote"))
    assert window.panels["labelling"].session.combine is not None          # the share's vote rule…
    window.share.stop()
    assert window.panels["labelling"].session.combine is None              # …only while it shares
    assert window.session.save_to(tmp_path / "q.vcsession")
    window.state.set_question(None)
    window.share.restore_settings({"k": 5, "lease_s": 60, "rule": {}})
    assert window.state.question() == window.state.default_question()
    assert window.session.open(tmp_path / "q.vcsession")
    assert window.state.question() == "Is there a horizontal bar?"
    assert window.share.settings() == {"k": 3, "lease_s": 90.0,
                                       "rule": {"method": "majority", "ties": "half", "unknown": "vote"}}
    window.actions["share"].trigger()                            # the window shows them
    sw = window.share_window
    assert (sw.k.value(), sw.lease.value(), sw.ties.currentData(), sw.unknown.currentData()) == (3, 90, "half", "vote")


def test_the_oracle_panel_shows_the_answers_given_on_the_web(qtbot, window):
    """The Oracle (label) panel on screen while the class answers: it catches up with the web's answers
    (it said "0 / 6 answered" and "not answered yet" until its tab was shown again)."""
    window.resize(1600, 1000)
    window.show()
    learning, labelling, share = window.panels["learning"], window.panels["labelling"], window.share
    with qtbot.waitSignal(learning.run_finished, timeout=WAIT_MS):
        learning.buttons["step"].click()
    window.docks["labelling"].raise_()
    qtbot.waitUntil(labelling.isVisible, timeout=5000)
    batch = window.state.queue.waiting()[0]
    window.actions["share"].trigger()
    window.share_window.k.setValue(1)                               # one answer per image
    qtbot.mouseClick(window.share_window.start_button, Qt.MouseButton.LeftButton)
    port, token = share.server.port, share.server.token
    _, hello = api(port, token, "hello", {"annotator": None, "device": None})
    _, item = api(port, token, "next", {"annotator": hello["annotator"]})
    assert labelling.progress.text() == f"0 / {len(batch)} answered"
    status, _ = api(port, token, "answer", {"annotator": hello["annotator"], "batch": item["batch"],
                                             "index": item["index"], "answer": "yes"})
    assert status == 200
    qtbot.waitUntil(lambda: labelling.progress.text() == f"1 / {len(batch)} answered", timeout=5000)
