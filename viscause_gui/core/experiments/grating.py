"""The GRATING generative model (THEORY.md): v-bar = spurious correlate, h-bar = visual cause.

H1, H2 are fair coins. H1 = 1 draws one vertical bar (a full column of ink) at a random
column; H2 = 1 one horizontal bar at a random row; a few noise pixels never form a bar by
themselves. T depends on H1 (the confounder) and on C = "an h-bar is present":
P(T=1 | H1, C) = base + w_h1 * H1 + w_c * C (default 0.1 + 0.3 H1 + 0.6 C).
In observational data H1 = 1 exactly when a v-bar is present, so
P(T=1 | I) = base + w_h1 * vbar(I) + w_c * hbar(I), while a manipulation leaves H1 to
its prior: P(T=1 | man(I)) = base + w_h1 * P(H1=1) + w_c * hbar(I).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from viscause_gui.core.data.dataset import Dataset


def has_hbar(images: np.ndarray) -> np.ndarray:
    """True per image when some row is all ink (every pixel >= 0.5)."""
    return np.any(np.all(np.asarray(images) >= 0.5, axis=-1), axis=-1)


def has_vbar(images: np.ndarray) -> np.ndarray:
    """True per image when some column is all ink."""
    return np.any(np.all(np.asarray(images) >= 0.5, axis=-2), axis=-1)


@dataclass(frozen=True)
class GratingModel:
    size: int = 10
    noise: float = 0.03
    p_h1: float = 0.5
    p_h2: float = 0.5
    base: float = 0.1
    w_h1: float = 0.3
    w_c: float = 0.6

    def __post_init__(self) -> None:
        if self.size < 3:
            raise ValueError("GRATING size must be at least 3")
        if not 0 <= self.noise < 0.5:
            raise ValueError("GRATING noise must lie in [0, 0.5)")
        for name in ("p_h1", "p_h2"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"GRATING {name} must lie in [0, 1]")
        corners = [self.base, self.base + self.w_h1, self.base + self.w_c, self.base + self.w_h1 + self.w_c]
        if min(corners) < 0 or max(corners) > 1:
            raise ValueError(f"GRATING P(T=1 | H1, C) must lie in [0, 1], got {corners}")

    def p_t(self, h1: np.ndarray, c: np.ndarray) -> np.ndarray:
        """P(T=1 | H1, C)."""
        return self.base + self.w_h1 * np.asarray(h1, float) + self.w_c * np.asarray(c, float)

    def p_obs(self, images: np.ndarray) -> np.ndarray:
        """Exact P(T=1 | I) of observational images (H1 read off the v-bar)."""
        return self.p_t(has_vbar(images), has_hbar(images))

    def p_causal(self, images: np.ndarray) -> np.ndarray:
        """Exact P(T=1 | man(I)): H1 keeps its prior under a manipulation."""
        return self.p_t(self.p_h1, has_hbar(images))

    def causal_levels(self) -> np.ndarray:
        """P(T=1 | man(I)) of causal class 0 (no h-bar) and 1 (h-bar)."""
        return self.p_t(self.p_h1, np.array([0, 1]))

    def causal_class(self, images: np.ndarray) -> np.ndarray:
        return has_hbar(images).astype(np.int64)

    def obs_class(self, images: np.ndarray) -> np.ndarray:
        """0 none, 1 v-bar only, 2 h-bar only, 3 both (ordered by P(T=1|I) for default weights)."""
        return (has_vbar(images).astype(np.int64) + 2 * has_hbar(images)).astype(np.int64)

    def sample(self, n: int, seed: int | np.random.Generator = 0) -> Dataset:
        """Draw n observational images with H1, H2 and one sample of T each."""
        rng = np.random.default_rng(seed)
        s = self.size
        h1 = rng.random(n) < self.p_h1
        h2 = rng.random(n) < self.p_h2
        images = np.zeros((n, s, s), np.float32)
        cols = rng.integers(0, s, n)
        rows = rng.integers(0, s, n)
        images[h1, :, cols[h1]] = 1.0
        images[h2, rows[h2], :] = 1.0
        noise = rng.random((n, s, s)) < self.noise
        images = np.maximum(images, noise.astype(np.float32))
        self._remove_noise_bars(images, h1, h2, cols, rows, rng)
        p_obs = self.p_t(h1, h2)
        t = (rng.random(n) < p_obs).astype(np.int64)
        return Dataset(
            images=images,
            p_obs=p_obs,
            t=t,
            obs_class=self.obs_class(images),
            causal_class=self.causal_class(images),
            meta={"source": "grating", "model": asdict(self), "n": int(n),
                  "h1": h1.astype(int).tolist(), "h2": h2.astype(int).tolist()},
            name="GRATING",
        )

    def _remove_noise_bars(self, images, h1, h2, cols, rows, rng) -> None:
        """Noise never completes a bar: clear one noise pixel of any accidental full row/column."""
        for i in np.flatnonzero(has_hbar(images) != h2):
            for r in np.flatnonzero(np.all(images[i] >= 0.5, axis=1)):
                if h2[i] and r == rows[i]:
                    continue
                free = [c for c in range(self.size) if not (h1[i] and c == cols[i])]
                images[i, r, rng.choice(free)] = 0.0
        for i in np.flatnonzero(has_vbar(images) != h1):
            for c in np.flatnonzero(np.all(images[i] >= 0.5, axis=0)):
                if h1[i] and c == cols[i]:
                    continue
                free = [r for r in range(self.size) if not (h2[i] and r == rows[i])]
                images[i, rng.choice(free), c] = 0.0


def min_flips_to_class(images: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Fewest pixel flips that give each binary image the target causal class without touching
    a v-bar: add = fill the fullest row; remove = clear one pixel of each full row outside v-bar
    columns (a row crossing every column cannot be cleared without breaking a v-bar)."""
    images = np.asarray(images) >= 0.5
    target = np.asarray(target)
    out = np.zeros(len(images), np.int64)
    full_rows = images.all(axis=2)
    present = full_rows.any(axis=1)
    for i in range(len(images)):
        if target[i] == 1 and not present[i]:
            out[i] = images.shape[2] - images[i].sum(axis=1).max()
        elif target[i] == 0 and present[i]:
            out[i] = full_rows[i].sum()
    return out
