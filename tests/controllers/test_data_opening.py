"""Opening data without a window: bad input gives one message and keeps the data and the session."""
from __future__ import annotations

import numpy as np

from viscause_gui.gui.controllers.data_opening import DataOpener
from viscause_gui.gui.models.dialogs import DictSettings, ScriptedDialogs


class State:
    def __init__(self):
        self.dataset, self.own = None, None

    def set_dataset(self, dataset, own_data=False):
        self.dataset, self.own = dataset, own_data


class Workers:
    """Runs the job at once, as a worker would, and reports to its callbacks."""

    def start(self, key, fn, *args, on_return=None, on_error=None, **_):
        try:
            result = fn(*args)
        except (OSError, ValueError) as exc:    # a worker hands any error to on_error
            on_error(exc)
        else:
            on_return(result)


class Session:
    def __init__(self, may: bool):
        self.may, self.asked, self.stayed = may, [], 0

    def may_drop_work(self, action):
        self.asked.append(action)
        return self.may

    def stay(self):
        self.stayed += 1


def opener(tmp_path, may=True):
    dialogs, settings = ScriptedDialogs(), DictSettings()
    o = DataOpener(State(), Workers(), settings, dialogs)
    o.guard = Session(may)
    return o, dialogs, settings


def test_a_chosen_file_is_loaded_as_the_persons_own_data(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, images=np.zeros((4, 5, 5), np.float32))
    o, dialogs, settings = opener(tmp_path)
    dialogs.paths.append(str(path))
    o.open_file_dialog()
    assert o.state.dataset.name == "mine" and o.state.own is True
    assert settings.value("paths/last_folder") == str(tmp_path) and o.last_folder() == str(tmp_path)
    assert dialogs.statuses[-1] == "loaded mine" and dialogs.messages == []


def test_a_bad_file_gives_one_message_and_the_session_stays(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    o, dialogs, _ = opener(tmp_path)
    o.open_path(bad)
    assert o.state.dataset is None and o.guard.stayed == 1
    assert len(dialogs.messages) == 1 and dialogs.messages[0][:2] == ("warning", "Could not open the data")
    assert "bad.npz" in dialogs.messages[0][2]


def test_a_cancelled_question_keeps_the_data(tmp_path):
    o, dialogs, _ = opener(tmp_path, may=False)
    o.open_builtin("digits8x8")
    assert o.guard.asked == ["Open another data set"] and o.state.dataset is None and dialogs.statuses == []


def test_a_cancelled_file_chooser_does_nothing(tmp_path):
    o, _, _ = opener(tmp_path)
    o.open_folder_dialog()
    assert o.guard.asked == [] and o.state.dataset is None


def test_load_or_say_why_returns_the_reason_in_one_line(tmp_path):
    o, dialogs, _ = opener(tmp_path)
    why = o.load_or_say_why("path", str(tmp_path / "missing.npz"))
    assert why and "\n" not in why and dialogs.messages == [] and o.guard.stayed == 1
    assert o.load_now("builtin", "digits8x8") and o.state.dataset is not None and o.state.own is False
