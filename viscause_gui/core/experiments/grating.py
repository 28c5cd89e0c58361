"""The GRATING experiment (docs/method.md): v-bar = spurious correlate, h-bar = visual cause.

H1, H2 are fair coins. H1 = 1 draws one vertical bar (a full column of ink) at a random
column; H2 = 1 one horizontal bar at a random row; a few noise pixels never form a bar by
themselves. T depends on H1 (the confounder) and on C = "an h-bar is present":
P(T=1 | H1, C) = base + w_h1 * H1 + w_c * C (default 0.1 + 0.3 H1 + 0.6 C).
In observational data H1 = 1 exactly when a v-bar is present, so
P(T=1 | I) = base + w_h1 * vbar(I) + w_c * hbar(I), while a manipulation leaves H1 to
its prior: P(T=1 | man(I)) = base + w_h1 * P(H1=1) + w_c * hbar(I).

Registered as the experiment "grating": the built-in data set with its generator settings, the
exact truth (oracle, causal levels, readout) of any data set it generated, and `viscause run grating`.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from viscause_gui.core.data.dataset import Dataset, DatasetError
from viscause_gui.core.experiments.registry import (BuiltinData, BuiltinExperiment, Option, Progress, RunOption,
                                                    RunRequest, register)
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
from viscause_gui.core.method.query_choice import DEFAULT_CHOICE
from viscause_gui.core.method.recipe import CYCLIC_SHIFTS
from viscause_gui.core.store.figures import plot_history
from viscause_gui.core.store.rundir import run_to_folder, save_history, save_model
from viscause_gui.core.system.memory import memory_problem


def has_hbar(images: np.ndarray) -> np.ndarray:
    """True per image when some row is all ink (every pixel >= 0.5)."""
    return np.any(np.all(np.asarray(images) >= 0.5, axis=-1), axis=-1)


def has_vbar(images: np.ndarray) -> np.ndarray:
    """True per image when some column is all ink."""
    return np.any(np.all(np.asarray(images) >= 0.5, axis=-2), axis=-1)


ROUNDING = 1e-9     # 0.1 + 0.3 + 0.6 may sum to 1 + 2e-16 in binary: that is a valid model


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
        if min(corners) < -ROUNDING or max(corners) > 1 + ROUNDING:
            raise ValueError(f"GRATING P(T=1 | H1, C) must lie in [0, 1], got {corners}")

    def p_t(self, h1: npt.ArrayLike, c: npt.ArrayLike) -> np.ndarray:
        """P(T=1 | H1, C)."""
        return np.clip(self.base + self.w_h1 * np.asarray(h1, float) + self.w_c * np.asarray(c, float), 0.0, 1.0)

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
                  "h1": h1.astype(int).tolist(), "h2": h2.astype(int).tolist(),
                  # a bar wrapped round the border is the same bar: T ignores cyclic shifts (the readout uses it)
                  "invariances": [CYCLIC_SHIFTS]},
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
    full_rows = np.all(images, axis=2)
    present = np.any(full_rows, axis=1)
    for i in range(len(images)):
        if target[i] == 1 and not present[i]:
            out[i] = images.shape[2] - images[i].sum(axis=1).max()
        elif target[i] == 0 and present[i]:
            out[i] = full_rows[i].sum()
    return out


class TruthOracle:
    """Exact P(T=1 | man(I)) of the GRATING model."""

    name = "truth"

    def __init__(self, model: GratingModel | None = None):
        self.model = model or GratingModel()

    def answer(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.p_causal(images), np.float64)


class SampledTruthOracle(TruthOracle):
    """Like the truth oracle, but answers with the mean of `samples` draws of T (a noisy experiment)."""

    name = "sampled"

    def __init__(self, model: GratingModel | None = None, samples: int = 1, seed: int = 0):
        super().__init__(model)
        self.samples = samples
        self.rng = np.random.default_rng(seed)

    def answer(self, images: np.ndarray) -> np.ndarray:
        p = super().answer(images)
        return self.rng.binomial(self.samples, p) / self.samples


# ---------------------------------------------------------------- the experiment's contributions

def load_grating(n: int = 10000, seed: int = 0, **model: Any) -> Dataset:
    """The built-in GRATING data set: n images drawn from a GratingModel (any of its fields)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DatasetError(f"grating: n must be a positive integer, got {n!r}")
    try:
        gm = GratingModel(**model)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"grating: {exc}") from exc
    ds = gm.sample(int(n), seed)
    ds.name = "grating"
    return ds


_MODEL = GratingModel()
GENERATOR_OPTIONS = (
    Option("n", "images n", "Number of images to draw", 2000, 10, 1_000_000, 1000, integer=True),
    Option("seed", "seed", "Random seed: the same seed gives the same images", 0, 0, 2**31 - 1, integer=True),
    Option("noise", "noise", "Fraction of the other pixels that are random ink", _MODEL.noise, 0.0, 0.49, 0.01),
    Option("p_h1", "P(H1 = 1)", "P(H1 = 1): how often the hidden confounder is on (it draws the v-bar and "
           "raises T)", _MODEL.p_h1, 0.0, 1.0, 0.05),
    Option("base", "base P(T=1)", "P(T=1 | H1=0, no h-bar)", _MODEL.base, 0.0, 1.0, 0.05),
    Option("w_h1", "weight of H1", "How much the hidden H1 adds to P(T=1) (its trace in the image is the "
           "v-bar: spurious)", _MODEL.w_h1, 0.0, 1.0, 0.05),
    Option("w_c", "weight of h-bar (C)", "How much the h-bar adds to P(T=1) (the visual cause)",
           _MODEL.w_c, 0.0, 1.0, 0.05),
)


def corners(options: dict[str, Any]) -> list[float]:
    """P(T=1 | H1, C) for (H1, C) = (0,0), (1,0), (0,1), (1,1)."""
    return [options["base"] + options["w_h1"] * h1 + options["w_c"] * c for c in (0, 1) for h1 in (0, 1)]


def _probability_cell(p: float) -> str:
    """A table cell with p, in red when it is no probability."""
    if 0 <= p <= 1:
        return f"<td align=right>{p:.2f}</td>"
    return f"<td align=right style='color:#c00'>{p:.2f}</td>"


def describe_options(options: dict[str, Any]) -> tuple[str, bool]:
    """The table of P(T=1 | H1, C) the settings give, and whether each lies in [0, 1]."""
    p00, p10, p01, p11 = corners(options)
    valid = all(0.0 <= p <= 1.0 for p in (p00, p10, p01, p11))
    note = "" if valid else "<br><span style='color:#c00'>each P(T=1 | H1, C) must lie in [0, 1]</span>"
    return ("<b>P(T=1 | H1, C)</b><table cellspacing=4>"
            "<tr><td></td><td>H1=0</td><td>H1=1</td></tr>"
            f"<tr><td>no h-bar</td>{_probability_cell(p00)}{_probability_cell(p10)}</tr>"
            f"<tr><td>h-bar</td>{_probability_cell(p01)}{_probability_cell(p11)}</tr></table>{note}"), valid


class GratingTruth:
    """What the GRATING model says exactly: the truth oracle, the causal levels, the readout."""

    title = "Truth (GRATING)"

    def __init__(self, model: GratingModel):
        self.model = model

    def oracle(self) -> TruthOracle:
        return TruthOracle(self.model)

    def causal_levels(self) -> np.ndarray:
        return self.model.causal_levels()

    def readout(self, image: np.ndarray) -> list[tuple[str, str]] | None:
        if image.shape != (self.model.size, self.model.size):
            return None
        h, v = bool(has_hbar(image[None])[0]), bool(has_vbar(image[None])[0])
        return [("bars", f"h-bar {'yes' if h else 'no'} · v-bar {'yes' if v else 'no'}"),
                ("P(T=1 | I)", f"{float(self.model.p_obs(image[None])[0]):.2f}"),
                ("P(T=1 | man(I))", f"{float(self.model.p_causal(image[None])[0]):.2f}")]


RECIPES: dict[str, dict[str, Any]] = {
    "default": {},
    # the paper's: no shifts, answers weighted 1, the manipulator's cross-entropy, queries drawn at random
    "paper": {"augment_shifts": 0, "query_weight": 1.0, "binary_margin": 0.0, "queries_by": "random"},
}


class GratingExperiment(BuiltinExperiment):
    name = "grating"
    title = "GRATING: the h-bar causes T, the v-bar is a spurious correlate"
    datasets = (BuiltinData("grating", "GRATING: 10x10 binary bars (h-bar = cause, v-bar = spurious), generated "
                            "from a seed", load_grating, GENERATOR_OPTIONS, describe_options, opens_first=True),)
    oracles = ("truth",)

    def truth(self, data: Dataset) -> GratingTruth | None:
        model = data.meta.get("model") if isinstance(data.meta, dict) else None
        if data.meta.get("source") != "grating" or not isinstance(model, dict):
            return None
        try:
            return GratingTruth(GratingModel(**model))
        except (TypeError, ValueError):
            return None

    run_options = (
        RunOption("--n-obs", "grating: observational images (default 10000)", int, 10000, lo=1,
                  what="a positive integer"),
        RunOption("--recipe", "grating: 'paper' = the paper's recipe (no shift augmentation, answers weighted 1, "
                  "cross-entropy manipulator, queries at random)", str, "default", choices=tuple(sorted(RECIPES))),
    )

    def check_run(self, request: RunRequest) -> None:
        n_obs = request.options["n_obs"]
        # the images, their noise mask and the training tensors: about eight float32 copies
        problem = memory_problem(n_obs * _MODEL.size ** 2 * 4 * 8, f"--n-obs {n_obs:,}")
        if problem is not None:
            raise ValueError(f"{problem}; choose fewer observational images")

    def run(self, request: RunRequest, out: Path, progress: Progress) -> None:
        started = time.perf_counter()
        n_obs, recipe_name = request.options["n_obs"], request.options["recipe"]
        model = GratingModel()
        data = model.sample(n_obs, request.seed)
        recipe = dict(RECIPES[recipe_name])
        recipe_choice = recipe.pop("queries_by", DEFAULT_CHOICE)       # --queries-by wins over the recipe's
        queries_by = request.queries_by or recipe_choice
        config = ExperimentConfig(iterations=request.iterations, queries=request.queries, alpha=request.alpha,
                                  seed=request.seed, queries_by=queries_by, **recipe)
        experiment = Experiment(data, config)
        progress(f"GRATING: {n_obs} observational images, {request.iterations} iterations x "
                 f"{request.queries} queries")
        run_to_folder(experiment, TruthOracle(model), out, progress, started)
        extra = {"experiment": "grating", "oracle": request.oracle, "n_obs": n_obs, "recipe": recipe_name,
                 "seconds_total": round(time.perf_counter() - started, 3)}
        save_history(out, experiment, extra)
        save_model(out, experiment)
        plot_history([{"label": f"GRATING ({recipe_name})", "iterations": [r.to_json() for r in experiment.history]}],
                     out / "history.png", title="GRATING, truth oracle")


register(GratingExperiment())
