"""Oracles a user plugs in: a Python function, a classifier file (torch.export, TorchScript, ONNX).

Every one follows `method.oracles.Oracle` (answer(images) -> P(T=1 | man(I)) per image, float64, NaN = "cannot
say"; over K > 2 outcomes P(T | man(I)), (N, K)) and answers through `CheckedOracle`, which runs a Python
function in a child process and turns whatever goes wrong (the oracle raises, hangs past a timeout while
loading, answering or converting its answer, ends its process or crashes, returns the wrong shape, text,
complex, infinite or all-NaN values or values outside [0, 1]) into one `OracleLoadError` or `OracleFailure`
naming the oracle. Specs, as `viscause run --oracle` takes them:

- ``python:MODULE:FUNCTION`` or ``python:path/to/file.py:FUNCTION``: FUNCTION(images) gets the
  images as float32 (N, H, W) grey (1.0 = ink) or (N, H, W, C) colour, values in [0, 1], and
  returns N answers: (N,) P(T=1) for a binary T; over K outcomes (N, K) probabilities (each row
  summing to 1) or (N,) outcome indices 0..K-1 (NaN: cannot say);
- ``torch:FILE``: a classifier saved with ``torch.export.save`` (or a TorchScript file);
- ``onnx:FILE``: an ONNX classifier, run by onnxruntime (the optional extra ``onnx``).

A model file's classifier outputs logits (N, C): for a binary T the answer is the softmax probability of
class `positive_class`, a single logit (N,) or (N, 1) read as P(class 1) through a sigmoid; over K > 2
outcomes it must output K logits, and the answer is their softmax, P(T | man(I)) (N, K).
Its input layout is read off the model's input shape: (N, C, H, W) (the default when the file
does not say), (N, H, W, C), (N, H, W) for grey images, or (N, H*W*C) flattened as stored. A
model exported for a fixed batch size gets batches of that size (the last one padded).
Loading a Python file or a model file runs its code: plug in only files you trust.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from viscause_gui.core.data.outcomes import OutcomeError, known, outcome_answers
from viscause_gui.core.method.oracle_process import (ChildGone, ChildProcess, ChildTimeout, ProtocolError, one_line,
                                                     serve)

PLUGGED_KINDS = ("python", "torch", "onnx")
DEFAULT_TIMEOUT = 60.0          # seconds an oracle may take for one batch
PREPARE_LIMIT_S = 120.0         # the oracle child's own start (Python, numpy), not counted in the oracle's time
MODEL_BATCH = 256               # images per forward pass of a model with a dynamic batch size
ONNX_INSTALL = "pip install 'viscause_gui[onnx]'"

Shape = tuple["int | None", ...]


class OracleLoadError(ValueError):
    """A plugged oracle cannot be loaded; the message names it and the problem."""


class OracleFailure(ValueError):
    """A plugged oracle failed on a batch; the message names it and what went wrong."""


def is_plugged(spec: str) -> bool:
    """Does the --oracle value name a plugged oracle (python:, torch:, onnx:)?"""
    return spec.partition(":")[0] in PLUGGED_KINDS and ":" in spec


def load_plugged_oracle(spec: str, positive_class: int = 1, timeout: float | None = DEFAULT_TIMEOUT,
                        image_shape: Sequence[int] | None = None, outcomes: int = 2) -> CheckedOracle:
    """The oracle a spec names, loaded in its own process and checked (see the module docstring);
    OracleLoadError if it cannot be loaded. image_shape (H, W) or (H, W, C): a model file is
    checked against it now, not at the first batch. outcomes: K, T's outcomes (2: a binary T).
    Close it (or use it in a `with`) when done."""
    return CheckedOracle(spec, positive_class, timeout, image_shape, outcomes)


def _split_spec(spec: str) -> tuple[str, str]:
    kind, _, target = spec.partition(":")
    if kind not in PLUGGED_KINDS or not target:
        raise OracleLoadError(f"--oracle {one_line(spec)}: expected python:MODULE:FUNCTION, python:FILE.py:FUNCTION, "
                              "torch:FILE or onnx:FILE")
    return kind, target


def load_in_process(spec: str, positive_class: int = 1,
                    image_shape: Sequence[int] | None = None, outcomes: int = 2) -> Callable[[np.ndarray], Any]:
    """The answering function a spec names, loaded into this process (the oracle's child does
    this; everything else uses CheckedOracle). Runs the file's code: OracleLoadError if it fails."""
    kind, target = _split_spec(spec)
    if kind == "python":
        return load_python_function(target)
    model = load_torch_model(Path(target)) if kind == "torch" else load_onnx_model(Path(target))
    model.positive_class = _checked_class(positive_class, spec)
    model.outcomes = int(outcomes)
    if image_shape is not None:
        model.layout(tuple(image_shape))
    return model.answer


def _checked_class(positive_class: int, spec: str) -> int:
    if isinstance(positive_class, bool) or not isinstance(positive_class, (int, np.integer)) or positive_class < 0:
        raise OracleLoadError(f"--oracle {spec}: the positive class must be an integer >= 0, got {positive_class!r}")
    return int(positive_class)


# ---------------------------------------------------------------- checking every answer

class BadAnswers(ValueError):
    """What is wrong with a batch's answers (without the oracle's name)."""


def check_answers(raw: Any, n: int, outcomes: int = 2) -> np.ndarray:
    """The answers to n images as float64 (n,): P(T=1) in [0, 1] or NaN, at least one not NaN.
    Numbers only: text (even '0.5'), complex numbers and other objects are refused. A binary T also
    takes (n, 2) distributions (their second column is P(T=1)). Over K = `outcomes` > 2 outcomes the
    answers are (n, K): (n, K) probabilities, each row summing to 1 (or all NaN), or (n,) outcome
    indices 0..K-1 (NaN: cannot say), made one-hot."""
    if hasattr(raw, "detach"):          # a torch tensor
        raw = raw.detach().cpu().numpy()
    try:
        array = np.asarray(raw)
    except Exception as exc:  # the user's object decides what converting it raises
        raise BadAnswers(f"returned {type(raw).__name__}, which numpy cannot read ({type(exc).__name__})") from None
    if array.dtype.kind == "O":
        if not all(isinstance(v, (int, float, np.integer, np.floating)) for v in array.reshape(-1)):
            raise BadAnswers(f"returned {type(raw).__name__} holding something other than numbers")
    elif array.dtype.kind == "c":
        raise BadAnswers("returned complex numbers; answers are P(T=1) in [0, 1], NaN for 'cannot say'")
    elif array.dtype.kind not in "biuf":
        raise BadAnswers(f"returned {type(raw).__name__} of {'text' if array.dtype.kind in 'US' else array.dtype}, "
                         "not numbers")
    values = array.astype(np.float64)
    if outcomes > 2:
        return _outcome_answers(values, n, outcomes)
    if values.shape == (n, 2):
        try:
            values = outcome_answers(values, n, 2)[:, 1]
        except OutcomeError as exc:
            raise BadAnswers(f"returned shape {values.shape} for {n} images, read as P(T) over the 2 outcomes "
                             f"per image, but {exc}") from None
    if values.shape == (n, 1):
        values = values[:, 0]
    if values.shape != (n,):
        raise BadAnswers(f"returned shape {values.shape} for {n} images; expected ({n},): one P(T=1) per image")
    if np.isinf(values).any():
        raise BadAnswers("returned an infinite value; answers are P(T=1) in [0, 1], NaN for 'cannot say'")
    bad = values[np.isfinite(values) & ((values < 0) | (values > 1))]
    if bad.size:
        raise BadAnswers(f"returned {bad[0]:g}, outside [0, 1]; answers are P(T=1) in [0, 1], NaN for 'cannot say'")
    if n and np.isnan(values).all():
        raise BadAnswers(f"answered NaN ('cannot say') for all {n} images; an oracle that cannot say anything "
                         "gives the run nothing to learn")
    return values


def _outcome_answers(values: np.ndarray, n: int, outcomes: int) -> np.ndarray:
    """check_answers over K > 2 outcomes."""
    try:
        out = outcome_answers(values, n, outcomes)
    except OutcomeError as exc:
        raise BadAnswers(f"returned {exc}") from None
    if n and not known(out).any():
        raise BadAnswers(f"answered NaN ('cannot say') for all {n} images; an oracle that cannot say anything "
                         "gives the run nothing to learn")
    return out


class CheckedOracle:
    """A plugged oracle whose every batch is checked, and whose failures are one line naming it.

    ``python:`` oracles run in a child process (core.method.oracle_process): the module's import,
    each call and the conversion of its result to numbers all run there, under `timeout`
    seconds each (None: no limit), and a hang is killed at the limit. Whatever goes wrong, an
    exception, a hang, a crash, ``os._exit``, answers that are not one P(T=1) in [0, 1] or NaN
    per image, is one OracleLoadError (while loading) or OracleFailure (on a batch). The child
    stays up across batches (one import per run); after a failure the next batch starts a new
    one. `close()` ends it; so do dropping the object and the end of this process.

    Model files (``torch:``, ``onnx:``) are run here, each batch in a thread under the timeout
    (a timed-out batch is left running there): their graphs run no Python of the user's, and a
    child would import torch again, seconds per load on two cores, on the GUI's thread too."""

    def __init__(self, spec: str, positive_class: int = 1, timeout: float | None = DEFAULT_TIMEOUT,
                 image_shape: Sequence[int] | None = None, outcomes: int = 2):
        self.kind, _ = _split_spec(spec)
        self.name = spec
        self.positive_class = positive_class
        self.outcomes = int(outcomes)
        self.timeout = timeout
        self.image_shape = None if image_shape is None else [int(v) for v in image_shape]
        self._child: ChildProcess | None = None
        self._model: Callable[[np.ndarray], Any] | None = None
        if self.kind == "python":
            self._child = self._start()
        else:
            self._model = load_in_process(spec, positive_class, image_shape, self.outcomes)

    def __enter__(self) -> CheckedOracle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None

    def _fail(self, problem: str) -> OracleFailure:
        return OracleFailure(f"oracle {one_line(self.name)} {problem}")

    def answer(self, images: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(images, np.float32)
        try:
            if self._model is not None:
                return self._answer_in_thread(self._model, images)
            raw = np.frombuffer(self._answer_in_child(images), np.float64).copy()
            if self.outcomes > 2:
                raw = raw.reshape(len(images), self.outcomes)
            return check_answers(raw, len(images), self.outcomes)
        except BadAnswers as exc:
            raise self._fail(str(exc)) from None

    def _timed_out(self, n: int) -> OracleFailure:
        return self._fail(f"gave no answer within {self.timeout:g} s for {n} images (--oracle-timeout sets the "
                          "limit); it was stopped")

    # ----- python: in a child process

    def _start(self) -> ChildProcess:
        """A child with the oracle loaded; OracleLoadError naming the spec if it cannot be."""
        child = ChildProcess(CHILD_ENTRY, _thread_env())
        try:
            self._ask(child, {"op": "prepare"}, PREPARE_LIMIT_S, "starting")
            self._ask(child, {"op": "load", "spec": self.name, "positive_class": self.positive_class,
                              "image_shape": self.image_shape, "outcomes": self.outcomes}, self.timeout, "loading it")
        except BaseException:
            child.kill()
            raise
        return child

    def _ask(self, child: ChildProcess, request: dict, limit: float | None, doing: str) -> None:
        name = one_line(self.name)
        try:
            reply, _ = child.request(request, limit_s=limit)
        except ChildTimeout:
            raise OracleLoadError(f"oracle {name}: {doing} took longer than {limit:g} s (--oracle-timeout sets "
                                  "the limit); it was stopped") from None
        except ChildGone as exc:
            raise OracleLoadError(f"oracle {name}: {doing} ended its process ({exc})") from None
        except ProtocolError as exc:
            raise OracleLoadError(f"oracle {name}: {doing} broke the oracle protocol ({exc})") from None
        if "error" in reply:
            message = one_line(reply.get("message"), 500)
            raise OracleLoadError(message if name in message else f"oracle {name}: {message}")

    def _answer_in_child(self, images: np.ndarray) -> bytes:
        n = len(images)
        if self._child is None or not self._child.alive:
            try:
                self._child = self._start()
            except OracleLoadError as exc:
                raise self._fail(f"could not be started again: {exc}") from None
        try:
            reply, data = self._child.request({"op": "answer", "shape": list(images.shape)},
                                              images.data.cast("B"), self.timeout,
                                              max_payload=8 * n * (self.outcomes if self.outcomes > 2 else 1))
        except ChildTimeout:
            self._child = None
            raise self._timed_out(n) from None
        except ChildGone as exc:
            self._child = None
            raise self._fail(f"ended its process ({exc}) while answering {n} images") from None
        except ProtocolError as exc:
            self._child = None
            raise self._fail(f"broke the oracle protocol ({exc})") from None
        if "error" in reply:
            raise self._fail(one_line(reply.get("message"), 500))
        return data

    # ----- torch: and onnx: here, in a thread

    def _answer_in_thread(self, model: Callable[[np.ndarray], Any], images: np.ndarray) -> np.ndarray:
        """The model's checked answers, computed in a daemon thread so a hang can be left behind."""
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["values"] = check_answers(model(images), len(images), self.outcomes)
            except BaseException as exc:  # any failure of the model is reported
                box["error"] = exc

        thread = threading.Thread(target=work, name=f"oracle {self.name}", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            raise self._timed_out(len(images))
        error = box.get("error")
        if isinstance(error, BadAnswers):
            raise error
        if error is not None:
            raise self._fail(f"raised {type(error).__name__}: {one_line(error)}") from None
        return box["values"]


def _thread_env() -> dict[str, str] | None:
    """The child's environment: this process's torch threads for a model file (the CLI's --threads)."""
    torch = sys.modules.get("torch")
    if torch is None or "OMP_NUM_THREADS" in os.environ:
        return None
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}


# ---------------------------------------------------------------- the oracle's child process

class _OracleInChild:
    """What the child does with the parent's requests: say it has started, load the oracle,
    answer a batch. Only messages and float64 answers go back, never objects."""

    def __init__(self) -> None:
        self.function: Callable[[np.ndarray], Any] | None = None
        self.outcomes = 2

    def handle(self, request: dict, payload: bytes) -> tuple[dict, bytes]:
        op = request.get("op")
        if op == "prepare":             # numpy and this module are in: the child's own start is over
            return {"ok": True}, b""
        if op == "load":
            try:
                shape = request.get("image_shape")
                outcomes = request.get("outcomes", 2)
                self.outcomes = outcomes if isinstance(outcomes, int) and 2 <= outcomes <= 20 else 2
                self.function = load_in_process(str(request.get("spec")), request.get("positive_class", 1),
                                                None if shape is None else tuple(shape), self.outcomes)
            except OracleLoadError as exc:
                return {"error": "load", "message": str(exc)}, b""
            return {"ok": True}, b""
        if op == "answer":
            return self._answer(request.get("shape"), payload)
        return {"error": "protocol", "message": f"unknown request {op!r}"}, b""

    def _answer(self, shape: Any, payload: bytes) -> tuple[dict, bytes]:
        if self.function is None:
            return {"error": "protocol", "message": "no oracle loaded"}, b""
        images = np.frombuffer(payload, np.float32).reshape(shape).copy()
        try:
            raw = self.function(images)
            values = check_answers(raw, len(images), self.outcomes)
        except BadAnswers as exc:
            return {"error": "answers", "message": str(exc)}, b""
        except BaseException as exc:  # any failure of the user's code is reported
            return {"error": "raised", "message": f"raised {type(exc).__name__}: {exc}"}, b""
        return {"ok": True}, values.astype(np.float64).tobytes()


def _serve_in_child() -> None:
    """The child's entry (CHILD_ENTRY)."""
    serve(_OracleInChild().handle)


CHILD_ENTRY = f"{__name__}:_serve_in_child"


# ---------------------------------------------------------------- python:MODULE:FUNCTION

def load_python_function(target: str) -> Callable[[np.ndarray], Any]:
    """FUNCTION of MODULE (importable from here) or of a .py file, from 'MODULE:FUNCTION' / 'FILE.py:FUNCTION'."""
    where, _, name = target.rpartition(":")
    if not where or not name:
        raise OracleLoadError(f"--oracle python:{target}: expected python:MODULE:FUNCTION or python:FILE.py:FUNCTION")
    as_file = where.endswith(".py") or "/" in where or os.sep in where
    module = _module_from_file(Path(where)) if as_file else _import_module(where)
    function = getattr(module, name, None)
    if function is None:
        found = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        raise OracleLoadError(f"--oracle python:{target}: {where} has no {name!r} (it defines: "
                              f"{', '.join(found[:12]) or 'nothing callable'})")
    if not callable(function):
        raise OracleLoadError(f"--oracle python:{target}: {name} is a {type(function).__name__}, not a function")
    return function


def _module_from_file(path: Path) -> Any:
    if not path.is_file():
        raise OracleLoadError(f"{path}: no such Python file")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    spec = importlib.util.spec_from_file_location(f"viscause_oracle_{path.stem}_{digest}", path)
    if spec is None or spec.loader is None:
        raise OracleLoadError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    with _on_path(str(path.resolve().parent)):
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:  # the user's code: any failure is one message
            raise OracleLoadError(f"{path}: loading it raised {type(exc).__name__}: {exc}") from None
    return module


def _import_module(name: str) -> Any:
    with _on_path(os.getcwd()):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            raise OracleLoadError(f"--oracle python:{name}: no module named {exc.name!r} (give a path to a "
                                  ".py file, or run from the folder that holds the module)") from None
        except BaseException as exc:
            raise OracleLoadError(f"module {name}: importing it raised {type(exc).__name__}: {exc}") from None


@contextlib.contextmanager
def _on_path(folder: str) -> Iterator[None]:
    """A folder on sys.path for the duration of an import (the user's helpers import beside it)."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


# ---------------------------------------------------------------- model files

class ModelFileOracle:
    """A classifier in a file: `forward` maps a float32 batch in the model's layout to logits."""

    def __init__(self, path: Path, forward: Callable[[np.ndarray], np.ndarray], input_shape: Shape | None,
                 positive_class: int = 1, outcomes: int = 2):
        self.path = path
        self.forward = forward
        self.input_shape = input_shape       # per batch, None for a dynamic dimension; None: unknown
        self.positive_class = positive_class
        self.outcomes = outcomes             # K > 2: the softmax over K logits is the answer

    def layout(self, image_shape: tuple[int, ...]) -> Callable[[np.ndarray], np.ndarray]:
        """How a batch of images of `image_shape` becomes the model's input; OracleLoadError when it cannot."""
        h, w = image_shape[:2]
        c = image_shape[2] if len(image_shape) == 3 else 1
        shape = self.input_shape or (None, c, h, w)
        rest = shape[1:]
        if _fits(rest, (c, h, w)):
            return (lambda x: x[:, None]) if len(image_shape) == 2 else (lambda x: x.transpose(0, 3, 1, 2))
        if len(image_shape) == 3 and _fits(rest, (h, w, c)):
            return lambda x: x
        if len(image_shape) == 2 and _fits(rest, (h, w)):
            return lambda x: x
        if _fits(rest, (h * w * c,)):
            return lambda x: x.reshape(len(x), -1)
        raise OracleLoadError(f"{self.path}: the model takes input of shape {_show(shape)}, which does not fit "
                              f"images of {'x'.join(map(str, image_shape))}")

    def answer(self, images: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(self.layout(images.shape[1:])(images), np.float32)
        fixed = self.input_shape[0] if self.input_shape and isinstance(self.input_shape[0], int) else None
        size = fixed or MODEL_BATCH
        logits = [self._logits(x[i:i + size], fixed) for i in range(0, len(x), size)]
        return self._probability(np.concatenate(logits) if logits else np.zeros((0, 2)))

    def _logits(self, chunk: np.ndarray, fixed: int | None) -> np.ndarray:
        n = len(chunk)
        if fixed is not None and n < fixed:
            chunk = np.concatenate([chunk, np.zeros((fixed - n, *chunk.shape[1:]), np.float32)])
        out = np.asarray(self.forward(np.ascontiguousarray(chunk)), np.float64)
        return out[:n]

    def _probability(self, logits: np.ndarray) -> np.ndarray:
        if self.outcomes > 2:
            if logits.ndim != 2 or logits.shape[1] != self.outcomes:
                raise ValueError(f"the model returned shape {logits.shape}; over {self.outcomes} outcomes it must "
                                 f"return {self.outcomes} logits per image (N, {self.outcomes})")
            z = np.exp(logits - logits.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)
        k = self.positive_class
        if logits.ndim == 1 or (logits.ndim == 2 and logits.shape[1] == 1):
            if k > 1:
                raise ValueError(f"the positive class is {k}, but the model has one output (classes 0 and 1)")
            p = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
            return p if k == 1 else 1.0 - p
        if logits.ndim != 2:
            raise ValueError(f"the model returned shape {logits.shape}; expected logits (N, classes)")
        if k >= logits.shape[1]:
            raise ValueError(f"the positive class is {k}, but the model has only {logits.shape[1]} outputs")
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z[:, k] / z.sum(axis=1)


def _fits(shape: Shape, wanted: tuple[int, ...]) -> bool:
    return len(shape) == len(wanted) and all(s is None or s == v for s, v in zip(shape, wanted))


def _show(shape: Shape) -> str:
    return "(" + ", ".join("N" if i == 0 and s is None else ("?" if s is None else str(s))
                           for i, s in enumerate(shape)) + ")"


def _model_file(path: Path) -> Path:
    if not path.is_file():
        raise OracleLoadError(f"{path}: no such model file")
    return path


def torch_file_kind(path: Path) -> str:
    """'export' (torch.export.save) or 'torchscript' (torch.jit.save), read off the archive's members."""
    try:
        with zipfile.ZipFile(_model_file(path)) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        raise OracleLoadError(f"{path}: not a torch.export or TorchScript file (not a zip archive)") from None
    if any(n.endswith("archive_format") or n.endswith("models/model.json") for n in names):
        return "export"
    if any(n.endswith("data.pkl") for n in names) and any("/code/" in n for n in names):
        return "torchscript"
    raise OracleLoadError(f"{path}: not a torch.export or TorchScript file (a state_dict needs its net: "
                          "save the model with torch.export.save)")


def load_torch_model(path: Path) -> ModelFileOracle:
    """A classifier saved with torch.export.save (or torch.jit.save), on the CPU."""
    import torch

    kind = torch_file_kind(path)
    try:
        if kind == "export":
            program = torch.export.load(str(path))
            module, shape = program.module(), _export_input_shape(program, path)
        else:
            module, shape = torch.jit.load(str(path), map_location="cpu").eval(), None
    except OracleLoadError:
        raise
    except Exception as exc:  # torch raises many types on a bad file
        raise OracleLoadError(f"{path}: cannot load the {kind} model ({type(exc).__name__}: {exc})") from None

    def forward(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module(torch.from_numpy(x))
        out = out[0] if isinstance(out, (tuple, list)) else out
        return out.detach().float().cpu().numpy()

    return ModelFileOracle(path, forward, shape)


def _export_input_shape(program: Any, path: Path) -> Shape:
    """The exported program's one user input's shape (None for a dynamic dimension)."""
    from torch.export.graph_signature import InputKind

    names = [s.arg.name for s in program.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]
    if len(names) != 1:
        raise OracleLoadError(f"{path}: the model takes {len(names)} inputs; an oracle model takes one image batch")
    node = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == names[0])
    return tuple(d if isinstance(d, int) else None for d in node.meta["val"].shape)


def load_onnx_model(path: Path) -> ModelFileOracle:
    """An ONNX classifier run by onnxruntime on the CPU."""
    try:
        import onnxruntime
    except ImportError:
        raise OracleLoadError(f"onnx:{path}: ONNX oracles need onnxruntime: {ONNX_INSTALL}") from None
    _model_file(path)
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types on a bad file
        raise OracleLoadError(f"{path}: not a usable ONNX model ({type(exc).__name__}: {exc})") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise OracleLoadError(f"{path}: the model takes {len(inputs)} inputs; an oracle model takes one image batch")
    name = inputs[0].name
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in inputs[0].shape)

    def forward(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {name: x})[0])

    return ModelFileOracle(path, forward, shape)
