"""Trained nets kept in the user's cache folder, so that what takes minutes to train (the digits'
model oracle) is trained once per data set and recipe.

An entry is one .npz file named by its key, a hash of the data and the training recipe
(`entry_key`): other data, or another recipe, is another entry. It holds every net's weights as
arrays ("<net>/<parameter>") and a manifest (JSON text: the format, the key, each net's spec and
the numbers its caller keeps). It is read with allow_pickle=False, so nothing in it runs, and
each net is rebuilt from its spec with every weight checked (nets.weights). An entry that cannot
be read or does not match is one log line and a miss: the caller trains again and writes it anew.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from viscause_gui.core.nets.models import default_device
from viscause_gui.core.nets.weights import net_from_state
from viscause_gui.core.store.atomic import atomic_write

CACHE_FORMAT = "viscause-model-cache"
CACHE_VERSION = 1
MANIFEST = "manifest"
MAX_ENTRY_BYTES = 1024**3
MAX_ENTRIES = 8                  # the newest entries kept (a digit oracle is a few MB)

log = logging.getLogger(__name__)


class CacheEntryError(ValueError):
    """A cache entry that is not what its key promises."""


@dataclass
class CachedNets:
    nets: dict[str, nn.Module]
    numbers: dict[str, float]


def user_cache_folder() -> Path:
    """viscause's folder in the user's cache: $XDG_CACHE_HOME/viscause where that is set (an absolute
    path), else ~/Library/Caches/viscause on macOS, %LOCALAPPDATA%/viscause/cache on Windows and
    ~/.cache/viscause elsewhere."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "viscause"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "viscause"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "viscause" / "cache"
    return Path.home() / ".cache" / "viscause"


def entry_key(arrays: Sequence[np.ndarray], recipe: Mapping[str, Any]) -> str:
    """The key of what is trained from `arrays` (the data) by `recipe` (JSON-able settings)."""
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


class ModelCache:
    """The entries in `folder` (default: the user's cache folder's models/)."""

    def __init__(self, folder: str | os.PathLike | None = None, max_entries: int = MAX_ENTRIES):
        self.folder = Path(folder) if folder is not None else user_cache_folder() / "models"
        self.max_entries = max_entries

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def load(self, key: str, nets: Sequence[str], numbers: Sequence[str] = ()) -> CachedNets | None:
        """The entry of `key` with these nets and numbers; None when there is none or it is damaged
        (one log line)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            entry = self._read(path, key, nets, numbers)
        except Exception as exc:         # whatever a damaged file raises, it is a miss
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            log.warning("model cache: %s cannot be used (%s); training again", path, reason)
            return None
        _touch(path)                  # recently used: the last to be pruned
        return entry

    def save(self, key: str, nets: Mapping[str, tuple[dict[str, Any], nn.Module]],
             numbers: Mapping[str, float] | None = None) -> Path | None:
        """Write the entry of `key`: each net by name as (its spec, the net); None (one log line)
        when it cannot be written."""
        manifest = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "key": key,
                    "nets": {name: spec for name, (spec, _net) in nets.items()},
                    "numbers": {name: float(value) for name, value in (numbers or {}).items()}}
        arrays = {MANIFEST: np.array(json.dumps(manifest))}
        for name, (_spec, net) in nets.items():
            for parameter, tensor in net.state_dict().items():
                arrays[f"{name}/{parameter}"] = tensor.detach().cpu().numpy()
        buffer = io.BytesIO()
        np.savez(buffer, **cast("dict[str, Any]", arrays))   # numpy's stub types **kwds as its allow_pickle
        path = self.path(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda f: f.write(buffer.getbuffer()))
        except OSError as exc:
            log.warning("model cache: could not write %s (%s)", path, exc)
            return None
        self._prune(keep=path)
        return path

    def _read(self, path: Path, key: str, names: Sequence[str], numbers: Sequence[str]) -> CachedNets:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            raise CacheEntryError(f"larger than {MAX_ENTRY_BYTES:,} bytes")
        with np.load(path, allow_pickle=False) as entry:
            manifest = json.loads(str(entry[MANIFEST][()]))
            if not isinstance(manifest, dict) or (manifest.get("format"), manifest.get("version"),
                                                  manifest.get("key")) != (CACHE_FORMAT, CACHE_VERSION, key):
                raise CacheEntryError("not the entry of this data and recipe")
            missing = [n for n in names if n not in manifest["nets"]] + [
                n for n in numbers if n not in manifest["numbers"]]
            if missing:
                raise CacheEntryError(f"lacks {', '.join(missing)}")
            nets = {name: net_from_state(manifest["nets"][name], _state(entry, name), f"net {name!r}",
                                         default_device())
                    for name in names}
            return CachedNets(nets, {name: float(manifest["numbers"][name]) for name in numbers})

    def _prune(self, keep: Path) -> None:
        """Remove the least recently used entries beyond max_entries (never `keep`, just written)."""
        others = sorted((p for p in self.folder.glob("*.npz") if p != keep), key=_last_used, reverse=True)
        for old in others[self.max_entries - 1:]:
            with contextlib.suppress(OSError):
                old.unlink()


def _last_used(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _state(entry: Any, name: str) -> dict[str, torch.Tensor]:
    prefix = f"{name}/"
    return {key[len(prefix):]: torch.from_numpy(np.array(entry[key])) for key in entry.files if key.startswith(prefix)}
