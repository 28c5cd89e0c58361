"""Diagnostic (not part of the benchmark's output): a timeline of one digit-mode (or GRATING
main-window) run of bench_gui, to explain the heartbeat's long gaps.

Recorded with time.perf_counter: every tick of the 5 ms heartbeat, the GUI thread's wake-ups
and sleeps (the event dispatcher's awake / aboutToBlock), every event of the learning worker
and how long its slot took, garbage collections (gc.callbacks), the worker thread's phases
(manipulating, oracle answers, snapshots, training-process waits, net (de)serialisation) and a
probe thread that wakes every 2 ms: when the heartbeat is late it samples the GUI thread's
Python stack, and its own lateness says whether Python's lock was free.

The probe's samples also read the GUI thread's scheduler state and system call from /proc
(Linux): "S poll timeout=N" is the event loop asleep, "S futex" a wait for a lock (Python's
lock, a Qt mutex), "R" running or waiting for a core; ran= and queued= (/proc schedstat, ms,
cumulative) tell those two apart: in the digit-mode gaps of December 2026 the GUI thread was "R"
in user space but ran ~0 ms while its run-queue wait grew (it waited for a core: two cores,
load 4-5), not C++ work. A probe that is late as long as the gap
means no Python thread ran: the process got no core, or one thread held Python's lock in C code
(PySide holds it through a Qt call such as a synchronous repaint).

Usage: python benchmarks/diag_gui_timeline.py [--full] [--grating] [--gap-ms 40] [--no-probe]
Prints every gap over --gap-ms with what happened from 30 ms before it to its end.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_gui
import numpy as np
from PySide6.QtCore import QAbstractEventDispatcher, QTimer
from PySide6.QtWidgets import QApplication

T0 = time.perf_counter()
LOG: list[tuple[float, float, str, str]] = []      # (start, end, thread, what)


def now() -> float:
    return time.perf_counter()


def record(start: float, end: float, what: str) -> None:
    LOG.append((start, end, threading.current_thread().name[:10], what))


def timed(owner, name: str, label: str | None = None) -> None:
    """Wrap owner.name (a function or method) to record each call."""
    original = getattr(owner, name)
    label = label or name

    def wrapper(*args, **kwargs):
        start = now()
        try:
            return original(*args, **kwargs)
        finally:
            record(start, now(), label)

    setattr(owner, name, wrapper)


def timed_generator(owner, name: str, label: str) -> None:
    """Wrap a generator function: record the time spent inside each next()."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        gen = original(*args, **kwargs)
        while True:
            start = now()
            try:
                item = next(gen)
            except StopIteration as stop:
                record(start, now(), label + " (last)")
                return stop.value
            record(start, now(), label)
            yield item

    setattr(owner, name, wrapper)


def instrument() -> None:
    from viscause_gui.core.method import experiment, oracles
    from viscause_gui.core.runtime import training_process as tp

    for name in ("manipulate", "snapshot", "answer", "_algorithm2_queries", "_algorithm1_queries",
                 "_finish_algorithm1", "_finish_algorithm2", "_training_set", "manipulator_model"):
        timed(experiment.Experiment, name, f"exp.{name}")
    timed(oracles.ModelOracle, "answer", "oracle.answer")
    timed(tp, "_to_bytes", "tp._to_bytes")
    timed(tp, "_from_bytes", "tp._from_bytes")
    timed(tp.TrainingProcess, "_send_job", "tp._send_job")
    timed(tp.TrainingProcess, "_receive", "tp._receive(wait)")

    gc_started: dict[str, float] = {}

    def on_gc(phase, info):
        if phase == "start":
            gc_started["t"] = now()
        else:
            record(gc_started.get("t", now()), now(), f"gc{info['generation']} collected={info['collected']}")
    gc.callbacks.append(on_gc)


def watch_learning(learning) -> None:
    original = learning._on_event

    def on_event(event):
        start = now()
        try:
            return original(event)
        finally:
            record(start, now(), f"slot {type(event).__name__}")

    learning._on_event = on_event


class Probe(threading.Thread):
    """Wakes every 2 ms; records its own lateness; samples the GUI thread's stack when the
    heartbeat is late."""

    def __init__(self, gui_ident: int, ticks: list[float]):
        super().__init__(daemon=True, name="probe")
        self.gui, self.ticks, self.stop = gui_ident, ticks, False
        self.task = f"/proc/self/task/{threading.get_native_id()}"    # created on the GUI thread

    def kernel_state(self) -> str:
        """The GUI thread's scheduler state and system call (number and arguments) from /proc."""
        try:
            with open(f"{self.task}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"{self.task}/syscall") as f:
                call = f.read().split()
            with open(f"{self.task}/wchan") as f:
                wchan = f.read()
            with open(f"{self.task}/schedstat") as f:
                ran_ns, waited_ns = (int(v) for v in f.read().split()[:2])
        except OSError as exc:
            return f"? {exc}"
        names = {"7": "poll", "271": "ppoll", "202": "futex", "0": "read", "1": "write", "232": "epoll_wait"}
        # cumulative CPU time and run-queue wait (ms): their growth between two samples of one gap
        # tells "ran (C++ work)" from "runnable, waiting for a core" (a wait is counted once the
        # thread gets its core)
        sched = f" ran={ran_ns / 1e6:.0f} queued={waited_ns / 1e6:.0f}"
        if call and call[0] in names:
            args = [int(a, 16) for a in call[1:7]]
            extra = f" timeout={args[2]}" if call[0] == "7" else f" op={args[1]}" if call[0] == "202" else ""
            return f"{state} {names[call[0]]}{extra} wchan={wchan}{sched}"
        return f"{state} syscall={' '.join(call[:1])} wchan={wchan}{sched}"

    def run(self) -> None:
        last = now()
        while not self.stop:
            time.sleep(0.002)
            t = now()
            if t - last > 0.015:
                LOG.append((last, t, "probe", f"probe late {1000 * (t - last):.0f} ms"))
            last = t
            if self.ticks and t - self.ticks[-1] > 0.025:
                frame = sys._current_frames().get(self.gui)
                stack = []
                while frame is not None and len(stack) < 6:
                    stack.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}:{frame.f_lineno}")
                    frame = frame.f_back
                LOG.append((t, t, "probe", f"GUI [{self.kernel_state()}] " + " < ".join(stack[:3])))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grating", action="store_true", help="GRATING in the main window instead of digit mode")
    parser.add_argument("--gap-ms", type=float, default=40.0)
    parser.add_argument("--no-probe", action="store_true")
    parser.add_argument("--full", action="store_true",
                        help="first the benchmark's α, panels and main-window runs in this process, as bench_gui does")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    bench_gui.configure_gui_threads()
    bench_gui.install_foreground_gate(app)
    bench_gui.install_gui_thread_garbage_collector(app)
    bench_gui.warm_up_torch()
    bench_gui.freeze_startup_objects()
    instrument()

    ticks: list[float] = []
    wakes: list[tuple[str, float]] = []
    dispatcher = QAbstractEventDispatcher.instance(app.thread())
    dispatcher.awake.connect(lambda: wakes.append(("awake", now())))
    dispatcher.aboutToBlock.connect(lambda: wakes.append(("block", now())))

    original_gaps = bench_gui.heartbeat_gaps

    def heartbeat_gaps(app_, done):
        ticks.clear()
        wakes.clear()
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: ticks.append(now()))
        timer.start()
        probe = None
        if not args.no_probe:
            probe = Probe(threading.get_ident(), ticks)
            probe.start()
        bench_gui.wait_until(app_, done, timeout_s=900)
        timer.stop()
        if probe is not None:
            probe.stop = True
        return list(np.diff(ticks) * 1000)

    bench_gui.heartbeat_gaps = heartbeat_gaps
    original_run = bench_gui.run_algorithm2_listening

    def run_listening(app_, learning):
        watch_learning(learning)
        return original_run(app_, learning)

    bench_gui.run_algorithm2_listening = run_listening
    if args.full:
        bench_gui.bench_alpha(app, 60)
        bench_gui.bench_stall(app, 3, 10000)
        print("before digit mode:", bench_gui.bench_stall_main_window(app, 3, 10000), flush=True)
    out = bench_gui.bench_stall_main_window(app, 3, 10000) if args.grating else bench_gui.bench_stall_digit_mode(app, 2)
    bench_gui.heartbeat_gaps = original_gaps
    print(out, "load", os.getloadavg())
    report(ticks, wakes, args.gap_ms)


def report(ticks: list[float], wakes: list[tuple[str, float]], gap_ms: float) -> None:
    t = np.array(ticks)
    gaps = np.diff(t) * 1000
    print(f"{len(ticks)} ticks, gaps: median {np.median(gaps):.1f} p99 {np.percentile(gaps, 99):.1f} "
          f"max {gaps.max():.1f} ms; {int((gaps > gap_ms).sum())} over {gap_ms:g} ms")
    entries = sorted(LOG + [(w, w, "GUI", kind) for kind, w in wakes])
    for i in np.flatnonzero(gaps > gap_ms):
        a, b = t[i], t[i + 1]
        print(f"\n=== gap {gaps[i]:.0f} ms at {a - T0:.3f} s ===")
        shown = 0
        for start, end, thread, what in entries:
            if end >= a - 0.03 and start <= b:
                if what in ("awake", "block"):
                    continue
                print(f"  {1000 * (start - a):+8.1f} .. {1000 * (end - a):+8.1f} ms  [{thread}] {what}")
                shown += 1
        # the GUI thread's busy spells (awake -> block) within the gap
        spells, begin = [], None
        for kind, w in wakes:
            if kind == "awake" and begin is None:
                begin = w
            elif kind == "block" and begin is not None:
                if w >= a and begin <= b:
                    spells.append((begin, w))
                begin = None
        longest = max((e - s for s, e in spells), default=0.0)
        total = sum(e - s for s, e in spells)
        print(f"  dispatcher awake->aboutToBlock spells in the gap: {len(spells)}, total {1000 * total:.1f} ms, "
              f"longest {1000 * longest:.1f} ms")


if __name__ == "__main__":
    main()
