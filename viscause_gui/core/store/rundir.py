"""The run folder of `viscause run` (docs/formats.md): history.json, iteration_NN.npz, model.pt, model.json.

Every file is written atomically, and history.json and the model after every iteration, so a run
stopped at any moment (Ctrl+C, a kill, a full disk) leaves a folder `viscause predict` can use,
holding the iterations that were finished.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from viscause_gui.core.data.dataset import MAX_CHANNELS, describe_shape
from viscause_gui.core.data.outcomes import ROW_SUM_TOLERANCE, OutcomeError, check_names, default_names
from viscause_gui.core.data.user_files import UserFileError, read_user_file
from viscause_gui.core.method.experiment import Experiment, ExperimentError, QueryBatch, TrainEvent
from viscause_gui.core.method.manifold import BANK_ARRAYS, PrototypeBank
from viscause_gui.core.method.manipulator_model import ManipulatorModel
from viscause_gui.core.method.oracles import Oracle
from viscause_gui.core.method.patches import DonorBank
from viscause_gui.core.nets.generative import ConvAutoencoder, generative_spec
from viscause_gui.core.nets.models import default_device, ensemble_proba
from viscause_gui.core.nets.weights import MAX_WEIGHTS_BYTES, WeightsError, net_from_state, net_of_spec, read_state_dict
from viscause_gui.core.store.atomic import atomic_write
from viscause_gui.core.store.folder_lock import hold_folder_lock

STATE_FILE = "run.vcsession"        # a run that waits (offline oracle) or failed: the session it goes on from
RUN_FILES = ("history.json", "model.pt", "model.json", "history.png", "manipulations.png", "generative.pt",
             "prototypes.npz", STATE_FILE)
OFFLINE_FILES = ("offline/*/[0-9][0-9][0-9][0-9].png", "offline/*/images.npz", "offline/*/answers.csv")


def _make_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


@contextlib.contextmanager
def locked_run_folder(out: Path, create: bool = False) -> Iterator[None]:
    """Hold the run folder's lock (store.folder_lock) for the `with` block: one `run`, `answer` or
    `resume` at a time on a folder, the others refused with FolderInUse. create: make the folder
    first (`run --out`); a folder that does not exist is not locked (the command says it is missing)."""
    out = Path(out)
    if create:
        _make_folder(out)
    if not out.is_dir():
        yield
        return
    with hold_folder_lock(out, str(out)):
        yield


def prepare_run_folder(out: Path) -> Path:
    """Create the folder (or use it), check that it can be written before any work starts, and
    remove the files of an earlier run there (a rerun must not leave its iterations beside ours)."""
    _make_folder(out)
    try:
        atomic_write(out / ".write-check", lambda f: f.write(b"ok"))
        (out / ".write-check").unlink()
        for old in [*out.glob("iteration_[0-9][0-9]*.npz"), *(out / name for name in RUN_FILES),
                    *(p for pattern in OFFLINE_FILES for p in out.glob(pattern))]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return out


def save_iteration(out: Path, batch: QueryBatch) -> Path:
    path = out / f"iteration_{batch.iteration:02d}.npz"
    originals, targets, answers = batch.originals, batch.targets, batch.answers
    assert originals is not None and targets is not None and answers is not None, "an answered Algorithm 2 batch"
    atomic_write(path, lambda f: np.savez_compressed(
        f, originals=originals.astype(np.float32), manipulated=batch.images.astype(np.float32),
        targets=targets.astype(np.int64), answers=answers.astype(np.float64)))
    return path


def save_history(out: Path, experiment: Experiment, extra_config: dict[str, Any] | None = None,
                 finished: bool = True) -> Path:
    """history.json; `finished` False while the run goes on (the folder is usable all the same)."""
    config = {**experiment.config.to_json(), **(extra_config or {}), "finished": finished}
    data = {"config": config, "outcomes": list(experiment.outcomes),
            "iterations": [r.to_json() for r in experiment.history]}
    if experiment.premise is not None:
        data["premise"] = experiment.premise.to_json()      # Algorithm 1's check of its premise
    path = out / "history.json"
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=2).encode("utf-8")))
    return path


def save_model(out: Path, experiment: Experiment) -> None:
    """model.pt: the state_dict of the causal net (members prefixed 'm<k>.' for an ensemble)."""
    nets = experiment.nets
    if len(nets) == 1:
        state = nets[0].state_dict()
    else:
        state = {f"m{m}.{k}": v for m, net in enumerate(nets) for k, v in net.state_dict().items()}
    atomic_write(out / "model.pt", lambda f: torch.save({k: v.detach().cpu() for k, v in state.items()}, f))
    meta = {"spec": experiment.spec, "members": len(nets), "binary": experiment.binary,
            "causal_levels": experiment.learned_levels.tolist(), "outcomes": list(experiment.outcomes),
            "image_shape": list(experiment.data.shape),
            "distance_scale": experiment.config.distance_scale, "confidence": experiment.manipulator_confidence}
    if experiment.uses_manifold and experiment.generative is not None:
        meta["generative"] = {"spec": generative_spec(experiment.generative)}
        generative = experiment.generative.state_dict()
        cpu_state = {k: v.detach().cpu() for k, v in generative.items()}
        atomic_write(out / "generative.pt", lambda f: torch.save(cpu_state, f))
        bank = experiment.prototype_bank()
        bank_arrays = {k: getattr(bank, k) for k in BANK_ARRAYS}
        atomic_write(out / "prototypes.npz", lambda f: np.savez_compressed(f, **bank_arrays))
    if experiment.uses_patches:
        meta["donors"] = True
        donors = experiment.donor_bank()
        donor_arrays = {k: getattr(donors, k) for k in DONOR_ARRAYS}
        atomic_write(out / "donors.npz", lambda f: np.savez_compressed(f, **donor_arrays))
    atomic_write(out / "model.json", lambda f: f.write(json.dumps(meta, indent=2).encode("utf-8")))


MAX_MODEL_JSON_BYTES = 1024**2
DONOR_ARRAYS = ("images", "labels", "depth")     # what a run folder keeps of the patch search's donors
MAX_MEMBERS = 32
MAX_CLASSES = 1000


class RunModel:
    """The causal net(s) of a run folder, rebuilt without unpickling anything.

    model.json is checked field by field (types, sizes, limits) and the spec sized before any
    net is built; model.pt must hold exactly the spec's weights, finite. Every refusal is one
    ValueError naming the folder, the file and the problem."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        meta = self._read_meta()
        self.outcomes: tuple[str, ...] = meta["outcomes"]
        self.levels = np.asarray(meta["causal_levels"], np.float64)
        self.shape = tuple(meta["image_shape"])
        self.spec, self.members = meta["spec"], meta["members"]
        self.binary = bool(meta.get("binary", False))
        self.distance_scale, self.confidence = _positive_or_none(meta, "distance_scale"), \
            _positive_or_none(meta, "confidence")
        state = self._read_weights()
        self.nets = [self._member(state, m) for m in range(self.members)]
        self.manifold = self._read_manifold(meta)
        self.donors = self._read_donors() if meta.get("donors") is True else None

    def _fail(self, name: str, problem: str) -> ValueError:
        return ValueError(f"{self.run_dir / name}: {problem}")

    def _read(self, name: str, limit: int) -> bytes:
        if not self.run_dir.is_dir():
            raise ValueError(f"{self.run_dir}: not a run folder (no such folder)")
        try:
            return read_user_file(self.run_dir / name, limit, f"the run's {name}")
        except UserFileError as exc:
            if exc.problem == "no such file":
                raise ValueError(f"{self.run_dir}: not a run folder ({name} is missing)") from None
            raise self._fail(name, exc.problem) from None

    def _read_meta(self) -> dict[str, Any]:
        raw = self._read("model.json", MAX_MODEL_JSON_BYTES)
        try:
            meta = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise self._fail("model.json", f"not valid JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise self._fail("model.json", f"must be a JSON object, got {type(meta).__name__}")
        for key in ("spec", "causal_levels", "image_shape"):
            if key not in meta:
                raise self._fail("model.json", f"has no '{key}'")
        levels, shape, members = meta["causal_levels"], meta["image_shape"], meta.get("members", 1)
        try:                          # a folder written before outcomes had names: a binary T
            outcomes = default_names(2) if meta.get("outcomes") is None else check_names(meta["outcomes"],
                                                                                          "'outcomes'")
        except OutcomeError as exc:
            raise self._fail("model.json", str(exc)) from None
        if not (isinstance(levels, list) and 2 <= len(levels) <= MAX_CLASSES
                and all(_is_level(v, len(outcomes)) for v in levels)):
            what = "probabilities in [0, 1]" if len(outcomes) == 2 else \
                f"distributions over the {len(outcomes)} outcomes (lists of probabilities summing to 1)"
            raise self._fail("model.json", f"'causal_levels' must list 2 to {MAX_CLASSES} {what}")
        if not (isinstance(shape, list) and len(shape) in (2, 3) and all(_is_int(v) and 1 <= v <= 4096 for v in shape)
                and (len(shape) == 2 or 2 <= shape[2] <= MAX_CHANNELS)):
            raise self._fail("model.json", "'image_shape' must be [height, width] (each 1 to 4096) or "
                                           f"[height, width, channels] (2 to {MAX_CHANNELS} channels)")
        if not (_is_int(members) and 1 <= members <= MAX_MEMBERS):
            raise self._fail("model.json", f"'members' must be an integer from 1 to {MAX_MEMBERS}")
        spec = meta["spec"]
        if not isinstance(spec, dict):
            raise self._fail("model.json", "'spec' must be a JSON object")
        if spec.get("in_shape") != shape or spec.get("n_classes", 2) != len(levels):
            raise self._fail("model.json", f"the net spec (in_shape {spec.get('in_shape')}, n_classes "
                                           f"{spec.get('n_classes', 2)}) does not match image_shape {shape} and "
                                           f"{len(levels)} causal levels")
        try:
            net_of_spec(spec)                 # sized before anything is allocated
        except WeightsError as exc:
            raise self._fail("model.json", str(exc)) from None
        return {**meta, "members": members, "outcomes": outcomes}

    def _read_weights(self) -> dict[str, torch.Tensor]:
        try:
            return read_state_dict(self._read("model.pt", MAX_WEIGHTS_BYTES), "the weights")
        except WeightsError as exc:
            raise self._fail("model.pt", str(exc)) from None

    def _member(self, state: dict[str, torch.Tensor], m: int) -> nn.Module:
        if self.members > 1:
            prefix = f"m{m}."
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        try:
            return net_from_state(self.spec, state, f"member {m}", default_device())
        except WeightsError as exc:
            raise self._fail("model.pt", str(exc)) from None

    def _read_manifold(self, meta: dict[str, Any]) -> tuple[ConvAutoencoder, PrototypeBank] | None:
        """The generative model and its prototypes, when the run used the manifold manipulator."""
        doc = meta.get("generative")
        if doc is None:
            return None
        spec = doc.get("spec") if isinstance(doc, dict) else None
        if not (isinstance(spec, dict) and spec.get("arch") == "autoencoder"
                and spec.get("in_shape") == list(self.shape)):
            raise self._fail("model.json", "'generative' must hold the spec of an autoencoder of the images")
        try:
            net = net_from_state(spec, read_state_dict(self._read("generative.pt", MAX_WEIGHTS_BYTES),
                                                       "the generative model"), "the generative model",
                                 default_device())
            model = cast(ConvAutoencoder, net.eval())      # its spec's arch is "autoencoder"
        except WeightsError as exc:
            raise self._fail("generative.pt", str(exc)) from None
        return model, self._read_bank(model)

    def _read_arrays(self, name: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The named arrays of an .npz of the run (no pickles), or one line saying what is wrong."""
        raw = self._read(name, MAX_WEIGHTS_BYTES)
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                return {k: np.asarray(z[k]) for k in keys}
        except (KeyError, ValueError, OSError, EOFError) as exc:
            raise self._fail(name, f"damaged or incomplete ({exc})") from None

    def _read_bank(self, model: nn.Module) -> PrototypeBank:
        arrays = self._read_arrays("prototypes.npz", BANK_ARRAYS)
        n, k = len(arrays["labels"]), len(self.levels)
        values = int(np.prod(self.shape))
        if not (arrays["codes"].shape == (n, model.code_size) and arrays["decoded"].shape == (n, values)
                and arrays["margins"].shape == (n,) and arrays["depth"].shape == (k,)
                and arrays["labels"].dtype.kind in "iu" and n > 0
                and np.all((arrays["labels"] >= 0) & (arrays["labels"] < k))
                and all(np.isfinite(arrays[a]).all() for a in ("codes", "decoded", "margins", "depth"))):
            raise self._fail("prototypes.npz", "its arrays do not fit the generative model and the causal classes")
        return PrototypeBank(arrays["codes"].astype(np.float32), arrays["labels"].astype(np.int64),
                             arrays["depth"].astype(np.float64), arrays["decoded"].astype(np.float32),
                             arrays["margins"].astype(np.float32))

    def _read_donors(self) -> DonorBank:
        """The patch search's donors (real images of each causal class), when the run used it."""
        images, labels, depth = self._read_arrays("donors.npz", DONOR_ARRAYS).values()
        k = len(self.levels)
        if not (images.shape[1:] == self.shape and len(images) == len(labels) > 0 and depth.shape == (k,)
                and labels.dtype.kind in "iu" and np.all((labels >= 0) & (labels < k))
                and np.isfinite(images).all() and np.isfinite(depth).all()):
            raise self._fail("donors.npz", "its arrays do not fit the images and the causal classes")
        return DonorBank(images.astype(np.float32), labels.astype(np.int64), depth.astype(np.float64))

    def manipulator(self) -> ManipulatorModel:
        """The run's manipulator: the search the run used (manifold, patches), else the pixel search."""
        generative, bank = self.manifold or (None, None)
        return ManipulatorModel(self.nets, self.levels, self.binary, self.distance_scale, self.confidence, 0,
                                generative=generative, bank=bank, donors=self.donors)

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p_causal P(T=1|man(I)), causal_class) per image; over K > 2 outcomes p_causal is P(T|man(I)) (N, K)."""
        if tuple(images.shape[1:]) != self.shape:
            raise ValueError(f"images are {describe_shape(images.shape[1:])}, the run's net expects "
                             f"{describe_shape(self.shape)}")
        proba = ensemble_proba(self.nets, images)
        return proba @ self.levels, proba.argmax(1)


def _positive_or_none(meta: dict[str, Any], key: str) -> float | None:
    value = meta.get(key)
    if value is None:
        return None
    if not (_is_number(value) and 0 < value < 1e6):
        raise ValueError(f"model.json: '{key}' must be a positive number or null")
    return float(value)


def _is_level(value: Any, outcomes: int) -> bool:
    """A causal level: P(T=1) in [0, 1] (a binary T), else a distribution over the outcomes."""
    if outcomes == 2:
        return _is_number(value) and 0 <= value <= 1
    return (isinstance(value, list) and len(value) == outcomes and all(_is_number(v) and 0 <= v <= 1 for v in value)
            and abs(sum(value) - 1) <= ROW_SUM_TOLERANCE)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in model.json")


AnswerFn = Callable[[QueryBatch], "np.ndarray | None"]


class AnswersRefused(ExperimentError):
    """The experiment refused a batch's answers (e.g. Algorithm 1 left a class unanswered); the
    batch still waits (experiment.pending), nothing of it was kept."""


def run_to_folder(experiment: Experiment, oracle: Oracle, out: Path, progress: Callable[[str], None],
                  started: float, on_iteration: Callable[[QueryBatch], None] | None = None) -> None:
    """Algorithms 1 and 2 with an automatic oracle; each answered Algorithm 2 batch is saved as
    iteration_NN.npz, then on_iteration(batch) is called (the nets are that iteration's)."""
    drive_to_folder(experiment, lambda batch: oracle.answer(batch.images), out, progress, started, on_iteration)


def drive_to_folder(experiment: Experiment, answer: AnswerFn, out: Path, progress: Callable[[str], None],
                    started: float, on_iteration: Callable[[QueryBatch], None] | None = None) -> bool:
    """Like run_to_folder, with answer(batch) giving each batch's answers, or None to stop with the
    batch waiting (experiment.pending; a later call goes on from it). True when the run is finished."""
    iterations = experiment.config.iterations
    for event in experiment.steps():
        if isinstance(event, TrainEvent) and event.progress.epoch == 1 and event.member == 0:
            progress(f"iteration {event.iteration}: training the causal net")
        elif isinstance(event, QueryBatch):
            values = answer(event)
            if values is None:
                return False
            try:
                experiment.answer(values)
            except ExperimentError as exc:
                raise AnswersRefused(str(exc)) from None
            if event.kind == "algorithm1" and experiment.causal_levels is None:
                premise, pending = experiment.premise, experiment.pending
                assert premise is not None and pending is not None, "the premise check asked more representatives"
                progress(f"Algorithm 1: {len(premise.rep_index)} answers; the premise check asks "
                         f"{len(pending)} more representatives")
            elif event.kind == "algorithm1":
                progress(f"Algorithm 1: {len(event)} representatives -> causal levels "
                         f"{np.round(experiment.learned_levels, 3).tolist()}"
                         + ("" if experiment.n_outcomes == 2 else f" (P(T) over {', '.join(experiment.outcomes)})"))
                if experiment.premise is not None:
                    progress(experiment.premise.describe())
            else:
                save_iteration(out, event)
                save_model(out, experiment)           # the nets that made this iteration's queries
                save_history(out, experiment, finished=False)
                if on_iteration is not None:
                    on_iteration(event)
                r = experiment.history[-1]
                progress(f"iteration {r.iteration}/{iterations}: MErr {r.merr:.3f}  MDist {r.mdist:.2f}  "
                         f"({time.perf_counter() - started:.1f} s)")
    return True


# ---------------------------------------------------------------- a run's manipulations, shown

MAX_ITERATION_BYTES = 512 * 1024**2    # an iteration file, read and unpacked (500 queries of 64x64 colour: ~50 MB)
ITERATION_PAIRS = ("originals", "manipulated")


@dataclass(frozen=True)
class ManipulationPairs:
    """Start images and their manipulations, as a run's iteration file keeps them."""

    iteration: int
    originals: np.ndarray      # (n, H, W) or (n, H, W, C)
    manipulated: np.ndarray


def last_manipulations(folder: Path, count: int = 12) -> ManipulationPairs | None:
    """The first `count` start images and manipulations of the run folder's last iteration_NN.npz; None when it
    has none. A damaged, pickled or oversized file (unpacked past MAX_ITERATION_BYTES) is a ValueError, one line."""
    files = {int(p.stem.split("_")[1]): p for p in Path(folder).glob("iteration_[0-9][0-9]*.npz")
             if p.stem.split("_")[1].isdigit()}
    if not files:
        return None
    iteration = max(files)
    path = files[iteration]
    try:
        raw = read_user_file(path, MAX_ITERATION_BYTES, "an iteration file")
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_ITERATION_BYTES:
                raise ValueError(f"would unpack past {MAX_ITERATION_BYTES:,} bytes")
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            originals, manipulated = (np.asarray(z[k][:count], np.float32) for k in ITERATION_PAIRS)
    except (UserFileError, KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path.name}: damaged or not a run's iteration file ({exc})") from None
    if originals.shape != manipulated.shape or originals.ndim not in (3, 4):
        raise ValueError(f"{path.name}: its start images {originals.shape} and manipulations {manipulated.shape} "
                         "do not pair up")
    return ManipulationPairs(iteration, originals, manipulated)
