"""`viscause-gui`: set up the QApplication and open the main window.

Exit codes: 0 when the window closed, 2 for a lesson that cannot be opened, 3 when Qt cannot show a
window on this desktop (X11 libraries missing: see `missing_qt_libraries`), with one line that says
which system packages to install.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import sys
from collections.abc import Callable, Mapping, Sequence

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


# What Qt 6's X11 platform plugin loads from the system (`ldd` of PySide6's Qt/plugins/platforms/libqxcb.so
# and Qt/lib/libQt6XcbQpa.so.6, less what Qt ships and what any desktop has: glibc), with the Debian / Ubuntu
# package of each. Without one of them Qt says only "Could not load the Qt platform plugin xcb", naming one
# library at best (it named xcb-cursor0 where libxcb-icccm4 and libxcb-keysyms1 were missing).
XCB_LIBRARIES: tuple[tuple[str, str], ...] = (
    ("libxcb.so.1", "libxcb1"), ("libX11.so.6", "libx11-6"), ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"), ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-image.so.0", "libxcb-image0"), ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-randr.so.0", "libxcb-randr0"), ("libxcb-render.so.0", "libxcb-render0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"), ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-shm.so.0", "libxcb-shm0"), ("libxcb-sync.so.1", "libxcb-sync1"), ("libxcb-util.so.1", "libxcb-util1"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0"), ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libxkbcommon.so.0", "libxkbcommon0"), ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libEGL.so.1", "libegl1"), ("libGL.so.1", "libgl1"), ("libfontconfig.so.1", "libfontconfig1"),
    ("libdbus-1.so.3", "libdbus-1-3"),
)
EXIT_NO_DISPLAY = 3


def uses_xcb(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will start its X11 (xcb) platform plugin: on Linux, when QT_QPA_PLATFORM asks for xcb
    first, or names nothing outside a Wayland session (Qt's default there is xcb)."""
    env = os.environ if env is None else env
    if not (sys.platform if platform is None else platform).startswith("linux"):
        return False
    asked = env.get("QT_QPA_PLATFORM", "").strip()
    if asked:
        return asked.split(";")[0].split(":")[0].strip() == "xcb"
    return not (env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"))


def _load_library(name: str) -> object:
    return ctypes.CDLL(name)


def missing_qt_libraries(load: Callable[[str], object] | None = None) -> list[tuple[str, str]]:
    """(library, Debian / Ubuntu package) of each library of XCB_LIBRARIES the dynamic loader cannot load
    (as Qt's plugin would look for it)."""
    missing = []
    for library, package in XCB_LIBRARIES:
        try:
            (load or _load_library)(library)
        except OSError:
            missing.append((library, package))
    return missing


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None,
                    load: Callable[[str], object] | None = None) -> str | None:
    """One line naming the system packages Qt lacks to open a window here, or None."""
    if not uses_xcb(env, platform):
        return None
    missing = missing_qt_libraries(load)
    if not missing:
        return None
    return (f"Qt cannot open a window on X11: the system lacks {', '.join(lib for lib, _ in missing)}; install "
            f"them (Debian / Ubuntu: sudo apt install {' '.join(pkg for _, pkg in missing)}) and start "
            "viscause-gui again")


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
    problem = display_problem()
    if problem is not None:                 # before Qt aborts the process with a message that names none of them
        print(f"viscause-gui: {problem}", file=sys.stderr)
        return EXIT_NO_DISPLAY
    configure_gui_threads()
    app = create_app()
    install_foreground_gate(app)
    install_gui_thread_garbage_collector(app)
    warm_up_torch()
    window = MainWindow()   # opens GRATING first, so the window is never empty
    if args.data:
        window.opener.open_path(args.data)
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
    # the first run tries again and, failing, trains in its worker thread
    with contextlib.suppress(OSError, RuntimeError, TrainingProcessError):
        shared_training_process().start()


if __name__ == "__main__":
    raise SystemExit(main())
