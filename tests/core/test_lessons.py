"""Lesson files: the shipped ones load, bad files give one clear line, save and read back."""
from __future__ import annotations

import json

import pytest

from viscause_gui.core.lessons import (LESSON_VERSION, Lesson, LessonError, Step, find_lesson, load_lesson,
                                       resources_dir, save_lesson, shipped_lessons)

GOOD = {"format": "viscause-lesson", "version": 1, "title": "T", "data": {"builtin": "grating", "options": {"n": 100}},
        "steps": [{"text": "Hello.", "setup": {"canvas": "vbar", "oracle": "truth"}, "run": "algorithm1"}]}


def write(tmp_path, spec, name="lesson.json"):
    path = tmp_path / name
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    return path


def test_the_shipped_lessons():
    lessons = {name: load_lesson(path) for name, path in shipped_lessons().items()}
    assert list(lessons) == ["barometer", "causal_coarsening", "learning_to_manipulate", "digits"]
    assert [l.title for l in lessons.values()] == ["Barometer", "The Causal Coarsening Theorem",
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
