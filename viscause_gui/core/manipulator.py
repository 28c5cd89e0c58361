"""Algorithm 2 step 3: the manipulator.

For each start image i and target causal class c, find
    j = argmin_j (1 - alpha) * L(C(j), c) + alpha * d(i, j) / distance_scale
where L is the cross-entropy -log P_C(c | j) (so the search keeps pushing into the target
class while that pays, not just to its boundary) and C is one net or an ensemble (then L is
the worst member's loss: a change must convince every member, which closes the holes one
net has alone). Binary images: d = Hamming distance, searched by greedy pixel flips whose
effect is evaluated exactly. Grey images: d = L2 distance, searched by projected gradient
descent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

ProgressFn = Callable[[int, int], bool | None]


@dataclass
class ManipulationResult:
    images: np.ndarray        # (N, H, W) float32, the manipulated images
    p_target: np.ndarray      # (N,) P(C = target | image) by the (worst member of the) net
    predicted_class: np.ndarray  # (N,) argmax class of the (mean) net
    distance: np.ndarray      # (N,) Hamming (binary) or L2 (grey) distance to the start image
    steps: int


def as_ensemble(nets: nn.Module | Sequence[nn.Module]) -> list[nn.Module]:
    return [nets] if isinstance(nets, nn.Module) else list(nets)


def default_distance_scale(shape: tuple[int, int], binary: bool) -> float:
    """How much distance is worth one nat of classifier loss at alpha = 0.5 (tenth of the pixels)."""
    n_pixels = int(np.prod(shape))
    return n_pixels / 10.0 if binary else float(np.sqrt(n_pixels)) / 4.0


def _margin(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Target logit minus the best other logit (> 0: the net puts the image in the target class)."""
    z_target = logits.gather(1, target[:, None])[:, 0]
    others = logits.scatter(1, target[:, None], float("-inf"))
    return z_target - others.amax(dim=1)


def _worst_loss(nets: list[nn.Module], x: torch.Tensor, target: torch.Tensor,
                confidence: float | None = None) -> torch.Tensor:
    """Worst member's loss, (M, H, W), (M,) -> (M,).

    confidence=None: cross-entropy -log P(target | x). Otherwise the hinge
    max(confidence - margin, 0) on the logit margin: unlike cross-entropy it does not flatten
    once the net is fairly sure, so the search goes on until the image is deep inside the
    target class (margin `confidence`), where a net's half-learned holes no longer reach.
    """
    if confidence is None:
        losses = [-torch.log_softmax(net(x), dim=1).gather(1, target[:, None])[:, 0] for net in nets]
    else:
        losses = [torch.clamp(confidence - _margin(net(x), target), min=0.0) for net in nets]
    return torch.stack(losses).amax(dim=0)


@torch.no_grad()
def _summary(nets: list[nn.Module], x: torch.Tensor, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    p_target = torch.exp(-_worst_loss(nets, x, target)).cpu().numpy()
    mean_p = torch.stack([torch.softmax(net(x), dim=1) for net in nets]).mean(0)
    return p_target, mean_p.argmax(1).cpu().numpy()


@dataclass
class _Objective:
    """(1 - alpha) * worst member's loss + alpha * distance / scale, for images near x0."""

    nets: list[nn.Module]
    x0: torch.Tensor
    target: torch.Tensor
    alpha: float
    scale: float
    binary: bool
    confidence: float | None

    def __call__(self, x: torch.Tensor, rows: torch.Tensor | None = None, repeat: int = 1) -> torch.Tensor:
        x0, target = self.x0, self.target
        if rows is not None:
            x0, target = x0[rows], target[rows]
        if repeat > 1:
            x0, target = x0.repeat_interleave(repeat, 0), target.repeat_interleave(repeat, 0)
        diff = (x - x0).flatten(1)
        dist = diff.abs().sum(1) if self.binary else diff.norm(dim=1)
        loss = _worst_loss(self.nets, x, target, self.confidence)
        return (1 - self.alpha) * loss + self.alpha * dist / self.scale


def manipulate(
    nets: nn.Module | Sequence[nn.Module],
    images: np.ndarray,
    targets: np.ndarray,
    alpha: float = 0.5,
    binary: bool | None = None,
    distance_scale: float | None = None,
    confidence: float | None = None,
    max_steps: int | None = None,
    candidates: int | None = None,
    progress: ProgressFn | None = None,
) -> ManipulationResult:
    """Manipulate a batch of images towards target causal classes (see module docstring).

    confidence: logit margin the search aims for (None: plain cross-entropy, see _worst_loss).
    candidates: for binary search, evaluate only this many flips per image per step, ranked
    by the gradient (None = all pixels when the image is small, 64 otherwise).
    progress(step, max_steps) may return True to cancel (the images so far are returned).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    nets = as_ensemble(nets)
    for net in nets:
        net.eval()
    images = np.asarray(images, np.float32)
    if images.ndim == 2:
        images = images[None]
    targets = np.broadcast_to(np.asarray(targets, np.int64), (len(images),)).copy()
    if binary is None:
        binary = bool(np.all((images == 0) | (images == 1)))
    device = next(nets[0].parameters()).device
    x0 = torch.as_tensor(images, device=device)
    target = torch.as_tensor(targets, device=device)
    objective = _Objective(nets, x0, target, alpha,
                           distance_scale or default_distance_scale(images.shape[1:], binary),
                           binary, confidence)
    if binary:
        x, steps = _greedy_flips(objective, max_steps, candidates, progress)
    else:
        x, steps = _gradient_l2(objective, max_steps, progress)
    p_target, predicted = _summary(nets, x, target)
    diff = (x - x0).flatten(1)
    distance = diff.abs().sum(1) if binary else diff.norm(dim=1)
    return ManipulationResult(x.cpu().numpy().astype(np.float32), p_target, predicted,
                              distance.cpu().numpy(), steps)


@torch.no_grad()
def _greedy_flips(objective: _Objective, max_steps, candidates, progress):
    """Flip, per image and step, the one pixel that lowers the objective most; stop when none does."""
    x0 = objective.x0
    n, h, w = x0.shape
    n_pix = h * w
    k = min(candidates or (n_pix if n_pix <= 256 else 64), n_pix)
    max_steps = max_steps or n_pix
    x = x0.clone()
    flat = x.view(n, -1)
    current = objective(x)
    active = torch.ones(n, dtype=torch.bool, device=x.device)
    step = 0
    for step in range(1, max_steps + 1):
        idx = torch.nonzero(active)[:, 0]
        if len(idx) == 0:
            break
        pix = _candidate_pixels(objective, x[idx], idx, k)
        m = pix.shape[1]
        cand = flat[idx][:, None, :].repeat(1, m, 1)
        cand.scatter_(2, pix[:, :, None], 1.0 - cand.gather(2, pix[:, :, None]))
        obj = objective(cand.view(-1, h, w), idx, m).view(-1, m)
        best_obj, best = obj.min(dim=1)
        improves = best_obj < current[idx] - 1e-6
        rows, cols = idx[improves], pix[improves, best[improves]]
        flat[rows, cols] = 1.0 - flat[rows, cols]
        current[rows] = best_obj[improves]
        active[idx[~improves]] = False
        if progress is not None and progress(step, max_steps):
            break
    return x, step


def _candidate_pixels(objective: _Objective, x: torch.Tensor, rows: torch.Tensor, k: int) -> torch.Tensor:
    """All pixels, or the k whose flip the gradient of the classifier loss rates best."""
    n, h, w = x.shape
    if k >= h * w:
        return torch.arange(h * w, device=x.device)[None].expand(n, -1)
    with torch.enable_grad():
        xg = x.clone().requires_grad_(True)
        _worst_loss(objective.nets, xg, objective.target[rows], objective.confidence).sum().backward()
    direction = (1.0 - 2.0 * x).flatten(1)  # +1 where a flip adds ink, -1 where it removes it
    gain = -(xg.grad.flatten(1) * direction)
    return gain.topk(k, dim=1).indices


def _gradient_l2(objective: _Objective, max_steps, progress):
    """Projected Adam on the objective over [0, 1]^pixels, keeping each image's best iterate."""
    x0 = objective.x0
    max_steps = max_steps or 100
    delta = torch.zeros_like(x0, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=0.05)
    best_x = x0.clone()
    with torch.no_grad():
        best_obj = objective(x0)
    step = 0
    for step in range(1, max_steps + 1):
        x = (x0 + delta).clamp(0, 1)
        obj = objective(x)
        opt.zero_grad()
        obj.sum().backward()
        opt.step()
        with torch.no_grad():
            better = obj < best_obj
            best_obj = torch.where(better, obj, best_obj)
            best_x[better] = x[better].detach()
        if progress is not None and progress(step, max_steps):
            break
    return best_x.detach(), step
