"""Issue 15, faults: SIGKILL of the app in the middle of a shared batch, then a restart: every
acknowledged answer is there, and the share resumes (new annotators finish the batch and the
loop goes on). The app runs in a child process (offscreen); annotators answer over HTTP while
it is killed."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kill, pytest.mark.slow,
              pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")]

DRIVER = textwrap.dedent(r'''
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import torch
    torch.set_num_threads(1)
    from PySide6.QtCore import QSettings
    from viscause_gui.gui.app import create_app
    from viscause_gui.gui.workers import (configure_gui_threads, install_foreground_gate,
                                          install_gui_thread_garbage_collector)
    from viscause_gui.core.experiments.grating import GratingModel
    from viscause_gui.core.share.server import Limits
    from viscause_gui.gui.widgets.dialogs import QtDialogs
    from viscause_gui.gui.main_window import MainWindow


    def main():
        ini, restart = sys.argv[1], sys.argv[2] == "restart"
        QtDialogs.ask = lambda self, title, text, default=True: True    # recover: yes
        configure_gui_threads()
        app = create_app()                                              # as viscause-gui starts
        install_foreground_gate(app)
        install_gui_thread_garbage_collector(app)
        window = MainWindow(settings=QSettings(ini, QSettings.Format.IniFormat), load_default=False)
        window.show_message = lambda *a: print("MESSAGE", *a, flush=True)
        learning, labelling = window.panels["learning"], window.panels["labelling"]
        if not restart:
            window.state.set_dataset(GratingModel().sample(500, 0))    # before the oracle choice
        for spin, v in ((learning.iterations_spin, 1), (learning.queries_spin, 4), (learning.epochs_spin, 2),
                        (learning.retrain_spin, 2)):
            spin.setValue(v)
        learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
        window.share.limits = Limits(annotator_rate=1000, annotator_burst=1000)

        def share():
            url = window.share.start(3)
            web = [r for r in labelling.records() if r.type == "answer" and r.annotator.startswith("web:")]
            print("RECORDS", " ".join(r.id for r in web), flush=True)
            print("URL", url, flush=True)

        labelling.batch_submitted.connect(lambda b: print("SUBMITTED", b.kind, flush=True))
        if restart:
            assert window.state.queue.waiting(), "nothing recovered"
            share()
        else:
            learning.run_finished.connect(lambda why: why == "human" and window.share.server is None and share())
            learning.buttons["step"].click()
        app.exec()

    if __name__ == "__main__":
        main()
''')


def api(url: str, name: str, obj) -> tuple[int, dict]:
    host, rest = url.split("//", 1)[1].split("/", 1)
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        conn.request("POST", f"/{rest}api/{name}", json.dumps(obj), {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


class Driver:
    def __init__(self, script: Path, ini: Path, mode: str):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen([sys.executable, str(script), str(ini), mode], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, prefix: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
            if self.proc.poll() is not None and not any(line.startswith(prefix) for line in self.lines):
                time.sleep(0.2)
                if not any(line.startswith(prefix) for line in self.lines):
                    raise AssertionError(f"the app ended: {self.lines[-30:]}")
            time.sleep(0.05)
        raise AssertionError(f"no {prefix!r} from the app: {self.lines[-30:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def test_sigkill_mid_batch_keeps_every_acknowledged_answer_and_the_share_resumes(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    ini = tmp_path / "viscause_gui.ini"
    app = Driver(script, ini, "start")
    acked: list[str] = []
    try:
        url = app.wait_for("URL")
        people = [api(url, "hello", {"annotator": None, "device": None})[1]["annotator"] for _ in range(4)]
        stop = threading.Event()

        def annotate(secret: str) -> None:             # each answers as fast as it can until the kill
            while not stop.is_set():
                try:
                    status, item = api(url, "next", {"annotator": secret})
                    if status != 200 or item.get("wait"):
                        return
                    status, ok = api(url, "answer", {"annotator": secret, "batch": item["batch"],
                                                     "index": item["index"], "answer": "yes"})
                except OSError:
                    return
                if status == 200:
                    acked.append(ok["id"])

        threads = [threading.Thread(target=annotate, args=(p,)) for p in people]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 12 and time.monotonic() < deadline:
            time.sleep(0.005)
        app.kill()                                      # in the middle of the batch, answers in flight
        stop.set()
        for t in threads:
            t.join(15)
        assert 12 <= len(acked) < 60                    # 20 images x k = 3
    finally:
        app.kill()

    again = Driver(script, ini, "restart")
    try:
        kept = set(again.wait_for("RECORDS").split())
        assert set(acked) <= kept                       # every acknowledged answer is there
        url = again.wait_for("URL")                     # the share resumes (a new token)
        for _ in range(6):                              # new annotators finish the batch
            secret = api(url, "hello", {"annotator": None, "device": None})[1]["annotator"]
            while True:
                status, item = api(url, "next", {"annotator": secret})
                assert status == 200
                if item["wait"]:
                    break
                assert api(url, "answer", {"annotator": secret, "batch": item["batch"], "index": item["index"],
                                           "answer": "yes" if item["index"] % 2 else "no"})[0] == 200
        assert again.wait_for("SUBMITTED") == "algorithm1"
    finally:
        again.kill()
