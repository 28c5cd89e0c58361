"""The data set's images as the Data browser shows them (Qt-free): what is known of each image and which
pass the class filters.

The browser's grid has one row per shown image: `rows` maps view rows to data set indices (sorted),
so a selection translates both ways. C and S are the learned classes only; a data set's own causal
class (e.g. GRATING's generator truth) is named as truth in the tooltip, never drawn as a badge.
The panel's Qt model (panels/browser.py) and the thumbnails' painter (widgets/thumbnails.py) read it.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

CLASS_KINDS = ("obs", "causal", "spurious")
CLASS_NAMES = {"obs": "observational class", "causal": "causal class C", "spurious": "spurious class S"}


def selection_runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs of consecutive rows."""
    rows = np.unique(np.asarray(rows, np.int64))
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(rows) - 1]])
    return [(int(rows[s]), int(rows[e])) for s, e in zip(starts, ends)]


class ShownImages:
    """The images, their classes, labels and truth, and the rows shown (every image until a filter is chosen)."""

    def __init__(self) -> None:
        self.images: np.ndarray | None = None
        self.rows = np.zeros(0, np.int64)
        self.classes: dict[str, np.ndarray | None] = dict.fromkeys(CLASS_KINDS)
        self.labels: np.ndarray | None = None
        self.given_causal: np.ndarray | None = None    # the data set's own (true) causal class

    def __len__(self) -> int:
        """How many images the data set has (shown or not)."""
        return 0 if self.images is None else len(self.images)

    # ----- content -----
    def set_images(self, images: np.ndarray | None, labels: np.ndarray | None = None) -> None:
        """A new data set: every image shown, no classes known yet."""
        self.images, self.labels = images, labels
        self.rows = np.arange(len(self), dtype=np.int64)
        self.classes = dict.fromkeys(CLASS_KINDS)
        self.given_causal = None

    def set_classes(self, obs: np.ndarray | None, causal: np.ndarray | None, spurious: np.ndarray | None,
                    given_causal: np.ndarray | None = None) -> None:
        self.classes = {"obs": obs, "causal": causal, "spurious": spurious}
        self.given_causal = given_causal

    def choices(self, kind: str) -> list | None:
        """The classes a filter of this kind may choose (None: the classes are not known)."""
        arr = self.classes.get(kind)
        return None if arr is None else np.unique(arr).tolist()

    def filtered(self, chosen: Mapping[str, int | None]) -> np.ndarray:
        """The data set indices whose class of each kind equals the one chosen (None or -1: any)."""
        mask = np.ones(len(self), bool)
        for kind, value in chosen.items():
            arr = self.classes.get(kind)
            if value is not None and value >= 0 and arr is not None:
                mask &= arr == value
        return np.flatnonzero(mask)

    # ----- lookups -----
    def dataset_index(self, row: int) -> int:
        return int(self.rows[row])

    def rows_of(self, indices: np.ndarray) -> np.ndarray:
        """View rows of the given data set indices that are shown (rows is sorted)."""
        indices = np.asarray(indices, np.int64)
        if not len(self.rows):
            return np.zeros(0, np.int64)
        pos = np.clip(np.searchsorted(self.rows, indices), 0, len(self.rows) - 1)
        return pos[self.rows[pos] == indices]

    def class_of(self, kind: str, i: int) -> int | None:
        arr = self.classes.get(kind)
        return None if arr is None else int(arr[i])

    # ----- words -----
    def tooltip(self, i: int) -> str:
        parts = [f"image #{i}"]
        for kind in CLASS_KINDS:
            k = self.class_of(kind, i)
            if k is not None:
                parts.append(f"{CLASS_NAMES[kind]} = {k}")
        if self.given_causal is not None:
            parts.append(f"truth (given by the data set, not learned): C = {self.given_causal[i]}")
        if self.labels is not None:
            parts.append(f"label = {self.labels[i]}")
        return "\n".join(parts)

    def count_text(self) -> str:
        """'300 images', or '75 of 300' while a filter hides some."""
        n, shown = len(self), len(self.rows)
        return f"{n:,} images" if shown == n else f"{shown:,} of {n:,}"
