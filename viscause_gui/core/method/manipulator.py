"""Algorithm 2 step 3: the manipulator.

For each start image i and target causal class c, find
    j = argmin_j (1 - alpha) * L(C(j), c) + alpha * d(i, j) / distance_scale
where L is the cross-entropy -log P_C(c | j) (so the search keeps pushing into the target
class while that pays, not just to its boundary) and C is one net or an ensemble (then L is
the worst member's loss: a change must convince every member, which closes the holes one
net has alone). Binary images: d = Hamming distance, searched by greedy pixel flips whose
effect is evaluated exactly. With `confidence` a hinge on the worst member's logit margin is
added to the cross-entropy (_worst_loss); the Experiment asks for one on binary images by default
(ExperimentConfig.binary_margin, Experiment.manipulator_confidence), so the flips go on until
every net is sure by that margin, not just about 90 % sure.

Grey images: d = L2 distance, searched by a DDN-like scheme (decoupled direction and norm,
Rony et al. 2019): per image, the nearest image in [0, 1]^pixels at which the worst member's
target logit margin (target logit minus the best other) reaches a depth kappa(alpha), moving
at most R(alpha) from the start image:

    kappa(alpha) = K * (1 - alpha) / alpha      K = `confidence` (default 2): the depth at alpha = 1/2
    R(alpha)     = distance_scale / alpha       (default distance_scale: sqrt(pixels) / 4)

So alpha says how deep into the target class the search goes against how far it may move:
- alpha = 1: kappa -> 0 (1e-3): the closest image the net puts in the target class, the
  theory's manipulator function M_C(i, k): a minimal flip of the net's own decision (as
  small as a DDN attack's), within distance_scale;
- alpha = 1/2: margin K: pushed into the class, not just to its boundary;
- alpha -> 0: ever deeper (kappa capped at 1e3) and farther (R -> infinity): the target at
  any distance. When the depth is out of reach, the deepest image found is returned.
This is the weighted objective's own trade-off made explicit: for a locally linear net the
minimiser of (1 - alpha) * loss + alpha * d / scale lies on a level set of the margin that
rises as alpha falls; the search goes straight to the nearest point of the level set
kappa(alpha) instead of descending the weighted sum (slow, and with Adam it ends several
times farther out than needed). Cost: a few to 40 forward + backward passes per image, each
image leaving the batch once its distance has settled; an ensemble of equal MLPs is run as
one wide net.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from viscause_gui.core.nets.models import MLP, as_batch
from viscause_gui.core.system.foreground import yield_to_foreground

ProgressFn = Callable[[int, int], bool | None]


@dataclass
class ManipulationResult:
    images: np.ndarray        # (N, H, W) float32, the manipulated images
    p_target: np.ndarray      # (N,) P(C = target | image) by the (worst member of the) net
    predicted_class: np.ndarray  # (N,) argmax class of the (mean) net
    distance: np.ndarray      # (N,) Hamming (binary) or L2 (grey) distance to the start image
    steps: int
    codes: np.ndarray | None = None   # (N, code) the generative model's code of each result (manifold search)


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


def worst_margin(nets: list[nn.Module], x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The worst member's target logit margin (M,): > 0 when every net puts the image in the target."""
    return torch.stack([_margin(net(x), target) for net in nets]).amin(dim=0)


def _worst_loss(nets: list[nn.Module], x: torch.Tensor, target: torch.Tensor,
                confidence: float | None = None) -> torch.Tensor:
    """Worst member's loss, (M, H, W), (M,) -> (M,).

    confidence=None: cross-entropy -log P(target | x). Otherwise the cross-entropy plus the hinge
    max(confidence - margin, 0) / (2 confidence) on the logit margin: unlike cross-entropy alone it
    does not flatten once the net is fairly sure, so the search goes on until the image is deep
    inside the target class (margin `confidence`), where a net's half-learned holes no longer reach.
    The cross-entropy leads the way while the image is far from the class (its slope is about one
    nat per logit there, so a flip that moves the margin a little still pays); the hinge, counted in
    units of twice the margin asked, takes only flips that buy a real part of the margin once the
    net is sure (at alpha = 1/2 on 10 x 10 pixels and margin 8: at least 1.6 logits per flip), not
    tenths of a logit from pixels the net weighs a little (on GRATING: a pixel off a v-bar).
    """
    ce = [-torch.log_softmax(net(x), dim=1).gather(1, target[:, None])[:, 0] for net in nets]
    if confidence is None:
        losses = ce
    else:
        unit = 2.0 * max(float(confidence), 1e-6)
        losses = [c + torch.clamp(confidence - _margin(net(x), target), min=0.0) / unit for c, net in zip(ce, nets)]
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
    images = as_batch(images, nets[0])
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
    n, shape = len(x0), x0.shape[1:]
    n_pix = x0[0].numel()           # every value flips on its own (each channel of a colour image)
    k = min(candidates or (n_pix if n_pix <= 256 else 64), n_pix)
    max_steps = max_steps or n_pix
    x = x0.clone()
    flat = x.view(n, -1)
    current = objective(x)
    active = torch.ones(n, dtype=torch.bool, device=x.device)
    step = 0
    for step in range(1, max_steps + 1):
        yield_to_foreground()
        idx = torch.nonzero(active)[:, 0]
        if len(idx) == 0:
            break
        pix = _candidate_pixels(objective, x[idx], idx, k)
        m = pix.shape[1]
        cand = flat[idx][:, None, :].repeat(1, m, 1)
        cand.scatter_(2, pix[:, :, None], 1.0 - cand.gather(2, pix[:, :, None]))
        obj = objective(cand.view(-1, *shape), idx, m).view(-1, m)
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
    n, n_values = len(x), x[0].numel()
    if k >= n_values:
        return torch.arange(n_values, device=x.device)[None].expand(n, -1)
    with torch.enable_grad():
        xg = x.clone().requires_grad_(True)
        _worst_loss(objective.nets, xg, objective.target[rows], objective.confidence).sum().backward()
    direction = (1.0 - 2.0 * x).flatten(1)  # +1 where a flip adds ink, -1 where it removes it
    assert xg.grad is not None, "backward() has filled it"
    gain = -(xg.grad.flatten(1) * direction)
    return gain.topk(k, dim=1).indices


# ---------------------------------------------------------------- grey images (L2)

GREY_DEFAULT_DEPTH = 2.0   # logit margin asked at alpha = 1/2 when `confidence` is None
GREY_MIN_DEPTH = 1e-3      # alpha = 1: just inside the target class (margin > 0), the minimal flip
GREY_MAX_DEPTH = 1e3       # alpha = 0: as deep as the radius and the steps allow
GREY_STEPS = 40            # default number of search steps (each one forward + backward pass)
GREY_GAMMA = 0.1           # relative change of the radius per step (DDN's gamma)
GREY_LR = (1.0, 0.01)      # step along the unit gradient, as a fraction of the radius, cosine-annealed
GREY_PATIENCE = 4          # stop once every image is at depth and its distance has not shrunk ...
GREY_SETTLED = 0.01        # ... by more than this fraction for GREY_PATIENCE steps


def _grey_depth(alpha: float, confidence: float | None) -> float:
    """kappa(alpha) = K (1 - alpha) / alpha, K = confidence (the depth asked at alpha = 1/2)."""
    k = GREY_DEFAULT_DEPTH if confidence is None else float(confidence)
    if alpha <= 0.0:
        return GREY_MAX_DEPTH
    return float(min(max(k * (1.0 - alpha) / alpha, GREY_MIN_DEPTH), GREY_MAX_DEPTH))


def _grey_radius(alpha: float, scale: float) -> float:
    """R(alpha) = distance_scale / alpha: the farthest the search may move from the start image."""
    return float("inf") if alpha <= 0.0 else float(scale) / alpha


class _MarginFn:
    """x (M, H, W), target (M,) -> the worst member's target logit margin (M,) and its gradient.

    MLPs (models.MLP; an ensemble of equal-shaped ones is stacked into one wide net: first
    layers side by side, later layers block-diagonal) are evaluated by hand: one matmul chain
    forward, the input gradient by the transposed chain (no autograd graph, which for one
    image costs more than the arithmetic: the alpha slider). Other nets go through autograd,
    one member at a time. The weights are read once, when the search starts, and detached:
    no weight gradient is ever computed, and a net training in another thread is not touched.
    """

    def __init__(self, nets: list[nn.Module]):
        self.nets = nets
        self.layers = _fuse_mlps(nets)

    def __call__(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The margin alone, differentiable through autograd (every kind of net)."""
        return worst_margin(self.nets, x, target)

    def value_and_grad(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.layers is None:
            with torch.enable_grad():
                xg = x.detach().requires_grad_(True)
                m = self(xg, target)
                (grad,) = torch.autograd.grad(m.sum(), xg)
            return m.detach(), grad
        with torch.no_grad():
            h, pre = x.flatten(1), []
            for i, (w, b) in enumerate(self.layers):
                h = torch.nn.functional.linear(h, w, b)
                if i < len(self.layers) - 1:
                    pre.append(h)
                    h = torch.relu(h)
            n, members = len(x), len(self.nets)
            logits = h.view(n, members, -1)                                  # (M, members, K)
            index = target.view(-1, 1, 1).expand(-1, members, 1)
            z_target = logits.gather(2, index)[..., 0]
            z_other, other = logits.scatter(2, index, float("-inf")).max(dim=2)
            m, worst = (z_target - z_other).min(dim=1)                         # worst member
            g = torch.zeros_like(logits)                                     # d margin / d logits
            rows = torch.arange(n, device=x.device)
            g[rows, worst, target] = 1.0
            g[rows, worst, other[rows, worst]] = -1.0
            g = g.view(n, -1)
            for i in range(len(self.layers) - 1, -1, -1):
                g = g @ self.layers[i][0]
                if i > 0:
                    g = g * (pre[i - 1] > 0)
        return m, g.view_as(x)


def _fuse_mlps(nets: list[nn.Module]) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """[(weight, bias)] of one wide MLP equal to the members side by side, or None if not MLPs."""
    mlps = [net for net in nets if type(net) is MLP]
    if not nets or len(mlps) < len(nets):
        return None
    layered = [[m for m in net.body if not isinstance(m, (nn.Flatten, nn.ReLU))] for net in mlps]
    kinds = [[type(m) for m in net.body] for net in mlps]
    if any(k != kinds[0] for k in kinds) or not all(isinstance(m, nn.Linear) for st in layered for m in st):
        return None
    stacks = [[m for m in st if isinstance(m, nn.Linear)] for st in layered]      # all of them, as checked
    if any([m.weight.shape for m in st] != [m.weight.shape for m in stacks[0]] for st in stacks):
        return None
    with torch.no_grad():
        layers = [(torch.cat([st[0].weight for st in stacks]).detach().clone(),
                   torch.cat([st[0].bias for st in stacks]).detach().clone())]
        for i in range(1, len(stacks[0])):
            layers.append((torch.block_diag(*[st[i].weight for st in stacks]).detach().clone(),
                           torch.cat([st[i].bias for st in stacks]).detach().clone()))
    return layers


def _gradient_l2(objective: _Objective, max_steps, progress):
    """Decoupled direction and norm (DDN-like) search for the nearest image at depth kappa(alpha).

    Per image: step along the normalised gradient of the worst member's target margin, then
    rescale the change to the current radius eps and project onto [0, 1]; eps shrinks by
    GREY_GAMMA while the iterate is at depth >= kappa and grows otherwise (never beyond
    R(alpha) or the farthest point of the box). The first radius is where the tangent plane
    reaches depth kappa (a DeepFool step), so few steps are needed. An image leaves the
    search once it is at depth and its distance has settled (GREY_PATIENCE, GREY_SETTLED).
    Returns, per image, the closest iterate at depth >= kappa, or the deepest iterate when
    none got there.
    """
    x0_all = objective.x0
    margin = _MarginFn(objective.nets)
    kappa = _grey_depth(objective.alpha, objective.confidence)
    radius = _grey_radius(objective.alpha, objective.scale)
    max_steps = max_steps or GREY_STEPS
    n, dev = len(x0_all), x0_all.device
    col = (-1,) + (1,) * (x0_all.dim() - 1)     # a per-image value as a column over the pixels
    result = x0_all.clone()
    # state of the images still searching (rows leave once settled; `rows` says which they are)
    rows = torch.arange(n, device=dev)
    x0, target = x0_all, objective.target
    x = x0.clone()
    cap = torch.maximum(x0, 1.0 - x0).flatten(1).norm(dim=1).clamp(max=radius)
    best, best_l2 = x0.clone(), torch.full((n,), float("inf"), device=dev)
    deepest, deepest_m = x0.clone(), torch.full((n,), float("-inf"), device=dev)
    stall = torch.zeros(n, dtype=torch.long, device=dev)
    eps = torch.zeros(n, device=dev)
    lr_hi, lr_lo = GREY_LR
    step = 0
    for step in range(1, max_steps + 1):
        yield_to_foreground()
        m, grad = margin.value_and_grad(x, target)
        delta = x - x0
        l2 = delta.flatten(1).norm(dim=1)
        reached = m >= kappa
        better = reached & (l2 < best_l2)
        stall = torch.where(better & (l2 < best_l2 * (1.0 - GREY_SETTLED)), 0, stall + 1)
        best_l2 = torch.where(better, l2, best_l2)
        best = torch.where(better.view(col), x, best)
        deeper = m > deepest_m
        deepest_m = torch.where(deeper, m, deepest_m)
        deepest = torch.where(deeper.view(col), x, deepest)
        if progress is not None and progress(step, max_steps):
            break
        g_norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
        if step == 1:
            eps = ((kappa - m).clamp_min(0.0) / g_norm * (1.0 + GREY_SETTLED)).clamp_min(1e-3)
        else:
            eps = torch.where(reached, eps * (1.0 - GREY_GAMMA), eps * (1.0 + GREY_GAMMA))
        eps = torch.minimum(eps, cap)
        lr = lr_lo + (lr_hi - lr_lo) * (1.0 + np.cos(np.pi * (step - 1) / max_steps)) / 2.0
        delta = delta + (lr * eps / g_norm).view(col) * grad
        delta = delta * (eps / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).view(col)
        x = (x0 + delta).clamp(0.0, 1.0)
        settled = ((stall >= GREY_PATIENCE) & torch.isfinite(best_l2)) | (best_l2 == 0)   # 0: was there already
        if bool(settled.any()):          # these images are done: write them out, search on without
            result[rows[settled]] = best[settled]
            keep = ~settled
            rows, x0, target, x, cap, best, best_l2, deepest, deepest_m, stall, eps = (
                t[keep] for t in (rows, x0, target, x, cap, best, best_l2, deepest, deepest_m, stall, eps))
            if len(rows) == 0:
                break   # every image is at depth kappa and its distance has stopped shrinking
    found = torch.isfinite(best_l2).view(col)
    result[rows] = torch.where(found, best, deepest)
    return result.detach(), step
