"""Issue 4: kill -9 while answering never loses a confirmed answer.

A driver process answers (and sometimes undoes) queued images with the keyboard through the
LabellingPanel offscreen, as fast as it can, and prints a line for every answer once the
panel has moved on (that is: once the journal returned). The test SIGKILLs it at several
points, checks that every confirmed record is in the journal, restarts the driver on the
same journal (which cuts a torn last line) and goes on; the restarted panel shows every
confirmed answer again.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from viscause_gui.core.store.journal import Journal, read_journal
from viscause_gui.core.store.votes import resolve

pytestmark = [pytest.mark.kill, pytest.mark.slow,
              pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")]

DRIVER = textwrap.dedent(r'''
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
    images = (rng.random((3000, 8, 8)) > 0.5).astype(np.float32)
    state = AppState()
    state.set_dataset(Dataset(images=images[:10], name="tiny"))
    state.queue.add(QueryBatch("manual", 1, images, np.zeros(len(images), np.int64)))
    panel = LabellingPanel(state)
    panel.set_journal(Journal(path, "kill-test-session"))
    print("START", panel.progress.text(), flush=True)
    records = panel.journal.records
    for step in range(limit):
        before = len(records)
        if step % 7 == 6:
            QTest.keyClick(panel, Qt.Key.Key_Backspace)
        else:
            QTest.keyClicks(panel, "y" if step % 2 else "n")
        if len(records) > before:                     # the journal returned: it is on disk
            r = records[-1]
            print("CONFIRMED", r.type, r.id, flush=True)
    print("END", flush=True)
''')


def start(script: Path, journal: Path, limit: int = 100_000) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, str(script), str(journal), str(limit)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def run_until(proc: subprocess.Popen, confirmations: int) -> tuple[str, list[str]]:
    """Read lines until `confirmations` answers are confirmed, then SIGKILL at once."""
    first, confirmed = "", []
    deadline = time.monotonic() + 30
    while len(confirmed) < confirmations:
        line = proc.stdout.readline()
        assert line, f"the driver died: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "the driver is too slow"
        if line.startswith("START"):
            first = line.strip()
        elif line.startswith("CONFIRMED"):
            confirmed.append(line.split()[2])
    os.kill(proc.pid, signal.SIGKILL)                # lands in the middle of the next answers
    proc.wait(10)
    confirmed += [ln.split()[2] for ln in proc.stdout.read().splitlines() if ln.startswith("CONFIRMED")]
    proc.stdout.close()
    proc.stderr.close()
    return first, confirmed


def test_sigkill_at_several_points_loses_no_confirmed_answer(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    journal = tmp_path / "answers.journal.jsonl"
    all_confirmed: list[str] = []
    expected_progress = "0 / 3000 answered"
    for kill_after in (1, 5, 23, 60):
        first, confirmed = run_until(start(script, journal), kill_after)
        # the restarted panel shows every answer in force before the kill
        assert first == f"START {expected_progress}"
        all_confirmed += confirmed
        contents = read_journal(journal)
        ids = {r.id for r in contents.records}
        missing = [c for c in all_confirmed if c not in ids]
        assert not missing, f"lost {len(missing)} confirmed record(s) after a kill at {kill_after}"
        assert contents.skipped == 0, contents.problems   # only a torn last line may be cut
        answered = {(b, i) for (b, i, _a) in resolve(contents.records)}
        expected_progress = f"{len(answered)} / 3000 answered"
    # a last clean run opens the journal (cutting any torn tail) and sees the same answers
    with Journal(journal, "kill-test-session") as j:
        assert {c for c in all_confirmed} <= {r.id for r in j.records}
    # a write torn by a kill in the middle of a line: the next start cuts it off and goes on
    with open(journal, "ab") as f:
        f.write(b'{"type":"answer","id":"torn","seq":99999,"batch":"manual:1","ind')
    proc = start(script, journal, limit=3)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines()[0] == f"START {expected_progress}"
    contents = read_journal(journal)
    assert not contents.torn and contents.skipped == 0 and "torn" not in {r.id for r in contents.records}
