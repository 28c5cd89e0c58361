"""The manifold manipulator: Algorithm 2's search in the code space of a generative model.

Pixel search (method.manipulator) finds the nearest image the causal net puts in the target
class; on natural images that is an adversarial smudge, which the net accepts and a person
does not. This search moves only along the data's own manifold, as the generative model
(nets.generative.ConvAutoencoder) has learned it:

1. Encode the start image, z0 = enc(x0), and keep what the model does not capture,
   r = x0 - dec(z0): the image's own details. (dec here is the decoder with its logits
   scaled by SHARPEN: an autoencoder's decodes are blurrier than real strokes, and a blurry
   change would add grey no real image has.)
2. Prototype-guided paths: the codes of the `candidates` nearest real images of the target
   class (a `PrototypeBank`, real images the causal net itself puts in that class) are the
   ends of straight paths z(t) = z0 + t (zc - z0). Every point decodes as a residual change,
   x(t) = clip(dec(z(t)) + r * keep, 0, 1), keep = max(0, 1 - |dec(z(t)) - dec(z0)| / FADE):
   at t = 0 the image is exactly itself; where the decode changes much, the old stroke's
   details fade (no ghost of it is left behind).
3. Along every path, `grid` points are scored by the causal net (the worst member's target
   logit margin m) and by the pixel L2 distance to x0. The image kept is the nearest one at
   depth m >= kappa(alpha) within the radius R(alpha), refined by bisection on t between the
   last grid point short of the depth and the first one at it. An image already that deep
   is left as it is.

alpha keeps its meaning from the pixel search (distance still in pixels, L2 over every value
and channel): kappa(alpha) = D_c (1 - alpha) / alpha is how deep into the target class c the
result must be, where D_c is the nets' median margin on real images of c (alpha = 1/2: as
convincing as a typical real member; near 1: just over the boundary; near 0: deeper than
any real one), and R(alpha) = distance_scale / alpha is how far it may move; when no path
reaches the depth within the radius, the deepest point found is returned. Paths end only at
prototypes at least kappa deep (where the class has any), so a path can get there.

Images are (N, H, W) or (N, H, W, C): the generative model takes channels.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from viscause_gui.core.method.manipulator import (GREY_MAX_DEPTH, GREY_MIN_DEPTH, ManipulationResult, ProgressFn,
                                                  _grey_radius, _summary, as_ensemble, default_distance_scale,
                                                  worst_margin)
from viscause_gui.core.nets.generative import ConvAutoencoder
from viscause_gui.core.system.foreground import yield_to_foreground

CANDIDATES = 4          # prototype paths tried per image
GRID = 10               # points scored along each path
BISECTIONS = 6          # halvings of the bracket on the chosen path
FADE = 0.3              # 0: keep the whole residual; > 0: drop it where the decode changes by this much
SHARPEN = 2.0           # > 1: decoded strokes crisper than the model's (a blurry decode adds grey)
PROTOTYPES_PER_CLASS = 1000
DEEPEST_SHARE = 0.9      # an unreachable depth asks for prototypes this deep, relative to the class's deepest
CHUNK_VALUES = 256 * 784   # images searched at a time: 256 digits of 28x28, fewer of larger images
BANK_ARRAYS = ("codes", "labels", "depth", "decoded", "margins")     # what a run folder keeps of a bank


@dataclass
class PrototypeBank:
    """Codes of real images by causal class: the ends of the manipulator's paths."""

    codes: np.ndarray      # (P, code) float32
    labels: np.ndarray     # (P,) causal class of each
    depth: np.ndarray      # (K,) per class, the median margin the nets give its real images
    decoded: np.ndarray    # (P, values) the generative model's (sharpened) decode of each code, flattened
    margins: np.ndarray    # (P,) the nets' (worst member's) margin for its class, of the decode

    @classmethod
    def build(cls, model: ConvAutoencoder, nets: Sequence[nn.Module], images: np.ndarray, labels: np.ndarray,
              per_class: int = PROTOTYPES_PER_CLASS, seed: int = 0) -> PrototypeBank:
        """Codes of up to `per_class` images of each class that every net puts in that class."""
        nets = as_ensemble(nets)
        labels = np.asarray(labels, np.int64)
        rng = np.random.default_rng(seed)
        keep = []
        for c in np.unique(labels):
            members = np.flatnonzero(labels == c)
            keep.append(rng.permutation(members)[:4 * per_class])
        index = np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
        x = _tensor(images[index], model)
        own = torch.as_tensor(labels[index], device=x.device)
        with torch.no_grad():
            margin = worst_margin(nets, x, own).cpu().numpy()
            z = model.encode(x)
            decoded = sharp_decode(model, z)
            end_margin = worst_margin(nets, decoded, own).cpu().numpy()
            codes, decoded_rows = z.cpu().numpy(), decoded.flatten(1).cpu().numpy()
        agree = (margin > 0) & (end_margin > 0)
        chosen = []
        for c in np.unique(labels):
            rows = np.flatnonzero((labels[index] == c) & agree)
            if len(rows) == 0:
                rows = np.flatnonzero(labels[index] == c)
            chosen.append(rows[:per_class])
        rows = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
        depth = np.zeros(int(labels.max()) + 1 if len(labels) else 0)
        for c in np.unique(labels):
            inside = margin[(labels[index] == c) & agree]
            depth[c] = float(np.median(inside)) if len(inside) else 1.0
        return cls(codes[rows].astype(np.float32), labels[index][rows], depth, decoded_rows[rows].astype(np.float32),
                   end_margin[rows].astype(np.float32))

    def nearest(self, base: torch.Tensor, targets: torch.Tensor, k: int, depth: torch.Tensor) -> torch.Tensor:
        """(N, k, code): per image, the codes of the k prototypes of its target class whose decode
        is nearest (in pixels) the decode of the image, base = dec(z0): the paths whose whole
        change is smallest. Only prototypes at least `depth` (N,) deep count (capped at
        DEEPEST_SHARE of the class's deepest): a path can reach that depth before its end
        (repeated when the class has fewer)."""
        codes = torch.as_tensor(self.codes, device=base.device)
        labels = torch.as_tensor(self.labels, device=base.device)
        margins = torch.as_tensor(self.margins, device=base.device)
        d2 = torch.cdist(base.flatten(1), torch.as_tensor(self.decoded, device=base.device))
        wrong = labels[None, :] != targets[:, None]
        # deeper than any prototype of the class (a small alpha): its deepest ones, so a smaller
        # alpha never ends on shallower paths than a larger one
        deepest = torch.where(wrong, torch.full_like(d2, float("-inf")), margins[None, :]).amax(1)
        need = torch.minimum(depth, DEEPEST_SHARE * deepest)
        d2 = d2.masked_fill(wrong | (margins[None, :] < need[:, None]), float("inf"))
        k_eff = min(k, len(codes))
        idx = d2.topk(k_eff, dim=1, largest=False).indices
        if k_eff < k:
            idx = idx[:, torch.arange(k, device=base.device) % k_eff]
        return codes[idx]

    def has_class(self, c: int) -> bool:
        return bool(np.any(self.labels == c))


def sharp_decode(model: ConvAutoencoder, z: torch.Tensor) -> torch.Tensor:
    """The decode of codes z with the decoder's logits times SHARPEN: strokes as crisp as real ones."""
    return torch.sigmoid(model.decode_logits(z) * SHARPEN)


def _tensor(images: np.ndarray, model: nn.Module) -> torch.Tensor:
    device = next(model.parameters()).device
    return torch.as_tensor(np.asarray(images, np.float32), device=device)


def _l2(x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    return (x - x0).flatten(1).norm(dim=1)


@dataclass
class _Paths:
    """The straight code-space paths of a batch: x(t) for image rows and path ends."""

    model: ConvAutoencoder
    x0: torch.Tensor          # (N, ...) start images
    z0: torch.Tensor          # (N, code)
    base: torch.Tensor        # (N, ...) dec(z0)

    fade: float = FADE       # where the decode changes by this much, the image's residual is dropped

    @classmethod
    def start(cls, model: ConvAutoencoder, x0: torch.Tensor, fade: float = FADE) -> _Paths:
        z0 = model.encode(x0)
        return cls(model, x0, z0, sharp_decode(model, z0), fade)

    def image(self, rows: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The residual decode of codes z (M, code) for start images rows (M,): the change the
        model makes, added to the image, whose own details (what the model does not capture)
        fade out where the change is large (a stroke that moves leaves no ghost behind)."""
        x0, base = self.x0[rows], self.base[rows]
        change = sharp_decode(self.model, z) - base
        residual = x0 - base
        kept = (1.0 - change.abs() / self.fade).clamp(min=0.0) if self.fade > 0 else 1.0
        return (base + change + residual * kept).clamp(0.0, 1.0)

    def at(self, rows: torch.Tensor, ends: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(codes, images) at fractions t (M,) of the way from z0[rows] to ends (M, code)."""
        z = self.z0[rows] + t[:, None] * (ends - self.z0[rows])
        return z, self.image(rows, z)


@torch.no_grad()
def manipulate_on_manifold(
    nets: nn.Module | Sequence[nn.Module],
    model: ConvAutoencoder,
    bank: PrototypeBank,
    images: np.ndarray,
    targets: np.ndarray,
    alpha: float = 0.5,
    distance_scale: float | None = None,
    candidates: int = CANDIDATES,
    grid: int = GRID,
    fade: float = FADE,
    progress: ProgressFn | None = None,
    chunk: int | None = None,
) -> ManipulationResult:
    """Manipulate images towards target causal classes along the data's manifold (module docstring)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    nets = as_ensemble(nets)
    for net in nets:
        net.eval()
    model.eval()
    images = np.asarray(images, np.float32)
    if images.ndim == len(model.in_shape):
        images = images[None]
    targets = np.broadcast_to(np.asarray(targets, np.int64), (len(images),)).copy()
    missing = sorted({int(c) for c in targets if not bank.has_class(int(c))})
    if missing:
        raise ValueError(f"no real image of causal class {missing} to guide the search")
    kappa = manifold_depth(alpha, bank.depth)[targets]
    radius = _grey_radius(alpha, distance_scale or default_distance_scale(images.shape[1:], False))
    out = np.empty_like(images)
    ends = np.empty((len(images), model.code_size), np.float32)
    chunk = chunk or max(16, CHUNK_VALUES // int(np.prod(images.shape[1:])))     # bounded memory per chunk
    total = -(-len(images) // chunk)
    for i, lo in enumerate(range(0, len(images), chunk)):
        x, z = _search_chunk(nets, model, bank, images[lo:lo + chunk], targets[lo:lo + chunk],
                             kappa[lo:lo + chunk], radius, candidates, grid, fade)
        out[lo:lo + chunk], ends[lo:lo + chunk] = x, z
        if progress is not None and progress(i + 1, total):
            out[lo + chunk:] = images[lo + chunk:]
            break
    device = next(model.parameters()).device
    x_all, x0_all = torch.as_tensor(out, device=device), torch.as_tensor(images, device=device)
    p_target, predicted = _summary(nets, x_all, torch.as_tensor(targets, device=device))
    return ManipulationResult(out, p_target, predicted, _l2(x_all, x0_all).cpu().numpy(), grid + BISECTIONS,
                              codes=ends)


def manifold_depth(alpha: float, class_depth: np.ndarray) -> np.ndarray:
    """kappa(alpha) per class: the nets' median margin on the class's real images times
    (1 - alpha) / alpha (alpha = 1/2: as deep as a typical real image of the class)."""
    if alpha <= 0.0:
        return np.full(len(class_depth), GREY_MAX_DEPTH)
    return np.clip(np.asarray(class_depth, np.float64) * (1.0 - alpha) / alpha, GREY_MIN_DEPTH, GREY_MAX_DEPTH)


def _search_chunk(nets, model, bank, images, targets, kappa, radius, candidates, grid, fade):
    x0 = _tensor(images, model)
    target = torch.as_tensor(targets, device=x0.device)
    kappa_rows = torch.as_tensor(kappa, dtype=torch.float32, device=x0.device)
    n = len(x0)
    paths = _Paths.start(model, x0, fade)
    z0 = paths.z0
    ends = bank.nearest(paths.base, target, candidates, kappa_rows)                  # (n, k, code)
    k = ends.shape[1]
    rows = torch.arange(n, device=x0.device).repeat_interleave(k * grid)
    t_grid = torch.arange(1, grid + 1, device=x0.device, dtype=torch.float32) / grid
    t = t_grid.repeat(n * k)
    path_ends = ends.repeat_interleave(grid, dim=1).reshape(-1, ends.shape[2])
    yield_to_foreground()
    _, x = paths.at(rows, path_ends, t)
    m = worst_margin(nets, x, target[rows]).view(n, k, grid)
    d = _l2(x, x0[rows]).view(n, k, grid)
    ok = (m >= kappa_rows[:, None, None]) & (d <= radius)
    # per path, the first grid point at depth; per image, the path whose first point is nearest
    first = torch.where(ok.any(2), ok.float().argmax(2), torch.full((n, k), grid, device=x0.device))
    d_first = torch.where(first < grid, d.gather(2, first.clamp(max=grid - 1)[..., None])[..., 0],
                          torch.full((n, k), float("inf"), device=x0.device))
    best_path = d_first.argmin(1)
    reached = torch.isfinite(d_first.min(1).values)
    # images no path brought to depth: the deepest point within the radius
    m_in = torch.where(d <= radius, m, torch.full_like(m, float("-inf"))).view(n, -1)
    deepest = m_in.argmax(1)
    sel_path = torch.where(reached, best_path, deepest // grid)
    sel_step = torch.where(reached, first[torch.arange(n), best_path], deepest % grid)
    end = ends[torch.arange(n), sel_path]
    hi = t_grid[sel_step]
    lo = torch.where(reached, hi - 1.0 / grid, hi)
    every = torch.arange(n, device=x0.device)
    for _ in range(BISECTIONS):
        yield_to_foreground()
        mid = (lo + hi) / 2
        _, xm = paths.at(every, end, mid)
        good = (worst_margin(nets, xm, target) >= kappa_rows) & (_l2(xm, x0) <= radius) & reached
        hi = torch.where(good, mid, hi)
        lo = torch.where(good | ~reached, lo, mid)
    z, x = paths.at(every, end, hi)
    there = worst_margin(nets, x0, target) >= kappa_rows        # already as deep as asked: no change
    z = torch.where(there[:, None], z0, z)
    x = torch.where(there.view(-1, *([1] * (x.dim() - 1))), x0, x)
    return x.cpu().numpy(), z.cpu().numpy()


@torch.no_grad()
def manifold_path(model: ConvAutoencoder, image: np.ndarray, end_code: np.ndarray, steps: int = 6,
                  fade: float = FADE) -> np.ndarray:
    """(steps, ...) images from the start image to the manipulation's code, evenly spaced in t
    (the strip the GUI shows: how the image changes on its way to the result)."""
    model.eval()
    x0 = _tensor(np.asarray(image, np.float32)[None], model)
    paths = _Paths.start(model, x0, fade)
    t = torch.linspace(0.0, 1.0, steps, device=x0.device)
    end = torch.as_tensor(np.asarray(end_code, np.float32), device=x0.device)[None].expand(steps, -1)
    _, x = paths.at(torch.zeros(steps, dtype=torch.long, device=x0.device), end, t)
    return x.cpu().numpy()

