"""`viscause-gui`: set up the QApplication and open the main window."""
from __future__ import annotations

import argparse
import gc
import sys
from typing import Sequence

import pyqtgraph as pg
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from viscause_gui.core.lessons import LessonError, find_lesson, load_lesson, shipped_lessons
from viscause_gui.core.runtime.training_process import TrainingProcessError, shared_training_process
from viscause_gui.gui.main_window import MainWindow
from viscause_gui.gui.settings import APPLICATION, ORGANIZATION
from viscause_gui.gui.teaching import app_icon
from viscause_gui.gui.workers import (configure_gui_threads, install_foreground_gate,
                                      install_gui_thread_garbage_collector)


def configure_pyqtgraph() -> None:
    """Images are row-major float32 in [0, 1] (docs/formats.md); white backgrounds for plots."""
    pg.setConfigOptions(imageAxisOrder="row-major", background="w", foreground="k", antialias=True)


def warm_up_torch() -> None:
    """Import what the first optimiser needs (torch._dynamo, ~1 s) here, on the GUI thread.

    Otherwise the first training worker imports it: that worker then cannot stop for a second
    or more (closing the window waits), and two workers importing at once can fail.
    """
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (created once), with the names QSettings uses."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("viscause")
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("viscause")
    configure_pyqtgraph()
    return app  # type: ignore[return-value]


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="viscause-gui", description="Visual causal feature learning, "
                                     "the desktop app (Chalupka, Perona, Eberhardt, UAI 2015).")
    parser.add_argument("data", nargs="?", help="an .npz, an MNIST IDX images file or a folder of images; "
                        "without it, GRATING (2,000 images, seed 0) is opened")
    parser.add_argument("--lesson", metavar="FILE_OR_NAME", help="open a lesson: a .json or .toml file, or the "
                        f"name of a shipped one ({', '.join(shipped_lessons())})")
    parser.add_argument("--quit-after", metavar="SECONDS", type=float, default=None,
                        help="close the window by itself after SECONDS (scripted demos and checks)")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `viscause-gui` console script."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    lesson = None
    if args.lesson:
        try:
            lesson = load_lesson(find_lesson(args.lesson))
        except LessonError as exc:
            print(f"viscause-gui: {exc}", file=sys.stderr)
            return 2
    configure_gui_threads()
    app = create_app()
    install_foreground_gate(app)
    install_gui_thread_garbage_collector(app)
    warm_up_torch()
    window = MainWindow()   # opens GRATING first, so the window is never empty
    if args.data:
        window.open_path(args.data)
    window.show()
    if lesson is not None:
        window.teaching.start_lesson(lesson)
    if args.quit_after is not None:
        QTimer.singleShot(int(max(args.quit_after, 0.0) * 1000), window.close)
    freeze_startup_objects()
    # the training process imports torch for ~2 s: start it while the person looks around
    QTimer.singleShot(PRESTART_TRAINING_MS, _prestart_training)
    return int(app.exec())


def freeze_startup_objects() -> None:
    """Leave everything alive after start-up (the modules: ~300,000 objects) out of Python's
    cyclic garbage collector: a full collection otherwise stalls the GUI ~150 ms now and then."""
    gc.collect()
    gc.freeze()


PRESTART_TRAINING_MS = 3000


def _prestart_training() -> None:
    try:
        shared_training_process().start()
    except (OSError, RuntimeError, TrainingProcessError):
        pass          # the first run tries again and, failing, trains in its worker thread


if __name__ == "__main__":
    raise SystemExit(main())
