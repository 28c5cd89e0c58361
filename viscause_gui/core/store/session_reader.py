"""Reading a session file: every member checked against limits before it is used."""
from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from viscause_gui.core.data.dataset import OPTIONAL_ARRAYS, Dataset
from viscause_gui.core.data.outcomes import ROW_SUM_TOLERANCE, OutcomeError, check_names, default_names
from viscause_gui.core.data.readers import PathLike, read_npy_header
from viscause_gui.core.method.experiment import (Experiment, ExperimentConfig, ExperimentState, IterationRecord,
                                                 QueryBatch)
from viscause_gui.core.method.premise import PremiseRecord
from viscause_gui.core.method.query_choice import QUERY_CHOICES
from viscause_gui.core.nets.generative import ConvAutoencoder
from viscause_gui.core.nets.models import default_device
from viscause_gui.core.nets.weights import WeightsError, net_from_state, net_of_spec, read_state_dict
from viscause_gui.core.store.journal import AnswerRecord
from viscause_gui.core.store.session import (BATCH_FIELDS, BINARY_SESSION_VERSION, DEFAULT_LIMITS, GENERATIVE_MEMBER,
                                             MANIFEST, RNG_BIT_GENERATORS, SESSION_FORMAT, SESSION_VERSION, SessionData,
                                             SessionError, SessionLimits)


def load_session(path: PathLike, *, limits: SessionLimits = DEFAULT_LIMITS,
                 device: torch.device | None = None, ready_to_manipulate: bool = True) -> SessionData:
    """Open a session file; the experiment (if any) is rebuilt and goes on where it stopped
    (pending batch, history, weights, random state). Any problem raises one SessionError.
    ready_to_manipulate: also build what the manifold manipulator derives from the nets (its
    prototype bank: the nets over every image); a save's read-back check skips it."""
    p = Path(path)
    try:
        return _Reader(p, limits, device or default_device(), ready_to_manipulate).read()
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
    except Exception as exc:  # zipfile/zlib/numpy/torch raise many types on bad input
        raise SessionError(f"{p}: the session file is damaged ({type(exc).__name__}: {exc})") from None


class _Bad(Exception):
    """A problem found by the reader; becomes SessionError with the path."""


def _need(cond: Any, message: str) -> None:
    if not cond:
        raise _Bad(message)


class _Reader:
    def __init__(self, path: Path, limits: SessionLimits, device: torch.device, ready_to_manipulate: bool = True):
        self.path, self.limits, self.device = path, limits, device
        self.ready_to_manipulate = ready_to_manipulate
        self.total = 0
        self.version = BINARY_SESSION_VERSION

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
        if info is None:
            raise _Bad(f"member {name} is missing")
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
        self.version = version
        return doc

    def _array(self, name: str, kinds: str, shape: tuple[int | None, ...], *, what: str | None = None) -> np.ndarray:
        """Read and check one .npy member: dtype kind in `kinds`, shape (None = any length)."""
        what = what or name
        _check_shape(self._claimed_shape(name, kinds), shape, what)   # before reading: a bomb is refused unread
        arr = _parse_npy(self._member(name), what)
        _need(arr.dtype.kind in kinds, f"'{what}' has dtype {arr.dtype}, expected "
                                       f"{'/'.join(_KIND_NAMES[k] for k in kinds)}")
        _check_shape(arr.shape, shape, what)
        return arr

    def _claimed_shape(self, name: str, kinds: str) -> tuple[int, ...] | None:
        """The shape of a well-formed .npy member of a dtype kind in `kinds`, from its header alone
        (None for any other member: reading it says what is wrong, as before)."""
        info = self.infos.get(name)
        if info is None:
            return None
        try:
            with self.zf.open(info) as f:
                shape, _, dtype = read_npy_header(f)
                offset = f.tell()
        except Exception:  # a missing or damaged member is reported when it is read
            return None
        plain = not dtype.hasobject and dtype.fields is None and dtype.subdtype is None and dtype.kind in kinds
        size = 1
        for s in shape:
            size *= int(s)
        return tuple(shape) if plain and info.file_size - offset == size * dtype.itemsize else None

    # ----- content -----
    def _session(self, doc: dict[str, Any]) -> SessionData:
        sid = doc.get("session_id")
        if not (isinstance(sid, str) and 0 < len(sid) <= 200):
            raise _Bad("the session has no valid session_id")
        created, saved = doc.get("created"), doc.get("saved")
        if not (isinstance(created, str) and (saved is None or isinstance(saved, str))):
            raise _Bad("bad created/saved times")
        settings = doc.get("settings", {})
        _need(isinstance(settings, dict), "'settings' must be a JSON object")
        app = doc.get("app", {})
        _need(isinstance(app, dict), "'app' must be a JSON object")
        answers = doc.get("answers", [])
        _need(isinstance(answers, list), "'answers' must be a list")
        dataset = self._dataset(doc.get("dataset"))
        records = []
        for i, obj in enumerate(answers):
            try:
                records.append(AnswerRecord.from_json(obj, dataset.n_outcomes))
            except ValueError as exc:
                raise _Bad(f"answer {i}: {exc}") from None
        _need(len({r.id for r in records}) == len(records), "two answers have the same id")
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
        claimed = self._claimed_shape("data/images.npy", "biuf")
        dims = 4 if claimed is not None and len(claimed) == 4 else 3     # colour (N, H, W, C) or grey
        images = self._array("data/images.npy", "biuf", (None,) * dims, what="dataset images")
        n = len(images)
        _need(d.get("n", n) == n and d.get("shape", list(images.shape[1:])) == list(images.shape[1:]),
              "the data set's n / shape in session.json do not match its images")
        outcomes = self._outcomes(d.get("outcomes"))
        extra = {k: self._array(f"data/{k}.npy", "biufUS", (n, len(outcomes)) if k == "p_obs" and len(outcomes) > 2
                                else (n,), what=f"dataset {k}")
                 for k in keys if k != "images"}
        for k, v in extra.items():
            _need(k == "labels" or v.dtype.kind in "biuf", f"'dataset {k}' must be numeric")
        try:
            return Dataset(images=images, meta=meta, name=name, outcomes=outcomes, **extra)
        except ValueError as exc:
            raise _Bad(f"the data set is invalid: {exc}") from None

    def _outcomes(self, names: Any) -> tuple[str, ...]:
        """T's outcomes: `dataset.outcomes`, or a binary T's "0" and "1" in a file written before they were named
        (its meta is not asked); a version-1 file has a binary T."""
        if names is None:
            return default_names(2)
        try:
            outcomes = check_names(names, "'dataset.outcomes'")
        except OutcomeError as exc:
            raise _Bad(str(exc)) from None
        _need(len(outcomes) == 2 or self.version > BINARY_SESSION_VERSION,
              f"a version-{self.version} session has a binary T, but 'dataset.outcomes' names {len(outcomes)}")
        return outcomes

    def _experiment(self, e: Any, data: Dataset) -> Experiment:
        _need(isinstance(e, dict), "'experiment' must be a JSON object or null")
        config = _config(e.get("config"))
        n, shape, obs_class = len(data), data.shape, data.obs_class
        if obs_class is None:
            raise _Bad("the experiment's data set has no observational classes")
        spec = e.get("spec")
        _need(isinstance(spec, dict) and len(json.dumps(spec)) <= 10_000,
              "'experiment.spec' must be a small JSON object")
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
        outcomes = data.n_outcomes
        if classes is not None:
            _need(isinstance(classes, dict), "'experiment.classes' must be a JSON object or null")
            levels = _answer_list(classes.get("causal_levels"), "causal_levels", outcomes)
            k = len(levels)
            _need(k >= 1, "'causal_levels' is empty")
            obs_to_causal = _int_list(classes.get("obs_to_causal"), "obs_to_causal", 0, k - 1)
            _need(len(obs_to_causal) > int(np.max(obs_class)) and int(np.min(obs_class)) >= 0,
                  "'obs_to_causal' does not cover every observational class of the data set")
            obs_answers = _answer_list(classes.get("obs_answers"), "obs_answers", outcomes)
            causal_labels = self._array("experiment/causal_labels.npy", "iu", (n,), what="causal_labels")
            _need(_in_range(causal_labels, 0, k - 1), "'causal_labels' has classes outside the causal classes")
        q_images = self._array("experiment/query_images.npy", "f", (None, *shape), what="query_images")
        _need(_unit(q_images), "'query_images' must be finite and lie in [0, 1]")
        q_labels = self._array("experiment/query_labels.npy", "iu", (len(q_images),), what="query_labels")
        _need(len(q_labels) == 0 or (k is not None and _in_range(q_labels, 0, k - 1)),
              "'query_labels' has classes outside the causal classes")

        batches_doc = e.get("batches")
        _need(isinstance(batches_doc, list), "'experiment.batches' must be a list")
        batches = [self._batch(b, f"experiment/batches/{i}", f"batch {i}", n, shape, k, answered=True,
                               outcomes=outcomes) for i, b in enumerate(batches_doc)]
        pending_doc = e.get("pending")
        pending = None if pending_doc is None else self._batch(pending_doc, "experiment/pending", "pending batch",
                                                                n, shape, k, answered=False, outcomes=outcomes)
        n_nets = _int(e.get("nets"), "experiment.nets", 0)
        nets = []
        if n_nets:
            _need(k is not None, "the experiment has nets but no causal classes")
            _need(int(spec.get("n_classes", -1)) == k, f"the net spec has n_classes {spec.get('n_classes')}, "
                                                       f"but there are {k} causal classes")
            nets = [self._net(spec, m) for m in range(n_nets)]
        generative = self._generative(e.get("generative"), shape)
        try:                             # Algorithm 1's premise check (sessions saved before it have none)
            premise = None if e.get("premise") is None else PremiseRecord.from_json(e["premise"], n)
        except ValueError as exc:
            raise _Bad(f"'experiment.premise': {exc}") from None

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
        exp.restore(ExperimentState(
            spec=spec, nets=nets, pending=pending, batches=batches, history=history,
            causal_levels=None if levels is None else np.asarray(levels, np.float64),
            obs_to_causal=None if obs_to_causal is None else np.asarray(obs_to_causal, np.int64),
            obs_answers=None if obs_answers is None else np.asarray(obs_answers, np.float64),
            causal_labels=causal_labels, query_images=q_images, query_labels=q_labels,
            iteration=iteration, rng=rng, iteration_elapsed=elapsed, generative=generative, premise=premise))
        if self.ready_to_manipulate and exp.uses_manifold and exp.generative is not None and exp.nets:
            exp.prototype_bank()           # the manipulator's path ends, built once here
        return exp

    def _batch(self, b: Any, prefix: str, what: str, n: int, shape: tuple[int, ...], k: int | None,
               answered: bool, outcomes: int = 2) -> QueryBatch:
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
            elif f == "answers" and outcomes > 2:
                arr = self._array(name, "f", (size, outcomes), what=label)
                _need(_distribution_rows(arr), f"'{label}' must hold one distribution over the {outcomes} outcomes "
                                               "per image, or a row of NaN")
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

    def _generative(self, doc: Any, shape: tuple[int, ...]) -> ConvAutoencoder | None:
        """The manifold manipulator's generative model, when the session has one."""
        if doc is None:
            return None
        _need(isinstance(doc, dict) and isinstance(doc.get("spec"), dict), "'experiment.generative' must be "
                                                                           "an object with a 'spec'")
        spec = doc["spec"]
        _need(spec.get("arch") == "autoencoder", "the generative model must be an autoencoder")
        _need(list(spec.get("in_shape", [])) == list(shape), "the generative model's in_shape is not the "
                                                             "images' shape")
        try:
            net = net_from_state(spec, read_state_dict(self._member(GENERATIVE_MEMBER), "the generative model"),
                                 "the generative model", self.device)
            return cast(ConvAutoencoder, net.eval())      # its spec's arch is "autoencoder"
        except WeightsError as exc:
            raise _Bad(str(exc)) from None

    def _net(self, spec: dict[str, Any], m: int) -> nn.Module:
        name = f"experiment/nets/{m}.pt"
        try:
            return net_from_state(spec, read_state_dict(self._member(name), f"net {m}"), f"net {m}", self.device)
        except WeightsError as exc:
            raise _Bad(str(exc)) from None


def _meta_net(spec: dict[str, Any]) -> nn.Module:
    """The net of a spec on the meta device: checks the spec, allocates nothing."""
    try:
        return net_of_spec(spec)
    except WeightsError as exc:
        raise _Bad(str(exc)) from None


_KIND_NAMES = {"b": "bool", "i": "int", "u": "uint", "f": "float", "U": "str", "S": "bytes"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (strict JSON)")


def _check_shape(actual: tuple[int, ...] | None, expected: tuple[int | None, ...], what: str) -> None:
    if actual is None:
        return
    _need(len(actual) == len(expected) and all(s is None or s == a for s, a in zip(expected, actual)),
          f"'{what}' has shape {actual}, expected {tuple('any' if s is None else s for s in expected)}")


def _parse_npy(raw: bytes, what: str) -> np.ndarray:
    """A .npy member -> array, never unpickling and never allocating more than the data holds."""
    f = io.BytesIO(raw)
    try:
        shape, fortran, dtype = read_npy_header(f)
    except Exception as exc:  # numpy parses the header with ast: ValueError, SyntaxError, ...
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


def _answer_list(value: Any, what: str, outcomes: int) -> np.ndarray:
    """Levels or answers per class: numbers in [0, 1] for a binary T, else rows of `outcomes` probabilities
    summing to 1."""
    if outcomes == 2:
        return np.asarray(_float_list(value, what, 0.0, 1.0), np.float64)
    _need(isinstance(value, list) and all(isinstance(row, list) and len(row) == outcomes for row in value),
          f"'{what}' must be a list of distributions over the {outcomes} outcomes")
    rows = np.array([_float_list(row, what, 0.0, 1.0) for row in value], np.float64).reshape(-1, outcomes)
    _need(_distribution_rows(rows) and np.isfinite(rows).all(), f"'{what}' rows must each sum to 1")
    return rows


def _distribution_rows(rows: np.ndarray) -> bool:
    """Every row a distribution (in [0, 1], summing to 1) or all NaN."""
    nan = np.isnan(rows).all(axis=1)
    good = rows[~nan]
    return bool(np.isfinite(good).all() and _in_range(good, 0.0, 1.0)
                and (good.size == 0 or np.abs(good.sum(axis=1) - 1).max() <= ROW_SUM_TOLERANCE))


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
    for name in ("augment_shifts", "augment_jitter"):      # copies of every training image: memory
        if name in c:
            _need(0 <= c[name] <= MAX_AUGMENT_COPIES, f"config '{name}' must lie in 0..{MAX_AUGMENT_COPIES}, "
                                                      f"got {c[name]!r}")
    if "alpha" in c:
        _need(0 <= c["alpha"] <= 1, f"config 'alpha' must lie in [0, 1], got {c['alpha']!r}")
    if "queries_by" in c:
        _need(c["queries_by"] in QUERY_CHOICES, f"config 'queries_by' must be one of {', '.join(QUERY_CHOICES)}, "
                                                f"got {c['queries_by']!r}")
    if "queries_by" not in c:         # saved before the choice existed: random, and so it goes on
        c = {**c, "queries_by": "random"}
    if "binary_margin" not in c:      # saved before the field existed: run with cross-entropy, and so it goes on
        c = {**c, "binary_margin": 0.0}
    return ExperimentConfig.from_json(c)


MAX_AUGMENT_COPIES = 50


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
    values: dict[str, Any] = {}          # each an int or a float, as its field says
    for f in fields(IterationRecord):
        v = r.get(f.name)
        if f.type == "int":
            values[f.name] = _int(v, f"history[{i}].{f.name}", 0)
        else:
            values[f.name] = _float(v, f"history[{i}].{f.name}", 0.0)
    return IterationRecord(**values)
