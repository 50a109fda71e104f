"""NNCLR's support set: a FIFO bank of projections that answers nearest-neighbour queries."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.core.ssl import distributed


class NearestNeighbourBank(nn.Module):
    """FIFO bank of ``size`` projections of width ``dim``, started with random unit vectors.

    The bank and its write position are buffers, so they are saved with the model's state_dict.
    With ``gather_distributed`` every rank enqueues the projections of all ranks.
    """

    bank: Tensor
    bank_ptr: Tensor

    def __init__(self, size: int, dim: int, gather_distributed: bool = False) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"nearest-neighbour bank needs size and dim >= 1, got {size}, {dim}")
        self.gather_distributed = gather_distributed
        self.register_buffer("bank", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("bank_ptr", torch.zeros(1, dtype=torch.long))

    def forward(self, z: Tensor, update: bool = False) -> Tensor:
        """Nearest bank entry (cosine similarity) for each row of ``z``; then enqueue ``z``."""
        bank = self.bank.clone()
        if update:
            self._enqueue(z)
        similarity = F.normalize(z, dim=1) @ F.normalize(bank, dim=1).t()
        return bank[similarity.argmax(dim=1)]

    @torch.no_grad()
    def _enqueue(self, z: Tensor) -> None:
        if self.gather_distributed:
            z = distributed.gather(z)
        z = z.detach()
        size, ptr = self.bank.shape[0], int(self.bank_ptr)
        n = min(z.shape[0], size - ptr)
        self.bank[ptr : ptr + n] = z[:n]
        self.bank_ptr[0] = (ptr + n) % size
