"""Lessons (Qt-free): a small JSON or TOML file that tells the story of the paper step by step.

A lesson names its data (a built-in data set with its generator's settings and seed, or a file
beside the lesson), the panels to show, settings shared by its steps, and the steps. Each step has
a short text (shown large), what it sets up (the canvas image, a learning setting, a panel to
bring forward) and what it runs (the observational model, Algorithm 1, N iterations of
Algorithm 2, a manipulation at α). Every run takes its seed from the lesson, so a rehearsal and
the class see the same thing. Format: docs/formats.md §8 ("viscause-lesson", version 1).

`load_lesson` checks every field and raises one `LessonError` line naming the file and the
problem; `save_lesson` writes JSON; `find_lesson` resolves a shipped lesson's name. A value is
checked with the rules of the control that would set it by hand: the learning settings against
`core.method.limits.LEARNING_LIMITS` (the Learning panel's spin boxes read the same table), a
built-in data set's options against its generator `Option`s (the *Open built-in* dialog's fields)
and their `check_options` (the dialog's OK button); so a lesson can hold nothing the app's own
controls would refuse. The file is read as a regular file of at most MAX_LESSON_BYTES
(core.data.user_files: a FIFO or /dev/zero is refused at once), and an integer too long for Python
to read (more than MAX_INT_DIGITS digits) is refused by name, not with a traceback.
"""
from __future__ import annotations

import json
import os
import sys
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from viscause_gui.core.data.user_files import UserFileError, printable, read_user_file
from viscause_gui.core.method.limits import LEARNING_LIMITS, check_number, shown_value
from viscause_gui.core.method.query_choice import QUERY_CHOICES

LESSON_FORMAT = "viscause-lesson"
LESSON_VERSION = 1
MAX_LESSON_BYTES = 1024 * 1024
MAX_STEPS = 60
MAX_TEXT = 400
MAX_INT_DIGITS = 30             # no setting needs more; Python refuses to read more than 4,300 at all

PANELS = ("browser", "manipulator", "learning", "classes", "labelling", "cct", "confounding")
CANVAS = ("keep", "blank", "vbar", "hbar", "both", "selected")
ORACLES = ("truth", "model", "human")
ACTIONS = ("observe", "algorithm1", "algorithm2", "manipulate")
SETTINGS = LEARNING_LIMITS       # the settings a lesson may set, with the Learning panel's ranges
CHOICES = {"oracle": ORACLES, "queries_by": QUERY_CHOICES}     # the settings picked from a list
MAX_CANVAS_INDEX = 2**31 - 1     # {"index": N} / {"label": D} of 'canvas'
LESSON_KEYS = ("format", "version", "title", "summary", "data", "settings", "panels", "presenter", "steps")
STEP_KEYS = ("text", "setup", "run")
SETUP_KEYS = ("canvas", "show", *CHOICES, *SETTINGS)
RUN_KEYS = ("action", "iterations", "alpha")


class LessonError(ValueError):
    """A lesson that cannot be used; the message is one line that names the file."""


@dataclass
class Step:
    text: str
    setup: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text}
        if self.setup:
            out["setup"] = dict(self.setup)
        if self.run:
            out["run"] = dict(self.run)
        return out


@dataclass
class Lesson:
    title: str
    data: dict[str, Any]                  # {"builtin": name, "options": {...}} or {"path": file beside the lesson}
    steps: list[Step]
    summary: str = ""
    settings: dict[str, Any] = field(default_factory=dict)    # shared by every step (a step's setup overrides)
    panels: list[str] = field(default_factory=list)
    presenter: bool = True
    source: Path | None = None            # the file it was read from (a data path is relative to it)

    def __len__(self) -> int:
        return len(self.steps)

    def settings_at(self, index: int) -> dict[str, Any]:
        """The settings in force at step `index`: the lesson's, then every earlier step's setup."""
        out = {"seed": 0, **self.settings}
        for step in self.steps[:index + 1]:
            out.update({k: v for k, v in step.setup.items() if k in SETTINGS or k in CHOICES})
        return out

    def data_path(self) -> Path | None:
        if "path" not in self.data:
            return None
        path = Path(self.data["path"]).expanduser()
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": LESSON_FORMAT, "version": LESSON_VERSION, "title": self.title}
        if self.summary:
            out["summary"] = self.summary
        out["data"] = json.loads(json.dumps(self.data))
        if self.settings:
            out["settings"] = dict(self.settings)
        if self.panels:
            out["panels"] = list(self.panels)
        out["presenter"] = self.presenter
        out["steps"] = [s.to_json() for s in self.steps]
        return out

    def quick(self, epochs: int = 2, retrain_epochs: int = 1, queries: int = 20, iterations: int = 2) -> Lesson:
        """The same lesson with small settings (a fast rehearsal; the tests): fewer epochs, queries and
        iterations, every step's text and order kept."""
        def shrink(values: dict[str, Any]) -> dict[str, Any]:
            values = dict(values)
            for key, most in (("epochs", epochs), ("retrain_epochs", retrain_epochs), ("queries", queries),
                              ("iterations", iterations)):
                if key in values:
                    values[key] = min(values[key], most)
            return values
        settings = {"epochs": epochs, "retrain_epochs": retrain_epochs, **shrink(self.settings)}
        steps = [Step(s.text, shrink(s.setup), None if s.run is None else shrink(s.run)) for s in self.steps]
        return replace(self, settings=shrink(settings), steps=steps)


# ---------------------------------------------------------------- reading and checking

def parse_lesson(spec: Any, source: Path | None = None) -> Lesson:
    """A Lesson from the parsed file; LessonError (no file name) on the first problem."""
    if not isinstance(spec, dict):
        raise LessonError(f"a lesson must be an object (a table), got {type(spec).__name__}")
    _known(spec, LESSON_KEYS, "the lesson")
    if spec.get("format") != LESSON_FORMAT:
        raise LessonError(f"not a lesson: 'format' must be {LESSON_FORMAT!r}, got {shown_value(spec.get('format'))}")
    version = spec.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise LessonError("'version' must be an integer")
    if version > LESSON_VERSION:
        raise LessonError(f"lesson version {shown_value(version)} is newer than this app reads ({LESSON_VERSION}); "
                          "update viscause")
    if version < 1:
        raise LessonError(f"'version' must be at least 1, got {shown_value(version)}")
    title = _text(spec.get("title"), "'title'", 80)
    summary = _text(spec.get("summary", ""), "'summary'", MAX_TEXT, empty=True)
    data = _data(spec.get("data"))
    settings = _settings(spec.get("settings", {}), "'settings'")
    panels = spec.get("panels", [])
    if not isinstance(panels, list) or not all(isinstance(p, str) for p in panels):
        raise LessonError("'panels' must be a list of panel names")
    for p in panels:
        if p not in PANELS:
            raise LessonError(f"unknown panel {shown_value(p)} in 'panels' (known: {', '.join(PANELS)})")
    presenter = spec.get("presenter", True)
    if not isinstance(presenter, bool):
        raise LessonError("'presenter' must be true or false")
    steps = spec.get("steps")
    if not isinstance(steps, list) or not steps:
        raise LessonError("'steps' must be a non-empty list")
    if len(steps) > MAX_STEPS:
        raise LessonError(f"a lesson has at most {MAX_STEPS} steps, this one {len(steps)}")
    return Lesson(title, data, [_step(s, n + 1) for n, s in enumerate(steps)], summary, settings, panels,
                  presenter, source)


def load_lesson(path: str | os.PathLike) -> Lesson:
    """Read and check a lesson file (.json or .toml); any problem is one LessonError line that starts
    with the file's name."""
    path = Path(path)
    try:
        if path.is_dir():
            raise LessonError("is a folder, not a lesson file")
        if path.suffix.lower() not in (".json", ".toml"):
            raise LessonError("a lesson file ends in .json or .toml")
        raw = read_user_file(path, MAX_LESSON_BYTES, "a lesson")       # a regular file, read no further than that
        return parse_lesson(_parse_text(raw, path.suffix.lower() == ".toml"), path.resolve())
    except UserFileError as exc:
        where = path if exc.problem == "no such file" else path.name  # where it looked, when it is not there
        raise LessonError(f"{printable(where)}: {exc.problem}") from None
    except LessonError as exc:
        raise LessonError(f"{printable(path.name)}: {' '.join(str(exc).split())}") from None


def _parse_text(raw: bytes, toml: bool) -> Any:
    """The parsed JSON or TOML; LessonError for text that is not (a number too long to read included)."""
    kind = "TOML" if toml else "JSON"
    try:
        text = raw.decode("utf-8-sig")
        return tomllib.loads(text) if toml else json.loads(text, parse_int=_json_int)
    except LessonError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:     # JSONDecodeError and TOMLDecodeError are
        if "integer string conversion" in str(exc):                    # ValueErrors, and so is Python's refusal
            raise LessonError(f"not valid {kind}: a number has more than {sys.get_int_max_str_digits():,} "
                              "digits") from None
        raise LessonError(f"not valid {kind} ({printable(' '.join(str(exc).split()), 200)})") from None


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise LessonError(f"not valid JSON: a number has {len(text.lstrip('-')):,} digits, more than "
                          f"{MAX_INT_DIGITS}")
    return int(text)


def check_lesson(lesson: Lesson) -> None:
    """A lesson made in code (not read from a file) checked as a file is: LessonError, one line that
    starts with its file's name (or its title), for anything load_lesson would refuse."""
    try:
        parse_lesson(json.loads(json.dumps(lesson.to_json())), lesson.source)
    except (LessonError, TypeError, ValueError) as exc:
        name = lesson.source.name if lesson.source is not None else lesson.title
        raise LessonError(f"{printable(name, 80)}: {' '.join(str(exc).split())}") from None


def save_lesson(lesson: Lesson, path: str | os.PathLike) -> Path:
    """Write the lesson as JSON (checked by reading it back first, written through a temporary file)."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        path = path.with_suffix(".json")
    spec = lesson.to_json()
    parse_lesson(json.loads(json.dumps(spec)))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _known(spec: dict, keys: tuple[str, ...], where: str) -> None:
    for key in spec:
        if key not in keys and not str(key).startswith("_"):
            raise LessonError(f"unknown key {shown_value(key)} in {where} (known: {', '.join(keys)}; keys starting "
                              "with '_' are comments)")


def _text(value: Any, what: str, most: int, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise LessonError(f"{what} must be {'a' if empty else 'a non-empty'} text")
    if len(value) > most:
        raise LessonError(f"{what} is {len(value)} characters long; at most {most} (one or two sentences)")
    return value.strip()


def _data(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or ("builtin" in value) == ("path" in value):
        raise LessonError("'data' must name either a built-in data set ({\"builtin\": NAME}) or a file "
                          "({\"path\": FILE})")
    _known(value, ("builtin", "options", "path"), "'data'")
    if "path" in value:
        if "options" in value or not isinstance(value["path"], str) or not value["path"].strip():
            raise LessonError("'data': a path is a non-empty text and takes no options")
        return {"path": value["path"]}
    name, options = value["builtin"], value.get("options", {})
    if not isinstance(name, str):
        raise LessonError("'data': 'builtin' must be a data set's name")
    from viscause_gui.core.experiments.registry import builtin_datasets   # the registry imports every experiment
    known = builtin_datasets()
    if name not in known:
        raise LessonError(f"'data': no built-in data set {shown_value(name)} (known: {', '.join(known)})")
    if not isinstance(options, dict):
        raise LessonError("'data': 'options' must be an object")
    builtin = known[name]
    allowed = {o.key: o for o in builtin.options}       # the Open built-in dialog's fields, with their ranges
    checked: dict[str, Any] = {}
    for key, v in options.items():
        if key not in allowed:
            raise LessonError(f"'data': {name} has no option {shown_value(key)}"
                              + (f" (known: {', '.join(sorted(allowed))})" if allowed else " (it takes none)"))
        option = allowed[key]
        try:
            checked[key] = check_number(v, key, option.lo, option.hi, option.integer)
        except ValueError as exc:
            raise LessonError(f"'data': {name} option {exc}") from None
    if builtin.check_options is not None and not builtin.check_options({**builtin.defaults(), **checked})[1]:
        raise LessonError(f"'data': {name} options {', '.join(f'{k}={v}' for k, v in checked.items())} are not "
                          "valid together (the Open built-in dialog shows why)")
    return {"builtin": name, "options": checked}


def _settings(value: Any, where: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LessonError(f"{where} must be an object")
    _known(value, (*CHOICES, *SETTINGS, *extra), where)
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key.startswith("_") or key in extra:
            continue
        if key in CHOICES:
            if not isinstance(v, str) or v not in CHOICES[key]:
                raise LessonError(f"{where}: {key!r} must be one of {', '.join(CHOICES[key])}, got {shown_value(v)}")
            out[key] = v
            continue
        out[key] = _number(v, key, where)
    return out


def _number(v: Any, key: str, where: str) -> int | float:
    """A learning setting checked as the Learning panel's spin box would take it."""
    try:
        return SETTINGS[key].check(v)
    except ValueError as exc:
        raise LessonError(f"{where}: {exc}") from None


def _step(value: Any, n: int) -> Step:
    where = f"step {n}"
    if not isinstance(value, dict):
        raise LessonError(f"{where} must be an object with 'text' (and 'setup', 'run')")
    _known(value, STEP_KEYS, where)
    text = _text(value.get("text"), f"{where}: 'text'", MAX_TEXT)
    setup_in = value.get("setup", {})
    setup = _settings(setup_in, f"{where}: 'setup'", ("canvas", "show"))
    if isinstance(setup_in, dict):
        if "canvas" in setup_in:
            setup["canvas"] = _canvas(setup_in["canvas"], where)
        if "show" in setup_in:
            if not isinstance(setup_in["show"], str) or setup_in["show"] not in (*PANELS, "canvas"):
                raise LessonError(f"{where}: 'show' must be one of canvas, {', '.join(PANELS)}; "
                                  f"got {shown_value(setup_in['show'])}")
            setup["show"] = setup_in["show"]
    run = value.get("run")
    if run is not None:
        run = _run(run, where)
    return Step(text, setup, run)


def _canvas(v: Any, where: str) -> Any:
    if isinstance(v, str) and v in CANVAS:
        return v
    if isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("index", "label"):
        (key, k), = v.items()
        if isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= MAX_CANVAS_INDEX:
            return {key: k}
    raise LessonError(f"{where}: 'canvas' must be one of {', '.join(CANVAS)}, {{\"index\": N}} (that data set "
                      f"image) or {{\"label\": D}} (the first image with that label), N and D from 0 to "
                      f"{MAX_CANVAS_INDEX}; got {shown_value(v)}")


def _run(v: Any, where: str) -> dict[str, Any]:
    if isinstance(v, str):
        v = {"action": v}
    if not isinstance(v, dict):
        raise LessonError(f"{where}: 'run' must be an action's name or an object with 'action'")
    _known(v, RUN_KEYS, f"{where}: 'run'")
    action = v.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise LessonError(f"{where}: 'run' action must be one of {', '.join(ACTIONS)}, got {shown_value(action)}")
    out: dict[str, Any] = {"action": action}
    if action == "algorithm2":
        out["iterations"] = _number(v.get("iterations", 1), "iterations", f"{where}: 'run'")
    elif "iterations" in v:
        raise LessonError(f"{where}: 'iterations' belongs to the action algorithm2")
    if action == "manipulate":
        out["alpha"] = _number(v.get("alpha", 0.5), "alpha", f"{where}: 'run'")
    elif "alpha" in v:
        raise LessonError(f"{where}: 'alpha' of a run belongs to the action manipulate (set α with 'setup')")
    return out


# ---------------------------------------------------------------- the shipped lessons

def resources_dir() -> Path:
    """The resources/ folder (icon, presenter style, lessons, example session): inside the
    installed package (viscause_gui/resources), or at the top of a source checkout."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "resources"
    return installed if installed.is_dir() else package.parent / "resources"


def lessons_dir() -> Path:
    return resources_dir() / "lessons"


def shipped_lessons() -> dict[str, Path]:
    """Name -> file of every lesson that ships with the app, in their order (a number prefix sorts them)."""
    out: dict[str, Path] = {}
    for path in sorted(lessons_dir().glob("*")):
        if path.suffix in (".json", ".toml"):
            out[path.stem.split("_", 1)[-1] if path.stem[:2].isdigit() else path.stem] = path
    return out


def find_lesson(name_or_path: str | os.PathLike) -> Path:
    """A lesson file: an existing path, or the name of a shipped lesson (case and spaces ignored,
    e.g. 'barometer' or 'The Causal Coarsening Theorem')."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    key = str(name_or_path).strip().lower().replace(" ", "_").replace("-", "_")
    shipped = shipped_lessons()
    if key in shipped:
        return shipped[key]
    matches = [p for n, p in shipped.items() if n.startswith(key) or key in n or n in key]
    if len(matches) == 1 and key:
        return matches[0]
    raise LessonError(f"{name_or_path}: no such lesson file and no shipped lesson of that name "
                      f"(shipped: {', '.join(shipped)})")
