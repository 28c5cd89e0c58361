"""Share load benchmark (issue 15 target): 60 simulated annotators on loopback answer 3,000
answers in <= 60 s with zero lost or duplicated answers, while the window's event-loop stall
stays <= 50 ms.

The app side is the real main window (offscreen) with GRATING loaded (the load starts once the
readout's observational model, which a worker trains when a data set opens, is ready; with
--at-once while it still trains), a waiting batch of 600 GRATING images, Share → Let others
answer started with k = 5 (600 x 5 = 3,000 answers) and its share window shown (the live tally
redraws as answers arrive), with the server's default limits. The annotators run in a separate
process (as phones are other machines): 60 aiohttp clients, each from its own loopback address
(127.0.0.2, 127.0.0.3, ...: one address per phone, as on a class's Wi-Fi), each joins (with a
device id of its own, as the page sends), then asks for an image and answers it (yes/no by the
image's index, '?' now and then) after a pause to look at it (--think; 0: flat out), until
nothing is left; a 429 (rate limit) makes it wait 50 ms and try again. The app starts as
viscause-gui does (torch warmed up, start-up objects frozen) and runs Qt's own event loop; a 5
ms QTimer on the GUI thread measures the longest gap between its ticks while the load runs, and
the GUI thread's CPU time in each gap (on a machine busy with other work a gap is much longer
than the work the window did in it), and the whole app's (the server's threads too: a long gap
with little of either is other processes' time).

Afterwards the journal is read back from disk: every acknowledged answer must be in it exactly
once, no (image, annotator) pair twice, and nothing there that was not acknowledged.

--profile N profiles the GUI thread (cProfile, one profile per heartbeat gap) and prints the N
longest gaps, and the N in which the GUI thread ran longest, with what it called in them and
how long each thread of the app ran and waited for a CPU in them, then the other threads'
stacks sampled at each tick, to stderr (profiling slows the GUI thread: the stall figures of
such a run are not the benchmark's).

Usage: python benchmarks/bench_share.py [--annotators 60] [--images 600] [--k 5] [--runs 3]
       [--think 0.6 0.0] [--profile N] [--at-once]
Writes benchmarks/out/share.json.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CLIENTS = r'''
import asyncio, json, random, sys, time
import aiohttp
THINK = float(sys.argv[4])

async def annotator(session, url, answers, stats):
    async def post(name, body):
        while True:
            async with session.post(url + "api/" + name, json=body) as r:
                data = await r.json()
                if r.status == 429:
                    stats["429"] += 1
                    await asyncio.sleep(0.05)
                    continue
                return r.status, data
    status, hello = await post("hello", {"annotator": None, "device": "%032x" % random.getrandbits(128)})
    me = hello["annotator"]
    while True:
        status, item = await post("next", {"annotator": me})
        if status != 200:
            stats["errors"] += 1
            return
        if item["wait"]:
            return
        answer = "?" if (item["index"] * 7 + len(answers)) % 23 == 0 else ("yes" if item["index"] % 2 else "no")
        status, ok = await post("answer", {"annotator": me, "batch": item["batch"], "index": item["index"],
                                           "answer": answer})
        if status == 200:
            answers.append(ok["id"])
        else:
            stats["refused"] += 1
        if THINK:
            await asyncio.sleep(THINK * (0.5 + random.random()))   # a person looks, then taps

async def one(url, i, answers, stats):
    # each phone has its own address: 127.0.0.2, 127.0.0.3, ... (all of 127/8 is loopback)
    conn = aiohttp.TCPConnector(limit=0, local_addr=(f"127.0.{i // 250}.{2 + i % 250}", 0))
    async with aiohttp.ClientSession(connector=conn) as session:
        await annotator(session, url, answers, stats)

async def main(url, n):
    answers, stats = [], {"429": 0, "errors": 0, "refused": 0}
    t0 = time.perf_counter()
    await asyncio.gather(*(one(url, i, answers, stats) for i in range(n)))
    with open(sys.argv[3], "w") as f:
        json.dump({"seconds": time.perf_counter() - t0, "acked": answers, **stats}, f)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
import os
os._exit(0)          # not waiting for the resolver's threads
'''


def thread_times_ms() -> dict[int, tuple[float, float]]:
    """(ran on a CPU, waited in the run queue for one) so far, in ms, of each of this process's
    threads by native id (Linux /proc schedstat)."""
    out = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/schedstat") as f:
                ran, waited = f.read().split()[:2]
        except (OSError, ValueError):
            continue                                       # the thread ended
        out[int(task)] = (int(ran) / 1e6, int(waited) / 1e6)
    return out


def thread_names() -> dict[int, str]:
    """Each thread's name by native id: Python's, else the system's (Qt names its own)."""
    import threading

    names = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                names[int(task)] = f.read().strip()
        except OSError:
            continue
    names.update({t.native_id: t.name for t in threading.enumerate()})
    return names


class GapProfiler:
    """cProfile of the GUI thread, one profile per heartbeat gap, and how long each thread ran
    and waited for a CPU in it; keeps the `keep` longest gaps and the `keep` gaps in which the GUI thread ran longest
    (on a busy machine the longest gaps are often other processes' time). Printed at the end:
    formatting them in a gap would lengthen the next."""

    def __init__(self, keep: int):
        self.keep = keep
        self.longest: list[tuple] = []     # (gap ms, GUI CPU ms, tick, profile, {thread: (ran, waited) ms})
        self.busiest: list[tuple] = []
        self.profile: cProfile.Profile | None = None
        self.ticks = 0
        self.threads = thread_times_ms()
        self.names = thread_names()
        self.samples: dict[str, int] = {}              # the other threads' stacks, sampled at each tick

    def next_gap(self, gap_ms: float, cpu_ms: float) -> None:
        """The heartbeat ticked: close the gap's profile (kept if among the longest or busiest), open the next."""
        self.ticks += 1
        threads = thread_times_ms()
        if self.profile is not None:
            self.profile.disable()
            spent = {tid: (ran - self.threads.get(tid, (0.0, 0.0))[0], waited - self.threads.get(tid, (0.0, 0.0))[1])
                     for tid, (ran, waited) in threads.items()}
            gap = (gap_ms, cpu_ms, self.ticks, self.profile, {tid: t for tid, t in spent.items() if max(t) >= 0.5})
            self.longest = self._kept(self.longest, gap, 0)
            self.busiest = self._kept(self.busiest, gap, 1)
        self.threads = threads
        self._sample_other_threads()
        if not threads.keys() <= self.names.keys():       # a thread started: name it while it lives
            self.names.update(thread_names())
        self.profile = cProfile.Profile()
        self.profile.enable()

    def _sample_other_threads(self) -> None:
        """What the other threads run now (their Python stacks, innermost 4 calls)."""
        import threading
        import traceback

        me = threading.get_ident()
        for ident, frame in sys._current_frames().items():
            if ident != me:
                calls = traceback.extract_stack(frame)[-4:]
                where = " < ".join(f"{Path(c.filename).name}:{c.lineno}({c.name})" for c in reversed(calls))
                self.samples[where] = self.samples.get(where, 0) + 1

    def _kept(self, kept: list, gap: tuple, by: int) -> list:
        if len(kept) < self.keep or gap[by] > kept[-1][by]:
            kept = sorted([*kept, gap], key=lambda g: -g[by])[:self.keep]
        return kept

    def stop(self) -> None:
        if self.profile is not None:
            self.profile.disable()

    def report(self) -> str:
        names = self.names
        out = []
        for title, gaps in (("longest gaps", self.longest), ("gaps with the most GUI-thread CPU", self.busiest)):
            out.append(f"########## the {len(gaps)} {title} ##########")
            for gap, cpu, tick, profile, ran in gaps:
                text = io.StringIO()
                pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
                threads = ", ".join(f"{names.get(tid, tid)} {r:.1f}/{w:.1f}" for tid, (r, w) in
                                    sorted(ran.items(), key=lambda t: -t[1][0]))
                out.append(f"===== gap {gap:.0f} ms (heartbeat tick {tick}), GUI thread CPU {cpu:.0f} ms =====\n"
                           f"ms each thread ran / waited for a CPU: {threads or 'none'}\n{text.getvalue()}")
        out.append("########## the other threads, sampled at each tick: their most frequent stacks ##########")
        for where, n in sorted(self.samples.items(), key=lambda s: -s[1])[:25]:
            out.append(f"{n:6d}  {where}")
        return "\n".join(out)


def wait_for_the_readout(app, window, limit_s: float = 600.0) -> float:
    """Seconds until the readout's observational model, trained in a worker when a data set
    opens, is ready: a class joins a share some time after the data set was opened."""
    from viscause_gui.gui.main_window import ObservationalController

    started = time.monotonic()
    while window.workers.is_running(ObservationalController.KEY) and time.monotonic() - started < limit_s:
        app.processEvents()
        time.sleep(0.02)
    return round(time.monotonic() - started, 1)


def run_once(annotators: int, images: int, k: int, think: float, folder: Path, profile: int = 0,
             at_once: bool = False) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer

    from viscause_gui.core.experiments.grating import GratingModel
    from viscause_gui.core.method.experiment import QueryBatch
    from viscause_gui.core.store.journal import read_journal
    from viscause_gui.core.store.session import journal_path
    from viscause_gui.gui.app import create_app, freeze_startup_objects, warm_up_torch
    from viscause_gui.gui.main_window import MainWindow
    from viscause_gui.gui.workers import (configure_gui_threads, install_foreground_gate,
                                          install_gui_thread_garbage_collector)

    configure_gui_threads()
    app = create_app()
    install_foreground_gate(app)
    install_gui_thread_garbage_collector(app)
    warm_up_torch()                                       # as viscause-gui does before its window
    window = MainWindow(settings=QSettings(str(folder / "viscause_gui.ini"), QSettings.Format.IniFormat),
                        load_default=False)
    window.show_message = lambda *a: None
    window.resize(1366, 768)
    window.show()
    gm = GratingModel()
    window.state.set_dataset(gm.sample(2000, 0))
    readout_s = None if at_once else wait_for_the_readout(app, window)
    batch_images = gm.sample(images, 1).images
    window.state.queue.add(QueryBatch("manual", 1, batch_images, np.arange(images)))
    window.actions["share"].trigger()
    url = window.share.start(k)
    window.share_window.show()
    for _ in range(20):
        app.processEvents()
    freeze_startup_objects()                              # as viscause-gui does after start-up

    gaps, busy, whole, clock = [], [], [], QElapsedTimer()
    clock.start()
    last = [clock.elapsed(), time.thread_time(), time.process_time()]
    profiler = GapProfiler(profile) if profile else None

    def tick() -> None:                                   # the gap, the GUI thread's and the app's CPU time in it
        now, cpu, app_cpu = clock.elapsed(), time.thread_time(), time.process_time()
        gaps.append(now - last[0])
        busy.append(1000 * (cpu - last[1]))
        whole.append(1000 * (app_cpu - last[2]))
        last[:] = now, cpu, app_cpu
        if profiler is not None:
            profiler.next_gap(gaps[-1], busy[-1])

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(tick)
    with open(folder / "clients.err", "w") as client_err:           # the child writes to its own copy
        client = subprocess.Popen([sys.executable, "-c", CLIENTS, url, str(annotators), str(folder / "clients.json"),
                                   str(think)],
                                  stdout=subprocess.DEVNULL, stderr=client_err, text=True)
    heartbeat.start()
    started = time.monotonic()
    progress = QTimer()
    progress.setInterval(5000)

    def say_progress() -> None:
        print(f"{time.monotonic() - started:.0f} s: {window.share.hub.web_answers} answers, "
              f"{window.share.server.requests} requests", file=sys.stderr, flush=True)

    progress.timeout.connect(say_progress)
    progress.start()
    loop = QEventLoop()                                   # Qt's own event loop, as app.exec() runs it
    done = QTimer()
    done.setInterval(20)
    done.timeout.connect(lambda: client.poll() is not None and loop.quit())
    done.start()
    loop.exec()
    done.stop()
    heartbeat.stop()
    if profiler is not None:
        profiler.stop()
        print(profiler.report(), file=sys.stderr, flush=True)
    client.wait()
    err = (folder / "clients.err").read_text()
    if client.returncode != 0:
        raise SystemExit(f"the clients failed: {err[-2000:]}")
    result = json.loads((folder / "clients.json").read_text())
    for _ in range(50):                                   # the last coalesced refresh
        app.processEvents()
        time.sleep(0.01)
    acked = result.pop("acked")
    tally = window.share.tally()
    records = read_journal(journal_path(window.session.files.session_file())).records
    web = [r for r in records if r.type == "answer" and r.annotator.startswith("web:")]
    ids = [r.id for r in web]
    pairs = [(r.batch, r.index, r.annotator) for r in web]
    window.share.stop()
    window.close()
    gaps, busy, whole = gaps[5:] or [0], busy[5:] or [0.0], whole[5:] or [0.0]
    longest = int(np.argmax(gaps))
    return {"annotators": annotators, "think_s": think, "readout_trained_before_s": readout_s,
            "load_avg_after": round(os.getloadavg()[0], 2), "images": images, "k": k, "answers_expected": images * k,
            "answers_acknowledged": len(acked), "answers_in_journal": len(web),
            "lost": len(set(acked) - set(ids)), "unacknowledged_in_journal": len(set(ids) - set(acked)),
            "duplicated_ids": len(ids) - len(set(ids)), "duplicated_image_annotator": len(pairs) - len(set(pairs)),
            "seconds": round(result["seconds"], 2), "answers_per_s": round(len(acked) / result["seconds"], 1),
            "rate_limited_429": result["429"], "refused": result["refused"], "errors": result["errors"],
            "max_event_loop_stall_ms": int(max(gaps)), "p99_event_loop_gap_ms": int(np.percentile(gaps, 99)),
            # what the GUI thread itself ran (CPU time) in the longest gap and in its busiest gap: on a
            # machine busy with other work a gap can be much longer than the work in it
            "gui_cpu_in_longest_stall_ms": int(busy[longest]), "max_gui_cpu_between_ticks_ms": int(max(busy)),
            # all the app's threads (the server's too): little of it in a long gap = other processes ran
            "app_cpu_in_longest_stall_ms": int(whole[longest]),
            "longest_stall_ends_s": round(sum(gaps[:longest + 1]) / 1000, 2),   # after the load began
            "images_with_k_answers": sum(n >= k for n in _per_image(pairs).values()),
            "agreement_percent": round(tally.overall.percent, 3), "alpha": round(tally.overall.alpha, 3)}


def _per_image(pairs: list[tuple[str, int, str]]) -> dict[tuple[str, int], int]:
    count: dict[tuple[str, int], int] = {}
    for batch, index, _ in set(pairs):
        count[(batch, index)] = count.get((batch, index), 0) + 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=60)
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--think", type=float, nargs="+", default=[0.6, 0.0],
                        help="seconds each annotator looks at an image before the next (mean; 0 = flat out)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N longest and N busiest gaps and what the GUI thread called in them (cProfile)")
    parser.add_argument("--at-once", action="store_true",
                        help="start the load at once, while the readout's model still trains on the data set")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory(dir=HERE / "out") as folder:
            print(json.dumps(run_once(args.annotators, args.images, args.k, args.think[0], Path(folder),
                                      args.profile, args.at_once)), flush=True)
        return
    from machine import machine

    (HERE / "out").mkdir(exist_ok=True)
    info = machine()
    print(json.dumps(info))
    runs = []
    for think in args.think:
        for _ in range(args.runs):                       # each run a fresh app process
            out = subprocess.run([sys.executable, __file__, "--one", "--annotators", str(args.annotators),
                                  "--images", str(args.images), "--k", str(args.k), "--think", str(think),
                                  "--profile", str(args.profile), *(["--at-once"] if args.at_once else [])],
                                 capture_output=True, text=True,
                                 env=dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1"))
            if out.returncode != 0:
                raise SystemExit(out.stderr[-3000:])
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(runs[-1]), flush=True)
    ok = all(r["lost"] == 0 and r["duplicated_ids"] == 0 and r["duplicated_image_annotator"] == 0
             and r["answers_acknowledged"] == r["answers_expected"] and r["seconds"] <= 60
             and r["max_event_loop_stall_ms"] <= 50 for r in runs)
    summary = {"machine": info, "runs": runs, "targets": {"seconds": 60, "max_event_loop_stall_ms": 50,
                                                           "lost": 0, "duplicated": 0}, "all_targets_met": ok}
    (HERE / "out" / "share.json").write_text(json.dumps(summary, indent=1))
    print("all targets met" if ok else "a target was missed")


if __name__ == "__main__":
    main()
