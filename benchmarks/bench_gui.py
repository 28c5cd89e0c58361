"""GUI responsiveness benchmark (issue 13 targets), offscreen: three runs, the range of each measure.

- alpha_update_ms_median / _p95: a change of the α slider of the manipulator panel until
  the new manipulated 28x28 MNIST image is set on its ImageItem and painted; every α is new
  and computed on demand (no cache, no prefetch). alpha_update_cached_ms_median: the same α
  values again. alpha_update_prefetched_steps_ms_*: the slider's 0.05 steps on a new image
  after the panel's background sweep has filled its cache.
  The causal net: an Experiment "digit 7 vs rest" on the MNIST subset (model oracle), after
  Algorithm 1 and its first training.
- max_event_loop_stall_ms: the longest gap between ticks of a 5 ms QTimer on the GUI thread
  while Algorithm 2 runs on GRATING (10,000 images, truth oracle) with the learning,
  manipulator and classes panels all listening.
  The causal net trains in the app's training child process (the first run starts it).
- main_window_stall_ms: the same heartbeat and run in the main window with its Learning tab
  in front (the browser, canvas and readout beside it).
- digit_mode_stall_ms: the same heartbeat in the main window in digit mode (MNIST subset,
  T = "shows a 7", model oracle: a CNN trained first, then 2 iterations x 100 queries with
  three robust MLPs); not with --quick.
- baseline_bare_training_stall_ms: the same heartbeat while a bare thread runs
  core.models.train_steps and no panel exists: what the machine (its load, the GIL) does by
  itself. load_average_1min says how busy the machine was.
- browser_open_60k_s: constructing the browser panel, loading a 60,000-image data set into it
  and painting it once. browser_scroll_frame_ms_*: then 200 page-downs and 50 jumps to random
  places, each until the new page of thumbnails is painted.

Every measure runs in a fresh process of its own (--measure NAME), as a person starts the app
for one setting: no window, panel, timer, worker or training process of another measure is alive
while it is measured (earlier versions ran all of them in one process and kept the panels of the
panels measure shown during the later ones). Each measure's first Algorithm 2 run starts the
app's training process, as the app's first run does. The script prints the date and the
machine, runs three times (--runs), prints each run's JSON line and then a table with the range
of every measure over the runs, the targets of issue 13 and the stall as a multiple of the
bare-training heartbeat of the same run (stall_vs_baseline); all of it goes to benchmarks/out/gui.json.

Usage: python benchmarks/bench_gui.py [--runs 3] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.experiments.registry import load_builtin
from viscause_gui.core.method.driver import drive
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.method.oracles import train_model_oracle
from viscause_gui.gui.app import freeze_startup_objects, warm_up_torch
from viscause_gui.gui.controllers.manipulation import SWEEP_ALPHAS
from viscause_gui.gui.panels.classes import ClassesPanel
from viscause_gui.gui.panels.learning import LearningPanel
from viscause_gui.gui.panels.manipulator import ManipulatorPanel
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import (WorkerPool, configure_gui_threads, install_foreground_gate,
                                      install_gui_thread_garbage_collector)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine

OUT = Path(__file__).resolve().parent / "out"
# measure -> (target, what it is), issue 13; None: reported, no target
TARGETS = {
    "alpha_update_ms_median": (30.0, "α slider → new manipulated 28x28 MNIST image on screen, median (ms)"),
    "alpha_update_ms_p95": (30.0, "same, 95th percentile (ms)"),
    "alpha_update_prefetched_steps_ms_median": (None, "same, α already computed by the background sweep (ms)"),
    "max_event_loop_stall_ms": (50.0, "longest stall while Algorithm 2 trains: learning, manipulator, classes "
                                      "panels (ms)"),
    "main_window_stall_ms": (50.0, "the same in the main window, Learning tab in front (ms)"),
    "digit_mode_stall_ms": (50.0, "the same in digit mode (MNIST subset, T = shows a 7) (ms)"),
    "baseline_bare_training_stall_ms": (None, "the same heartbeat beside a bare training thread, no window (ms)"),
    "panels_stall_vs_baseline": (None, "panels' stall / bare-training stall of the same run"),
    "main_window_stall_vs_baseline": (None, "main window's stall / bare-training stall"),
    "digit_mode_stall_vs_baseline": (None, "digit mode's stall / bare-training stall"),
    "browser_open_60k_s": (2.0, "open a 60,000-image data set in the browser (s)"),
    "browser_scroll_frame_ms_median": (16.0, "scroll it: 200 page-downs and 50 jumps, median per page (ms)"),
    "browser_scroll_frame_ms_max": (None, "same, slowest page (ms)"),
    "load_average_1min": (None, "load average (1 min) at the end of the run"),
}


_KEEP: list[object] = []   # pools and panels live to the end: late worker events find their receivers


def wait_until(app: QApplication, cond, timeout_s: float = 120.0) -> None:
    """Run the event loop until cond() holds, as the app would: blocked in Qt's wait between
    events (no busy polling, which would fight the workers for the GIL)."""
    deadline = time.perf_counter() + timeout_s
    keepalive = QTimer()                 # wakes the wait now and then, so the deadline is checked
    keepalive.start(50)
    while not cond():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark step timed out")
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    keepalive.stop()


def settle(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def mnist_experiment(digit: int = 7) -> tuple[Dataset, Experiment]:
    """Digit d vs rest: obs classes from the labels, a model oracle, Algorithm 1 + first training."""
    mnist = load_builtin("mnist_subset")
    t = (mnist.labels == digit).astype(np.int64)
    data = Dataset(images=mnist.images, t=t, obs_class=t.copy(), labels=mnist.labels, name=f"mnist {digit} vs rest")
    gen = train_model_oracle(data, seed=0, epochs=3)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            oracle = stop.value
            break
    exp = Experiment(data, ExperimentConfig(queries=10, epochs=3, seed=0))
    for _ in drive(exp, oracle, None):
        pass
    return data, exp


def bench_alpha(app: QApplication, n_values: int) -> dict[str, float]:
    data, exp = mnist_experiment()
    state, workers = AppState(), WorkerPool()
    state.set_dataset(data)
    panel = ManipulatorPanel(state, workers)
    _KEEP.extend([state, workers, panel])
    jobs = panel.manipulation
    panel.resize(900, 420)
    panel.show()
    jobs.prefetch = False
    state.set_experiment(exp)
    state.select([int(np.flatnonzero(data.labels == 1)[0])])      # a "1": push it towards "7"
    wait_until(app, lambda: jobs.result is not None)
    settle(app, 0.3)
    alphas = np.round(np.random.default_rng(0).permutation(np.linspace(0.01, 0.99, n_values)), 2)

    def sweep(values) -> list[float]:
        times = []
        for a in values:
            start = time.perf_counter()
            panel.alpha_slider.setValue(float(a))
            wait_until(app, lambda alpha=float(a): jobs.result_key is not None and jobs.result_key[1] == alpha)
            app.processEvents()                                       # paint the new image
            times.append((time.perf_counter() - start) * 1000)
        return times

    jobs.prefetch = False
    cold = sweep(alphas)                 # every α computed on demand
    cached = sweep(alphas)               # the same α values again
    jobs.prefetch = True                # background sweep of the slider steps (0.05)
    state.select([int(np.flatnonzero(data.labels == 1)[1])])
    target = None
    wait_until(app, lambda: jobs.result_key is not None)
    target = jobs.result_key[0]
    wait_until(app, lambda: all((target, float(a)) in jobs.cache for a in SWEEP_ALPHAS))
    steps = np.random.default_rng(1).permutation(SWEEP_ALPHAS[panel.alpha != SWEEP_ALPHAS])
    prefetched = sweep(steps)
    workers.stop_all()
    panel.close()
    return {"alpha_update_ms_median": float(np.median(cold)),
            "alpha_update_ms_p95": float(np.percentile(cold, 95)),
            "alpha_update_cached_ms_median": float(np.median(cached)),
            "alpha_update_prefetched_steps_ms_median": float(np.median(prefetched)),
            "alpha_update_prefetched_steps_ms_p95": float(np.percentile(prefetched, 95))}


def bench_stall(app: QApplication, iterations: int, n_obs: int) -> dict[str, float]:
    from viscause_gui.core.experiments.grating import GratingModel

    gm = GratingModel()
    state, workers = AppState(), WorkerPool()
    learning, classes = LearningPanel(state, workers), ClassesPanel(state, workers)
    panels = [learning, ManipulatorPanel(state, workers), classes]
    _KEEP.extend([state, workers, *panels])
    for p in panels:
        p.resize(800, 600)
        p.show()
    state.set_dataset(gm.sample(n_obs, 0))
    wait_until(app, lambda: classes.map is not None)
    settle(app, 0.5)                    # first paints of the panels are not part of the run
    set_grating_run(learning, iterations)
    gaps, seconds, result = run_algorithm2_listening(app, learning)
    workers.stop_all()
    history = learning.experiment.history if learning.experiment is not None else []
    return {"max_event_loop_stall_ms": float(max(gaps)), "stall_p99_ms": float(np.percentile(gaps, 99)),
            "algorithm2_run_s": seconds, "algorithm2_iterations": len(history), "algorithm2_result": result}


def set_grating_run(learning: LearningPanel, iterations: int) -> None:
    learning.iterations_spin.setValue(iterations)
    learning.epochs_spin.setValue(10)
    learning.retrain_spin.setValue(3)


def run_algorithm2_listening(app: QApplication, learning: LearningPanel) -> tuple[list[float], float, str]:
    """Run Algorithm 2 to its end with the heartbeat on: (gaps in ms, seconds, how it ended)."""
    finished: list[str] = []
    learning.run_finished.connect(finished.append)
    start = time.perf_counter()
    learning.run_algorithm2()
    gaps = heartbeat_gaps(app, lambda: bool(finished))
    return gaps, time.perf_counter() - start, finished[0]


def open_main_window(name: str):
    """The app's main window (no default data), on screen, with settings of its own."""
    from viscause_gui.gui.main_window import MainWindow
    from viscause_gui.gui.models.dialogs import Choice

    window = MainWindow(settings=fresh_settings(name), load_default=False)
    window.session.dialogs.ask_save = lambda title, text: Choice.DISCARD   # a script: no one to ask
    _KEEP.append(window)
    window.resize(1400, 900)
    window.show()
    return window


def fresh_settings(name: str):
    """Settings (and so the autosave / recovery folder) of a window of its own, emptied first: a
    window must not find another run's autosave and stop to offer its recovery."""
    import shutil

    from PySide6.QtCore import QSettings

    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", f"gui-{name}")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return QSettings(os.path.join(folder, "viscause_gui.ini"), QSettings.Format.IniFormat)


def bench_stall_main_window(app: QApplication, iterations: int, n_obs: int) -> dict[str, float]:
    """The same run in the app's main window, its Learning tab in front (browser, canvas and
    readout beside it), as a person watching training sees it."""
    from viscause_gui.core.experiments.grating import GratingModel

    window = open_main_window("main_window")
    gm = GratingModel()
    window.state.set_dataset(gm.sample(n_obs, 0))
    wait_until(app, lambda: not window.workers.describe(), timeout_s=300)   # the readout's model
    window.docks["learning"].raise_()
    settle(app, 0.5)
    learning = window.panels["learning"]
    set_grating_run(learning, iterations)
    gaps, _, result = run_algorithm2_listening(app, learning)
    window.close()
    return {"main_window_stall_ms": float(max(gaps)), "main_window_stall_p99_ms": float(np.percentile(gaps, 99)),
            "main_window_result": result}


def bench_stall_digit_mode(app: QApplication, iterations: int) -> dict[str, float]:
    """Digit mode in the main window: the MNIST subset, T = 'shows a 7', model oracle (a CNN over
    all digits is trained first), the MNIST recipe (three robust MLPs), Learning tab in front."""
    window = open_main_window("digit_mode")
    window.opener.open_builtin("mnist_subset")
    wait_until(app, lambda: window.state.dataset is not None and not window.workers.describe(), timeout_s=300)
    window.docks["learning"].raise_()
    settle(app, 0.5)
    learning = window.panels["learning"]
    learning.label_spin.setValue(7)
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("model"))
    learning.iterations_spin.setValue(iterations)
    learning.queries_spin.setValue(100)
    gaps, seconds, result = run_algorithm2_listening(app, learning)
    window.close()
    return {"digit_mode_stall_ms": float(max(gaps)), "digit_mode_stall_p99_ms": float(np.percentile(gaps, 99)),
            "digit_mode_run_s": seconds, "digit_mode_result": result}


def heartbeat_gaps(app: QApplication, done) -> list[float]:
    """Gaps (ms) between ticks of a 5 ms QTimer on the GUI thread until done() holds."""
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    wait_until(app, done, timeout_s=600)
    timer.stop()
    return gaps


def bench_baseline(app: QApplication, n_obs: int) -> dict[str, float]:
    """The same heartbeat with no panel at all while a bare thread runs core.models.train_steps:
    the stall this machine (its load, the GIL) causes by itself, to read the figure above against."""
    import threading

    import torch

    from viscause_gui.core.experiments.grating import GratingModel
    from viscause_gui.core.nets.models import new_net
    from viscause_gui.core.nets.training import TrainConfig, train_steps

    data = GratingModel().sample(n_obs, 0)
    net = new_net({"arch": "mlp", "hidden": [100], "in_shape": [10, 10], "n_classes": 2}, 0, torch.device("cpu"))
    thread = threading.Thread(target=lambda: [None for _ in train_steps(
        net, data.images, data.causal_class, config=TrainConfig(epochs=8, patience=100))])
    thread.start()
    gaps = heartbeat_gaps(app, lambda: not thread.is_alive())
    return {"baseline_bare_training_stall_ms": float(max(gaps)),
            "baseline_bare_training_stall_p99_ms": float(np.percentile(gaps, 99))}


def bench_browser(app: QApplication) -> dict[str, float]:
    from viscause_gui.gui.panels.browser import BrowserPanel
    mnist = load_builtin("mnist_subset")
    data = Dataset(images=np.tile(mnist.images, (12, 1, 1)), labels=np.tile(mnist.labels, 12), name="60k")
    state = AppState()
    start = time.perf_counter()
    browser = BrowserPanel(state)
    _KEEP.extend([state, browser])
    browser.resize(900, 700)
    browser.show()
    state.set_dataset(data)
    app.processEvents()
    browser.grab()                      # one full paint of the visible thumbnails
    seconds = time.perf_counter() - start
    frames = scroll_frames(app, browser.view.verticalScrollBar(), browser.view.viewport())
    browser.close()
    return {"browser_open_60k_s": seconds, "browser_scroll_frame_ms_max": float(max(frames)),
            "browser_scroll_frame_ms_median": float(np.median(frames))}


def scroll_frames(app: QApplication, bar, viewport, pages: int = 200) -> list[float]:
    """Scroll down page by page, then jump to random places (every page new thumbnails):
    each step's time until the new page is painted (ms)."""
    times = []
    steps = [bar.value() + k * bar.pageStep() for k in range(1, pages + 1)]
    steps += list(np.random.default_rng(0).integers(0, bar.maximum(), 50))
    for value in steps:
        start = time.perf_counter()
        bar.setValue(int(min(value, bar.maximum())))
        viewport.repaint()
        app.processEvents()
        times.append((time.perf_counter() - start) * 1000)
    return times


MEASURES = ("alpha", "panels", "main_window", "digit_mode", "baseline", "browser")


def one_measure(name: str, quick: bool) -> dict[str, object]:
    """One measure in this process (a fresh one: see main), after the app's own start-up."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_gui_threads()
    install_foreground_gate(app)
    install_gui_thread_garbage_collector(app)
    warm_up_torch()                     # as the app does before its window opens…
    freeze_startup_objects()            # …and once it has started
    iterations, n_obs = (2, 2000) if quick else (3, 10000)
    if name == "alpha":
        out = bench_alpha(app, 20 if quick else 60)
    elif name == "panels":
        out = bench_stall(app, iterations, n_obs)
    elif name == "main_window":
        out = bench_stall_main_window(app, iterations, n_obs)
    elif name == "digit_mode":
        out = bench_stall_digit_mode(app, 2)
    elif name == "baseline":
        out = bench_baseline(app, n_obs)
    elif name == "browser":
        out = bench_browser(app)
    else:
        raise SystemExit(f"unknown measure {name!r}")
    settle(app, 0.2)
    return out


def one_run(quick: bool) -> dict[str, object]:
    """One run: every measure in a fresh process of its own, one after the other, as a person
    starts the app for one setting; no window, panel, worker pool or training process of an
    earlier measure is alive while the next one is measured."""
    out: dict[str, object] = {}
    for name in MEASURES:
        if quick and name == "digit_mode":
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--measure", name] + (["--quick"] if quick else [])
        env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": os.environ["QT_QPA_PLATFORM"]}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(proc.stdout[-2000:] + proc.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"measure {name} failed (exit {proc.returncode})")
        out.update(json.loads(lines[-1].removeprefix("RESULT ")))
    base = max(float(out["baseline_bare_training_stall_ms"]), 1e-3)
    for name, key in (("panels", "max_event_loop_stall_ms"), ("main_window", "main_window_stall_ms"),
                      ("digit_mode", "digit_mode_stall_ms")):
        if key in out:
            out[f"{name}_stall_vs_baseline"] = float(out[key]) / base
    out["load_average_1min"] = os.getloadavg()[0]
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in out.items()}


def summary(runs: list[dict]) -> dict[str, dict]:
    """measure -> {min, max, target, met (every run within the target), text}."""
    rows = {}
    for key, (target, text) in TARGETS.items():
        values = [float(r[key]) for r in runs if key in r]
        if not values:
            continue
        rows[key] = {"min": min(values), "max": max(values), "target": target, "text": text,
                     "met": None if target is None else bool(max(values) <= target)}
    return rows


def table(rows: dict[str, dict]) -> str:
    lines = ["| measure | target | range over the runs | met |", "|---|---:|---:|---|"]
    for _key, r in rows.items():
        target = "" if r["target"] is None else f"≤ {r['target']:g}"
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['text']} | {target} | {r['min']:.2f}–{r['max']:.2f} | {met} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer α values and a smaller GRATING run")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3), each measure in a fresh process")
    parser.add_argument("--measure", choices=MEASURES, help=argparse.SUPPRESS)   # one, in this process
    args = parser.parse_args()
    if args.measure:
        out = one_measure(args.measure, args.quick)
        print("RESULT " + json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in out.items()}),
              flush=True)
        return
    info = machine()
    print(f"# GUI benchmark, {info['date']}, {info['cpu']}, {info['cores']} cores, load average "
          f"{info['load_avg']}, torch {info['torch']}, offscreen", flush=True)
    runs = []
    for _ in range(args.runs):
        runs.append(one_run(args.quick))
        print(json.dumps(runs[-1]), flush=True)
    rows = summary(runs)
    end = machine()
    print(f"\n{args.runs} run(s), load average {info['load_avg']} at the start, {end['load_avg']} at the end\n")
    print(table(rows))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gui.json").write_text(json.dumps({"machine": info, "machine_end": end, "quick": args.quick,
                                              "runs": runs, "summary": rows}, indent=1))


if __name__ == "__main__":
    main()
