"""Multi-crop forward: views of the same size go through a network together."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def forward_by_resolution(network: Callable[[Tensor], Tensor], views: list[Tensor]) -> list[Tensor]:
    """Outputs of ``network`` for every view, running consecutive same-sized views as one batch.

    As in the DINO and SwAV reference code (and lightly's ImageNet benchmarks), this is fewer,
    larger calls, and batch norm sees all crops of one resolution at once.
    """
    outputs: list[Tensor] = []
    start = 0
    while start < len(views):
        end = start + 1
        while end < len(views) and views[end].shape[1:] == views[start].shape[1:]:
            end += 1
        group = views[start:end]
        out = network(torch.cat(group))
        outputs.extend(out.split([v.shape[0] for v in group]))
        start = end
    return outputs
