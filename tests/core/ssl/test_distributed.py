"""Data-parallel training on CPU with two gloo processes equals one process on the global batch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from app.core.ssl import distributed
from app.core.ssl.backbones import build_backbone
from app.core.ssl.methods import build_method
from tests.factories import free_port

GLOBAL_BATCH = 8
SIZE = 16


def _model(gather: bool) -> nn.Module:
    torch.manual_seed(0)
    backbone = build_backbone("resnet18", None, SIZE)
    method = build_method(
        "simclr", backbone, max_epochs=1, steps_per_epoch=1, gather_distributed=gather
    )
    return method.eval()


def _views() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(GLOBAL_BATCH, 3, SIZE, SIZE, generator=gen) for _ in range(2)]


def _loss_and_grads(model: nn.Module, views: list[torch.Tensor]) -> tuple[float, list]:
    loss = model(views, 0, 0).loss
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    return float(loss.detach()), grads


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        ddp = nn.parallel.DistributedDataParallel(_model(gather=True))
        per_rank = GLOBAL_BATCH // world
        local = [v[rank * per_rank : (rank + 1) * per_rank] for v in _views()]
        loss, grads = _loss_and_grads(ddp, local)
        losses = distributed.gather_objects(loss)
        if rank == 0:
            torch.save({"losses": losses, "grads": grads}, out)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_match_one_process(tmp_path: Path):
    out = tmp_path / "ddp.pt"
    mp.spawn(_worker, args=(2, free_port(), str(out)), nprocs=2, join=True)
    result = torch.load(out, weights_only=True)

    single_loss, single_grads = _loss_and_grads(_model(gather=False), _views())

    mean_rank_loss = sum(result["losses"]) / len(result["losses"])
    assert mean_rank_loss == pytest.approx(single_loss, rel=1e-5)
    assert len(result["grads"]) == len(single_grads)
    for ddp_grad, grad in zip(result["grads"], single_grads, strict=True):
        torch.testing.assert_close(ddp_grad, grad, rtol=1e-4, atol=1e-6)
