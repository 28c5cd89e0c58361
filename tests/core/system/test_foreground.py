"""core.foreground: background work waits for a busy foreground, and paced jobs for their events."""
from __future__ import annotations

import threading
import time

import pytest

from viscause_gui.core.system import foreground
from viscause_gui.core.system.foreground import ForegroundGate, paced


@pytest.fixture
def gate():
    g = ForegroundGate(max_wait_s=2.0)
    foreground.install(g)
    yield g
    foreground.install(None)


def in_thread(func) -> tuple[threading.Thread, list[float]]:
    """Run func in a thread; the list gets the seconds it took."""
    took: list[float] = []

    def body():
        start = time.perf_counter()
        func()
        took.append(time.perf_counter() - start)

    thread = threading.Thread(target=body)
    thread.start()
    return thread, took


def test_background_waits_while_the_foreground_is_busy(gate):
    gate.busy()
    thread, took = in_thread(foreground.yield_to_foreground)
    time.sleep(0.2)
    assert thread.is_alive()                 # still waiting: the foreground has not rested
    gate.idle()
    thread.join(1.0)
    assert not thread.is_alive() and 0.15 < took[0] < 1.0


def test_an_idle_foreground_costs_nothing_and_a_long_busy_spell_cannot_starve(gate):
    thread, took = in_thread(foreground.yield_to_foreground)
    thread.join(1.0)
    assert took[0] < 0.05
    gate.max_wait_s = 0.2
    gate.busy()                              # never rests
    thread, took = in_thread(foreground.yield_to_foreground)
    thread.join(2.0)
    assert 0.1 < took[0] < 1.0
    thread, took = in_thread(foreground.yield_to_foreground)   # the same spell: no second wait
    thread.join(1.0)
    assert took[0] < 0.05


def test_the_foreground_thread_itself_is_never_blocked(gate):
    gate.busy()
    start = time.perf_counter()
    foreground.yield_to_foreground()         # e.g. a script that trains on the main thread
    gate.wait_handled()
    assert time.perf_counter() - start < 0.05


def test_no_gate_means_no_waiting():
    foreground.install(None)
    start = time.perf_counter()
    foreground.yield_to_foreground()
    foreground.event_handled()
    assert list(paced(iter_events(3))) == [0, 1, 2]
    assert time.perf_counter() - start < 0.05


def iter_events(n: int, log: list | None = None):
    try:
        yield from range(n)
        return "finished"
    finally:
        if log is not None:
            log.append("closed")


def test_paced_waits_until_the_foreground_handled_the_event_and_rested(gate):
    seen: list[tuple[int, float]] = []
    result: list[str] = []

    def job():
        result.append((yield from paced(iter_events(2))))

    def consume():
        for event in job():
            seen.append((event, time.perf_counter()))

    thread, _ = in_thread(consume)
    time.sleep(0.1)
    assert [e for e, _ in seen] == [0]       # waits: nobody handled event 0
    foreground.event_handled()
    time.sleep(0.1)
    assert [e for e, _ in seen] == [0]       # handled, but the foreground has not rested yet
    gate.idle()
    time.sleep(0.1)
    assert [e for e, _ in seen] == [0, 1]
    foreground.event_handled()
    gate.idle()
    thread.join(1.0)
    assert result == ["finished"]


def test_closing_a_paced_job_closes_the_inner_generator(gate):
    log: list[str] = []
    job = paced(iter_events(5, log))
    assert next(job) == 0
    job.close()
    assert log == ["closed"]
