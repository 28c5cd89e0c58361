"""Sessions: save and open a whole session (data, classes, answers, weights, history,
settings) as ONE file, without pickle. Qt-free.

File format ``viscause-session``, version 1 or 2 (suffix ``.vcsession``; any name works)
---------------------------------------------------------------------------------------
Version 2 is a session whose T has K > 2 outcomes (answers and levels are distributions over them);
a binary T is still written as version 1, which earlier apps read. ``dataset.outcomes`` names T's
outcomes (absent in files written before outcomes had names: a binary T, "0" and "1").

A ZIP archive (deflate). Its members:

- ``session.json`` (required): UTF-8 JSON, strict (no NaN / Infinity)::

    {"format": "viscause-session", "version": 1,
     "session_id": "<hex>", "created": "<ISO 8601 UTC>", "saved": "<ISO 8601 UTC>",
     "app": {"name": "viscause_gui", "version": "0.1.0"},
     "settings": {...},                  # free JSON object owned by the app (blind mode, ...)
     "dataset": {"name": "GRATING", "n": N, "shape": [H, W], "meta": {...},
                 "arrays": ["images", "p_obs", "t", "obs_class", ...],
                 "outcomes": ["0", "1"]},    # T's outcomes, K = their number
     "answers": [<journal record>, ...], # every human answer and undo, see journal.py
     "experiment": null | {
         "config": {...ExperimentConfig...},
         "spec": {...},                  # the net spec (build_net), with in_shape, n_classes
         "iteration": 2, "iteration_elapsed": 1.5,
         "rng": {"bit_generator": "PCG64", "state": {"state": <int>, "inc": <int>},
                 "has_uint32": 0, "uinteger": 0},   # numpy's bit_generator.state (128-bit ints)
         "history": [{"iteration": 1, "merr": .., "mdist": .., "n_train": .., "seconds": ..}],
         "classes": null | {"causal_levels": [P(T=1|man) per causal class],  # K > 2: [[P(T|man)], ...]
                            "obs_to_causal": [causal class per observational class],
                            "obs_answers": [mean oracle answer per observational class]},  # K > 2: rows
         "nets": M,                      # ensemble members with weights (0 before training)
         "batches": [{"kind": "algorithm1" | "algorithm2", "iteration": k, "size": B,
                      "arrays": ["images", "source_index", ..., "answers"]}, ...],
         "pending": null | {same as a batch; the batch waiting for the oracle},
         "premise": absent | {...}}}     # Algorithm 1's premise check (method.premise.PremiseRecord)

- ``data/<name>.npy``: the data set arrays listed in ``dataset.arrays``: ``images`` (N, H, W)
  float32 in [0, 1], 1.0 = ink; optional ``p_obs``, ``t``, ``obs_class``, ``causal_class``,
  ``labels`` (N,).
- ``experiment/causal_labels.npy`` (N,) int (with ``classes``), ``experiment/query_images.npy``
  (Q, H, W) float32 and ``experiment/query_labels.npy`` (Q,) int: the oracle-labelled
  manipulated images Algorithm 2 trains on.
- ``experiment/batches/<i>/<field>.npy`` and ``experiment/pending/<field>.npy``: a QueryBatch:
  ``images``, ``source_index`` (index into the data set), ``originals``, ``targets``,
  ``distances``, ``p_target``, ``answers`` (P(T=1|man), NaN = no answer; K > 2 outcomes: (B, K)
  rows of P(T|man), a NaN row = no answer); the ones listed.
- ``experiment/nets/<m>.pt``: the state_dict of ensemble member m, written by ``torch.save``
  and read with ``torch.load(..., weights_only=True)``; tensors only.
- ``experiment/generative.pt``: the manifold manipulator's generative model (state_dict, read
  the same way), present when ``experiment.generative`` = {"spec": {"arch": "autoencoder", ...}}
  is; its ``in_shape`` must be the images' shape.

Arrays are ``.npy`` (format 1.0/2.0), read with allow_pickle=False; numeric dtypes (and
fixed-width strings for ``labels``) only; dtypes are kept as saved. Members not named above
are ignored. The file is written to a temporary file beside the target, fsync'ed and moved
over it with ``os.replace``: a crash never leaves a half-written session.

Opening checks everything (zip structure and CRCs, size limits against zip bombs, shapes,
dtypes, ranges, NaN, the state machine's invariants, net shapes) before anything is
returned: a bad file raises one `SessionError` and changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.data.readers import PathLike
from viscause_gui.core.method.experiment import Experiment
from viscause_gui.core.store.journal import AnswerRecord, Journal, batch_key, new_id, now_iso

SESSION_FORMAT = "viscause-session"
SESSION_VERSION = 2                  # the newest version this app reads; it writes it for K > 2 outcomes
BINARY_SESSION_VERSION = 1           # a binary T's sessions are written as version 1 (earlier apps read them)
SESSION_SUFFIX = ".vcsession"
GENERATIVE_MEMBER = "experiment/generative.pt"
MANIFEST = "session.json"
BATCH_FIELDS = ("images", "source_index", "originals", "targets", "distances", "p_target", "answers")
RNG_BIT_GENERATORS = ("PCG64", "PCG64DXSM")


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
        assert self.dataset is not None, "__post_init__ checks it"
        return Journal(path, self.session_id, annotator=annotator, outcomes=self.dataset.outcome_names)


def journal_path(session_path: PathLike) -> Path:
    """Where the answer journal of a session file lives: ``<file>.journal.jsonl``."""
    p = Path(session_path)
    return p.with_name(p.name + ".journal.jsonl")


def autosave_path(session_path: PathLike) -> Path:
    """Where autosaves of a session file go: ``<file>.autosave`` (same format)."""
    p = Path(session_path)
    return p.with_name(p.name + ".autosave")


# ---------------------------------------------------------------- saving


# ---------------------------------------------------------------- loading


# ---------------------------------------------------------------- restoring an Experiment


# ---------------------------------------------------------------- exports

