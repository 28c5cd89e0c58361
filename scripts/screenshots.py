"""Screenshots of the main window for the README, made offscreen.

    python scripts/screenshots.py [--out docs/screenshots]

Opens the main window with GRATING (2,000 images, seed 0), waits for the observational
model, selects an image with both bars and saves main_window.png via QWidget.grab().
With --trained it also runs Algorithms 1 and 2 briefly (truth oracle) and saves
main_window_trained.png, where the readout and the thumbnails show C and S.
With --digits it instead opens the MNIST subset in digit mode (T = "shows a 7", model oracle),
runs one iteration of Algorithm 2 with the manifold manipulator (several minutes on a CPU) and
saves panel_manipulator_digits.png: a 0 manipulated towards 7, with the path strip.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _wait(app, condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def _train(app, window, iterations: int = 5) -> None:
    """A short run of Algorithms 1 and 2 with the truth oracle, driven through the Learning panel."""
    panel = window.panels["learning"]
    panel.iterations_spin.setValue(iterations)
    finished = []
    panel.run_finished.connect(finished.append)
    panel.run_algorithm2()
    _wait(app, lambda: bool(finished), 300)


def _digits(app, window, out: Path) -> None:
    """Digit mode: one iteration with the manifold manipulator, then a 0 pushed towards 7."""
    window.opener.load_now("builtin", "mnist_subset")
    panel = window.panels["learning"]
    panel.label_spin.setValue(7)
    panel.oracle_combo.setCurrentIndex(panel.oracle_combo.findData("model"))
    panel.queries_spin.setValue(50)
    _train(app, window, iterations=1)
    ds = window.state.dataset
    window.state.select([int(next(i for i in range(len(ds)) if ds.labels[i] == 0))])
    window.docks["manipulator"].raise_()
    manipulator = window.panels["manipulator"]
    _wait(app, lambda: manipulator.result is not None and manipulator.result.codes is not None, 60)
    _wait(app, lambda: False, 1.0)
    path = out / "panel_manipulator_digits.png"
    window.docks["manipulator"].grab().save(str(path))
    print(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "screenshots"))
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--trained", action="store_true", help="also a screenshot after a short training run")
    parser.add_argument("--digits", action="store_true", help="only the manipulator panel in digit mode")
    args = parser.parse_args()

    from PySide6.QtCore import QSettings

    from viscause_gui.gui.app import create_app, warm_up_torch
    from viscause_gui.gui.main_window import MainWindow
    from viscause_gui.gui.models.dialogs import Choice
    from viscause_gui.gui.workers import configure_gui_threads

    configure_gui_threads()
    app = create_app()
    warm_up_torch()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "screenshots.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)   # fresh settings: the default layout
    window.session.dialogs.ask_save = lambda title, text: Choice.DISCARD   # a script: no one to ask
    window.resize(args.width, args.height)
    window.show()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.digits:
        _digits(app, window, out)
        window.close()
        return 0
    _wait(app, lambda: window.readout.obs_model is not None, 60)
    ds = window.state.dataset
    both = [i for i in range(len(ds)) if ds.obs_class[i] == 3]
    window.state.select(both[:1] or [0])
    _wait(app, lambda: False, 0.5)
    path = out / "main_window.png"
    window.grab().save(str(path))
    print(path)
    if args.trained:
        _train(app, window)
        window.state.select(both[:1] or [0])
        _wait(app, lambda: False, 0.5)
        path = out / "main_window_trained.png"
        window.grab().save(str(path))
        print(path)
        for key in ("manipulator", "classes", "labelling"):
            if key == "labelling":   # give the oracle something to answer: manipulate a selection
                window.state.select(range(8))
                window.panels["manipulator"].selection_action.trigger()
                _wait(app, lambda: bool(window.state.queue), 30)
            window.docks[key].raise_()
            _wait(app, lambda: False, 2.0)
            path = out / f"panel_{key}.png"
            window.docks[key].grab().save(str(path))
            print(path)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
