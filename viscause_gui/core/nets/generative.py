"""A generative model of the loaded images: a small convolutional autoencoder.

The manifold manipulator (method.manifold) moves an image in this model's code space instead
of pixel space, so its changes look like the data (strokes that move, not grey smudges). The
model takes channels from the start: images are (N, H, W) grey or (N, H, W, C) with C
channels, values in [0, 1]; the same layout comes back out. Any H and W: the encoder pads to a
multiple of four and the decoder crops back.

It is described by a JSON-able spec like every net here (`models.build_net` knows
{"arch": "autoencoder", ...}), so its state_dict is saved and loaded without pickle. It trains
with nets.training.train_autoencoder (the signature of train_steps, so it also runs in the
training process).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn


DEFAULT_CODE = 32
DEFAULT_WIDTHS = (32, 64)


def generative_spec(model: ConvAutoencoder) -> dict[str, Any]:
    """The spec that rebuilds `model` (for a session or a run folder)."""
    return autoencoder_spec(model.in_shape, model.code_size, model.widths)


def autoencoder_spec(in_shape: tuple[int, ...], code: int = DEFAULT_CODE,
                     widths: Sequence[int] = DEFAULT_WIDTHS) -> dict[str, Any]:
    """The spec of an autoencoder for images of `in_shape` ((H, W) or (H, W, C))."""
    return {"arch": "autoencoder", "in_shape": [int(s) for s in in_shape], "code": int(code),
            "widths": [int(w) for w in widths]}


class ConvAutoencoder(nn.Module):
    """x (N, H, W[, C]) -> code (N, code) -> x' (N, H, W[, C]), x' in [0, 1].

    Two strided 4x4 convolutions down to (H/4, W/4), a linear code, the mirror image up.
    """

    def __init__(self, in_shape: tuple[int, ...], code: int = DEFAULT_CODE,
                 widths: Sequence[int] = DEFAULT_WIDTHS):
        super().__init__()
        if len(in_shape) not in (2, 3) or min(in_shape) < 1:
            raise ValueError(f"an autoencoder takes (H, W) or (H, W, C) images, got {tuple(in_shape)}")
        self.in_shape = tuple(int(s) for s in in_shape)
        self.height, self.width = self.in_shape[:2]
        self.channels = self.in_shape[2] if len(self.in_shape) == 3 else 1
        self.code_size = int(code)
        w1, w2 = (int(w) for w in widths)
        self.widths = (w1, w2)
        self.padded = (-(-self.height // 4) * 4, -(-self.width // 4) * 4)
        small = (self.padded[0] // 4, self.padded[1] // 4)
        self._small = small
        flat = w2 * small[0] * small[1]
        self.encoder = nn.Sequential(
            nn.Conv2d(self.channels, w1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(w1, w2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(flat, self.code_size))
        self.decoder_head = nn.Sequential(nn.Linear(self.code_size, flat), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(w2, w1, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(w1, self.channels, 4, stride=2, padding=1))

    def _to_planes(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, *self.in_shape)
        x = x.unsqueeze(1) if self.channels == 1 and x.dim() == 3 else x.permute(0, 3, 1, 2)
        ph, pw = self.padded[0] - self.height, self.padded[1] - self.width
        return nn.functional.pad(x, (0, pw, 0, ph)) if ph or pw else x

    def _from_planes(self, planes: torch.Tensor) -> torch.Tensor:
        planes = planes[:, :, :self.height, :self.width]
        return planes[:, 0] if len(self.in_shape) == 2 else planes.permute(0, 2, 3, 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self._to_planes(x))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.decoder_head(z).view(len(z), -1, *self._small)
        return self._from_planes(self.decoder(h))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


@torch.no_grad()
def encode(net: ConvAutoencoder, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Codes (N, code) of images, float32 numpy."""
    net.eval()
    device = next(net.parameters()).device
    out = [net.encode(torch.as_tensor(np.asarray(images[s:s + batch_size]), dtype=torch.float32,
                                      device=device)).cpu().numpy()
           for s in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, net.code_size), np.float32)


@torch.no_grad()
def reconstruction_error(net: ConvAutoencoder, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Per image, the root-mean-square difference between it and its reconstruction."""
    net.eval()
    device = next(net.parameters()).device
    out = []
    for s in range(0, len(images), batch_size):
        x = torch.as_tensor(np.asarray(images[s:s + batch_size]), dtype=torch.float32, device=device)
        out.append((net(x) - x).flatten(1).pow(2).mean(1).sqrt().cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)
