"""A behaviour T with three outcomes, a visual cause and a confound: the set `bench_three_outcomes.py` runs.

A small robot turns left, goes straight up or turns right (T's outcomes "left", "up", "right") at a sign:
a white disc, square or triangle (the visual cause C, its shape) on a coloured background. The weather H,
hidden from the images' maker and the robot's owner alike, is one of three kinds; it paints the
background (red-ish, green-ish or blue-ish: the confound S = H, a colour in the image) and it also makes
the robot more likely to take its own outcome:

    H ~ uniform over {0, 1, 2};  P(C = H) = .6, each other shape .2  (shape and colour correlate)
    P(T | C, H) = w_C · e_C + w_H · e_H + .1 · (1/3, 1/3, 1/3)

with the weights (w_C, w_H) = (.4, .5) ("strong", the default) or (.6, .3) ("mild"). Observationally
P(T | I) = w_C e_C + w_H e_H + .033: nine observational classes, one per (shape, colour). With the strong
confound the colour says more about T than the shape: where they differ, the most probable outcome given
the image is the weather's (.53 against .43), so on the broken-confound test set the outcome the image
makes most probable is the sign's on only a third of the images. Under a manipulation the weather keeps
its prior, so P(T | do(C = c)) = w_C e_c + w_H P(H) + .033: three causal classes, one per shape (strong:
about .6 on the sign's outcome and .2 on each other; mild: .733 / .133 / .133). The colour predicts T
and causes nothing.

Written into a folder (same seed, same bytes):
- `data.npz`: `images` (N, 32, 32, 3) float32 in [0, 1], `t` (one observed outcome per image, 0-2) and a
  `meta` naming the outcomes: what a user brings to `viscause run`;
- `test.npz`: `images` of the broken-confound test set (shape and weather drawn independently);
- `truth.npz` (never seen by the run): `cause`, `confound`, `kind` (3 x cause + confound), `p_t`
  (P(T | I), (N, 3)), `test_cause`, `test_confound`, `levels` (P(T | do(C)), (3, 3));
- `oracle.py`: `answer(images)` = P(T | do(image)), (N, 3), from the shape in the pixels alone (the white
  silhouette's share of its bounding box: a square fills it, a disc about pi/4, a triangle about a half),
  a row of NaN where it finds no sign; numpy only. `answer_sampled(images)` answers one observed outcome
  per image instead (an integer 0-2, drawn from the same distribution; seeded by the images).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))    # imported as benchmarks.three_outcomes too
from unseen_suite import FILL_OF_BOUNDING_BOX

OUTCOMES = ("left", "up", "right")
SHAPES = ("disc", "square", "triangle")
SIZE = 32
P_CAUSE_IS_H = 0.6
W_NOISE = 0.1
CONFOUNDS = {"strong": (0.4, 0.5), "mild": (0.6, 0.3)}      # (w_C, w_H), w_C + w_H + W_NOISE = 1
BACKGROUNDS = ((0.80, 0.25, 0.20), (0.25, 0.70, 0.25), (0.20, 0.30, 0.80))   # red-ish, green-ish, blue-ish
N_TEST = 1000

ORACLE = '''"""The three-outcome set's oracle (benchmarks/three_outcomes.py): P(T | do(image)) from the sign's shape."""
import numpy as np

LEVELS = np.array({levels!r})    # P(T | do(C = c)), one row per shape: disc, square, triangle
LEVELS = LEVELS / LEVELS.sum(axis=1, keepdims=True)


''' + FILL_OF_BOUNDING_BOX + '''

def shape_of(images):
    """0 disc, 1 square, 2 triangle, NaN where no white sign of some size is found."""
    white = np.asarray(images, np.float32).min(axis=-1) > 0.7
    area, fill = _fill_of_bounding_box(white)
    shape = np.where(fill > 0.87, 1.0, np.where(fill > 0.62, 0.0, 2.0))
    return np.where(area < 20, np.nan, shape)


def answer(images):
    shape = shape_of(images)
    out = np.full((len(shape), LEVELS.shape[1]), np.nan)
    seen = np.isfinite(shape)
    out[seen] = LEVELS[shape[seen].astype(int)]
    return out


def answer_sampled(images):
    """One observed outcome per image (0, 1, 2; NaN: no sign), drawn from P(T | do(image))."""
    p = answer(images)
    rng = np.random.default_rng(int(np.asarray(images, np.float64).sum() * 1000) % 2**32)
    out = np.full(len(p), np.nan)
    for i in np.flatnonzero(np.isfinite(p).all(axis=1)):
        out[i] = rng.choice(p.shape[1], p=p[i])
    return out
'''


@dataclass
class ThreeOutcomes:
    images: np.ndarray
    t: np.ndarray
    cause: np.ndarray
    confound: np.ndarray
    p_t: np.ndarray
    test_images: np.ndarray
    test_cause: np.ndarray
    test_confound: np.ndarray
    levels: np.ndarray


def p_t_given(cause: np.ndarray, hidden: np.ndarray, confound: str = "strong") -> np.ndarray:
    """P(T | C, H) per image, (N, 3)."""
    w_cause, w_hidden = CONFOUNDS[confound]
    eye = np.eye(3)
    return w_cause * eye[cause] + w_hidden * eye[hidden] + W_NOISE / 3


def draw(cause: np.ndarray, hidden: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """32x32 RGB: a white disc, square or triangle of about equal area on a background set by the weather."""
    n = len(cause)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    background = np.asarray(BACKGROUNDS)[hidden] + rng.uniform(-0.08, 0.08, (n, 3))
    images = np.broadcast_to(background[:, None, None, :], (n, SIZE, SIZE, 3)).astype(np.float32).copy()
    images += rng.normal(0, 0.03, images.shape).astype(np.float32)
    radius = rng.uniform(5.0, 7.5, n)
    for i in range(n):
        r = radius[i]
        if cause[i] == 0:                                   # a disc
            cy, cx = rng.uniform(r + 1, SIZE - r - 2, 2)
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2
        elif cause[i] == 1:                                 # a square of the disc's area
            half = r * np.sqrt(np.pi) / 2
            cy, cx = rng.uniform(half + 1, SIZE - half - 2, 2)
            inside = np.maximum(np.abs(yy - cy), np.abs(xx - cx)) <= half
        else:                                               # a triangle, apex up, as wide as high, same area
            h = r * np.sqrt(2 * np.pi)
            top, cx = rng.uniform(1, SIZE - h - 1), rng.uniform(h / 2 + 1, SIZE - h / 2 - 2)
            dy = yy - top
            inside = (dy >= 0) & (dy <= h) & (np.abs(xx - cx) <= dy / 2)
        images[i][inside] = 0.95 + rng.normal(0, 0.02, (int(inside.sum()), 3))
    return images.clip(0, 1)


def confound_of(images: np.ndarray) -> np.ndarray:
    """The weather read off the background: which channel of the median border pixel is largest."""
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1)
    return np.median(border, axis=1).argmax(axis=1).astype(np.int64)


def build(seed: int = 0, n: int = 3000, n_test: int = N_TEST, confound: str = "strong") -> ThreeOutcomes:
    rng = np.random.default_rng(seed)
    hidden = rng.integers(0, 3, n)
    other = (hidden + rng.integers(1, 3, n)) % 3
    cause = np.where(rng.random(n) < P_CAUSE_IS_H, hidden, other)
    p_t = p_t_given(cause, hidden, confound)
    t = (rng.random(n)[:, None] > np.cumsum(p_t, axis=1)).sum(axis=1).astype(np.int64)
    images = draw(cause, hidden, rng)
    test_hidden, test_cause = rng.integers(0, 3, n_test), rng.integers(0, 3, n_test)
    test_images = draw(test_cause, test_hidden, rng)
    share = np.bincount(hidden, minlength=3) / n
    w_cause, w_hidden = CONFOUNDS[confound]
    levels = w_cause * np.eye(3) + w_hidden * share[None] + W_NOISE / 3
    return ThreeOutcomes(images, t, cause, hidden, p_t, test_images, test_cause, test_hidden, levels)


def write(folder: Path, seed: int = 0, n: int = 3000, n_test: int = N_TEST, confound: str = "strong") -> ThreeOutcomes:
    """The set's files in `folder` (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    s = build(seed, n, n_test, confound)
    meta = {"outcomes": list(OUTCOMES), "source": "benchmarks/three_outcomes.py", "seed": seed, "confound": confound}
    np.savez_compressed(folder / "data.npz", images=s.images, t=s.t, meta=np.array(json.dumps(meta)))
    np.savez_compressed(folder / "test.npz", images=s.test_images)
    np.savez_compressed(folder / "truth.npz", cause=s.cause, confound=s.confound, kind=3 * s.cause + s.confound,
                        p_t=s.p_t, test_cause=s.test_cause, test_confound=s.test_confound, levels=s.levels)
    (folder / "oracle.py").write_text(ORACLE.format(levels=np.round(s.levels, 6).tolist()))
    return s
