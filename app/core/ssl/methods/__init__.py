"""Self-supervised methods, one class each, and the registry the trainer picks them from."""

from __future__ import annotations

from torch import nn

from app.core.errors import SieveError
from app.core.ssl.methods.barlowtwins import BarlowTwins
from app.core.ssl.methods.base import Method, MethodDefaults, OptionValue, StepOutput
from app.core.ssl.methods.byol import BYOL
from app.core.ssl.methods.dino import DINO
from app.core.ssl.methods.moco import MoCo
from app.core.ssl.methods.nnclr import NNCLR
from app.core.ssl.methods.simclr import SimCLR
from app.core.ssl.methods.simsiam import SimSiam
from app.core.ssl.methods.swav import SwaV
from app.core.ssl.methods.vicreg import VICReg

METHODS: dict[str, type[Method]] = {
    cls.name: cls for cls in (SimCLR, MoCo, SimSiam, BYOL, BarlowTwins, DINO, VICReg, SwaV, NNCLR)
}

__all__ = ["METHODS", "Method", "MethodDefaults", "StepOutput", "build_method", "method_names"]


def method_names() -> list[str]:
    """Names of the available methods, in registry order."""
    return list(METHODS)


def build_method(
    name: str,
    backbone: nn.Module,
    *,
    max_epochs: int,
    steps_per_epoch: int,
    gather_distributed: bool = False,
    **options: OptionValue,
) -> Method:
    """The method ``name`` around ``backbone``; ``options`` override its tunable defaults."""
    if name not in METHODS:
        raise SieveError(
            f"unknown self-supervised method {name!r}; choose one of: {', '.join(METHODS)}"
        )
    return METHODS[name](
        backbone,
        max_epochs=max_epochs,
        steps_per_epoch=steps_per_epoch,
        gather_distributed=gather_distributed,
        **options,
    )
