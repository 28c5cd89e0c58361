"""Screenshots of live teaching for the README: presenter mode with the Barometer lesson at its
v-bar step, and the CCT explorer on a Supplement B model.

    python scripts/screenshots_teaching.py [--out docs/screenshots]

Runs at 1280 x 720 (a common projector size) with settings in a temporary folder. Under Xvfb
(DISPLAY set) it shows what a real X server draws; without a display it renders offscreen.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _wait(app, condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    home = tempfile.mkdtemp(prefix="viscause-shots-")
    os.environ["XDG_CONFIG_HOME"] = home

    from PySide6.QtCore import QSettings

    from viscause_gui.core.lessons import load_lesson, shipped_lessons
    from viscause_gui.gui.app import create_app, warm_up_torch
    from viscause_gui.gui.main_window import MainWindow
    from viscause_gui.gui.workers import configure_gui_threads, install_foreground_gate

    configure_gui_threads()
    app = create_app([])
    install_foreground_gate(app)
    warm_up_torch()
    window = MainWindow(settings=QSettings(str(Path(home) / "s.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 720)
    window.move(0, 0)
    window.show()
    teaching = window.teaching
    c = teaching.controller
    teaching.start_lesson(load_lesson(shipped_lessons()["barometer"]))
    for _ in range(3):                         # to step 4: the v-bar, after Algorithm 1
        _wait(app, lambda: not c.busy, 300)
        c.next()
    _wait(app, lambda: not c.busy, 300)
    _wait(app, lambda: False, 1.5)             # the readout's debounce, a repaint
    window.grab().save(str(args.out / "presenter_mode.png"))
    c.close()
    teaching.presenter.set_on(False)
    window.docks["cct"].setVisible(True)
    window.docks["cct"].raise_()
    teaching.cct.choose_preset("Supplement B, model 1")
    _wait(app, lambda: False, 1.0)
    window.grab().save(str(args.out / "cct_explorer_window.png"))
    window.docks["cct"].grab().save(str(args.out / "cct_explorer.png"))
    window.close()
    print("saved to", args.out)


if __name__ == "__main__":
    main()
