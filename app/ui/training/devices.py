"""The devices this machine can train on, as labelled choices for the device field."""

from __future__ import annotations

import torch

from app.core.errors import SieveError
from app.core.ssl.devices import resolve_device


def gpu_names() -> list[str]:
    """Names of the CUDA GPUs torch sees, in index order."""
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def device_choices() -> list[tuple[str, str]]:
    """``(label, TrainConfig.device value)`` for auto, each GPU found, and the CPU."""
    choices = [("auto", "auto")]
    names = gpu_names()
    if names:
        label = f"GPU · {names[0]}"
        if len(names) > 1:
            others = ", ".join(names[1:])
            label += f" (GPU 0; also found {others}: train on all with torchrun)"
        choices.append((label, "cuda"))
    if _mps_available():
        choices.append(("Apple GPU (MPS)", "mps"))
    threads = torch.get_num_threads()
    choices.append((f"CPU · {threads} thread{'s' if threads != 1 else ''}", "cpu"))
    return choices


def device_label(name: str) -> str:
    """What ``name`` resolves to here, in words (for the auto item)."""
    kind = resolve_device(name).type
    if kind == "cuda":
        names = gpu_names()
        return names[0] if names else "GPU"
    return {"mps": "Apple GPU", "cpu": "CPU"}.get(kind, kind)


def trains_on_cpu(name: str) -> bool:
    try:
        return resolve_device(name).type == "cpu"
    except SieveError:
        return False
