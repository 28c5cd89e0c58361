"""Nets rebuilt from files a user opened: the spec is checked (and sized) before anything is
allocated, the weights are read without unpickling anything and must match the spec exactly,
and every weight must be finite. Used by the session reader and the run folder (`predict`)."""
from __future__ import annotations

import io
import pickle
import zipfile
from typing import Any

import torch
from torch import nn

from viscause_gui.core.nets.models import build_net

MAX_PARAMETERS = 50_000_000        # per net: 200 MB of float32, far above any net this app trains
MAX_WEIGHTS_BYTES = 1024**3        # a weights file (and what it unpacks to)


class WeightsError(ValueError):
    """A net spec or a weights file cannot be used; the message says why (one line)."""


def net_of_spec(spec: Any, max_parameters: int = MAX_PARAMETERS) -> nn.Module:
    """The net a spec describes, built on the meta device (nothing is allocated); refuses a spec
    that cannot build a net or has more than `max_parameters` parameters."""
    if not isinstance(spec, dict):
        raise WeightsError(f"the net spec must be a JSON object, got {type(spec).__name__}")
    try:
        with torch.device("meta"):
            net = build_net(spec)
    except Exception as exc:  # ValueError, TypeError, KeyError, RuntimeError from a bad spec
        raise WeightsError(f"the net spec is invalid ({type(exc).__name__}: {exc})") from None
    n = sum(p.numel() for p in net.parameters())
    if n > max_parameters:
        raise WeightsError(f"the net spec asks for {n:,} parameters, more than the limit of {max_parameters:,}")
    return net


def read_state_dict(raw: bytes, what: str = "the weights") -> dict[str, torch.Tensor]:
    """A state_dict from the bytes of a `torch.save` file, read with weights_only (no code runs)."""
    if len(raw) > MAX_WEIGHTS_BYTES:
        raise WeightsError(f"{what}: more than {MAX_WEIGHTS_BYTES:,} bytes")
    if not raw.startswith(b"PK\x03\x04"):
        raise WeightsError(f"{what}: not a torch state_dict file")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as inner:
            unpacked = sum(i.file_size for i in inner.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise WeightsError(f"{what}: damaged ({exc})") from None
    if unpacked > MAX_WEIGHTS_BYTES:
        raise WeightsError(f"{what}: unpacks to too many bytes (zip bomb?)")
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = [ln.strip() for ln in str(exc).splitlines() if "GLOBAL" in ln or "Unsupported" in ln]
        raise WeightsError(f"{what}: holds objects other than tensors; refused, because loading it could "
                           f"run code ({found[0] if found else 'not a plain state_dict'})") from None
    except Exception as exc:  # RuntimeError, EOFError, ... on damaged data
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise WeightsError(f"{what}: cannot be read ({type(exc).__name__}: {first})") from None
    if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
        raise WeightsError(f"{what}: not a state_dict")
    return state


def net_from_state(spec: Any, state: dict[str, Any], what: str = "the net",
                   device: torch.device | None = None) -> nn.Module:
    """The net of `spec` with the weights of `state`: the same keys, shapes and dtypes as the
    spec's net, plain finite tensors only."""
    net = net_of_spec(spec)
    expected = net.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsError(f"{what}: its weights do not match the net spec "
                           f"(missing {missing[:4]}, unexpected {unexpected[:4]})")
    clean = {}
    for key, value in state.items():
        if not (isinstance(value, torch.Tensor) and type(value) in (torch.Tensor, nn.Parameter)):
            raise WeightsError(f"{what}: '{key}' is a {type(value).__name__}, not a tensor")
        if not (value.layout == torch.strided and value.dtype == expected[key].dtype
                and tuple(value.shape) == tuple(expected[key].shape)):
            raise WeightsError(f"{what}: '{key}' has shape {tuple(value.shape)} {value.dtype}, expected "
                               f"{tuple(expected[key].shape)} {expected[key].dtype}")
        if not bool(torch.isfinite(value).all()):
            raise WeightsError(f"{what}: '{key}' contains NaN or infinite weights")
        clean[key] = value.detach().clone().contiguous()
    net.load_state_dict(clean, strict=True, assign=True)
    if any(t.is_meta for t in [*net.parameters(), *net.buffers()]):
        raise WeightsError(f"{what}: weights are missing")
    return net.to(device or torch.device("cpu")).eval()
