"""Let a foreground thread (the GUI's) go first: background work pauses while it is busy.

Python threads share one interpreter lock. A training loop in a worker thread takes the lock back
every few hundred microseconds, and every Python call the GUI thread makes then waits for it: a
repaint that takes 3 ms alone took 17 ms beside training (measured on 2 cores). Two ways out:

- Loops that run in the background call `yield_to_foreground()` between steps (training
  batches, manipulator steps). While the foreground is busy they wait, holding no lock.
- A background job whose events the GUI draws wraps them in `paced()`: after each event it
  waits until the foreground has handled the event (`event_handled()`) and then rested, i.e.
  until the redraw it caused is on screen, so the job never races ahead of the display.

Every wait ends after `max_wait_s` (a busy spell counts from its start), so a foreground that
never rests, or an event nobody handles, cannot starve the background. With no gate installed
(the CLI, scripts) all of this does nothing.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Generator
from typing import Any, TypeVar

R = TypeVar("R")


class ForegroundGate:
    """busy()/idle()/handled() are called on the foreground thread; the waits on background threads."""

    def __init__(self, max_wait_s: float = 0.1):
        self.max_wait_s = max_wait_s
        self._idle = threading.Event()
        self._idle.set()
        self._busy_since = 0.0
        self._rested = threading.Event()      # the foreground rested after handling an event
        self._rest_wanted = False
        self._foreground = threading.get_ident()

    # ----- foreground side (the GUI's event loop) -----
    def busy(self) -> None:
        """The foreground woke up."""
        if self._idle.is_set():
            self._busy_since = time.monotonic()
            self._idle.clear()

    def idle(self) -> None:
        """The foreground is about to sleep: everything it had to do is done."""
        if self._rest_wanted:
            self._rest_wanted = False
            self._rested.set()
        self._idle.set()

    def handled(self) -> None:
        """The foreground took a paced job's event: its next rest releases that job."""
        self._rest_wanted = True

    # ----- background side -----
    def wait(self) -> None:
        """Block until the foreground is idle or its busy spell has lasted max_wait_s."""
        if self._on_foreground() or self._idle.is_set():
            return
        left = self._busy_since + self.max_wait_s - time.monotonic()
        if left > 0:
            self._idle.wait(left)

    def before_event(self) -> None:
        """A background job is about to hand the foreground an event (see paced())."""
        self._rested.clear()

    def wait_handled(self) -> None:
        """Block until the foreground has handled the event and rested (at most max_wait_s)."""
        if not self._on_foreground():
            self._rested.wait(self.max_wait_s)

    def _on_foreground(self) -> bool:
        return threading.get_ident() == self._foreground   # never block the foreground itself


_gate: ForegroundGate | None = None


def install(gate: ForegroundGate | None) -> None:
    """Make `gate` the one background work waits on (None removes it)."""
    global _gate
    _gate = gate


def yield_to_foreground() -> None:
    """Called by background loops between steps."""
    gate = _gate
    if gate is not None:
        gate.wait()


def foreground_busy() -> None:
    """Called by the foreground when it starts work the event loop does not announce (a repaint)."""
    gate = _gate
    if gate is not None:
        gate.busy()


def event_handled() -> None:
    """Called by the foreground when it takes an event of a paced() job."""
    gate = _gate
    if gate is not None:
        gate.handled()


def paced(events: Generator[Any, None, R]) -> Generator[Any, None, R]:
    """Re-yield `events`; after each, wait until the foreground has handled it and rested.

    Returns what `events` returns; closing this generator closes `events`.
    """
    try:
        event = next(events)
        while True:
            gate = _gate
            if gate is not None:
                gate.before_event()
            yield event
            if gate is not None:
                gate.wait_handled()
            event = next(events)
    except StopIteration as stop:
        return stop.value
    finally:
        events.close()
