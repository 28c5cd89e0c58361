"""Writing a session file atomically, checked by reading it back; the autosaver."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import nn

from viscause_gui import __version__
from viscause_gui.core.data.dataset import OPTIONAL_ARRAYS, Dataset
from viscause_gui.core.data.readers import PathLike
from viscause_gui.core.method.experiment import Experiment, QueryBatch
from viscause_gui.core.nets.generative import generative_spec
from viscause_gui.core.store.atomic import atomic_write
from viscause_gui.core.store.journal import AnswerRecord, now_iso
from viscause_gui.core.store.session import (BATCH_FIELDS, BINARY_SESSION_VERSION, GENERATIVE_MEMBER, MANIFEST,
                                             SESSION_FORMAT, SESSION_VERSION, SessionData, SessionError, autosave_path)
from viscause_gui.core.store.session_reader import load_session

log = logging.getLogger("viscause_gui.session")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)      # fixed member dates: the same state gives the same bytes


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
    return snapshot_session(path, source, extra_settings, answers=answers,
                            compresslevel=compresslevel).write(verify)


@dataclass(frozen=True)
class SessionSnapshot:
    """A session taken for saving (`snapshot_session`): plain data only, shared with nothing
    live, so `write` may run in any thread while the window goes on changing the session."""

    path: Path
    head: str                          # the manifest without its answers, as compact JSON
    answers: tuple[AnswerRecord, ...]  # frozen records: turned into JSON by `write`
    members: dict[str, bytes]
    compresslevel: int

    def write(self, verify: bool = True) -> Path:
        """Write the file atomically (checked by reading it back with `verify`); SessionError on failure."""
        head = json.loads(self.head)
        experiment = head.pop("experiment")
        doc = {**head, "answers": [r.to_json() for r in self.answers], "experiment": experiment}
        try:
            manifest = json.dumps(doc, allow_nan=False, indent=1).encode("utf-8")
        except ValueError as exc:                        # an answer's value out of JSON
            raise SessionError(f"{self.path}: cannot save the session: {exc}") from None
        try:
            atomic_write(self.path, self._write_zip(manifest), self._check if verify else None)
        except OSError as exc:
            raise SessionError(f"{self.path}: cannot save the session ({exc.strerror or exc}); "
                               f"the file on disk is unchanged") from None
        return self.path

    def _write_zip(self, manifest: bytes) -> Callable[[BinaryIO], None]:
        def write(f: BinaryIO) -> None:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=self.compresslevel,
                                 allowZip64=True) as zf:
                _add(zf, MANIFEST, manifest, self.compresslevel)
                for name, raw in self.members.items():
                    _add(zf, name, raw, self.compresslevel)
        return write

    def _check(self, tmp: Path) -> None:
        try:
            load_session(tmp, device=torch.device("cpu"), ready_to_manipulate=False)
        except SessionError as exc:
            raise SessionError(f"{self.path}: not saved: the written file would not open again "
                               f"({str(exc).removeprefix(str(tmp) + ': ')})") from None


def snapshot_session(path: PathLike, source: SessionData | Experiment | Dataset,
                     extra_settings: dict[str, Any] | None = None, *,
                     answers: list[AnswerRecord] | None = None, compresslevel: int = 1) -> SessionSnapshot:
    """What `save_session` writes, taken now on the calling thread (arrays and weights copied,
    settings and experiment state through JSON); the slow part, the answers' JSON, the zip,
    the write and the check, is `SessionSnapshot.write`. SessionError when the session cannot
    be saved (training, values that are not JSON); sets a SessionData's `saved`."""
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
    assert session.dataset is not None, "SessionData has a data set"
    outcomes = session.dataset.outcome_names
    doc: dict[str, Any] = {
        "format": SESSION_FORMAT, "version": BINARY_SESSION_VERSION if len(outcomes) == 2 else SESSION_VERSION,
        "session_id": session.session_id, "created": session.created, "saved": saved,
        "app": {"name": "viscause_gui", "version": __version__},
        "settings": {**session.settings, **(extra_settings or {})},
    }
    members: dict[str, bytes] = {}
    ds = session.dataset
    assert ds is not None
    ds_arrays = ["images", *(k for k in OPTIONAL_ARRAYS if getattr(ds, k) is not None)]
    doc["dataset"] = {"name": ds.name, "n": len(ds), "shape": list(ds.shape), "meta": ds.meta,
                      "arrays": ds_arrays, "outcomes": list(outcomes)}
    for key in ds_arrays:
        members[f"data/{key}.npy"] = _npy_bytes(getattr(ds, key))
    records = session.answers if answers is None else answers
    doc["experiment"] = None
    if session.experiment is not None:
        doc["experiment"] = _experiment_payload(session.experiment, members)
    try:
        head = json.dumps(doc, allow_nan=False, default=json_default)
    except (TypeError, ValueError) as exc:
        raise SessionError(f"{path}: cannot save the session: {exc}") from None
    if isinstance(source, SessionData):
        source.saved = saved
    return SessionSnapshot(path, head, tuple(records), members, compresslevel)


def _add(zf: zipfile.ZipFile, name: str, raw: bytes, compresslevel: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, raw, compresslevel=compresslevel)


def json_default(obj: Any) -> Any:
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


def _experiment_payload(exp: Experiment, members: dict[str, bytes]) -> dict[str, Any]:
    """Extract the Experiment's state: JSON part returned, arrays and weights into `members`."""
    if exp.training_in_progress:
        raise SessionError(f"the experiment is training iteration {exp.iteration}; save when it waits "
                           f"for answers, after answer(), or when it is done")
    state = exp.state()
    out: dict[str, Any] = {
        "config": exp.config.to_json(),
        "spec": state.spec,
        "iteration": int(state.iteration),
        "iteration_elapsed": float(state.iteration_elapsed),
        "rng": state.rng.bit_generator.state,
        "history": [r.to_json() for r in state.history],
        "classes": None,
        "nets": len(state.nets),
        "batches": [],
        "pending": None,
    }
    if state.causal_labels is not None:
        out["classes"] = {"causal_levels": np.asarray(state.causal_levels, np.float64).tolist(),
                          "obs_to_causal": np.asarray(state.obs_to_causal).tolist(),
                          "obs_answers": np.asarray(state.obs_answers, np.float64).tolist()}
        members["experiment/causal_labels.npy"] = _npy_bytes(state.causal_labels)
    members["experiment/query_images.npy"] = _npy_bytes(state.query_images)
    members["experiment/query_labels.npy"] = _npy_bytes(state.query_labels)
    for i, batch in enumerate(state.batches):
        out["batches"].append(_batch_payload(batch, f"experiment/batches/{i}", members))
    if state.pending is not None:
        out["pending"] = _batch_payload(state.pending, "experiment/pending", members)
    for m, net in enumerate(state.nets):
        members[f"experiment/nets/{m}.pt"] = _weights_bytes(net)
    if state.premise is not None:
        out["premise"] = state.premise.to_json()
    if state.generative is not None:
        out["generative"] = {"spec": generative_spec(state.generative)}
        members[GENERATIVE_MEMBER] = _weights_bytes(state.generative)
    return out


def _weights_bytes(net: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, buf)
    return buf.getvalue()


def _batch_payload(batch: QueryBatch, prefix: str, members: dict[str, bytes]) -> dict[str, Any]:
    names = [f for f in BATCH_FIELDS if getattr(batch, f) is not None]
    for f in names:
        members[f"{prefix}/{f}.npy"] = _npy_bytes(np.asarray(getattr(batch, f)))
    return {"kind": batch.kind, "iteration": int(batch.iteration), "size": len(batch), "arrays": names}


_writer: ThreadPoolExecutor | None = None


def _autosave_thread() -> ThreadPoolExecutor:
    """The one thread that writes autosaves in the background, in the order they were taken."""
    global _writer
    if _writer is None:
        _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-autosave")
    return _writer


class Autosaver:
    """Autosave a session to `autosave_path(path)` at most every `interval_s` seconds, when
    something changed (`mark_dirty`). Same atomic write as save_session. After a regular
    save call `discard()`; at start, an autosave newer than the session file is a candidate
    for recovery (`newer_than_session`).

    `maybe_save` writes on the calling thread; `maybe_save_in_background` takes the snapshot
    there and writes in the autosave thread (a GUI keeps its event loop: writing and checking a
    session with 3,000 answers takes ~120 ms). Everything else that touches the file waits for
    a write in flight first, so a later state always wins and a discarded file stays gone."""

    def __init__(self, path: PathLike, interval_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.path = autosave_path(path)
        self.session_path = Path(path)
        self.interval_s = interval_s
        self.clock = clock
        self.dirty = False
        self._last = -math.inf
        self._writing: Future | None = None

    def mark_dirty(self) -> None:
        self.dirty = True

    def due(self) -> bool:
        return self.dirty and self.clock() - self._last >= self.interval_s

    def maybe_save(self, session: SessionData, *, force: bool = False) -> Path | None:
        """Save when due (or `force`); returns the path written, or None."""
        if not (force or self.due()):
            return None
        self.wait()
        save_session(self.path, session)
        self.dirty = False
        self._last = self.clock()
        return self.path

    def maybe_save_in_background(self, session: SessionData, *, force: bool = False) -> Future | None:
        """When due (or `force`): snapshot `session` now, write it in the autosave thread; the
        write's Future (its result: the path; a failed write leaves the saver dirty), or None.
        SessionError here when the session cannot be taken (as `maybe_save`)."""
        if not (force or self.due()):
            return None
        snapshot = snapshot_session(self.path, session)
        self.dirty = False
        self._last = self.clock()
        self._writing = _autosave_thread().submit(snapshot.write)
        self._writing.add_done_callback(self._written)
        return self._writing

    def _written(self, writing: Future) -> None:
        exc = writing.exception()
        if exc is not None:
            self.dirty = True                  # tried again when next due
            if not isinstance(exc, SessionError):   # a bug, not a full disk: say so (the timer's slot would have)
                log.error("autosave of %s failed", self.path, exc_info=exc)

    def wait(self) -> None:
        """Wait for a background write in flight (its failure is the saver's dirtiness, not raised)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.exception()

    def discard(self) -> None:
        self.wait()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def newer_than_session(self) -> bool:
        self.wait()
        if not self.path.exists():
            return False
        if not self.session_path.exists():
            return True
        return self.path.stat().st_mtime > self.session_path.stat().st_mtime
