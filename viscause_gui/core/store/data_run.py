"""`viscause run DATA`: Algorithms 1 and 2 on a user's data set with a plugged or offline oracle.

The run folder is the one of `viscause run NAME` (docs/formats.md §5). A run that stops before
its end (the offline oracle waits for answers, a plugged oracle failed, Ctrl+C) saves its whole
state as a session file, ``<run>/run.vcsession`` (the session format of store.session, with the
run's settings under ``settings["data_run"]``), and goes on from it in a new process:
`answer_data_run` with a filled-in answers CSV, `resume_data_run` with an oracle. Nothing
answered is lost: answers enter the state only together with their batch.

A run folder's oracle spec is data, never code to run: the folder can be edited by anyone who
can write it, and `viscause answer` / `resume` are run from inside it. A plugged oracle is only
ever the one named on this command line (`oracle=`); without one, a run that recorded a plugged
oracle stops at its next batch with `OracleNeeded`, whose message gives the command to go on.
Only "offline", which runs no code, is taken from the folder.
"""
from __future__ import annotations

import math
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, QueryBatch
from viscause_gui.core.method.observe import ObserveRecipe, estimate_observational_classes, observational_problem
from viscause_gui.core.method.oracles import Oracle
from viscause_gui.core.method.plugged_oracles import DEFAULT_TIMEOUT, OracleFailure, is_plugged, load_plugged_oracle
from viscause_gui.core.method.recipe import DataRecipe
from viscause_gui.core.nets.models import SAME_RESULT_THREADS, available_cores, configure_torch_threads
from viscause_gui.core.store.figures import plot_history
from viscause_gui.core.store.offline import ANSWERS_FILE, batch_folder, read_answers, write_offline_batch
from viscause_gui.core.store.rundir import STATE_FILE, AnswersRefused, drive_to_folder, save_history, save_model
from viscause_gui.core.store.session import SessionData
from viscause_gui.core.store.session_reader import load_session
from viscause_gui.core.store.session_writer import save_session

OFFLINE = "offline"
SETTINGS_KEY = "data_run"
MAX_SPEC_CHARS = 4096
Progress = Callable[[str], None]


@dataclass
class DataRunSettings:
    """What a data run needs besides the experiment: where the data came from and who answers."""

    data: str                              # the data set's path, as given
    oracle: str                            # "offline" or a plugged oracle's spec (plugged_oracles)
    positive_class: int = 1                # a model file's class whose probability is P(T=1)
    oracle_timeout: float | None = DEFAULT_TIMEOUT
    t_label: int | None = None             # data with labels only: T = 1 for this label
    recipe: dict[str, Any] | None = None   # the recipe chosen from the data (method.recipe.DataRecipe.to_json);
                                           # None: a run made before recipes (its config says what it ran with)
    t_from_labels: bool = False            # T = the label, one outcome per label (a run made before: False)

    def __post_init__(self) -> None:
        if self.oracle != OFFLINE and not is_plugged(self.oracle):
            raise ValueError(f"--oracle {self.oracle}: a data set takes --oracle offline, python:MODULE:FUNCTION, "
                             "python:FILE.py:FUNCTION, torch:FILE or onnx:FILE")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def faster_threads(self) -> int | None:
        """Torch threads that would train this run's nets faster than one on this machine (None: none would,
        or a run made before recipes)."""
        return None if self.recipe is None else DataRecipe.from_json(self.recipe).faster_threads()

    @classmethod
    def from_json(cls, doc: Any, where: Path) -> DataRunSettings:
        try:
            settings = cls(**doc)
            timeout = settings.oracle_timeout
            assert isinstance(settings.data, str) and isinstance(settings.positive_class, int)
            assert isinstance(settings.t_from_labels, bool)
            assert _printable(settings.oracle) and _printable(settings.data)     # shown on the terminal
            assert timeout is None or (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0)
            if settings.recipe is not None:
                DataRecipe.from_json(settings.recipe)                          # shown on the terminal, checked
            return settings
        except (TypeError, ValueError, AssertionError):
            raise ValueError(f"{where}: its '{SETTINGS_KEY}' settings are missing or damaged; start the run again "
                             "with viscause run") from None

    def oracle_for(self, image_shape: tuple[int, ...], outcomes: int = 2) -> Oracle | None:
        """The plugged oracle, loaded now (a bad spec fails before any work); None for the offline
        oracle. Only for settings made from the command line, never for settings read from a folder.
        outcomes: K, T's outcomes (the answers it must give)."""
        if self.oracle == OFFLINE:
            return None
        return load_plugged_oracle(self.oracle, self.positive_class, self.oracle_timeout, image_shape, outcomes)

    def resume_command(self, out: Path) -> str:
        """The command that goes on with this oracle (named, when plugged), quoted for a POSIX shell."""
        if self.oracle == OFFLINE:
            return f"viscause resume {shlex.quote(str(out))}"
        words = ["viscause", "resume", str(out), "--oracle", self.oracle]
        if self.oracle.partition(":")[0] in ("torch", "onnx") and self.positive_class != 1:
            words += ["--positive-class", str(self.positive_class)]
        if self.oracle_timeout not in (None, DEFAULT_TIMEOUT):
            words += ["--oracle-timeout", f"{self.oracle_timeout:g}"]
        return " ".join(shlex.quote(w) for w in words)


class OracleNeeded(ValueError):
    """The run recorded a plugged oracle and none was named on the command line; the run is saved
    (or untouched) and the message gives the command that goes on."""

    def __init__(self, out: Path, settings: DataRunSettings):
        super().__init__(f"{out}: the run recorded --oracle {settings.oracle}; a run folder never chooses code to "
                         f"run, so name the oracle on the command line: {settings.resume_command(out)}")


def _printable(text: str) -> bool:
    return isinstance(text, str) and len(text) <= MAX_SPEC_CHARS and text.isprintable()


@dataclass
class Outcome:
    """Where a data run stopped: finished, or waiting for the answers CSV `waiting` (whose answers are the
    outcomes `outcomes`)."""

    finished: bool
    waiting: Path | None = None
    batch_size: int = 0
    outcomes: tuple[str, ...] | None = None


def with_observational_classes(data: Dataset, t_label: int | None, seed: int, progress: Progress,
                               observe: ObserveRecipe | None = None) -> Dataset:
    """The data set with observational classes: its own, or found from t / p_obs / the label t_label
    (from samples of T as `observe` says)."""
    problem = observational_problem(data, t_label)
    if problem is not None:
        raise ValueError(f"{data.name}: {problem.replace('(File menu)', '')}")
    if data.obs_class is not None:
        return data
    what = "samples of T" if data.t is not None else "P(T=1|I)" if data.n_outcomes == 2 else "P(T|I)"
    if data.t is None and data.p_obs is None:
        # a label read from a file (a sub-folder "yes", a digit) is what was observed of T for that
        # image: one sample, from which P(T=1|I) and its classes are estimated as `observe` does
        data = replace(data, t=(data.need("labels") == t_label).astype(np.int64), meta=dict(data.meta))
        what = f"samples of T (T = 1 for label {t_label})"
    if data.n_outcomes > 2:
        what += f" over {data.n_outcomes} outcomes ({', '.join(data.outcome_names)})"
    progress(f"finding observational classes from {what} on {len(data)} images")
    found = estimate_observational_classes(data, t_label, seed, recipe=observe)
    assert found is not None, "the data set has T and no observational classes yet"
    data = found.added_to(data)
    progress(f"{int(data.need('obs_class').max()) + 1} observational classes")
    return data


def start_data_run(data: Dataset, experiment_config: ExperimentConfig, settings: DataRunSettings,
                   oracle: Oracle | None, out: Path, progress: Progress, threads: int | None = None) -> Outcome:
    """A new run into the prepared folder `out` with the oracle of `settings` (settings.oracle_for,
    loaded before the folder was prepared); observational classes are found first when needed.
    `threads`: torch threads (None: the recipe's, see use_threads)."""
    for line in recipe_lines(settings):
        progress(line)
    use_threads(settings, threads, progress)
    observe = None if settings.recipe is None else DataRecipe.from_json(settings.recipe).observe_recipe()
    data = with_observational_classes(data, settings.t_label, experiment_config.seed, progress, observe)
    experiment = Experiment(data, experiment_config)
    progress(f"{data.name}: {len(data)} images of {'x'.join(map(str, data.shape))}, {experiment_config.iterations} "
             f"iterations x {experiment_config.queries} queries, oracle {settings.oracle}")
    return _go_on(experiment, settings, oracle, out, progress)


def use_threads(settings: DataRunSettings, threads: int | None, progress: Progress) -> None:
    """Set torch's threads for this headless run: `threads` when a person gives them, else one (the same seed
    gives the same result on every machine), and say so, with how many would be faster for these nets."""
    configure_torch_threads(threads or SAME_RESULT_THREADS)
    if threads:
        progress(f"torch threads: {threads} (your choice; the result depends on it)")
        return
    faster = settings.faster_threads()
    hint = "" if faster is None else (f"; --threads {faster} trains these nets about twice as fast on this machine's "
                                      f"{available_cores()} cores, and the result then depends on the thread count")
    progress(f"torch threads: {SAME_RESULT_THREADS} (the same seed gives the same result on every machine{hint})")


def recipe_lines(settings: DataRunSettings) -> list[str]:
    """The run's recipe in words, one choice a line (none for a run made before recipes)."""
    if settings.recipe is None:
        return []
    recipe = DataRecipe.from_json(settings.recipe)
    return [f"recipe for {recipe.facts.words()} (chosen from the data; change it with --net, --hidden, --ensemble, "
            "--manipulator, --observe, --invariant):", *(f"  {line}" for line in recipe.describe())]


def answer_data_run(out: Path, answers_csv: Path, progress: Progress, oracle: str | None = None,
                    positive_class: int | None = None, oracle_timeout: float | None = None,
                    threads: int | None = None) -> Outcome:
    """Give the waiting batch the answers of a filled-in CSV and go on (to the next batch or the
    end) with the oracle named here, or the offline one (see the module docstring); `threads`:
    torch threads (None: the recipe's, see use_threads)."""
    experiment, settings = load_data_run(out)
    batch = experiment.pending
    if batch is None:
        raise ValueError(f"{out}: the run is finished; it waits for no answers")
    settings, plugged = _oracle_to_go_on(experiment, settings, oracle, positive_class, oracle_timeout)
    try:
        values = read_answers(Path(answers_csv), batch, experiment.batches, experiment.outcomes)
    except BaseException:
        _close(plugged)
        raise
    progress(f"{len(batch)} answers read from {answers_csv}")
    use_threads(settings, threads, progress)
    return _go_on(experiment, settings, plugged, out, progress, first=(values, Path(answers_csv)))


def resume_data_run(out: Path, progress: Progress, oracle: str | None = None, positive_class: int | None = None,
                    oracle_timeout: float | None = None, threads: int | None = None) -> Outcome:
    """Go on from the saved state with the oracle named here; a run that recorded "offline" goes on
    offline without one, a run that recorded a plugged oracle is refused without one (OracleNeeded,
    nothing changed). `threads` as answer_data_run's."""
    experiment, settings = load_data_run(out)
    if experiment.phase == "done":
        raise ValueError(f"{out}: the run is finished; nothing to resume")
    if oracle is None and settings.oracle != OFFLINE:
        raise OracleNeeded(out, settings)
    settings, plugged = _oracle_to_go_on(experiment, settings, oracle, positive_class, oracle_timeout)
    use_threads(settings, threads, progress)
    return _go_on(experiment, settings, plugged, out, progress)


def _oracle_to_go_on(experiment: Experiment, settings: DataRunSettings, oracle: str | None,
                     positive_class: int | None, oracle_timeout: float | None
                     ) -> tuple[DataRunSettings, Oracle | None]:
    """The settings to go on with (the command line's choices over the folder's) and the plugged
    oracle, loaded now from the spec named on the command line: never from the folder."""
    changes = {"oracle": oracle, "positive_class": positive_class, "oracle_timeout": oracle_timeout}
    settings = DataRunSettings(**{**settings.to_json(), **{k: v for k, v in changes.items() if v is not None}})
    if oracle is None:
        return settings, None
    return settings, settings.oracle_for(experiment.data.shape, experiment.n_outcomes)


def load_data_run(out: Path) -> tuple[Experiment, DataRunSettings]:
    """The experiment and settings a data run saved in its folder."""
    path = Path(out) / STATE_FILE
    if not path.is_file():
        raise ValueError(f"{out}: no {STATE_FILE}; not a run of `viscause run DATA` that stopped or finished")
    session = load_session(path)
    if session.experiment is None:
        raise ValueError(f"{path}: holds no experiment")
    return session.experiment, DataRunSettings.from_json(session.settings.get(SETTINGS_KEY), path)


def _go_on(experiment: Experiment, settings: DataRunSettings, oracle: Oracle | None, out: Path,
           progress: Progress, first: tuple[np.ndarray, Path] | None = None) -> Outcome:
    """Drive the experiment: `first` (answers, the CSV they came from) answers the waiting batch,
    then the plugged `oracle` (None: stop at the next batch, waiting for an offline answers file,
    or, when the run recorded a plugged oracle, for the command that names it). The state is saved
    whenever the run stops; the folder's files after every iteration. Closes the oracle."""
    try:
        return _drive(experiment, settings, oracle, out, progress, first)
    finally:
        _close(oracle)


def _close(oracle: Oracle | None) -> None:
    close = getattr(oracle, "close", None)
    if close is not None:
        close()


def _drive(experiment: Experiment, settings: DataRunSettings, oracle: Oracle | None, out: Path,
           progress: Progress, first: tuple[np.ndarray, Path] | None) -> Outcome:
    started = time.perf_counter()
    given = [] if first is None else [first]
    source: list[Path | None] = [None]           # the CSV that answered the batch now, or None: the oracle

    def answer(batch: QueryBatch) -> np.ndarray | None:
        if given:
            values, source[0] = given.pop()
            return values
        source[0] = None
        return None if oracle is None else oracle.answer(batch.images)

    again = settings.resume_command(out)
    try:
        finished = drive_to_folder(experiment, answer, out, progress, started)
    except AnswersRefused as exc:
        if source[0] is not None:
            raise ValueError(f"{source[0]}: {exc}") from None      # nothing was saved: the folder is unchanged
        _save_state(out, experiment, settings)
        raise OracleFailure(f"oracle {settings.oracle}'s answers to {_batch_name(experiment.pending)} cannot be "
                            f"used: {exc}; the run is saved with every answer so far: fix the oracle, then "
                            f"{again}") from None
    except OracleFailure as exc:
        _save_state(out, experiment, settings)
        raise OracleFailure(f"{exc}; the run is saved with every answer so far: fix the oracle, then {again}") from None
    except KeyboardInterrupt:
        experiment.rewind()
        _save_state(out, experiment, settings)
        progress(f"saved; go on with {again}")
        raise
    _save_state(out, experiment, settings)
    if not finished:
        if settings.oracle != OFFLINE:
            raise OracleNeeded(out, settings)
        return _wait_offline(experiment, out)
    _finish(experiment, settings, out)
    return Outcome(True)


def _batch_name(batch: QueryBatch | None) -> str:
    if batch is None:
        return "the batch"
    return "Algorithm 1" if batch.kind == "algorithm1" else f"iteration {batch.iteration}"


def _wait_offline(experiment: Experiment, out: Path) -> Outcome:
    """The waiting batch's files for the offline oracle (an answers CSV already there is kept)."""
    batch = experiment.pending
    assert batch is not None, "called while a batch waits for its answers"
    path = batch_folder(out, batch) / ANSWERS_FILE
    if not path.exists():
        path = write_offline_batch(out, batch, experiment.outcomes)
    return Outcome(False, path, len(batch), experiment.outcomes)


def _extra_config(experiment: Experiment, settings: DataRunSettings) -> dict[str, Any]:
    return {"experiment": "data", **settings.to_json(), "n_data": len(experiment.data),
            "n_obs_classes": int(experiment.obs_class.max()) + 1}


def _save_state(out: Path, experiment: Experiment, settings: DataRunSettings) -> None:
    save_history(out, experiment, _extra_config(experiment, settings), finished=experiment.phase == "done")
    save_session(Path(out) / STATE_FILE, SessionData(experiment=experiment,
                                                     settings={SETTINGS_KEY: settings.to_json()}))


def _finish(experiment: Experiment, settings: DataRunSettings, out: Path) -> None:
    save_model(out, experiment)
    unit = "pixels flipped" if experiment.binary else "L2"
    plot_history([{"label": experiment.data.name, "iterations": [r.to_json() for r in experiment.history]}],
                 Path(out) / "history.png", title=f"{experiment.data.name}, oracle {settings.oracle}",
                 distance_label=f"MDist ({unit})")
