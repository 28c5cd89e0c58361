"""Data sets no recipe was made for (issue 22, item 5): five constructions, each with a known visual
cause C, a known confounded correlate S and a hidden confounder H, and an oracle that sees only C.

Every set is built the same way (Colored MNIST follows Arjovsky et al. instead, see `colored_mnist`):
H ~ Bernoulli(.5) is hidden; S, a visible feature, is set by H; C, the cause, is drawn with
P(C=1 | H) = .25 / .75 (so C and S correlate in the observational data); one T per image is drawn with
P(T=1 | C, H) = .1 / .4 / .6 / .9 for (C, H) = (0,0) / (0,1) / (1,0) / (1,1): four kinds of image, the
observational classes by construction. P(T=1 | do(C=c)) = sum_h P(T=1 | c, h) P(h) = .25 / .75
(P(h) the data's own share of H=1 where it is not .5). The broken-confound test set draws C and H
independently, each a fair coin.

Written per set into a folder (same seed, same bytes):
- `data.npz`: `images` (float32 in [0, 1]; grey (N, H, W), 1.0 = ink, or colour (N, H, W, C)) and `t`,
  nothing else: what a new user would bring;
- `test.npz`: `images` of the broken-confound test set;
- `truth.npz` (the run never sees it): `cause`, `confound`, `p_t` (P(T=1 | I)), `kind` (the observational
  class by construction, 0-3 by P(T=1)), and `test_cause`, `test_confound` (Colored MNIST: `test_t` too);
- `oracle.py` (with `reference.npz` for the digit sets): `answer(images)` = P(T=1 | do(image)) per
  image, NaN where it cannot say, from the cause in the pixels alone (numpy only).
`confound_of(name, images)` measures S in any image, manipulated ones included.
"""
from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

P_T = np.array([[0.1, 0.4], [0.6, 0.9]])      # P(T=1 | C, H), indexed [c, h]
P_CAUSE_GIVEN_H = (0.25, 0.75)
N_TEST = 1000


@dataclass
class Construction:
    images: np.ndarray
    t: np.ndarray
    cause: np.ndarray          # C per image, 0/1
    confound: np.ndarray       # S per image, 0/1 (= H for every set but Colored MNIST)
    p_t: np.ndarray            # P(T=1 | I) by construction
    kind: np.ndarray           # observational class by construction, numbered by P(T=1)
    test_images: np.ndarray
    test_cause: np.ndarray
    test_confound: np.ndarray
    levels: tuple[float, float]     # P(T=1 | do(C=0)), P(T=1 | do(C=1))
    oracle_source: str
    reference: dict[str, np.ndarray] | None = None
    test_t: np.ndarray | None = None


# ---------------------------------------------------------------- the shared causal model

def _hidden_and_cause(n: int, rng: np.random.Generator, confounded: bool = True) -> tuple[np.ndarray, np.ndarray]:
    hidden = (rng.random(n) < 0.5).astype(np.int64)
    p_cause = np.where(hidden == 1, P_CAUSE_GIVEN_H[1], P_CAUSE_GIVEN_H[0]) if confounded else 0.5
    return hidden, (rng.random(n) < p_cause).astype(np.int64)


def _observations(cause: np.ndarray, hidden: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    p_t = P_T[cause, hidden]
    return (rng.random(len(p_t)) < p_t).astype(np.int64), p_t


def _levels(hidden: np.ndarray) -> tuple[float, float]:
    share = float(hidden.mean())
    return tuple(float(P_T[c, 0] * (1 - share) + P_T[c, 1] * share) for c in (0, 1))


def _construction(draw: Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray], n: int, seed: int,
                  oracle: str, n_test: int) -> Construction:
    """The shared model around `draw(cause, hidden, rng) -> images`."""
    rng = np.random.default_rng(seed)
    hidden, cause = _hidden_and_cause(n, rng)
    t, p_t = _observations(cause, hidden, rng)
    images = draw(cause, hidden, rng)
    test_hidden, test_cause = _hidden_and_cause(n_test, rng, confounded=False)
    test_images = draw(test_cause, test_hidden, rng)
    levels = _levels(hidden)
    return Construction(images, t, cause, hidden, p_t, 2 * cause + hidden, test_images, test_cause, test_hidden,
                        levels, _oracle_file(oracle, levels))


# ---------------------------------------------------------------- oracles (numpy only, written beside the data)

# shared by the oracles written here and by three_outcomes.py's (an oracle file stands alone: numpy only)
FILL_OF_BOUNDING_BOX = '''def _fill_of_bounding_box(mask):
    """Per mask: its area and the share of its bounding box it fills."""
    area = mask.sum(axis=(1, 2))
    rows, cols = mask.any(axis=2), mask.any(axis=1)
    height = np.where(rows.any(1), rows.shape[1] - rows[:, ::-1].argmax(1) - rows.argmax(1), 0)
    width = np.where(cols.any(1), cols.shape[1] - cols[:, ::-1].argmax(1) - cols.argmax(1), 0)
    return area, area / np.maximum(height * width, 1)
'''

ORACLE_HEAD = '''"""A benchmark set's oracle (benchmarks/unseen_suite.py): P(T=1 | do(image)) from the cause alone."""
from pathlib import Path

import numpy as np

LEVELS = ({lo!r}, {hi!r})      # P(T=1 | do(C=0)), P(T=1 | do(C=1))


def _grow(mask):
    """3x3 dilation of boolean (N, H, W) masks."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    grown = out.copy()
    grown[:, :, 1:] |= out[:, :, :-1]
    grown[:, :, :-1] |= out[:, :, 1:]
    return grown


def _shrink(mask):
    return ~_grow(~mask)


''' + FILL_OF_BOUNDING_BOX + '''

def _nearest_vote(x, reference, high, k=5):
    """Majority of the k nearest reference images (L2), per row of x."""
    ref_sq = (reference ** 2).sum(1)
    out = np.zeros(len(x), bool)
    for s in range(0, len(x), 256):
        d = ref_sq[None] - 2 * x[s:s + 256] @ reference.T
        nearest = np.argpartition(d, k, axis=1)[:, :k]
        out[s:s + 256] = high[nearest].mean(1) > 0.5
    return out


def answer(images):
    images = np.asarray(images, np.float32)
    cause = cause_of(images).astype(np.float64)
    return np.where(np.isnan(cause), np.nan, np.where(cause > 0.5, LEVELS[1], LEVELS[0]))
'''


def _oracle_file(cause_source: str, levels: tuple[float, float]) -> str:
    return ORACLE_HEAD.format(lo=round(levels[0], 6), hi=round(levels[1], 6)) + "\n\n" + cause_source


def load_oracle(folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    """The `answer` function of a set's written oracle.py."""
    spec = importlib.util.spec_from_file_location(f"unseen_oracle_{folder.name}", folder / "oracle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.answer


# ---------------------------------------------------------------- shapes on confounded backgrounds (64x64 RGB)

SHAPES_SIZE = 64
WARM, COOL = (0.85, 0.45, 0.15), (0.15, 0.35, 0.80)

SHAPES_ORACLE = '''def cause_of(images):
    """1 for a disc, 0 for a square: the white shape's share of its bounding box (pi/4 or 1); NaN: no shape."""
    white = images.min(axis=-1) > 0.7
    area, fill = _fill_of_bounding_box(white)
    return np.where(area < 30, np.nan, (fill < 0.89).astype(float))
'''


def _draw_shapes(cause: np.ndarray, hidden: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, size = len(cause), SHAPES_SIZE
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    background = np.where(hidden[:, None] == 1, WARM, COOL) + rng.uniform(-0.08, 0.08, (n, 3))
    images = np.broadcast_to(background[:, None, None, :], (n, size, size, 3)).astype(np.float32).copy()
    images += rng.normal(0, 0.03, images.shape).astype(np.float32)
    centre = rng.uniform(18, size - 18, (n, 2))
    radius = rng.uniform(8, 14, n)
    half_side = radius * np.sqrt(np.pi) / 2           # the square's area equals the disc's: size says nothing
    for i in range(n):
        dy, dx = yy - centre[i, 0], xx - centre[i, 1]
        shape = (dy ** 2 + dx ** 2 <= radius[i] ** 2) if cause[i] else (np.maximum(abs(dy), abs(dx)) <= half_side[i])
        images[i][shape] = 0.95 + rng.normal(0, 0.02, (shape.sum(), 3))
    return images.clip(0, 1)


def shapes_confound(images: np.ndarray) -> np.ndarray:
    """1 for a warm background (the median border pixel redder than blue)."""
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1)
    colour = np.median(border, axis=1)
    return (colour[:, 0] > colour[:, 2]).astype(np.int64)


def shapes(seed: int = 0, n: int = 5000, n_test: int = N_TEST) -> Construction:
    """A white disc (C=1) or square (C=0) of equal area; the background warm (S=1) or cool, set by H."""
    return _construction(_draw_shapes, n, seed, SHAPES_ORACLE, n_test)


# ---------------------------------------------------------------- shape vs texture (32x32 grey)

TEXTURE_SIZE = 32

TEXTURE_ORACLE = '''def cause_of(images):
    """1 for a triangle, 0 for a square: the closed silhouette's share of its bounding box (1/2 or 1)."""
    silhouette = _shrink(_grow(images > 0.35))
    area, fill = _fill_of_bounding_box(silhouette)
    return np.where(area < 40, np.nan, (fill < 0.75).astype(float))
'''


def _draw_texture(cause: np.ndarray, hidden: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, size = len(cause), TEXTURE_SIZE
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros((n, size, size), np.float32)
    for i in range(n):
        h = rng.integers(12, 19)
        top, cx = rng.integers(3, size - 3 - h), rng.integers(11, size - 11)
        dy = yy - top
        if cause[i]:                                  # a triangle, apex up, as wide at its base as high
            inside = (dy >= 0) & (dy < h) & (np.abs(xx - cx) <= dy / 2 + 0.5)
        else:
            inside = (dy >= 0) & (dy < h) & (np.abs(xx - cx) < (h // 2))
        stripes = (yy % 2 == 0) if hidden[i] else (xx % 2 == 0)
        images[i][inside & stripes] = rng.uniform(0.7, 1.0)
    images += np.abs(rng.normal(0, 0.04, images.shape)).astype(np.float32)
    return images.clip(0, 1)


def texture_confound(images: np.ndarray) -> np.ndarray:
    """1 for horizontal stripes: the ink changes more from row to row than from column to column."""
    across_rows = np.abs(np.diff(images, axis=1)).sum(axis=(1, 2))
    across_cols = np.abs(np.diff(images, axis=2)).sum(axis=(1, 2))
    return (across_rows > across_cols).astype(np.int64)


def texture(seed: int = 0, n: int = 3000, n_test: int = N_TEST) -> Construction:
    """A triangle (C=1) or square (C=0) filled with horizontal (S=1) or vertical stripes, set by H."""
    return _construction(_draw_texture, n, seed, TEXTURE_ORACLE, n_test)


# ------------------------------------------------ a small local mark beside a global brightness (32x32 grey)

MARK_SIZE = 32
MARK_BRIGHTNESS = (0.05, 0.35)       # the background's offset for H = 0 / 1
MARK_ORACLE = '''def cause_of(images):
    """1 where a plus sign of bright pixels (a centre and four arms of two) is anywhere in the image."""
    bright = images > 0.85
    plus = bright[:, 2:-2, 2:-2].copy()
    for d in (1, 2):
        plus &= bright[:, 2 - d:-2 - d, 2:-2] & bright[:, 2 + d:bright.shape[1] - 2 + d, 2:-2]
        plus &= bright[:, 2:-2, 2 - d:-2 - d] & bright[:, 2:-2, 2 + d:bright.shape[2] - 2 + d]
    return plus.any(axis=(1, 2)).astype(float)
'''


def _smooth_field(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    field = np.zeros((n, size, size), np.float32)
    for _ in range(4):
        cy, cx = rng.uniform(0, size, (2, n, 1, 1))
        width = rng.uniform(4, 10, (n, 1, 1))
        field += rng.uniform(0, 1, (n, 1, 1)) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width ** 2))
    return field / np.maximum(field.max(axis=(1, 2), keepdims=True), 1e-6)


def _draw_mark(cause: np.ndarray, hidden: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, size = len(cause), MARK_SIZE
    offset = np.asarray(MARK_BRIGHTNESS)[hidden][:, None, None]
    images = offset + 0.25 * _smooth_field(n, size, rng) + rng.normal(0, 0.02, (n, size, size))
    images = images.astype(np.float32)
    for i in np.flatnonzero(cause):
        y, x = rng.integers(3, size - 3, 2)
        images[i, y - 2:y + 3, x] = 1.0
        images[i, y, x - 2:x + 3] = 1.0
    return images.clip(0, 1)


def mark_confound(images: np.ndarray) -> np.ndarray:
    """1 for a bright image: the median pixel above the middle of the two brightness levels."""
    middle = np.mean(MARK_BRIGHTNESS) + 0.125
    return (np.median(images.reshape(len(images), -1), axis=1) > middle).astype(np.int64)


def mark(seed: int = 0, n: int = 3000, n_test: int = N_TEST) -> Construction:
    """A small plus sign (C=1) or none, on a smooth background that is bright (S=1) or dark, set by H."""
    return _construction(_draw_mark, n, seed, MARK_ORACLE, n_test)


# ---------------------------------------------------------------- digits: stroke thickness as the confound (28x28 grey)

DIGITS_ORACLE = '''_REFERENCE = np.load(Path(__file__).with_name("reference.npz"))
_IMAGES = _REFERENCE["images"].reshape(len(_REFERENCE["images"]), -1).astype(np.float32)
_HIGH = _REFERENCE["high"].astype(bool)


def cause_of(images):
    """The digit's class (see reference.npz's 'high'), the majority of the 5 nearest reference digits."""
    x = images.reshape(len(images), -1)
    if x.shape[1] != _IMAGES.shape[1]:        # colour: the digit is in one channel, the sum of them is its shape
        x = images.sum(axis=-1).clip(0, 1).reshape(len(images), -1)
    return _nearest_vote(x, _IMAGES, _HIGH).astype(float)
'''
THICK_INTERIOR = 0.6          # share of ink pixels whose four neighbours are ink: thin digits below, thick above


def _thinned(images: np.ndarray) -> np.ndarray:
    """Only the core of each stroke stays ink (its grey fringe fades)."""
    return images ** 4


def _thickened(images: np.ndarray) -> np.ndarray:
    """Grey dilation by a plus-shaped element, twice: every stroke about four pixels wider."""
    return _dilated(_dilated(images))


def _dilated(images: np.ndarray) -> np.ndarray:
    out = images.copy()
    out[:, 1:] = np.maximum(out[:, 1:], images[:, :-1])
    out[:, :-1] = np.maximum(out[:, :-1], images[:, 1:])
    out[:, :, 1:] = np.maximum(out[:, :, 1:], images[:, :, :-1])
    out[:, :, :-1] = np.maximum(out[:, :, :-1], images[:, :, 1:])
    return out


def thickness_confound(images: np.ndarray) -> np.ndarray:
    """1 for thick strokes: many ink pixels lie inside a stroke (all four neighbours ink)."""
    ink = images > 0.5
    inner = ink[:, 1:-1, 1:-1] & ink[:, :-2, 1:-1] & ink[:, 2:, 1:-1] & ink[:, 1:-1, :-2] & ink[:, 1:-1, 2:]
    share = inner.sum(axis=(1, 2)) / np.maximum(ink.sum(axis=(1, 2)), 1)
    return (share > THICK_INTERIOR).astype(np.int64)


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    from viscause_gui.core.data.builtin import load_mnist_subset
    data = load_mnist_subset()
    return data.images.astype(np.float32), data.labels.astype(np.int64)


def thickness(seed: int = 0, n_test: int = N_TEST) -> Construction:
    """An odd digit (C=1) or even; thick strokes (S=1) or thin, set by H with P(H=1 | C) = .25 / .75."""
    digits, labels = _mnist()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits))
    test_idx, train_idx = order[:n_test], order[n_test:]
    cause = labels[train_idx] % 2
    hidden = (rng.random(len(cause)) < np.where(cause == 1, P_CAUSE_GIVEN_H[1], P_CAUSE_GIVEN_H[0])).astype(np.int64)
    t, p_t = _observations(cause, hidden, rng)
    test_hidden = (rng.random(n_test) < 0.5).astype(np.int64)
    train = digits[train_idx]
    reference = {"images": np.concatenate([_thinned(train), _thickened(train)]), "high": np.tile(cause, 2)}
    levels = _levels(hidden)
    return Construction(_stroked(digits[train_idx], hidden), t, cause, hidden, p_t, 2 * cause + hidden,
                        _stroked(digits[test_idx], test_hidden), labels[test_idx] % 2, test_hidden, levels,
                        _oracle_file(DIGITS_ORACLE, levels), reference)


def _stroked(digits: np.ndarray, thick: np.ndarray) -> np.ndarray:
    return np.where(thick[:, None, None] == 1, _thickened(digits), _thinned(digits)).astype(np.float32)


# ---------------------------------------------------------------- Colored MNIST as Arjovsky et al. (14x14x2)

def cmnist_confound(images: np.ndarray) -> np.ndarray:
    """1 for green: more ink in the second channel."""
    return (images[..., 1].sum(axis=(1, 2)) > images[..., 0].sum(axis=(1, 2))).astype(np.int64)


def colored_mnist(seed: int = 0) -> Construction:
    """Arjovsky et al.'s construction (the package's, same seed): C = digit >= 5, T = C flipped w.p. .25
    (the flip is the hidden confounder), the colour = T flipped w.p. .1 / .2 in the two training
    environments, .9 in the test environment. Only `images` and `t` reach the run: no labels, no meta."""
    from viscause_gui.core.experiments import colored_mnist as cm
    made = cm.make_colored_mnist(seed)
    train, test = made.train, made.test
    levels = cm.observational_levels()
    confound = cmnist_confound(train.images)
    kind = np.argsort(np.argsort(levels.ravel()))[2 * train.causal_class + confound]
    reference = {"images": cm.grey(train.images), "high": train.causal_class}
    shape_levels = tuple(float(v) for v in cm.SHAPE_ANSWERS)
    return Construction(train.images.astype(np.float32), train.t, train.causal_class, confound,
                        levels[train.causal_class, confound], kind, test.images.astype(np.float32), test.causal_class,
                        cmnist_confound(test.images), shape_levels, _oracle_file(DIGITS_ORACLE, shape_levels),
                        reference, test_t=test.t)


# ---------------------------------------------------------------- the suite

SETS: dict[str, Callable[[int], Construction]] = {
    "colored_mnist": colored_mnist, "shapes64": shapes, "texture": texture, "mark": mark, "thickness": thickness}
CONFOUNDS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "colored_mnist": cmnist_confound, "shapes64": shapes_confound, "texture": texture_confound,
    "mark": mark_confound, "thickness": thickness_confound}


def confound_of(name: str, images: np.ndarray) -> np.ndarray:
    """S (0/1) measured in the pixels of images of set `name`."""
    return CONFOUNDS[name](np.asarray(images, np.float32))


def write_set(name: str, folder: Path, seed: int = 0) -> Construction:
    """Build set `name` and write data.npz, test.npz, truth.npz, oracle.py (and reference.npz) into `folder`."""
    made = SETS[name](seed)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "data.npz", images=made.images.astype(np.float32), t=made.t.astype(np.int64))
    np.savez_compressed(folder / "test.npz", images=made.test_images.astype(np.float32))
    truth = {"cause": made.cause, "confound": made.confound, "p_t": made.p_t, "kind": made.kind,
             "test_cause": made.test_cause, "test_confound": made.test_confound, "levels": np.asarray(made.levels)}
    if made.test_t is not None:
        truth["test_t"] = made.test_t
    np.savez_compressed(folder / "truth.npz", **truth, meta=np.array(json.dumps({"set": name, "seed": seed})))
    if made.reference is not None:
        np.savez_compressed(folder / "reference.npz", images=made.reference["images"].astype(np.float32),
                            high=made.reference["high"].astype(np.int64))
    (folder / "oracle.py").write_text(made.oracle_source)
    return made
