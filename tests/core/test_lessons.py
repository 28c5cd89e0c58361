"""Lesson files: the shipped ones load, bad files give one clear line, save and read back."""
from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viscause_gui.core.lessons import (LESSON_VERSION, SETTINGS, Lesson, LessonError, Step, check_lesson, find_lesson,
                                       load_lesson, parse_lesson, resources_dir, save_lesson, shipped_lessons)

GOOD = {"format": "viscause-lesson", "version": 1, "title": "T", "data": {"builtin": "grating", "options": {"n": 100}},
        "steps": [{"text": "Hello.", "setup": {"canvas": "vbar", "oracle": "truth"}, "run": "algorithm1"}]}


def write(tmp_path, spec, name="lesson.json"):
    path = tmp_path / name
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    return path


def test_the_shipped_lessons():
    lessons = {name: load_lesson(path) for name, path in shipped_lessons().items()}
    assert list(lessons) == ["barometer", "causal_coarsening", "learning_to_manipulate", "digits"]
    assert [lesson.title for lesson in lessons.values()] == ["Barometer", "The Causal Coarsening Theorem",
                                                    "Learning to manipulate", "Digits"]
    assert shipped_lessons()["learning_to_manipulate"].suffix == ".toml"       # both formats ship
    for lesson in lessons.values():
        assert all(len(s.text) <= 400 for s in lesson.steps)
        assert lesson.settings_at(len(lesson) - 1)["seed"] == 0        # every run reproducible from its seed
    assert lessons["digits"].settings["label"] == 7 and lessons["digits"].data == {"builtin": "mnist_subset",
                                                                                 "options": {}}


def test_find_by_name_or_title(tmp_path):
    assert find_lesson("barometer").name == "01_barometer.json"
    assert find_lesson("The Causal Coarsening Theorem").name == "02_causal_coarsening.json"
    assert find_lesson("Learning to manipulate").suffix == ".toml"
    path = write(tmp_path, GOOD)
    assert find_lesson(str(path)) == path
    with pytest.raises(LessonError, match="no shipped lesson of that name"):
        find_lesson("astrology")


def test_resources_folder_holds_what_the_app_needs():
    folder = resources_dir()
    for name in ("icons/viscause.svg", "icons/viscause-48.png", "icons/viscause-256.png", "presenter.qss",
                 "viscause.desktop", "examples/grating_example.vcsession", "README.md"):
        assert (folder / name).is_file(), name


@pytest.mark.parametrize("change, message", [
    ({"format": "viscause-session"}, "not a lesson: 'format' must be 'viscause-lesson'"),
    ({"version": LESSON_VERSION + 1}, "newer than this app reads"),
    ({"version": "1"}, "'version' must be an integer"),
    ({"title": ""}, "'title' must be a non-empty text"),
    ({"colour": "red"}, "unknown key 'colour' in the lesson"),
    ({"data": {"builtin": "nope"}}, "no built-in data set 'nope'"),
    ({"data": {"builtin": "grating", "options": {"size": 3}}}, "grating has no option 'size'"),
    ({"data": {"builtin": "grating", "path": "x.npz"}}, "either a built-in data set"),
    ({"panels": ["canvas", "nope"]}, "unknown panel 'canvas'"),
    ({"steps": []}, "'steps' must be a non-empty list"),
    ({"steps": [{"txt": "x"}]}, "unknown key 'txt' in step 1"),
    ({"steps": [{"text": "x" * 401}]}, "step 1: 'text' is 401 characters long"),
    ({"steps": [{"text": "x", "run": "algorithm3"}]}, "step 1: 'run' action must be one of"),
    ({"steps": [{"text": "x", "run": {"action": "algorithm2", "iterations": 0}}]}, "'iterations' must lie in"),
    ({"steps": [{"text": "x", "setup": {"alpha": 2}}]}, "'alpha' must lie in \\[0, 1\\]"),
    ({"steps": [{"text": "x", "setup": {"oracle": "psychic"}}]}, "'oracle' must be one of truth, model, human"),
    ({"settings": {"queries_by": "psychic"}}, "'settings': 'queries_by' must be one of random, active"),
    ({"steps": [{"text": "x", "setup": {"canvas": "circle"}}]}, "'canvas' must be one of"),
    ({"steps": [{"text": "x", "setup": {"queries": True}}]}, "'queries' must be an integer"),
])
def test_bad_lessons_give_one_line_naming_the_file(tmp_path, change, message):
    path = write(tmp_path, {**GOOD, **change})
    with pytest.raises(LessonError, match=message) as info:
        load_lesson(path)
    text = str(info.value)
    assert text.startswith("lesson.json: ") and "\n" not in text


@pytest.mark.parametrize("content, name, message", [
    ("{not json", "l.json", "not valid JSON"),
    ("title = ", "l.toml", "not valid TOML"),
    ("[1, 2]", "l.json", "a lesson must be an object"),
    ("{}", "l.yaml", "ends in .json or .toml"),
])
def test_unreadable_files(tmp_path, content, name, message):
    with pytest.raises(LessonError, match=message):
        load_lesson(write(tmp_path, content, name))
    with pytest.raises(LessonError, match="no such file"):
        load_lesson(tmp_path / "missing.json")
    with pytest.raises(LessonError, match="is a folder"):
        load_lesson(tmp_path)


def test_toml_and_json_say_the_same(tmp_path):
    toml = write(tmp_path, 'format = "viscause-lesson"\nversion = 1\ntitle = "T"\n[data]\nbuiltin = "grating"\n'
                 'options = { n = 100 }\n[[steps]]\ntext = "Hello."\nsetup = { canvas = "vbar", oracle = "truth" }\n'
                 'run = "algorithm1"\n', "l.toml")
    a, b = load_lesson(toml), load_lesson(write(tmp_path, GOOD))
    assert a.to_json() == b.to_json()


def test_save_and_read_back(tmp_path):
    lesson = load_lesson(shipped_lessons()["learning_to_manipulate"])
    out = save_lesson(lesson, tmp_path / "copy")
    assert out.suffix == ".json"
    again = load_lesson(out)
    assert again.to_json() == lesson.to_json()
    with pytest.raises(LessonError):            # nothing invalid is written
        save_lesson(Lesson("T", {"builtin": "grating"}, [Step("")]), tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_quick_keeps_the_story_and_shrinks_the_work():
    lesson = load_lesson(shipped_lessons()["learning_to_manipulate"])
    quick = lesson.quick(epochs=2, queries=20, iterations=2)
    assert [s.text for s in quick.steps] == [s.text for s in lesson.steps]
    assert quick.settings["epochs"] == 2 and quick.settings["queries"] == 20
    assert quick.steps[2].run == {"action": "algorithm2", "iterations": 2}
    assert lesson.steps[2].run["iterations"] == 4


def test_data_path_is_relative_to_the_lesson(tmp_path):
    path = write(tmp_path, {**GOOD, "data": {"path": "mine.npz"}})
    assert load_lesson(path).data_path() == tmp_path.resolve() / "mine.npz"


def test_the_example_session_opens():
    from viscause_gui.core.store.session_reader import load_session

    session = load_session(resources_dir() / "examples" / "grating_example.vcsession")
    assert len(session.dataset) == 500 and len(session.experiment.history) == 2


# ---------------------------------------------------------------- hostile files (issue 21, finding 4)

def grating_options(**options):
    return {**GOOD, "data": {"builtin": "grating", "options": options}}


TOML_HEAD = 'format = "viscause-lesson"\ntitle = "T"\n[[steps]]\ntext = "x"\n'


@pytest.mark.parametrize("name, content, message", [
    # integers too long for Python to read: one line, not a ValueError traceback
    ("big.json", json.dumps(GOOD).replace('"n": 100', '"n": ' + "9" * 5000), "a number has 5,000 digits"),
    ("big.json", json.dumps(GOOD).replace('"version": 1', '"version": -' + "9" * 5000), "a number has 5,000 digits"),
    ("big.toml", f'version = {"1" * 5000}\n{TOML_HEAD}[data]\nbuiltin = "grating"\n', "a number has more than"),
    ("hex.toml", f'version = 0x{"f" * 5000}\n{TOML_HEAD}[data]\nbuiltin = "grating"\n',    # read, too long to print
     "lesson version an integer of about 6,021 digits is newer"),
    ("n.toml", f'version = 1\n{TOML_HEAD}[data]\nbuiltin = "grating"\noptions = {{ n = {"9" * 40} }}\n',
     r"'n' must lie in \[10, 1000000\], got an integer of 40 digits"),
    # the Open built-in dialog's ranges (GRATING's generator options)
    ("seed.json", grating_options(seed=-1), r"'data': grating option 'seed' must lie in \[0, 2147483647\], got -1"),
    ("seed.json", grating_options(seed=0.5), "'data': grating option 'seed' must be an integer, got 0.5"),
    ("seed.json", grating_options(seed=3.0), "'data': grating option 'seed' must be an integer, got 3.0"),
    ("seed.json", grating_options(seed="7"), "'data': grating option 'seed' must be an integer, got '7'"),
    ("n.json", grating_options(n=2_000_000), r"grating option 'n' must lie in \[10, 1000000\], got 2000000"),
    ("n.json", grating_options(n=True), "grating option 'n' must be an integer, got True"),
    ("noise.json", grating_options(noise=0.5), r"grating option 'noise' must lie in \[0, 0.49\], got 0.5"),
    ("noise.json", grating_options(noise=float("nan")), "grating option 'noise' must lie in .* got nan"),
    ("noise.json", grating_options(noise=float("inf")), "grating option 'noise' must lie in .* got inf"),
    ("noise.json", grating_options(noise=[0.1]), r"grating option 'noise' must be a number, got \[0.1\]"),
    ("corners.json", grating_options(base=0.9, w_c=0.5), "grating options base=0.9, w_c=0.5 are not valid together"),
    # the Learning panel's ranges
    ("seed.json", {**GOOD, "settings": {"seed": -1}}, r"'settings': 'seed' must lie in \[0, 2147483647\], got -1"),
    ("seed.json", {**GOOD, "settings": {"seed": 0.5}}, "'settings': 'seed' must be an integer, got 0.5"),
    ("iterations.json", {**GOOD, "settings": {"iterations": 10_001}}, r"'iterations' must lie in \[1, 10000\]"),
    ("queries.json", {**GOOD, "steps": [{"text": "x", "setup": {"queries": "many"}}]},
     "step 1: 'setup': 'queries' must be an integer, got 'many'"),
    ("alpha.json", {**GOOD, "steps": [{"text": "x", "run": {"action": "manipulate", "alpha": None}}]},
     "step 1: 'run': 'alpha' must be a number, got None"),
    ("canvas.json", {**GOOD, "steps": [{"text": "x", "setup": {"canvas": {"index": 2**40}}}]},
     "step 1: 'canvas' must be one of"),
    ("canvas.json", {**GOOD, "steps": [{"text": "x", "setup": {"canvas": {"index": -1}}}]},
     "step 1: 'canvas' must be one of"),
    # wrong types where a name is expected, and control characters never echoed raw
    ("oracle.json", {**GOOD, "settings": {"oracle": ["truth"]}}, r"'oracle' must be one of .* got \['truth'\]"),
    ("show.json", {**GOOD, "steps": [{"text": "x", "setup": {"show": {}}}]}, "'show' must be one of"),
    ("run.json", {**GOOD, "steps": [{"text": "x", "run": {"action": 3}}]}, "'run' action must be one of .* got 3"),
    ("esc.json", {**GOOD, "steps": [{"text": "x", "run": "\x1b[2J\x1b]0;owned\x07"}]},
     re.escape(r"got '\x1b[2J\x1b]0;owned\x07'")),
    ("esc.json", {**GOOD, "colour\x1b[31m": 1}, re.escape(r"unknown key 'colour\x1b[31m'")),
    ("esc.json", {**GOOD, "format": "x" * 500}, "got 'xxxx.*…$"),
])
def test_hostile_values_give_one_line_naming_the_file_and_the_field(tmp_path, name, content, message):
    path = write(tmp_path, content, name)
    with pytest.raises(LessonError, match=message) as info:
        load_lesson(path)
    text = str(info.value)
    assert text.startswith(f"{name}: ") and text.isprintable() and len(text) < 400, text


def test_the_lesson_ranges_are_the_learning_panels_and_the_dialogs():
    """One definition: the lesson checks a learning setting against LEARNING_LIMITS (the Learning panel's
    spin boxes read them: tests/gui/test_lessons.py) and a data set option against its Option."""
    from viscause_gui.core.experiments.registry import builtin_datasets
    from viscause_gui.core.method.limits import LEARNING_LIMITS

    assert SETTINGS is LEARNING_LIMITS
    n = next(o for o in builtin_datasets()["grating"].options if o.key == "n")
    tmp = {**GOOD, "data": {"builtin": "grating", "options": {"n": int(n.hi)}}, "settings": {"iterations": 10_000}}
    lesson = parse_lesson(tmp)
    assert lesson.data["options"]["n"] == n.hi and lesson.settings["iterations"] == LEARNING_LIMITS["iterations"].hi
    with pytest.raises(LessonError, match="'n' must lie in"):
        parse_lesson({**tmp, "data": {"builtin": "grating", "options": {"n": int(n.hi) + 1}}})


def test_a_lesson_made_in_code_is_checked_as_a_file_is():
    lesson = load_lesson(shipped_lessons()["barometer"])
    check_lesson(lesson)
    bad = replace(lesson, data={"builtin": "grating", "options": {"seed": -1}})
    with pytest.raises(LessonError, match=r"^01_barometer.json: 'data': grating option 'seed' must lie in"):
        check_lesson(bad)
    with pytest.raises(LessonError, match=r"^Barometer: step 1: 'setup': 'seed' must be an integer, got 0.5"):
        check_lesson(replace(lesson, source=None, steps=[Step("x", {"seed": 0.5})]))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.timeout(20)
def test_a_fifo_or_a_device_named_as_a_lesson_is_refused_at_once(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(LessonError, match=r"^fifo.json: is a named pipe \(FIFO\), not a file$"):
        load_lesson(fifo)                       # no writer: reading it would block forever
    if Path("/dev/zero").exists():
        zero = tmp_path / "zero.toml"
        zero.symlink_to("/dev/zero")
        with pytest.raises(LessonError, match=r"^zero.toml: is a character device, not a file$"):
            load_lesson(zero)


def test_a_large_lesson_is_refused_having_read_no_more_than_the_limit(tmp_path, monkeypatch):
    from viscause_gui.core import lessons

    path = write(tmp_path, {**GOOD, "summary": "s"})
    monkeypatch.setattr(lessons, "MAX_LESSON_BYTES", path.stat().st_size - 1)
    with pytest.raises(LessonError, match=r"^lesson.json: larger than [\d,]+ bytes, the limit for a lesson$"):
        load_lesson(path)
    monkeypatch.setattr(lessons, "MAX_LESSON_BYTES", path.stat().st_size)
    assert load_lesson(path).summary == "s"


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_any_value_anywhere_is_a_lesson_or_one_lesson_error(tmp_path, data):
    """Any JSON value put in a field of a good lesson: it loads with values the app's controls take, or
    gives one printable LessonError line naming the file (TOML reaches the same checks: parse_lesson)."""
    leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                     st.sampled_from(["truth", "algorithm2", "vbar", "grating", "learning"]))
    value = data.draw(st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=6), inner,
                                                                                 max_size=3)), max_leaves=6))
    spec = json.loads(json.dumps(GOOD))
    where = data.draw(st.sampled_from([
        ("version",), ("title",), ("data", "options", "n"), ("data", "options", "seed"), ("data", "options", "noise"),
        ("settings", "seed"), ("settings", "iterations"), ("settings", "alpha"), ("settings", "oracle"),
        ("steps", 0, "setup", "canvas"), ("steps", 0, "setup", "queries"), ("steps", 0, "run"), ("panels",)]))
    target = spec
    for key in where[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[where[-1]] = value
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(spec))
    try:
        lesson = load_lesson(path)
    except LessonError as exc:
        text = str(exc)
        assert text.startswith("fuzz.json: ") and text.isprintable(), text
        return
    from viscause_gui.core.experiments.registry import builtin_datasets
    for option in builtin_datasets()["grating"].options:
        v = lesson.data["options"].get(option.key)
        assert v is None or (option.lo <= v <= option.hi and isinstance(v, int) == option.integer)
    for step in range(len(lesson)):
        for key, v in lesson.settings_at(step).items():
            if key != "oracle":
                assert SETTINGS[key].lo <= v <= SETTINGS[key].hi
