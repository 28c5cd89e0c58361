"""Trained nets kept in the user's cache folder: read back as they were written, found only under
their key, and an entry that is damaged, of another key or holding objects is one log line and a
miss, never a crash or code run."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from viscause_gui.core.nets.models import new_net, predict_proba
from viscause_gui.core.store.model_cache import ModelCache, entry_key, user_cache_folder

SPEC = {"arch": "mlp", "in_shape": [8, 8], "hidden": [16], "n_classes": 3}
IMAGES = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)


@pytest.fixture
def cache(tmp_path):
    return ModelCache(tmp_path / "models")


def _saved(cache: ModelCache, key: str = "k" * 64):
    net = new_net(SPEC, 3)
    cache.save(key, {"first": (SPEC, net)}, {"limit": 0.25})
    return key, net


def test_the_user_cache_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert user_cache_folder() == tmp_path / "viscause"
    assert ModelCache().folder == tmp_path / "viscause" / "models"


def test_nets_and_numbers_come_back_as_saved(cache):
    key, net = _saved(cache)
    entry = cache.load(key, nets=("first",), numbers=("limit",))
    assert entry is not None and entry.numbers == {"limit": 0.25}
    np.testing.assert_array_equal(predict_proba(entry.nets["first"], IMAGES), predict_proba(net, IMAGES))


def test_the_key_changes_with_the_data_and_the_recipe():
    labels = np.arange(20) % 3
    key = entry_key([IMAGES, labels], {"epochs": 8})
    assert key == entry_key([IMAGES.copy(), labels.copy()], {"epochs": 8})
    changed = IMAGES.copy()
    changed[3, 4, 5] += 0.5
    assert key != entry_key([changed, labels], {"epochs": 8})
    assert key != entry_key([IMAGES, labels], {"epochs": 9})
    assert key != entry_key([IMAGES, labels[::-1].copy()], {"epochs": 8})


def test_another_key_is_a_miss_without_a_word(cache, caplog):
    _saved(cache)
    with caplog.at_level(logging.INFO):
        assert cache.load("x" * 64, nets=("first",)) is None
    assert caplog.records == []


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other key", "missing net", "pickle"])
def test_a_damaged_entry_is_one_log_line_and_a_miss(cache, caplog, damage):
    key, _ = _saved(cache)
    path = cache.path(key)
    if damage == "garbage":
        path.write_bytes(b"\x00not a zip file" * 100)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "other key":
        other, _ = _saved(cache, "o" * 64)
        path.write_bytes(cache.path(other).read_bytes())
    elif damage == "pickle":
        np.savez(path, manifest=np.array([{"format": "x"}], dtype=object))     # reading it would unpickle
    with caplog.at_level(logging.INFO):
        entry = cache.load(key, nets=("first", "second") if damage == "missing net" else ("first",))
    assert entry is None
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.WARNING
    message = caplog.records[0].getMessage()
    assert "\n" not in message and path.name in message and "training again" in message


def test_an_unwritable_folder_is_one_log_line_and_no_entry(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    cache = ModelCache(blocked / "models")
    with caplog.at_level(logging.INFO):
        assert cache.save("k" * 64, {"first": (SPEC, new_net(SPEC, 0))}) is None
    assert len(caplog.records) == 1 and "could not write" in caplog.records[0].getMessage()


def test_old_entries_go_beyond_the_limit(cache):
    for n in range(cache.max_entries + 3):
        _saved(cache, f"{n:064d}")
    assert len(list(cache.folder.glob("*.npz"))) == cache.max_entries
    assert cache.path(f"{cache.max_entries + 2:064d}").is_file()          # the newest stays


def test_torch_tensors_are_never_unpickled(cache):
    """The entry is read with allow_pickle=False: a torch.save file in its place is refused."""
    key, _ = _saved(cache)
    torch.save({"manifest": "x"}, cache.path(key))
    assert cache.load(key, nets=("first",)) is None
