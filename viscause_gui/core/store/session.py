"""Sessions: save and open a whole session (data, classes, answers, weights, history,
settings) as ONE file, without pickle. Qt-free.

File format ``viscause-session``, version 1 (suffix ``.vcsession``; any name works)
---------------------------------------------------------------------------------
A ZIP archive (deflate). Its members:

- ``session.json`` (required): UTF-8 JSON, strict (no NaN / Infinity)::

    {"format": "viscause-session", "version": 1,
     "session_id": "<hex>", "created": "<ISO 8601 UTC>", "saved": "<ISO 8601 UTC>",
     "app": {"name": "viscause_gui", "version": "0.1.0"},
     "settings": {...},                  # free JSON object owned by the app (blind mode, ...)
     "dataset": {"name": "GRATING", "n": N, "shape": [H, W], "meta": {...},
                 "arrays": ["images", "p_obs", "t", "obs_class", ...]},
     "answers": [<journal record>, ...], # every human answer and undo, see journal.py
     "experiment": null | {
         "config": {...ExperimentConfig...},
         "spec": {...},                  # the net spec (build_net), with in_shape, n_classes
         "iteration": 2, "iteration_elapsed": 1.5,
         "rng": {"bit_generator": "PCG64", "state": {"state": <int>, "inc": <int>},
                 "has_uint32": 0, "uinteger": 0},   # numpy's bit_generator.state (128-bit ints)
         "history": [{"iteration": 1, "merr": .., "mdist": .., "n_train": .., "seconds": ..}],
         "classes": null | {"causal_levels": [P(T=1|man) per causal class],
                            "obs_to_causal": [causal class per observational class],
                            "obs_answers": [mean oracle answer per observational class]},
         "nets": M,                      # ensemble members with weights (0 before training)
         "batches": [{"kind": "algorithm1" | "algorithm2", "iteration": k, "size": B,
                      "arrays": ["images", "source_index", ..., "answers"]}, ...],
         "pending": null | {same as a batch; the batch waiting for the oracle}}}

- ``data/<name>.npy``: the data set arrays listed in ``dataset.arrays``: ``images`` (N, H, W)
  float32 in [0, 1], 1.0 = ink; optional ``p_obs``, ``t``, ``obs_class``, ``causal_class``,
  ``labels`` (N,).
- ``experiment/causal_labels.npy`` (N,) int (with ``classes``), ``experiment/query_images.npy``
  (Q, H, W) float32 and ``experiment/query_labels.npy`` (Q,) int: the oracle-labelled
  manipulated images Algorithm 2 trains on.
- ``experiment/batches/<i>/<field>.npy`` and ``experiment/pending/<field>.npy``: a QueryBatch:
  ``images``, ``source_index`` (index into the data set), ``originals``, ``targets``,
  ``distances``, ``p_target``, ``answers`` (P(T=1|man), NaN = no answer); the ones listed.
- ``experiment/nets/<m>.pt``: the state_dict of ensemble member m, written by ``torch.save``
  and read with ``torch.load(..., weights_only=True)``; tensors only.

Arrays are ``.npy`` (format 1.0/2.0), read with allow_pickle=False; numeric dtypes (and
fixed-width strings for ``labels``) only; dtypes are kept as saved. Members not named above
are ignored. The file is written to a temporary file beside the target, fsync'ed and moved
over it with ``os.replace``: a crash never leaves a half-written session.

Opening checks everything (zip structure and CRCs, size limits against zip bombs, shapes,
dtypes, ranges, NaN, the state machine's invariants, net shapes) before anything is
returned: a bad file raises one `SessionError` and changes nothing.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import pickle
import time
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np
import torch
from torch import nn

from viscause_gui import __version__
from viscause_gui.core.data.dataset import OPTIONAL_ARRAYS, Dataset
from viscause_gui.core.data.readers import read_npy_header
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, IterationRecord, QueryBatch
from viscause_gui.core.store.journal import AnswerRecord, Journal, atomic_write, batch_key, image_hash, new_id, now_iso
from viscause_gui.core.nets.models import build_net, default_device

PathLike = str | os.PathLike

SESSION_FORMAT = "viscause-session"
SESSION_VERSION = 1
SESSION_SUFFIX = ".vcsession"
MANIFEST = "session.json"
BATCH_FIELDS = ("images", "source_index", "originals", "targets", "distances", "p_target", "answers")
RNG_BIT_GENERATORS = ("PCG64", "PCG64DXSM")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)      # fixed member dates: the same state gives the same bytes


@dataclass(frozen=True)
class SessionLimits:
    """Limits a session file must respect (zip-bomb and memory guards)."""

    max_file_bytes: int = 16 * 1024**3
    max_member_bytes: int = 4 * 1024**3     # uncompressed size of one member
    max_total_bytes: int = 8 * 1024**3      # uncompressed size of all members together
    max_json_bytes: int = 256 * 1024**2     # session.json
    max_members: int = 100_000


DEFAULT_LIMITS = SessionLimits()


class SessionError(ValueError):
    """A session file cannot be opened or saved; the message names the file and the problem."""


# ---------------------------------------------------------------- the session object

@dataclass
class SessionData:
    """Everything a session file holds. `experiment` is None before Algorithm 1 starts
    (a session may hold only a data set and answers); its data set is `dataset`."""

    dataset: Dataset | None = None
    experiment: Experiment | None = None
    answers: list[AnswerRecord] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    session_id: str = field(default_factory=new_id)
    created: str = field(default_factory=now_iso)
    saved: str | None = None
    path: Path | None = None            # the file it was loaded from
    app: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.experiment is not None:
            if self.dataset is None:
                self.dataset = self.experiment.data
            elif self.dataset is not self.experiment.data:
                raise ValueError("the session's data set must be its experiment's data set")
        if self.dataset is None:
            raise ValueError("a session needs a data set")

    def batch_images(self, key: str) -> np.ndarray | None:
        """The images a journal batch key points at ("data" or "<kind>:<iteration>"), or None."""
        if key == "data":
            return self.dataset.images  # type: ignore[union-attr]
        exp = self.experiment
        if exp is None:
            return None
        for batch in [*exp.batches, *([exp.pending] if exp.pending is not None else [])]:
            if batch_key(batch) == key:
                return batch.images
        return None

    def open_journal(self, path: PathLike | None = None, *, annotator: str = "user") -> Journal:
        """The session's journal (default: beside the session file, see `journal_path`)."""
        if path is None:
            if self.path is None:
                raise ValueError("give the journal path: this session has no file yet")
            path = journal_path(self.path)
        return Journal(path, self.session_id, annotator=annotator)


def journal_path(session_path: PathLike) -> Path:
    """Where the answer journal of a session file lives: ``<file>.journal.jsonl``."""
    p = Path(session_path)
    return p.with_name(p.name + ".journal.jsonl")


def autosave_path(session_path: PathLike) -> Path:
    """Where autosaves of a session file go: ``<file>.autosave`` (same format)."""
    p = Path(session_path)
    return p.with_name(p.name + ".autosave")


# ---------------------------------------------------------------- saving

def save_session(path: PathLike, source: SessionData | Experiment | Dataset,
                 extra_settings: dict[str, Any] | None = None, *,
                 answers: list[AnswerRecord] | None = None, compresslevel: int = 1,
                 verify: bool = True) -> Path:
    """Save a session (a SessionData, or an Experiment / a Dataset alone) atomically.

    `extra_settings` are merged over the session's settings; `answers` replace its answers.
    Save when the experiment waits for answers (a QueryBatch was yielded), after
    `answer()`, or when it is done — not while it trains (SessionError). With `verify` the
    written file is opened with `load_session` before it replaces the old one, so a save
    that succeeded always opens again. Raises SessionError on failure; the file at `path`
    is then unchanged.
    """
    if isinstance(source, SessionData):
        session = source
    elif isinstance(source, Experiment):
        session = SessionData(experiment=source)
    elif isinstance(source, Dataset):
        session = SessionData(dataset=source)
    else:
        raise TypeError(f"cannot save a {type(source).__name__} as a session")
    path = Path(path)
    saved = now_iso()
    doc: dict[str, Any] = {
        "format": SESSION_FORMAT, "version": SESSION_VERSION,
        "session_id": session.session_id, "created": session.created, "saved": saved,
        "app": {"name": "viscause_gui", "version": __version__},
        "settings": {**session.settings, **(extra_settings or {})},
    }
    members: dict[str, bytes] = {}
    ds = session.dataset
    assert ds is not None
    ds_arrays = ["images", *(k for k in OPTIONAL_ARRAYS if getattr(ds, k) is not None)]
    doc["dataset"] = {"name": ds.name, "n": len(ds), "shape": list(ds.shape), "meta": ds.meta,
                      "arrays": ds_arrays}
    for key in ds_arrays:
        members[f"data/{key}.npy"] = _npy_bytes(getattr(ds, key))
    records = session.answers if answers is None else answers
    doc["answers"] = [r.to_json() for r in records]
    doc["experiment"] = None
    if session.experiment is not None:
        doc["experiment"] = _experiment_payload(session.experiment, members)
    try:
        manifest = json.dumps(doc, allow_nan=False, default=_json_default, indent=1).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise SessionError(f"{path}: cannot save the session: {exc}") from None

    def write(f: BinaryIO) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel, allowZip64=True) as zf:
            _add(zf, MANIFEST, manifest, compresslevel)
            for name, raw in members.items():
                _add(zf, name, raw, compresslevel)

    def check(tmp: Path) -> None:
        try:
            load_session(tmp, device=torch.device("cpu"))
        except SessionError as exc:
            raise SessionError(f"{path}: not saved: the written file would not open again "
                               f"({str(exc).removeprefix(str(tmp) + ': ')})") from None

    try:
        atomic_write(path, write, check if verify else None)
    except OSError as exc:
        raise SessionError(f"{path}: cannot save the session ({exc.strerror or exc}); "
                           f"the file on disk is unchanged") from None
    if isinstance(source, SessionData):
        source.saved = saved
    return path


def _add(zf: zipfile.ZipFile, name: str, raw: bytes, compresslevel: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, raw, compresslevel=compresslevel)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def training_in_progress(exp: Experiment) -> bool:
    """True between the start of an iteration's training and its query batch: a state that
    cannot be saved (the nets are half trained)."""
    return exp.causal_labels is not None and exp.pending is None and len(exp.history) < exp.iteration


def _experiment_payload(exp: Experiment, members: dict[str, bytes]) -> dict[str, Any]:
    """Extract the Experiment's state: JSON part returned, arrays and weights into `members`."""
    if training_in_progress(exp):
        raise SessionError(f"the experiment is training iteration {exp.iteration}; save when it waits "
                           f"for answers, after answer(), or when it is done")
    started = getattr(exp, "_iteration_started", 0.0)
    elapsed = max(0.0, time.perf_counter() - started) if started and exp.iteration else 0.0
    out: dict[str, Any] = {
        "config": exp.config.to_json(),
        "spec": exp.spec,
        "iteration": int(exp.iteration),
        "iteration_elapsed": float(elapsed),
        "rng": exp.rng.bit_generator.state,
        "history": [r.to_json() for r in exp.history],
        "classes": None,
        "nets": len(exp.nets),
        "batches": [],
        "pending": None,
    }
    if exp.causal_labels is not None:
        out["classes"] = {"causal_levels": np.asarray(exp.causal_levels, np.float64).tolist(),
                          "obs_to_causal": np.asarray(exp.obs_to_causal).tolist(),
                          "obs_answers": np.asarray(exp.obs_answers, np.float64).tolist()}
        members["experiment/causal_labels.npy"] = _npy_bytes(exp.causal_labels)
    members["experiment/query_images.npy"] = _npy_bytes(exp.query_images)
    members["experiment/query_labels.npy"] = _npy_bytes(exp.query_labels)
    for i, batch in enumerate(exp.batches):
        out["batches"].append(_batch_payload(batch, f"experiment/batches/{i}", members))
    if exp.pending is not None:
        out["pending"] = _batch_payload(exp.pending, "experiment/pending", members)
    for m, net in enumerate(exp.nets):
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, buf)
        members[f"experiment/nets/{m}.pt"] = buf.getvalue()
    return out


def _batch_payload(batch: QueryBatch, prefix: str, members: dict[str, bytes]) -> dict[str, Any]:
    names = [f for f in BATCH_FIELDS if getattr(batch, f) is not None]
    for f in names:
        members[f"{prefix}/{f}.npy"] = _npy_bytes(np.asarray(getattr(batch, f)))
    return {"kind": batch.kind, "iteration": int(batch.iteration), "size": len(batch), "arrays": names}


class Autosaver:
    """Autosave a session to `autosave_path(path)` at most every `interval_s` seconds, when
    something changed (`mark_dirty`). Same atomic write as save_session. After a regular
    save call `discard()`; at start, an autosave newer than the session file is a candidate
    for recovery (`newer_than_session`)."""

    def __init__(self, path: PathLike, interval_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.path = autosave_path(path)
        self.session_path = Path(path)
        self.interval_s = interval_s
        self.clock = clock
        self.dirty = False
        self._last = -math.inf

    def mark_dirty(self) -> None:
        self.dirty = True

    def due(self) -> bool:
        return self.dirty and self.clock() - self._last >= self.interval_s

    def maybe_save(self, session: SessionData, *, force: bool = False) -> Path | None:
        """Save when due (or `force`); returns the path written, or None."""
        if not (force or self.due()):
            return None
        save_session(self.path, session)
        self.dirty = False
        self._last = self.clock()
        return self.path

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def newer_than_session(self) -> bool:
        if not self.path.exists():
            return False
        if not self.session_path.exists():
            return True
        return self.path.stat().st_mtime > self.session_path.stat().st_mtime


# ---------------------------------------------------------------- loading

def load_session(path: PathLike, *, limits: SessionLimits = DEFAULT_LIMITS,
                 device: torch.device | None = None) -> SessionData:
    """Open a session file; the experiment (if any) is rebuilt and goes on where it stopped
    (pending batch, history, weights, random state). Any problem raises one SessionError."""
    p = Path(path)
    try:
        return _Reader(p, limits, device or default_device()).read()
    except SessionError:
        raise
    except MemoryError:
        raise SessionError(f"{p}: not enough memory to open the session") from None
    except RecursionError:
        raise SessionError(f"{p}: session.json is nested too deeply") from None
    except zipfile.BadZipFile as exc:
        raise SessionError(f"{p}: not a session file or damaged ({exc})") from None
    except OSError as exc:
        raise SessionError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    except Exception as exc:  # noqa: BLE001 - zipfile/zlib/numpy/torch raise many types on bad input
        raise SessionError(f"{p}: the session file is damaged ({type(exc).__name__}: {exc})") from None


class _Bad(Exception):
    """A problem found by the reader; becomes SessionError with the path."""


def _need(cond: Any, message: str) -> None:
    if not cond:
        raise _Bad(message)


class _Reader:
    def __init__(self, path: Path, limits: SessionLimits, device: torch.device):
        self.path, self.limits, self.device = path, limits, device
        self.total = 0

    def read(self) -> SessionData:
        try:
            return self._read()
        except _Bad as exc:
            raise SessionError(f"{self.path}: {exc}") from None

    # ----- zip level -----
    def _read(self) -> SessionData:
        if not self.path.exists():
            raise SessionError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise SessionError(f"{self.path}: is not a file")
        size = self.path.stat().st_size
        _need(size <= self.limits.max_file_bytes,
              f"the file is {size:,} bytes, more than the limit of {self.limits.max_file_bytes:,}")
        with open(self.path, "rb") as f:
            head = f.read(4)
        _need(head.startswith(b"PK"), "not a viscause session (not a ZIP archive)")
        with zipfile.ZipFile(self.path) as zf:
            self.zf = zf
            infos = zf.infolist()
            _need(len(infos) <= self.limits.max_members,
                  f"the archive has {len(infos):,} members, more than the limit of {self.limits.max_members:,}")
            names = [i.filename for i in infos]
            _need(len(set(names)) == len(names), "the archive has two members of the same name")
            self.infos = {i.filename: i for i in infos}
            _need(MANIFEST in self.infos, f"not a viscause session (no {MANIFEST} in the archive)")
            doc = self._json()
            return self._session(doc)

    def _member(self, name: str, limit: int | None = None) -> bytes:
        info = self.infos.get(name)
        _need(info is not None, f"member {name} is missing")
        limit = self.limits.max_member_bytes if limit is None else limit
        _need(info.file_size <= limit,
              f"member {name} would unpack to {info.file_size:,} bytes, more than the limit of {limit:,} (zip bomb?)")
        self.total += info.file_size
        _need(self.total <= self.limits.max_total_bytes,
              f"the members would unpack to more than the limit of {self.limits.max_total_bytes:,} bytes (zip bomb?)")
        with self.zf.open(info) as f:
            raw = f.read(info.file_size + 1)   # zipfile checks the CRC at the end
        _need(len(raw) == info.file_size, f"member {name} is damaged (its size is wrong)")
        return raw

    def _json(self) -> dict[str, Any]:
        raw = self._member(MANIFEST, self.limits.max_json_bytes)
        try:
            doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Bad(f"{MANIFEST} is not valid JSON ({exc})") from None
        _need(isinstance(doc, dict), f"{MANIFEST} must hold a JSON object")
        fmt = doc.get("format")
        _need(fmt == SESSION_FORMAT, f"not a viscause session (format {fmt!r}, expected {SESSION_FORMAT!r})")
        version = doc.get("version")
        _need(isinstance(version, int) and not isinstance(version, bool) and version >= 1,
              f"bad format version {version!r}")
        _need(version <= SESSION_VERSION, f"session format version {version} was written by a newer viscause "
                                          f"(this one reads up to {SESSION_VERSION}); update the app")
        return doc

    def _array(self, name: str, kinds: str, shape: tuple[int | None, ...], *, what: str | None = None) -> np.ndarray:
        """Read and check one .npy member: dtype kind in `kinds`, shape (None = any length)."""
        what = what or name
        arr = _parse_npy(self._member(name), what)
        _need(arr.dtype.kind in kinds, f"'{what}' has dtype {arr.dtype}, expected "
                                       f"{'/'.join(_KIND_NAMES[k] for k in kinds)}")
        _need(arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape)),
              f"'{what}' has shape {arr.shape}, expected {tuple('any' if s is None else s for s in shape)}")
        return arr

    # ----- content -----
    def _session(self, doc: dict[str, Any]) -> SessionData:
        sid = doc.get("session_id")
        _need(isinstance(sid, str) and 0 < len(sid) <= 200, "the session has no valid session_id")
        created, saved = doc.get("created"), doc.get("saved")
        _need(isinstance(created, str) and (saved is None or isinstance(saved, str)), "bad created/saved times")
        settings = doc.get("settings", {})
        _need(isinstance(settings, dict), "'settings' must be a JSON object")
        app = doc.get("app", {})
        _need(isinstance(app, dict), "'app' must be a JSON object")
        answers = doc.get("answers", [])
        _need(isinstance(answers, list), "'answers' must be a list")
        records = []
        for i, obj in enumerate(answers):
            try:
                records.append(AnswerRecord.from_json(obj))
            except ValueError as exc:
                raise _Bad(f"answer {i}: {exc}") from None
        _need(len({r.id for r in records}) == len(records), "two answers have the same id")
        dataset = self._dataset(doc.get("dataset"))
        exp_doc = doc.get("experiment")
        experiment = None if exp_doc is None else self._experiment(exp_doc, dataset)
        return SessionData(dataset=dataset, experiment=experiment, answers=records, settings=settings,
                           session_id=sid, created=created, saved=saved, path=self.path, app=app)

    def _dataset(self, d: Any) -> Dataset:
        _need(isinstance(d, dict), "'dataset' must be a JSON object")
        name, meta, keys = d.get("name", "data"), d.get("meta", {}), d.get("arrays")
        _need(isinstance(name, str), "'dataset.name' must be a string")
        _need(isinstance(meta, dict), "'dataset.meta' must be a JSON object")
        _need(isinstance(keys, list) and "images" in keys
              and all(k in ("images", *OPTIONAL_ARRAYS) for k in keys) and len(set(keys)) == len(keys),
              f"'dataset.arrays' must list 'images' and some of {', '.join(OPTIONAL_ARRAYS)}")
        images = self._array("data/images.npy", "biuf", (None, None, None), what="dataset images")
        n = len(images)
        _need(d.get("n", n) == n and d.get("shape", list(images.shape[1:])) == list(images.shape[1:]),
              "the data set's n / shape in session.json do not match its images")
        extra = {k: self._array(f"data/{k}.npy", "biufUS", (n,), what=f"dataset {k}")
                 for k in keys if k != "images"}
        for k, v in extra.items():
            _need(k == "labels" or v.dtype.kind in "biuf", f"'dataset {k}' must be numeric")
        try:
            return Dataset(images=images, meta=meta, name=name, **extra)
        except ValueError as exc:
            raise _Bad(f"the data set is invalid: {exc}") from None

    def _experiment(self, e: Any, data: Dataset) -> Experiment:
        _need(isinstance(e, dict), "'experiment' must be a JSON object or null")
        config = _config(e.get("config"))
        n, shape = len(data), data.shape
        _need(data.obs_class is not None, "the experiment's data set has no observational classes")
        spec = e.get("spec")
        _need(isinstance(spec, dict) and len(json.dumps(spec)) <= 10_000, "'experiment.spec' must be a small JSON object")
        _need(isinstance(spec.get("in_shape"), list) and list(spec["in_shape"]) == list(shape),
              f"the net's in_shape {spec.get('in_shape')} does not match the images {list(shape)}")
        _meta_net(spec)                                  # a spec that cannot build a net is refused now
        iteration = _int(e.get("iteration"), "experiment.iteration", 0)
        elapsed = _float(e.get("iteration_elapsed", 0.0), "experiment.iteration_elapsed", 0.0)
        rng = _rng(e.get("rng"))
        history_doc = e.get("history")
        _need(isinstance(history_doc, list), "'experiment.history' must be a list")
        history = [_history_record(r, i) for i, r in enumerate(history_doc)]

        classes = e.get("classes")
        k = None
        levels = obs_to_causal = obs_answers = causal_labels = None
        if classes is not None:
            _need(isinstance(classes, dict), "'experiment.classes' must be a JSON object or null")
            levels = _float_list(classes.get("causal_levels"), "causal_levels", 0.0, 1.0)
            k = len(levels)
            _need(k >= 1, "'causal_levels' is empty")
            obs_to_causal = _int_list(classes.get("obs_to_causal"), "obs_to_causal", 0, k - 1)
            _need(len(obs_to_causal) > int(np.max(data.obs_class)) and int(np.min(data.obs_class)) >= 0,
                  "'obs_to_causal' does not cover every observational class of the data set")
            obs_answers = _float_list(classes.get("obs_answers"), "obs_answers", 0.0, 1.0)
            causal_labels = self._array("experiment/causal_labels.npy", "iu", (n,), what="causal_labels")
            _need(_in_range(causal_labels, 0, k - 1), "'causal_labels' has classes outside the causal classes")
        q_images = self._array("experiment/query_images.npy", "f", (None, *shape), what="query_images")
        _need(_unit(q_images), "'query_images' must be finite and lie in [0, 1]")
        q_labels = self._array("experiment/query_labels.npy", "iu", (len(q_images),), what="query_labels")
        _need(len(q_labels) == 0 or (k is not None and _in_range(q_labels, 0, k - 1)),
              "'query_labels' has classes outside the causal classes")

        batches_doc = e.get("batches")
        _need(isinstance(batches_doc, list), "'experiment.batches' must be a list")
        batches = [self._batch(b, f"experiment/batches/{i}", f"batch {i}", n, shape, k, answered=True)
                   for i, b in enumerate(batches_doc)]
        pending_doc = e.get("pending")
        pending = None if pending_doc is None else self._batch(pending_doc, "experiment/pending", "pending batch",
                                                                n, shape, k, answered=False)
        n_nets = _int(e.get("nets"), "experiment.nets", 0)
        nets = []
        if n_nets:
            _need(k is not None, "the experiment has nets but no causal classes")
            _need(int(spec.get("n_classes", -1)) == k, f"the net spec has n_classes {spec.get('n_classes')}, "
                                                       f"but there are {k} causal classes")
            nets = [self._net(spec, m) for m in range(n_nets)]

        # the state machine's invariants (what steps() relies on to go on correctly)
        n2 = sum(b.kind == "algorithm2" for b in batches)
        if classes is None:
            _need(iteration == 0 and not history and not batches and not nets and len(q_labels) == 0
                  and (pending is None or pending.kind == "algorithm1"),
                  "inconsistent experiment: Algorithm 2 state without causal classes")
        else:
            _need(len(history) == n2, "inconsistent experiment: history and answered batches disagree")
            if pending is not None and pending.kind == "algorithm2":
                _need(pending.iteration == iteration and len(history) == iteration - 1 and nets,
                      "inconsistent experiment: the pending batch does not belong to the current iteration")
            elif pending is not None:
                _need(iteration == 0 and not history, "inconsistent experiment: Algorithm 1 batch after Algorithm 2")
            else:
                _need(len(history) == iteration, "inconsistent experiment: saved while training "
                                                 f"(iteration {iteration}, {len(history)} answered)")
        _need([(b.kind, b.iteration) for b in batches]
              == [("algorithm1", 0)] * min(len(batches), 1) + [("algorithm2", i) for i in range(1, len(batches))],
              "inconsistent experiment: the answered batches are not Algorithm 1 then iterations 1, 2, ...")
        _need(pending is None or pending.kind == "algorithm2" or pending.iteration == 0,
              "inconsistent experiment: an Algorithm 1 batch belongs to iteration 0")

        try:
            exp = Experiment(data, config)
        except ValueError as exc:  # pragma: no cover - obs_class checked above
            raise _Bad(f"cannot rebuild the experiment: {exc}") from None
        except RuntimeError as exc:
            raise _Bad(f"cannot rebuild the experiment: {exc}") from None
        restore_experiment_state(
            exp, spec=spec, nets=nets, pending=pending, batches=batches, history=history,
            causal_levels=None if levels is None else np.asarray(levels, np.float64),
            obs_to_causal=None if obs_to_causal is None else np.asarray(obs_to_causal, np.int64),
            obs_answers=None if obs_answers is None else np.asarray(obs_answers, np.float64),
            causal_labels=causal_labels, query_images=q_images, query_labels=q_labels,
            iteration=iteration, rng=rng, iteration_elapsed=elapsed)
        return exp

    def _batch(self, b: Any, prefix: str, what: str, n: int, shape: tuple[int, int], k: int | None,
               answered: bool) -> QueryBatch:
        _need(isinstance(b, dict), f"{what} must be a JSON object")
        kind = b.get("kind")
        _need(kind in ("algorithm1", "algorithm2"), f"{what}: unknown kind {kind!r}")
        iteration = _int(b.get("iteration"), f"{what} iteration", 0)
        size = _int(b.get("size"), f"{what} size", 0)
        names = b.get("arrays")
        _need(isinstance(names, list) and all(f in BATCH_FIELDS for f in names) and len(set(names)) == len(names),
              f"{what}: 'arrays' must list some of {', '.join(BATCH_FIELDS)}")
        for req in ("images", "source_index", *(("answers",) if answered else ())):
            _need(req in names, f"{what} has no '{req}'")
        if kind == "algorithm2":
            _need(all(f in names for f in ("originals", "targets", "distances", "p_target")),
                  f"{what}: an Algorithm 2 batch needs originals, targets, distances and p_target")
        arrays: dict[str, np.ndarray] = {}
        for f in names:
            name, label = f"{prefix}/{f}.npy", f"{what} {f}"
            if f in ("images", "originals"):
                arr = self._array(name, "f", (size, *shape), what=label)
                _need(_unit(arr), f"'{label}' must be finite and lie in [0, 1]")
            elif f in ("source_index", "targets"):
                arr = self._array(name, "iu", (size,), what=label)
                hi = n - 1 if f == "source_index" else (k - 1 if k is not None else -1)
                _need(_in_range(arr, 0, hi), f"'{label}' is out of range")
            else:
                arr = self._array(name, "f", (size,), what=label)
                if f == "answers":
                    finite = arr[np.isfinite(arr)]
                    _need(not np.isinf(arr).any() and _in_range(finite, 0.0, 1.0),
                          f"'{label}' must be P(T=1) in [0, 1] or NaN")
                elif f == "distances":
                    _need(np.isfinite(arr).all() and (arr >= 0).all(), f"'{label}' must be finite and >= 0")
                else:
                    _need(_unit(arr), f"'{label}' must be finite and lie in [0, 1]")
            arrays[f] = arr
        return QueryBatch(kind, iteration, **arrays)

    def _net(self, spec: dict[str, Any], m: int) -> nn.Module:
        name = f"experiment/nets/{m}.pt"
        raw = self._member(name)
        _need(raw.startswith(b"PK\x03\x04"), f"net {m}: {name} is not a torch state_dict file")
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as inner:
                inner_total = sum(i.file_size for i in inner.infolist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise _Bad(f"net {m}: {name} is damaged ({exc})") from None
        _need(inner_total <= self.limits.max_member_bytes, f"net {m}: unpacks to too many bytes (zip bomb?)")
        try:
            state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            found = [ln.strip() for ln in str(exc).splitlines() if "GLOBAL" in ln or "Unsupported" in ln]
            raise _Bad(f"net {m}: the weights file holds objects other than tensors; refused, because "
                       f"loading it could run code ({found[0] if found else 'not a plain state_dict'})") from None
        except Exception as exc:  # noqa: BLE001 - RuntimeError, EOFError, ... on damaged data
            raise _Bad(f"net {m}: the weights cannot be read ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        _need(isinstance(state, dict) and all(isinstance(key, str) for key in state),
              f"net {m}: not a state_dict")
        net = _meta_net(spec)
        expected = net.state_dict()
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        _need(not missing and not unexpected, f"net {m}: its weights do not match the net spec "
                                              f"(missing {missing[:4]}, unexpected {unexpected[:4]})")
        clean = {}
        for key, value in state.items():
            _need(isinstance(value, torch.Tensor) and type(value) in (torch.Tensor, nn.Parameter),
                  f"net {m}: '{key}' is a {type(value).__name__}, not a tensor")
            _need(value.layout == torch.strided and value.dtype == expected[key].dtype
                  and tuple(value.shape) == tuple(expected[key].shape),
                  f"net {m}: '{key}' has shape {tuple(value.shape)} {value.dtype}, expected "
                  f"{tuple(expected[key].shape)} {expected[key].dtype}")
            _need(bool(torch.isfinite(value).all()), f"net {m}: '{key}' contains NaN or infinite weights")
            clean[key] = value.detach().clone().contiguous()
        net.load_state_dict(clean, strict=True, assign=True)
        _need(not any(t.is_meta for t in [*net.parameters(), *net.buffers()]), f"net {m}: weights are missing")
        return net.to(self.device).eval()


def _meta_net(spec: dict[str, Any]) -> nn.Module:
    """Build the net of a spec on the meta device: checks the spec, allocates nothing."""
    try:
        with torch.device("meta"):
            return build_net(spec)
    except Exception as exc:  # noqa: BLE001 - ValueError, TypeError, KeyError, RuntimeError from a bad spec
        raise _Bad(f"the net spec is invalid ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------- restoring an Experiment

def restore_experiment_state(exp: Experiment, *, spec: dict[str, Any], nets: list[nn.Module],
                             pending: QueryBatch | None, batches: list[QueryBatch],
                             history: list[IterationRecord], causal_levels: np.ndarray | None,
                             obs_to_causal: np.ndarray | None, obs_answers: np.ndarray | None,
                             causal_labels: np.ndarray | None, query_images: np.ndarray,
                             query_labels: np.ndarray, iteration: int, rng: np.random.Generator,
                             iteration_elapsed: float = 0.0) -> Experiment:
    """Set the attributes of a freshly built Experiment so that steps() goes on from there.

    (Experiment has no public restore hook: this mirrors its __init__ attribute by attribute.)"""
    exp.spec = dict(spec)
    exp.nets = list(nets)
    exp.pending = pending
    exp.batches = list(batches)
    exp.history = list(history)
    exp.causal_levels = causal_levels
    exp.obs_to_causal = obs_to_causal
    exp.obs_answers = obs_answers
    exp.causal_labels = causal_labels
    exp.query_images = query_images
    exp.query_labels = query_labels
    exp.iteration = int(iteration)
    exp.rng = rng
    exp._iteration_started = time.perf_counter() - float(iteration_elapsed)
    return exp


_KIND_NAMES = {"b": "bool", "i": "int", "u": "uint", "f": "float", "U": "str", "S": "bytes"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (strict JSON)")


def _parse_npy(raw: bytes, what: str) -> np.ndarray:
    """A .npy member -> array, never unpickling and never allocating more than the data holds."""
    f = io.BytesIO(raw)
    try:
        shape, fortran, dtype = read_npy_header(f)
    except Exception as exc:  # noqa: BLE001 - numpy parses the header with ast: ValueError, SyntaxError, ...
        raise _Bad(f"'{what}' is not a valid .npy array ({type(exc).__name__}: {exc})") from None
    _need(not dtype.hasobject and dtype.fields is None and dtype.subdtype is None,
          f"'{what}' holds Python objects or records (pickle); refusing to load it")
    _need(dtype.kind in _KIND_NAMES and dtype.itemsize > 0, f"'{what}' has unsupported dtype {dtype}")
    count = 1
    for s in shape:
        count *= int(s)
    offset = f.tell()
    need = count * dtype.itemsize
    _need(len(raw) - offset == need, f"'{what}' claims shape {shape} ({need:,} bytes) but holds "
                                     f"{len(raw) - offset:,} bytes")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
    return np.array(arr, dtype=dtype.newbyteorder("="), order="C")


def _in_range(arr: np.ndarray, lo: float, hi: float) -> bool:
    return arr.size == 0 or bool(arr.min() >= lo and arr.max() <= hi)


def _unit(arr: np.ndarray) -> bool:
    return bool(np.isfinite(arr).all()) and _in_range(arr, 0.0, 1.0)


def _int(value: Any, what: str, minimum: int) -> int:
    _need(isinstance(value, int) and not isinstance(value, bool) and minimum <= value < 2**62,
          f"'{what}' must be an integer >= {minimum}, got {value!r}")
    return value


def _float(value: Any, what: str, minimum: float) -> float:
    _need(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          and value >= minimum, f"'{what}' must be a finite number >= {minimum}, got {value!r}")
    return float(value)


def _float_list(value: Any, what: str, lo: float, hi: float) -> list[float]:
    _need(isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                          and math.isfinite(v) and lo <= v <= hi for v in value),
          f"'{what}' must be a list of numbers in [{lo}, {hi}]")
    return [float(v) for v in value]


def _int_list(value: Any, what: str, lo: int, hi: int) -> list[int]:
    _need(isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
                                          for v in value), f"'{what}' must be a list of integers in [{lo}, {hi}]")
    return list(value)


def _config(c: Any) -> ExperimentConfig:
    """ExperimentConfig from JSON, each known field type-checked against its default."""
    _need(isinstance(c, dict), "'experiment.config' must be a JSON object")
    defaults = ExperimentConfig()
    for f in fields(ExperimentConfig):
        if f.name not in c:
            continue
        v, d = c[f.name], getattr(defaults, f.name)
        number = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if isinstance(d, bool):
            ok = isinstance(v, bool)
        elif isinstance(d, int):
            ok = isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**62
        elif isinstance(d, float) or d is None:
            ok = number or (d is None and v is None)
        else:
            ok = isinstance(v, type(d))
        _need(ok, f"config '{f.name}' has a bad value {v!r}")
    for name in ("iterations", "queries", "ensemble", "representatives", "epochs", "retrain_epochs", "batch_size"):
        if name in c:
            _need(c[name] >= (0 if name in ("iterations", "epochs", "retrain_epochs") else 1),
                  f"config '{name}' must be positive, got {c[name]!r}")
    if "alpha" in c:
        _need(0 <= c["alpha"] <= 1, f"config 'alpha' must lie in [0, 1], got {c['alpha']!r}")
    return ExperimentConfig.from_json(c)


def _rng(state: Any) -> np.random.Generator:
    _need(isinstance(state, dict) and state.get("bit_generator") in RNG_BIT_GENERATORS,
          f"'experiment.rng' must be the state of a {' or '.join(RNG_BIT_GENERATORS)} generator")
    bit_generator = getattr(np.random, state["bit_generator"])()
    try:
        bit_generator.state = state
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise _Bad(f"'experiment.rng' is not a valid generator state ({exc})") from None
    return np.random.Generator(bit_generator)


def _history_record(r: Any, i: int) -> IterationRecord:
    _need(isinstance(r, dict), f"history entry {i} must be a JSON object")
    values = {}
    for f in fields(IterationRecord):
        v = r.get(f.name)
        if f.type == "int":
            values[f.name] = _int(v, f"history[{i}].{f.name}", 0)
        else:
            values[f.name] = _float(v, f"history[{i}].{f.name}", 0.0)
    return IterationRecord(**values)


# ---------------------------------------------------------------- exports

CAUSAL_SOURCES = {0: "data set image, causal class from its observational class (Algorithm 1)",
                  1: "manipulated image, causal class from the oracle's answer (Algorithm 2)"}


def causal_dataset(experiment: Experiment) -> dict[str, np.ndarray]:
    """The causal data set: the data set's images with their causal class, then every
    manipulated image the oracle answered, with the class of its answer.

    Keys: images (N', H, W) float32, causal_class (N',) int64, source (N',) int8 (see
    CAUSAL_SOURCES), source_index (index into the data set of the image or of the start
    image), iteration (0 for data images), p_causal (P(T=1|man): the class level for data
    images, the oracle's answer for manipulated ones)."""
    exp = experiment
    if exp.causal_labels is None:
        raise ValueError("no causal classes yet: answer the Algorithm 1 queries first")
    n = len(exp.data)
    levels = np.asarray(exp.causal_levels, np.float64)
    images = [exp.data.images]
    labels = [np.asarray(exp.causal_labels, np.int64)]
    source, index = [np.zeros(n, np.int8)], [np.arange(n, dtype=np.int64)]
    iteration, p = [np.zeros(n, np.int64)], [levels[exp.causal_labels]]
    for batch in exp.batches:
        if batch.kind != "algorithm2" or batch.answers is None:
            continue
        known = np.isfinite(batch.answers)
        images.append(batch.images[known].astype(np.float32))
        labels.append(exp.class_of_answer(batch.answers[known]).astype(np.int64))
        source.append(np.ones(int(known.sum()), np.int8))
        index.append(np.asarray(batch.source_index)[known].astype(np.int64))
        iteration.append(np.full(int(known.sum()), batch.iteration, np.int64))
        p.append(np.asarray(batch.answers, np.float64)[known])
    return {"images": np.concatenate(images), "causal_class": np.concatenate(labels),
            "source": np.concatenate(source), "source_index": np.concatenate(index),
            "iteration": np.concatenate(iteration), "p_causal": np.concatenate(p)}


def export_causal_dataset(path: PathLike, experiment: Experiment) -> Path:
    """Write `causal_dataset` as an .npz (readable by the data set loader: images +
    causal_class + a JSON meta) atomically."""
    arrays = causal_dataset(experiment)
    meta = {"kind": "viscause causal data set", "dataset": experiment.data.name,
            "source_codes": {str(k): v for k, v in CAUSAL_SOURCES.items()},
            "causal_levels": np.asarray(experiment.causal_levels, np.float64).tolist(),
            "config": experiment.config.to_json()}
    return atomic_write(path, lambda f: np.savez_compressed(
        f, meta=np.array(json.dumps(meta, default=_json_default)), **arrays))


QUERY_CSV_COLUMNS = ("kind", "iteration", "index", "source_index", "target", "answer", "answered_class",
                     "distance", "p_target", "image_sha256")


def export_queries_csv(path: PathLike, experiment: Experiment) -> Path:
    """One row per queried image of every batch (and the pending one): the oracle's answer
    as the experiment got it (empty when none), its class, the target, the distance."""
    exp = experiment
    batches = [*exp.batches, *([exp.pending] if exp.pending is not None else [])]

    def write(f: BinaryIO) -> None:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        w = csv.writer(text)
        w.writerow(QUERY_CSV_COLUMNS)
        for b in batches:
            answers = b.answers if b.answers is not None else np.full(len(b), np.nan)
            cls = exp.class_of_answer(answers) if exp.causal_levels is not None else np.full(len(b), -1)
            for i in range(len(b)):
                a = float(answers[i])

                def opt(arr: np.ndarray | None, cast: Callable = float) -> str:
                    return "" if arr is None else repr(cast(arr[i]))
                w.writerow([b.kind, b.iteration, i, int(b.source_index[i]), opt(b.targets, int),
                            "" if math.isnan(a) else repr(a), "" if cls[i] < 0 else int(cls[i]),
                            opt(b.distances), opt(b.p_target), image_hash(b.images[i])])
        text.flush()
        text.detach()

    return atomic_write(path, write)
