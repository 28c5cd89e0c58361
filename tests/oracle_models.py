"""Small oracle model files for the plugged-oracle tests: each answers "is there an h-bar?"
(a full row of ink) on 10x10 grey images, the cause in GRATING."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

HBAR_PYTHON = '''import numpy as np


def answer(images):
    hbar = np.any(np.all(images >= 0.5, axis=-1), axis=-1)
    return 0.25 + 0.6 * hbar
'''


def hbar_answer(images: np.ndarray) -> np.ndarray:
    """What HBAR_PYTHON's function answers."""
    return 0.25 + 0.6 * np.any(np.all(images >= 0.5, axis=-1), axis=-1)


class HBarNet(nn.Module):
    """Two logits (N, 2) from (N, 1, H, W): class 1 = an h-bar is present."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = x.amin(dim=3).amax(dim=2)[:, 0]
        z = 8.0 * (r - 0.5)
        return torch.stack([torch.zeros_like(z), z], dim=1)


def export_hbar(path: Path, batch: int | None = None) -> Path:
    """torch.export.save of HBarNet; batch None: a dynamic batch size, else that fixed size."""
    example = (torch.zeros(batch or 4, 1, 10, 10),)
    dynamic = None if batch else ({0: torch.export.Dim("batch")},)
    torch.export.save(torch.export.export(HBarNet(), example, dynamic_shapes=dynamic), str(path))
    return path


def script_hbar(path: Path) -> Path:
    torch.jit.script(HBarNet()).save(str(path))
    return path


def onnx_hbar(path: Path) -> Path:
    """An ONNX model (N, 1, 10, 10) -> one logit (N, 1), built with onnx.helper (opset 13)."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("ReduceMin", ["x"], ["rows"], axes=[3], keepdims=0),
             helper.make_node("ReduceMax", ["rows"], ["r"], axes=[1, 2], keepdims=1),
             helper.make_node("Sub", ["r", "half"], ["d"]),
             helper.make_node("Mul", ["d", "gain"], ["z"]),
             helper.make_node("Reshape", ["z", "shape"], ["logit"])]
    consts = [helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
              helper.make_tensor("gain", TensorProto.FLOAT, [], [8.0]),
              helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 1])]
    graph = helper.make_graph(nodes, "hbar", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 10, 10])],
                              [helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N", 1])], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
