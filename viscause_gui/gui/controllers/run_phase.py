"""The phases of a learning run and what a person may do in each (Qt-free, pure functions).

One place says what idle, running, paused, waiting and stopped mean for the Learning panel's
commands and the status bar: RunController works out the phase from its worker, the batch that
waits for a person and the goal, and asks here which commands to enable and what to say.
"""
from __future__ import annotations

from dataclasses import dataclass

IDLE, RUNNING, PAUSED, WAITING, STOPPED = "idle", "running", "paused", "waiting", "stopped"


@dataclass(frozen=True)
class Controls:
    """Which commands a person may use now."""

    run1: bool
    run2: bool
    step: bool
    pause: bool
    resume: bool
    stop: bool
    settings: bool          # the oracle, the seed, the epochs and the recipe (not while a run owns them)


def phase_of(running: bool, paused: bool, waiting: bool, stopped_short: bool) -> str:
    """The phase: a worker runs (or is paused), a batch waits for a person, the last run stopped short
    of its goal (Resume goes on), or nothing happens."""
    if running:
        return PAUSED if paused else RUNNING
    if waiting:
        return WAITING
    return STOPPED if stopped_short else IDLE


def controls_in(phase: str, has_data: bool, human_oracle: bool) -> Controls:
    """The commands of a phase. Run Algorithm 2 and Step need data and no running worker; while a batch
    waits for a person they need another oracle (which answers that batch)."""
    running = phase in (RUNNING, PAUSED)
    idle_with_data = not running and has_data
    free = phase != WAITING or not human_oracle
    return Controls(run1=idle_with_data, run2=idle_with_data and free, step=idle_with_data and free,
                    pause=phase == RUNNING, resume=phase in (PAUSED, STOPPED), stop=running or phase == WAITING,
                    settings=not running)


def phase_text(phase: str, waiting_images: int) -> str:
    """The phase in the words of the status bar ("" when idle)."""
    if phase == WAITING:
        return f"waiting for your answers ({waiting_images} images)"
    return "" if phase == IDLE else phase
