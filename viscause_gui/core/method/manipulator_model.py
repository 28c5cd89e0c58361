"""The manipulator as the GUI uses it: nets of its own, pixel or manifold search.

`ManipulatorModel` holds copies of the causal nets (and, for the manifold search, the
generative model and its prototype bank), so the α slider may use them freely while the
experiment's nets train in another thread (Experiment.manipulator_model makes one).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from viscause_gui.core.method.manifold import PrototypeBank, manifold_path, manipulate_on_manifold
from viscause_gui.core.method.manipulator import ManipulationResult, manipulate
from viscause_gui.core.method.patches import DonorBank, manipulate_by_patches
from viscause_gui.core.nets.generative import ConvAutoencoder
from viscause_gui.core.nets.models import as_batch, ensemble_proba

PIXELS, MANIFOLD, PATCHES = "pixels", "manifold", "patches"


@dataclass
class ManipulatorModel:
    nets: list[nn.Module]
    causal_levels: np.ndarray
    binary: bool
    distance_scale: float | None = None
    confidence: float | None = None
    iteration: int = 0
    generative: ConvAutoencoder | None = None
    bank: PrototypeBank | None = None
    search: str | None = None       # the search manipulate() runs by default (None: default_search)
    donors: DonorBank | None = None  # the patch search's real images to paste from

    @classmethod
    def copy_of(cls, nets: Sequence[nn.Module], causal_levels: np.ndarray, binary: bool,
                distance_scale: float | None, confidence: float | None, iteration: int,
                manifold: tuple[ConvAutoencoder, PrototypeBank] | None = None,
                donors: DonorBank | None = None) -> ManipulatorModel:
        """A model with copies of `nets` (and of the generative model; call only while no other
        thread trains them)."""
        own = [copy.deepcopy(net) for net in nets]
        generative, bank = (None, None) if manifold is None else (copy.deepcopy(manifold[0]), manifold[1])
        for net in own + ([generative] if generative is not None else []):
            net.eval()
            net.requires_grad_(False)   # the search needs gradients w.r.t. the image only
        return cls(own, np.array(causal_levels, np.float64), binary, distance_scale, confidence, iteration,
                   generative, bank, donors=donors)

    @classmethod
    def sharing(cls, nets: Sequence[nn.Module], causal_levels: np.ndarray, binary: bool,
                distance_scale: float | None, confidence: float | None, iteration: int,
                manifold: tuple[ConvAutoencoder, PrototypeBank] | None = None,
                donors: DonorBank | None = None) -> ManipulatorModel:
        """A model over `nets` themselves (no copies): for the thread that owns them."""
        generative, bank = (None, None) if manifold is None else manifold
        return cls(list(nets), np.asarray(causal_levels, np.float64), binary, distance_scale, confidence, iteration,
                   generative, bank, donors=donors)

    @property
    def n_classes(self) -> int:
        return len(self.causal_levels)

    @property
    def searches(self) -> tuple[str, ...]:
        """The searches this model can run: pixels always, the data manifold when it has a generative model,
        patches when it has donors (the last one is the default)."""
        manifold = (MANIFOLD,) if self.generative is not None and self.bank is not None else ()
        return (PIXELS, *manifold, *((PATCHES,) if self.donors is not None else ()))

    @property
    def default_search(self) -> str:
        return self.searches[-1]

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Mean ensemble class probabilities (N, K)."""
        images = as_batch(images, self.nets[0])
        return ensemble_proba(self.nets, images)

    def manipulate(self, images: np.ndarray, targets: np.ndarray, alpha: float,
                   cancelled: Callable[[], bool] | None = None, search: str | None = None) -> ManipulationResult:
        """The manipulation with the experiment's settings; `search` PIXELS, MANIFOLD or PATCHES (default:
        the last of `searches`); cancelled() stops the search early."""
        search = search or self.search or self.default_search
        if search not in self.searches:
            raise ValueError(f"this manipulator cannot search {search!r} (it can: {', '.join(self.searches)})")
        progress = None if cancelled is None else (lambda step, total: bool(cancelled()))
        # (searches has PATCHES only with donors, MANIFOLD only with the generative model and its bank)
        if search == PATCHES and self.donors is not None:
            return manipulate_by_patches(self.nets, self.donors, images, targets, alpha, progress=progress)
        if search == MANIFOLD and self.generative is not None and self.bank is not None:
            return manipulate_on_manifold(self.nets, self.generative, self.bank, images, targets, alpha,
                                          distance_scale=self.distance_scale, progress=progress)
        return manipulate(self.nets, images, targets, alpha, binary=self.binary,
                          distance_scale=self.distance_scale, confidence=self.confidence,
                          progress=progress)

    def path(self, image: np.ndarray, result_code: np.ndarray, steps: int = 6) -> np.ndarray:
        """Images on the way from `image` to a manifold result (its code): the panel's strip."""
        if self.generative is None:
            raise ValueError("only the manifold search has a path")
        return manifold_path(self.generative, image, result_code, steps)


def default_targets(probs: np.ndarray) -> np.ndarray:
    """Per image, the most probable causal class other than the predicted one."""
    probs = np.atleast_2d(np.asarray(probs, np.float64)).copy()
    probs[np.arange(len(probs)), probs.argmax(1)] = -np.inf
    return probs.argmax(1)
