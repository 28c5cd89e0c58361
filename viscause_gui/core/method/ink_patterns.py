"""The exact ink patterns of binary observational classes: a check on the readout net's answers.

A net trained on the observational images draws the line between "a bar" and "no bar" somewhere
between the inks it saw: a row of 3 noise pixels and a full row of 10. A row of 9 (a broken or short
bar) reads as a bar, though nothing in the data says so. Where the classes are exact ink patterns
(GRATING's full bars plus noise), the data say which ink an image's class needs: the ink that every
one of the K_NEAREST images of that class nearest to the image has. An image that lacks some of it
is not of that class, whatever the net says.

The check is learnt only for binary images, and kept only where it never takes an image of the data
out of its own class when the image is left out of the references (images whose class is not such
a pattern, or too few images of some pattern, fail that test, and the net answers alone).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

K_NEAREST = 3
FOLDS = 5                       # the check is tested on every image, with the other folds as references
MIN_IMAGES = 250
MAX_REFERENCE_VALUES = 20_000_000   # pixels of reference images kept (20 MB): larger data go without the check
BATCH = 256

Copies = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]   # (images, labels) -> with copies


def is_binary(images: np.ndarray) -> bool:
    """Every value 0 or 1."""
    return bool(np.all((images == 0) | (images == 1)))


class InkPatterns:
    """Reference images of each class: binary, flattened, without duplicates."""

    def __init__(self, references: list[np.ndarray]):
        self.references = references

    @classmethod
    def from_images(cls, images: np.ndarray, labels: np.ndarray, n_classes: int) -> InkPatterns:
        flat = np.asarray(images).reshape(len(images), -1) >= 0.5
        return cls([_unique_rows(flat[labels == c]) for c in range(n_classes)])

    def check(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per image and class: whether the image lacks ink that each of its K_NEAREST nearest images
        of the class has (False where a class has fewer images), and the distance to the nearest one."""
        flat = np.asarray(images).reshape(len(images), -1) >= 0.5
        lacks = np.zeros((len(flat), len(self.references)), bool)
        nearest = np.full(lacks.shape, np.inf)
        for c, ref in enumerate(self.references):
            if len(ref) < K_NEAREST:
                continue
            for start in range(0, len(flat), BATCH):
                rows = slice(start, start + BATCH)
                lacks[rows, c], nearest[rows, c] = _lacks_shared_ink(flat[rows], ref)
        return lacks, nearest

    def restrict(self, images: np.ndarray, proba: np.ndarray) -> np.ndarray:
        """One class per image, for certain (N, K one-hot): the classes are exact patterns. The net's
        choice, unless the image lacks its ink; then the net saw nothing like the image, and the class
        is the one left whose nearest image is nearest."""
        lacks, nearest = self.check(images)
        allowed = ~lacks
        allowed[~allowed.any(axis=1)] = True
        choice = proba.argmax(axis=1)
        vetoed = ~allowed[np.arange(len(proba)), choice]
        choice[vetoed] = np.where(allowed, nearest, np.inf).argmin(axis=1)[vetoed]
        return np.eye(proba.shape[1])[choice]


def _unique_rows(flat: np.ndarray) -> np.ndarray:
    """np.unique(flat, axis=0) for boolean rows, in the same order, ~40x faster: the rows packed into
    bytes (the first pixel the highest bit, so byte order is the rows' order) are sorted as opaque
    items. (The readout's references of 20,000 images with their shifted copies took ~3 s.)"""
    n_pixels = flat.shape[1]
    packed = np.ascontiguousarray(np.packbits(flat, axis=1))
    items = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    unique = np.unique(items).view(np.uint8).reshape(-1, packed.shape[1])
    return np.unpackbits(unique, axis=1, count=n_pixels).astype(bool)


def _lacks_shared_ink(flat: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, r = flat.astype(np.float32), ref.astype(np.float32)
    distance = x.sum(axis=1)[:, None] + r.sum(axis=1)[None] - 2.0 * (x @ r.T)     # Hamming
    shared = ref[np.argpartition(distance, K_NEAREST - 1, axis=1)[:, :K_NEAREST]].all(axis=1)
    return np.any(shared & ~flat, axis=1), distance.min(axis=1)


def learn_ink_patterns(images: np.ndarray, labels: np.ndarray, n_classes: int, copies: Copies,
                       seed: int = 0, cancelled: Callable[[], bool] = lambda: False) -> InkPatterns | None:
    """The check for these binary images and their class indices, or None where it does not hold:
    not binary, too few images to test it, too large, or an image it takes out of its own class when
    the other images are the references (FOLDS folds: every image is tested once).
    `copies` adds the copies the data set declares the same (its invariances) to the references;
    `cancelled()` returning True between batches gives None."""
    if not is_binary(images) or len(images) < MIN_IMAGES:
        return None
    patterns = InkPatterns.from_images(*copies(images, labels), n_classes)
    if sum(r.size for r in patterns.references) > MAX_REFERENCE_VALUES:
        return None
    fold = np.random.default_rng(seed).permutation(len(images)) % FOLDS
    for k in range(FOLDS):
        if cancelled():
            return None
        held = np.flatnonzero(fold == k)
        references = InkPatterns.from_images(*copies(images[fold != k], labels[fold != k]), n_classes)
        for start in range(0, len(held), BATCH):      # cancelled between batches: a fold takes seconds
            if cancelled():
                return None
            rows = held[start:start + BATCH]
            lacks, _ = references.check(images[rows])
            if lacks[np.arange(len(rows)), labels[rows]].any():
                return None
    return patterns
