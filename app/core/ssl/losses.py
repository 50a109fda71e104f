"""Self-supervised losses with the names, arguments and values of lightly's.

Plain torch. Each class mirrors the lightly loss of the same name (constructor arguments, forward
signature, constants and order of terms) so that values and gradients match; cross-rank gathering
uses `app.core.ssl.distributed`, whose gradients are not divided by the world size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.core.ssl import distributed


class MemoryBank(nn.Module):
    """FIFO bank of negatives, stored as (num_features, dim) rows, unit-normalised at random init.

    The bank and its pointer are persistent buffers, so a checkpoint resumes training exactly.

    `size` is 0 (disabled), a `(num_features, dim)` pair (initialised now), or a bare positive
    int (the dim is taken from the first batch and the bank initialised then).
    """

    bank: Tensor
    bank_ptr: Tensor

    def __init__(self, size: int | Sequence[int], gather_distributed: bool = False) -> None:
        super().__init__()
        size_tuple = (int(size),) if isinstance(size, int) else tuple(int(s) for s in size)
        if any(s < 0 for s in size_tuple) or len(size_tuple) not in (1, 2):
            raise ValueError(f"Illegal memory bank size {size}: use 0, N or (N, dim), N >= 0.")
        self.num_features = size_tuple[0]
        self.gather_distributed = gather_distributed
        self.register_buffer("bank", torch.empty(0, dtype=torch.float))
        self.register_buffer("bank_ptr", torch.zeros(1, dtype=torch.long))
        if len(size_tuple) == 2 and self.num_features > 0:
            self._init_bank(size_tuple[1])

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        saved = state_dict.get(prefix + "bank")
        if saved is not None and saved.shape != self.bank.shape:
            self.bank = torch.empty_like(saved, device=self.bank.device)
        super()._load_from_state_dict(state_dict, prefix, *args)

    @property
    def enabled(self) -> bool:
        """Whether the bank holds negatives (size > 0)."""
        return self.num_features > 0

    @torch.no_grad()
    def _init_bank(self, dim: int) -> None:
        bank = torch.randn(self.num_features, dim).type_as(self.bank)
        self.bank = F.normalize(bank, dim=-1)
        self.bank_ptr = torch.zeros(1, dtype=torch.long, device=self.bank.device)

    def negatives(self, batch: Tensor, update: bool) -> Tensor:
        """Return the current bank as (dim, num_features), then enqueue `batch` if `update`."""
        if self.bank.numel() == 0:
            self._init_bank(batch.shape[1])
        bank = self.bank.clone().detach().t()
        if update:
            self._enqueue(batch)
        return bank

    @torch.no_grad()
    def _enqueue(self, batch: Tensor) -> None:
        if self.gather_distributed:
            batch = distributed.gather(batch)
        batch = batch.detach()
        n = batch.shape[0]
        ptr = int(self.bank_ptr)
        if ptr + n >= self.num_features:
            self.bank[ptr:] = batch[: self.num_features - ptr]
            self.bank_ptr.zero_()
        else:
            self.bank[ptr : ptr + n] = batch
            self.bank_ptr[0] = ptr + n


class NTXentLoss(nn.Module):
    """SimCLR contrastive cross-entropy; with a memory bank, MoCo-style negatives.

    The bank is read on every call and updated only in training mode when the inputs require
    gradients (lightly updates whenever `out0.requires_grad`; Sieve also requires `self.training`).
    """

    def __init__(
        self,
        temperature: float = 0.5,
        memory_bank_size: int | Sequence[int] = 0,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        self.eps = 1e-8
        if abs(temperature) < self.eps:
            raise ValueError(f"Illegal temperature: abs({temperature}) < 1e-8")
        self.temperature = temperature
        self.gather_distributed = gather_distributed
        self.memory_bank = MemoryBank(memory_bank_size, gather_distributed=gather_distributed)

    def forward(self, out0: Tensor, out1: Tensor) -> Tensor:
        """Loss for two batches of projections, each (batch_size, dim)."""
        batch_size = out0.shape[0]
        out0 = F.normalize(out0, dim=1)
        out1 = F.normalize(out1, dim=1)

        if self.memory_bank.enabled:
            update = self.training and out0.requires_grad
            negatives = self.memory_bank.negatives(out1, update=update).to(out0.device)
            sim_pos = torch.einsum("nc,nc->n", out0, out1).unsqueeze(-1)
            sim_neg = torch.einsum("nc,ck->nk", out0, negatives)
            logits = torch.cat([sim_pos, sim_neg], dim=1) / self.temperature
            labels = torch.zeros(batch_size, device=out0.device, dtype=torch.long)
            return F.cross_entropy(logits, labels)

        offset = 0
        if self.gather_distributed and distributed.world_size() > 1:
            out0_all = distributed.gather(out0)
            out1_all = distributed.gather(out1)
            offset = distributed.rank() * batch_size
        else:
            out0_all, out1_all = out0, out1
        diag = torch.zeros(batch_size, out0_all.shape[0], dtype=torch.bool, device=out0.device)
        rows = torch.arange(batch_size, device=out0.device)
        diag[rows, rows + offset] = True

        logits_00 = torch.einsum("nc,mc->nm", out0, out0_all) / self.temperature
        logits_01 = torch.einsum("nc,mc->nm", out0, out1_all) / self.temperature
        logits_10 = torch.einsum("nc,mc->nm", out1, out0_all) / self.temperature
        logits_11 = torch.einsum("nc,mc->nm", out1, out1_all) / self.temperature
        logits_00 = logits_00[~diag].view(batch_size, -1)
        logits_11 = logits_11[~diag].view(batch_size, -1)
        logits = torch.cat(
            [torch.cat([logits_01, logits_00], dim=1), torch.cat([logits_10, logits_11], dim=1)],
            dim=0,
        )
        labels = (rows + offset).repeat(2)
        return F.cross_entropy(logits, labels)


class NegativeCosineSimilarity(nn.Module):
    """Mean negative cosine similarity (SimSiam)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x0: Tensor, x1: Tensor) -> Tensor:
        """Loss between two batches of the same shape."""
        return -F.cosine_similarity(x0, x1, self.dim, self.eps).mean()


def _batch_standardise(z: Tensor) -> Tensor:
    """Per-feature standardisation over the batch, exactly as batch norm in training mode."""
    return F.batch_norm(z, None, None, weight=None, bias=None, training=True)


def _off_diagonal(x: Tensor) -> Tensor:
    n = x.shape[0]
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


class BarlowTwinsLoss(nn.Module):
    """Barlow Twins: cross-correlation of standardised embeddings pushed towards identity."""

    def __init__(self, lambda_param: float = 5e-3, gather_distributed: bool = False) -> None:
        super().__init__()
        self.lambda_param = lambda_param
        self.gather_distributed = gather_distributed

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        """Loss for two batches of embeddings, each (batch_size, dim)."""
        c = _batch_standardise(z_a).T @ _batch_standardise(z_b) / z_a.shape[0]
        if self.gather_distributed and distributed.world_size() > 1:
            c = distributed.gather(c.unsqueeze(0)).mean(dim=0)
        invariance = (torch.diagonal(c) - 1).pow(2).sum()
        redundancy = _off_diagonal(c).pow(2).sum()
        return invariance + self.lambda_param * redundancy


def _variance_loss(x: Tensor, eps: float) -> Tensor:
    std = torch.sqrt(x.var(dim=0) + eps)
    return torch.mean(F.relu(1.0 - std))


def _covariance_loss(x: Tensor) -> Tensor:
    x = x - x.mean(dim=0)
    batch_size, dim = x.shape[0], x.shape[-1]
    off_diag = ~torch.eye(dim, device=x.device, dtype=torch.bool)
    cov = torch.einsum("b...c,b...d->...cd", x, x) / (batch_size - 1)
    return (cov[..., off_diag].pow(2).sum(-1) / dim).mean()


class VICRegLoss(nn.Module):
    """VICReg: invariance (MSE), variance (hinge on std) and covariance terms."""

    def __init__(
        self,
        lambda_param: float = 25.0,
        mu_param: float = 25.0,
        nu_param: float = 1.0,
        gather_distributed: bool = False,
        eps: float = 0.0001,
    ) -> None:
        super().__init__()
        self.lambda_param = lambda_param
        self.mu_param = mu_param
        self.nu_param = nu_param
        self.gather_distributed = gather_distributed
        self.eps = eps

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        """Loss for two batches of embeddings of the same shape, batch size > 1."""
        if z_a.shape[0] < 2 or z_b.shape[0] < 2:
            raise ValueError(f"VICRegLoss needs batch size > 1, got {z_a.shape[0]}, {z_b.shape[0]}")
        if z_a.shape != z_b.shape:
            raise ValueError(f"z_a and z_b shapes differ: {z_a.shape} vs {z_b.shape}")
        inv = F.mse_loss(z_a, z_b)
        if self.gather_distributed and distributed.world_size() > 1:
            z_a = distributed.gather(z_a)
            z_b = distributed.gather(z_b)
        var = 0.5 * (_variance_loss(z_a, self.eps) + _variance_loss(z_b, self.eps))
        cov = _covariance_loss(z_a) + _covariance_loss(z_b)
        return self.lambda_param * inv + self.mu_param * var + self.nu_param * cov


class DINOLoss(nn.Module):
    """DINO cross-entropy between centred, sharpened teacher and student views.

    Teacher temperature warms up linearly over `warmup_teacher_temp_epochs`; each forward updates
    the centre with momentum from the mean teacher output (averaged over ranks when distributed).
    """

    center: Tensor

    def __init__(
        self,
        output_dim: int = 65536,
        warmup_teacher_temp: float = 0.04,
        teacher_temp: float = 0.04,
        warmup_teacher_temp_epochs: int = 30,
        student_temp: float = 0.1,
        center_momentum: float = 0.9,
        *,
        center_from_first_batch: bool = False,
    ) -> None:
        super().__init__()
        self.center_from_first_batch = center_from_first_batch
        if center_from_first_batch:
            self.register_buffer("center_ready", torch.zeros((), dtype=torch.bool))
        self.teacher_temp = teacher_temp
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.warmup_teacher_temp_epochs = warmup_teacher_temp_epochs
        self.register_buffer("center", torch.zeros(1, 1, output_dim))
        self.teacher_temp_schedule = torch.linspace(
            warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs
        )

    def _teacher_temperature(self, teacher_temp: float | None, epoch: int | None) -> Tensor:
        if teacher_temp is None and epoch is not None and epoch < self.warmup_teacher_temp_epochs:
            return self.teacher_temp_schedule[epoch]
        return torch.tensor(self.teacher_temp if teacher_temp is None else teacher_temp)

    def forward(
        self,
        teacher_out: list[Tensor],
        student_out: list[Tensor],
        teacher_temp: float | None = None,
        epoch: int | None = None,
    ) -> Tensor:
        """Loss over all (teacher view, student view) pairs with different view indices."""
        temperature = self._teacher_temperature(teacher_temp, epoch)
        teacher = torch.stack(teacher_out)
        if self.center_from_first_batch and not bool(self.center_ready):
            self._start_center(teacher)
        t_prob = F.softmax((teacher - self.center) / temperature, dim=-1)
        s_logp = F.log_softmax(torch.stack(student_out) / self.student_temp, dim=-1)
        pair_loss = -torch.einsum("tbd,sbd->ts", t_prob, s_logp)
        pair_loss = pair_loss.fill_diagonal_(0)
        n_terms = pair_loss.numel() - pair_loss.diagonal().numel()
        if n_terms == 0:
            raise ValueError("DINOLoss needs at least two views in total to form cross-view pairs.")
        loss = pair_loss.sum() / (n_terms * teacher.shape[1])
        self.update_center(teacher)
        return loss

    @torch.no_grad()
    def update_center(self, teacher_out: Tensor) -> None:
        """Momentum update of the centre from stacked teacher outputs (views, batch, dim)."""
        batch_center = self._batch_center(teacher_out)
        self.center = self.center * self.center_momentum + batch_center * (1 - self.center_momentum)

    @torch.no_grad()
    def _start_center(self, teacher_out: Tensor) -> None:
        """Sieve's option: the first batch's mean replaces the zero centre before its loss.

        A zero centre makes the loss of a fresh run climb for its first dozens of steps while
        the moving average fills; starting from the first batch's mean removes that artefact.
        """
        self.center = self._batch_center(teacher_out)
        self.center_ready.fill_(True)

    @staticmethod
    def _batch_center(teacher_out: Tensor) -> Tensor:
        batch_center = torch.mean(teacher_out, dim=(0, 1), keepdim=True)
        if distributed.world_size() > 1:
            batch_center = distributed.all_reduce_sum(batch_center) / distributed.world_size()
        return batch_center


@torch.no_grad()
def sinkhorn(
    out: Tensor, iterations: int = 3, epsilon: float = 0.05, gather_distributed: bool = False
) -> Tensor:
    """Sinkhorn-Knopp soft assignments of `out` (batch, prototypes) with equipartition."""
    n_ranks = distributed.world_size() if gather_distributed else 1
    q = torch.exp(out / epsilon).t()
    sum_q = torch.sum(q)
    if n_ranks > 1:
        distributed.all_reduce_sum(sum_q)
    q /= sum_q
    total = q.shape[1] * n_ranks
    for _ in range(iterations):
        row_sums = torch.sum(q, dim=1, keepdim=True)
        if n_ranks > 1:
            distributed.all_reduce_sum(row_sums)
        q /= row_sums
        q /= torch.sum(q, dim=0, keepdim=True)
        q /= total
    q *= total
    return q.t()


class SwaVLoss(nn.Module):
    """SwaV swapped prediction: codes from each high-resolution view predict every other view.

    Returns a tensor of shape (1,), like lightly.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        sinkhorn_iterations: int = 3,
        sinkhorn_epsilon: float = 0.05,
        sinkhorn_gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.sinkhorn_iterations = sinkhorn_iterations
        self.sinkhorn_epsilon = sinkhorn_epsilon
        self.sinkhorn_gather_distributed = sinkhorn_gather_distributed

    def subloss(self, z: Tensor, q: Tensor) -> Tensor:
        """Cross-entropy between codes `q` and the softmax of prototype scores `z`."""
        return -torch.mean(torch.sum(q * F.log_softmax(z / self.temperature, dim=1), dim=1))

    def forward(
        self,
        high_resolution_outputs: list[Tensor],
        low_resolution_outputs: list[Tensor],
        queue_outputs: list[Tensor] | None = None,
    ) -> Tensor:
        """Loss from prototype scores of high- and low-resolution crops (and optional queues)."""
        n_high = len(high_resolution_outputs)
        n_crops = n_high + len(low_resolution_outputs)
        loss = high_resolution_outputs[0].new_zeros(1)
        for i, high in enumerate(high_resolution_outputs):
            scores = high.detach()
            if queue_outputs is not None:
                scores = torch.cat((scores, queue_outputs[i].detach()))
            q = sinkhorn(
                scores,
                iterations=self.sinkhorn_iterations,
                epsilon=self.sinkhorn_epsilon,
                gather_distributed=self.sinkhorn_gather_distributed,
            )[: high.shape[0]]
            subloss = high.new_zeros(1)
            for v, other in enumerate(high_resolution_outputs):
                if v != i:
                    subloss = subloss + self.subloss(other, q)
            for low in low_resolution_outputs:
                subloss = subloss + self.subloss(low, q)
            loss = loss + subloss / (n_crops - 1)
        return loss / n_high
