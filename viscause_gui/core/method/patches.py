"""The patch manipulator: Algorithm 2's search by pasting regions of real images of the target class.

The pixel search finds the nearest image the causal net puts in the target class; on grey and
colour images that is an adversarial smudge the net accepts and an oracle does not. The manifold
search moves along a generative model's manifold; an autoencoder trained on a few thousand images
decodes blurry, so a small cause (a mark, a stroke) is lost and the whole image moves towards a
prototype, confounded features and all. This search changes an image only by pasting in regions of
a real image of the target class, so every changed pixel is a real pixel, and it pastes as little
as it can, so what is not pasted (a background set by the confounder, say) stays as it was:

1. Donors (`DonorBank`): real images of each causal class that every net puts in that class, and
   per class the nets' median margin on them (D_c).
2. Per start image x0 and target c: the `candidates` donors of c nearest x0 (pixel L2). (Not the
   nearest of the deepest donors: in confounded data the deepest carry the confound too.)
3. Per (x0, donor xd): a mask m over a coarse grid of cells (`cells` along the shorter side; a cell
   is a square of pixels, so a paste is a region, not scattered pixels), x = x0 + m (xd - x0).
   m = sigmoid(theta) is fitted by Adam to the hinge on the worst member's target margin,
   relu(kappa - margin) / kappa, plus `distance_weight` times the change's L2 over the whole swap's.
4. The mask is made hard (m > 1/2: pasted or not) and grown by `GROW` cells all round (whole
   objects, not fragments of one).
5. Beside it, without gradients: the donor's cells ranked by how much they differ from x0, the
   fewest of the first ones that reach kappa pasted (grown the same way). Nets that are very sure
   of themselves have flat gradients where a faint blend of the donor is, and the fit then pastes
   nothing; the ranking still pastes the mark that differs.
6. Of the 2 x `candidates` images, the nearest whose worst net's margin reaches kappa is kept;
   where none does, the one with the largest margin.

alpha keeps its meaning: kappa(alpha) = D_c (1 - alpha) / alpha, as deep into the target class as
a typical real image of it at alpha = 1/2 (manifold.manifold_depth). Images (N, H, W) or (N, H, W, C).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from viscause_gui.core.method.manifold import manifold_depth
from viscause_gui.core.method.manipulator import (ManipulationResult, ProgressFn, _summary, as_ensemble,
                                                  worst_margin)
from viscause_gui.core.system.foreground import yield_to_foreground

CANDIDATES = 4            # donors tried per image
CELLS = 8                 # mask cells along the image's shorter side
STEPS = 80                # Adam steps fitting the masks
LEARNING_RATE = 0.2
DISTANCE_WEIGHT = 0.1     # the change's L2 (relative to the whole swap's) against the margin's hinge
START_LOGIT = -1.0        # masks start at sigmoid(-1) = 0.27 everywhere
DONORS_PER_CLASS = 1000
RANKED_PREFIXES = 16      # prefix sizes the gradient-free search tries (1 cell .. all, spaced geometrically)
GROW = 1                  # the pasted cells grow by this many all round: whole objects, not fragments of one
CHUNK_VALUES = 64 * 4096  # start images x donors x values searched at a time


@dataclass
class DonorBank:
    """Real images of each causal class that every net puts in it: what the patch search pastes from."""

    images: np.ndarray     # (P, H, W[, C]) float32
    labels: np.ndarray     # (P,) causal class of each
    depth: np.ndarray      # (K,) per class, the nets' median margin on its donors

    @classmethod
    def build(cls, nets: Sequence[nn.Module], images: np.ndarray, labels: np.ndarray,
              per_class: int = DONORS_PER_CLASS, seed: int = 0) -> DonorBank:
        nets = as_ensemble(nets)
        labels = np.asarray(labels, np.int64)
        rng = np.random.default_rng(seed)
        k = int(labels.max()) + 1 if len(labels) else 0
        index = np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:4 * per_class]
                                        for c in range(k)] or [np.zeros(0, np.int64)]))
        margin = _margins(nets, images[index], labels[index])
        chosen, depth = [], np.ones(k)
        for c in range(k):
            mine = labels[index] == c
            agree = np.flatnonzero(mine & (margin > 0))
            chosen.append((agree if len(agree) else np.flatnonzero(mine))[:per_class])
            if len(agree):
                depth[c] = float(np.median(margin[agree]))
        rows = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
        return cls(np.asarray(images[index[rows]], np.float32), labels[index[rows]], depth)

    def nearest(self, images: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
        """(N, k) donor rows: per image, the k donors of its target class nearest it (repeated when fewer)."""
        flat = self.images.reshape(len(self.images), -1)
        out = np.zeros((len(images), k), np.int64)
        for i, (x, c) in enumerate(zip(np.asarray(images).reshape(len(images), -1), targets)):
            pool = np.flatnonzero(self.labels == c)
            if len(pool) == 0:
                raise ValueError(f"no real image of causal class {int(c)} to paste from")
            d2 = ((flat[pool] - x) ** 2).sum(1)
            near = pool[np.argsort(d2, kind="stable")[:k]]
            out[i] = near[np.arange(k) % len(near)]
        return out

    def has_class(self, c: int) -> bool:
        return bool(np.any(self.labels == c))


def manipulate_by_patches(nets: nn.Module | Sequence[nn.Module], bank: DonorBank, images: np.ndarray,
                          targets: np.ndarray, alpha: float = 0.5, candidates: int = CANDIDATES,
                          cells: int = CELLS, steps: int = STEPS, progress: ProgressFn | None = None
                          ) -> ManipulationResult:
    """Each image changed into its target causal class by pasting regions of a real image of that class."""
    nets = as_ensemble(nets)
    images = np.asarray(images, np.float32)
    targets = np.asarray(targets, np.int64)
    kappa = manifold_depth(alpha, bank.depth)
    per_image = candidates * int(np.prod(images.shape[1:]))
    chunk = max(1, CHUNK_VALUES // max(per_image, 1))
    out = np.empty_like(images)
    for start in range(0, len(images), chunk):
        rows = slice(start, start + chunk)
        out[rows] = _search_chunk(nets, bank, images[rows], targets[rows], kappa[targets[rows]],
                                  candidates, cells, steps)
        if progress is not None and progress(min(start + chunk, len(images)), len(images)):
            break
    device = _device(nets)
    x = torch.as_tensor(out, device=device)
    with torch.no_grad():
        p_target, predicted = _summary(nets, x, torch.as_tensor(targets, device=device))
    distance = np.sqrt(((out - images) ** 2).reshape(len(images), -1).sum(1))
    return ManipulationResult(out, p_target, predicted, distance, steps)


def _search_chunk(nets: list[nn.Module], bank: DonorBank, images: np.ndarray, targets: np.ndarray,
                  kappa: np.ndarray, candidates: int, cells: int, steps: int) -> np.ndarray:
    device = _device(nets)
    rows = bank.nearest(images, targets, candidates)                                 # (n, k)
    n, k = rows.shape
    x0 = torch.as_tensor(np.repeat(images, k, axis=0), device=device)
    xd = torch.as_tensor(bank.images[rows].reshape(n * k, *images.shape[1:]), device=device)
    target = torch.as_tensor(np.repeat(targets, k), device=device)
    depth = torch.as_tensor(np.repeat(kappa, k), dtype=torch.float32, device=device)
    swap = xd - x0
    whole = swap.flatten(1).norm(dim=1) + 1e-6
    mask = _Mask(images.shape[1:], cells, n * k, device)
    optimiser = torch.optim.Adam([mask.theta], lr=LEARNING_RATE)
    for _ in range(steps):
        yield_to_foreground()
        change = mask.soft() * swap
        hinge = torch.relu(depth - worst_margin(nets, x0 + change, target)) / depth.clamp(min=1.0)
        loss = (hinge + DISTANCE_WEIGHT * change.flatten(1).norm(dim=1) / whole).sum()
        mask.theta.grad, = torch.autograd.grad(loss, [mask.theta])    # the nets' own gradients stay as they are
        optimiser.step()
    shape = images.shape[1:]
    with torch.no_grad():
        fitted = torch.where(mask.hard(GROW) > 0, xd, x0)          # real pixels, exactly
        ranked, ranked_margin = _most_different_cells(nets, mask, x0, xd, target, depth)
        tried = torch.stack([fitted, ranked], 1)                   # (n k, 2, ...): each donor, both searches
        margin = torch.stack([worst_margin(nets, fitted, target), ranked_margin], 1).view(n, 2 * k)
        distance = (tried - x0[:, None]).flatten(2).norm(dim=2).view(n, 2 * k)
    reached = margin >= depth.view(n, k, 1).expand(n, k, 2).reshape(n, 2 * k)
    nearest = torch.where(reached, distance, torch.full_like(distance, float("inf"))).argmin(1)
    chosen = torch.where(reached.any(1), nearest, margin.argmax(1))
    there = worst_margin(nets, x0.view(n, k, *shape)[:, 0], torch.as_tensor(targets, device=device))
    x = tried.view(n, 2 * k, *shape)[torch.arange(n, device=device), chosen]
    keep = (there >= torch.as_tensor(kappa, dtype=torch.float32, device=device)).cpu().numpy()
    result = x.detach().cpu().numpy()
    result[keep] = images[keep]                     # already as deep as asked: no change
    return result


def _most_different_cells(nets: list[nn.Module], mask: _Mask, x0: torch.Tensor, xd: torch.Tensor,
                          target: torch.Tensor, depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the donor's cells that differ most from the start image pasted first, as few as reach
    `depth` (grown by GROW cells): the gradient-free companion of the fitted mask, for nets so sure of
    themselves that a faint blend of the donor moves nothing (their gradient is flat there)."""
    energy = mask.cell_energy(xd - x0)                                          # (rows, cells)
    order = energy.argsort(dim=1, descending=True)
    cells = energy.shape[1]
    counts = np.unique(np.geomspace(1, cells, min(cells, RANKED_PREFIXES)).round().astype(int))
    best = torch.full((len(x0),), -1, dtype=torch.long, device=x0.device)      # smallest prefix that reaches
    deepest = torch.full((len(x0),), -float("inf"), device=x0.device)
    deepest_count = torch.full((len(x0),), cells, dtype=torch.long, device=x0.device)
    for count in counts[::-1]:                                                 # largest first: the last reach wins
        yield_to_foreground()
        x = torch.where(mask.expand_cells(_prefix(order, int(count), cells), GROW) > 0, xd, x0)
        margin = worst_margin(nets, x, target)
        best = torch.where(margin >= depth, torch.full_like(best, int(count)), best)
        better = margin > deepest
        deepest, deepest_count = torch.where(better, margin, deepest), torch.where(better, int(count), deepest_count)
    count = torch.where(best > 0, best, deepest_count)
    x = torch.where(mask.expand_cells(_prefix(order, count, cells), GROW) > 0, xd, x0)
    return x, worst_margin(nets, x, target)


def _prefix(order: torch.Tensor, count: int | torch.Tensor, cells: int) -> torch.Tensor:
    """(rows, cells) 0/1: per row the first `count` cells of `order`."""
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(cells, device=order.device).expand_as(order))
    limit = count if isinstance(count, int) else count[:, None]
    return (rank < limit).float()


class _Mask:
    """Per row a grid of cells over the image, each pasted (1) or not (0); fitted as logits."""

    def __init__(self, shape: tuple[int, ...], cells: int, rows: int, device: torch.device):
        self.height, self.width = int(shape[0]), int(shape[1])
        self.channels = len(shape) == 3
        self.cell = max(1, min(self.height, self.width) // max(cells, 1))
        grid = (-(-self.height // self.cell), -(-self.width // self.cell))
        self.theta = torch.full((rows, *grid), START_LOGIT, device=device, requires_grad=True)

    def _expand(self, m: torch.Tensor) -> torch.Tensor:
        m = m.repeat_interleave(self.cell, 1).repeat_interleave(self.cell, 2)[:, :self.height, :self.width]
        return m[..., None] if self.channels else m

    def soft(self) -> torch.Tensor:
        return self._expand(torch.sigmoid(self.theta))

    def hard(self, grow: int = 0) -> torch.Tensor:
        """The cells the fit pastes, grown by `grow` cells all round."""
        return self.expand_cells((self.theta > 0).float().flatten(1), grow)

    def expand_cells(self, chosen: torch.Tensor, grow: int = 0) -> torch.Tensor:
        """(rows, cells) 0/1 cells to a pixel mask, grown by `grow` cells all round."""
        m = chosen.view(-1, *self.theta.shape[1:])
        if grow:
            m = torch.nn.functional.max_pool2d(m[:, None], 2 * grow + 1, stride=1, padding=grow)[:, 0]
        return self._expand(m)

    def cell_energy(self, change: torch.Tensor) -> torch.Tensor:
        """(rows, cells): the squared change summed over each cell's pixels (and channels)."""
        squared = change ** 2
        if self.channels:
            squared = squared.sum(-1)
        grid = self.theta.shape[1:]
        padded = torch.nn.functional.pad(squared, (0, grid[1] * self.cell - self.width,
                                                   0, grid[0] * self.cell - self.height))
        return torch.nn.functional.avg_pool2d(padded[:, None], self.cell)[:, 0].flatten(1)


def _margins(nets: list[nn.Module], images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    device = _device(nets)
    out = []
    with torch.no_grad():
        for start in range(0, len(images), 1024):
            x = torch.as_tensor(np.asarray(images[start:start + 1024], np.float32), device=device)
            c = torch.as_tensor(labels[start:start + 1024], device=device)
            out.append(worst_margin(nets, x, c).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _device(nets: list[nn.Module]) -> torch.device:
    return next(nets[0].parameters()).device
