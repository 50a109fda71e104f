"""Choosing the training device and autocast precision."""

from __future__ import annotations

import torch

from app.core.errors import SieveError


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` = cuda > mps > cpu; an explicit device that is missing is a clear error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise SieveError("--device cuda: no CUDA GPU is available here (use --device cpu)")
        return torch.device("cuda", local_rank)
    if name == "mps":
        if not _mps_available():
            raise SieveError("--device mps: Apple's Metal backend is not available here")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise SieveError(f"unknown device {name!r}: use auto, cpu, cuda or mps")


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for full fp32. ``auto``: bf16 on CUDA if supported, else fp16."""
    if name == "fp32" or (name == "auto" and device.type != "cuda"):
        return None
    if name == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if name == "fp16" and device.type != "cuda":
        raise SieveError("fp16 autocast needs a CUDA GPU; use --precision fp32 or bf16")
    return torch.bfloat16 if name == "bf16" else torch.float16


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
