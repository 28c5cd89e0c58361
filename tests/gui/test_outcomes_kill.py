"""Issue 24, faults: answers over ten outcomes survive SIGKILL.

- The keyboard: a driver process answers a queued batch in the Oracle (label) panel with the ten digit
  keys, '?' and Backspace (undo) as fast as it can and prints each record once the journal returned; the
  test SIGKILLs it at several points, checks that every confirmed record is in the (version 2) journal as
  an outcome index, and restarts it on the same journal: the panel counts every answer again and shows the
  outcome given to the image it opens on.
- The share page's API: a driver serves a ten-outcome share (hub, server, journal); annotators answer over
  HTTP with outcome indices and the driver is SIGKILLed while they do; every answer acknowledged with a
  200 is in the journal, and a restarted share on that journal counts them in its tally.
"""
from __future__ import annotations

import http.client
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.gui.test_share import api
from viscause_gui.core.store.journal import read_journal
from viscause_gui.core.store.votes import resolve

pytestmark = [pytest.mark.kill, pytest.mark.slow,
              pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")]

NAMES = [str(d) for d in range(10)]

KEYBOARD = textwrap.dedent(r'''
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import numpy as np
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from viscause_gui.core.data.dataset import Dataset
    from viscause_gui.core.method.experiment import QueryBatch
    from viscause_gui.core.store.journal import Journal
    from viscause_gui.gui.panels.labelling import LabellingPanel
    from viscause_gui.gui.state import AppState

    path, limit = sys.argv[1], int(sys.argv[2])
    app = QApplication([])
    rng = np.random.default_rng(1)
    images = (rng.random((2000, 8, 8)) > 0.5).astype(np.float32)
    state = AppState()
    state.set_dataset(Dataset(images=images[:10], t=np.arange(10), name="ten"))
    state.queue.add(QueryBatch("manual", 1, images, np.zeros(len(images), np.int64)))
    panel = LabellingPanel(state)
    panel.set_journal(Journal(path, "kill-ten", outcomes=panel.session.journal_outcomes()))
    print("START", panel.progress.text(), "|", panel.answer_label.text(), flush=True)
    records = panel.journal.records
    keys = "0123456789?"
    for step in range(limit):
        before = len(records)
        if step % 7 == 6:
            QTest.keyClick(panel, Qt.Key.Key_Backspace)
        else:
            QTest.keyClicks(panel, keys[step % len(keys)])
        if len(records) > before:                     # the journal returned: it is on disk
            r = records[-1]
            print("CONFIRMED", r.type, r.id, flush=True)
    print("END", flush=True)
''')

SHARE = textwrap.dedent(r'''
    import sys, threading
    import numpy as np
    from viscause_gui.core.share.hub import ShareHub
    from viscause_gui.core.share.server import Limits, ShareServer
    from viscause_gui.core.store.journal import Journal

    path = sys.argv[1]
    names = tuple(str(d) for d in range(10))
    journal = Journal(path, "kill-share", outcomes=names)
    hub = ShareHub(lambda: journal, lambda: journal.records, k=50, outcomes=names, seed=0)
    hub.set_batches([("algorithm1:0", np.random.default_rng(5).random((10, 8, 8)).astype(np.float32))])
    tally = hub.tally()
    print("TALLY", sum(r["n"] for r in tally.batches[0]["rows"]), flush=True)
    free = 10_000
    server = ShareServer(hub, limits=Limits(ip_rate=free, ip_burst=free, annotator_rate=free, annotator_burst=free,
                                            new_annotator_rate=free, new_annotator_burst=free))
    server.start()
    print("URL", server.port, server.token, flush=True)
    threading.Event().wait()
''')


def start(script: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def kill(proc: subprocess.Popen) -> str:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    rest = proc.stdout.read()
    proc.stdout.close()
    proc.stderr.close()
    return rest


def run_until(proc: subprocess.Popen, confirmations: int) -> tuple[str, list[str]]:
    """Read lines until `confirmations` records are confirmed, then SIGKILL at once."""
    first, confirmed = "", []
    deadline = time.monotonic() + 60
    while len(confirmed) < confirmations:
        line = proc.stdout.readline()
        assert line, f"the driver died: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "the driver is too slow"
        if line.startswith("START"):
            first = line.strip()
        elif line.startswith("CONFIRMED"):
            confirmed.append(line.split()[2])
    confirmed += [ln.split()[2] for ln in kill(proc).splitlines() if ln.startswith("CONFIRMED")]
    return first, confirmed


def test_keyboard_answers_over_ten_outcomes_survive_sigkill(tmp_path):
    script = tmp_path / "keyboard.py"
    script.write_text(KEYBOARD)
    journal = tmp_path / "ten.journal.jsonl"
    all_confirmed: list[str] = []
    expected = "START 0 / 2000 answered | not answered yet"
    for kill_after in (1, 9, 30, 70):
        first, confirmed = run_until(start(script, str(journal), "100000"), kill_after)
        assert first == expected                     # the restarted panel: every answer, and the one it shows
        all_confirmed += confirmed
        contents = read_journal(journal)
        assert contents.header["version"] == 2 and contents.header["outcomes"] == NAMES
        missing = [c for c in all_confirmed if c not in {r.id for r in contents.records}]
        assert not missing, f"lost {len(missing)} confirmed record(s) after a kill at {kill_after}"
        assert contents.skipped == 0, contents.problems
        values = [r.value for r in contents.records if r.type == "answer"]
        assert all(math.isnan(v) or v in range(10) for v in values)
        in_force = resolve(contents.records)
        first_image = in_force.get(("manual:1", 0, "user"))
        shown = ("not answered yet" if first_image is None else
                 "your answer: ?" if math.isnan(first_image.value) else
                 f"your answer: {int(first_image.value)} [{int(first_image.value)}]")
        expected = f"START {len(in_force)} / 2000 answered | {shown}"
    assert {v for v in values if not math.isnan(v)} == set(range(10)) and any(math.isnan(v) for v in values)


def annotate(port: int, token: str, person: int, acknowledged: list, stop: threading.Event) -> None:
    """One annotator answering outcome indices until stopped (or the server is gone)."""
    try:
        me = api(port, token, "hello", {"annotator": None, "device": f"{person:032x}"})[1]["annotator"]
        while not stop.is_set():
            item = api(port, token, "next", {"annotator": me})[1]
            if item.get("wait"):
                return
            status, body = api(port, token, "answer", {"annotator": me, "batch": item["batch"],
                                                       "index": item["index"], "answer": (person + item["index"]) % 10})
            if status == 200:
                acknowledged.append(body["id"])
    except (OSError, http.client.HTTPException, KeyError, ValueError):
        return                                       # the server was killed under this annotator


def test_share_answers_over_ten_outcomes_acknowledged_before_a_sigkill_are_all_kept(tmp_path):
    script = tmp_path / "share.py"
    script.write_text(SHARE)
    journal = tmp_path / "share.journal.jsonl"
    proc = start(script, str(journal))
    assert proc.stdout.readline().split() == ["TALLY", "0"]
    _, port, token = proc.stdout.readline().split()
    acknowledged: list[str] = []
    stop = threading.Event()
    people = [threading.Thread(target=annotate, args=(int(port), token, p, acknowledged, stop)) for p in range(8)]
    for t in people:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 25 and time.monotonic() < deadline:
        time.sleep(0.01)
    kill(proc)                                       # while the annotators are still answering
    stop.set()
    for t in people:
        t.join(15)
    assert len(acknowledged) >= 25
    contents = read_journal(journal)
    assert contents.header["outcomes"] == NAMES and contents.skipped == 0
    ids = {r.id for r in contents.records}
    assert [a for a in acknowledged if a not in ids] == []
    assert all(0 <= r.value <= 9 and r.value == int(r.value) for r in contents.records)
    again = start(script, str(journal))                # the share restarts on the journal: its tally has them
    try:
        counted = int(again.stdout.readline().split()[1])
    finally:
        kill(again)
    assert counted == len(resolve(contents.records)) >= len(acknowledged)
