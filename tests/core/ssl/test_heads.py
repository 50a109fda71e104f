"""Sieve's projection heads against lightly's (the oracle): same parameters, same outputs."""

from __future__ import annotations

import copy
import inspect

import pytest
import torch
from torch import nn

lightly = pytest.importorskip("lightly")

from lightly.models.modules import heads as lheads  # noqa: E402

from app.core.ssl import heads  # noqa: E402

# (class name, constructor arguments): small dimensions keep this fast.
CASES = [
    ("ProjectionHead", ([(12, 10, "bn", "relu"), (10, 6, None, None, True)],)),
    ("SimCLRProjectionHead", (12, 10, 6)),
    ("SimCLRProjectionHead", (12, 10, 6, 3, False)),
    ("SimCLRProjectionHead", (12, 10, 6, 1)),
    ("MoCoProjectionHead", (12, 10, 6)),
    ("MoCoProjectionHead", (12, 10, 6, 3, True)),
    ("SimSiamProjectionHead", (12, 10, 6)),
    ("SimSiamPredictionHead", (6, 4, 6)),
    ("BYOLProjectionHead", (12, 10, 6)),
    ("BYOLPredictionHead", (6, 10, 6)),
    ("BarlowTwinsProjectionHead", (12, 10, 6)),
    ("VICRegProjectionHead", (12, 10, 6)),
    ("VICRegProjectionHead", (12, 10, 6, 2)),
    ("VICRegProjectionHead", (12, 10, 6, 4)),
    ("NNCLRProjectionHead", (12, 10, 6)),
    ("NNCLRPredictionHead", (6, 10, 6)),
    ("DINOProjectionHead", (12, 10, 5, 7)),
    ("DINOProjectionHead", (12, 10, 5, 7, True, 1, False)),
    ("SwaVProjectionHead", (12, 10, 6)),
]

HEAD_NAMES = sorted({name for name, _ in CASES} | {"SwaVPrototypes"})


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from threads, and spinning ones crawl on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _blocks(spec: list[tuple]) -> list[tuple]:
    """Fresh modules for a symbolic block list (each head needs its own)."""
    made = {"bn": lambda dim: nn.BatchNorm1d(dim), "relu": lambda dim: nn.ReLU()}
    return [
        (i, o, made[bn](o) if bn else None, made[act](o) if act else None, *rest)
        for i, o, bn, act, *rest in spec
    ]


def _build(module, name: str, args: tuple) -> nn.Module:
    if name == "ProjectionHead":
        return module.ProjectionHead(_blocks(args[0]))
    return getattr(module, name)(*args)


def _assert_same_outputs(ours: nn.Module, theirs: nn.Module, in_dim: int) -> None:
    """Equal outputs and input gradients, in training mode and then in eval mode."""
    gen = torch.Generator().manual_seed(0)
    for training in (True, False):
        ours.train(training)
        theirs.train(training)
        x = torch.randn(8, in_dim, generator=gen)
        x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
        out_ours, out_theirs = ours(x_ours), theirs(x_theirs)
        torch.testing.assert_close(out_ours, out_theirs)
        (out_ours**2).sum().backward()
        (out_theirs**2).sum().backward()
        torch.testing.assert_close(x_ours.grad, x_theirs.grad)


@pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")
@pytest.mark.parametrize(
    ("name", "args"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
)
def test_head_matches_lightly(name: str, args: tuple) -> None:
    torch.manual_seed(0)
    theirs = _build(lheads, name, args)
    ours = _build(heads, name, args)
    ours.load_state_dict(theirs.state_dict())  # strict: same parameter names and shapes
    in_dim = args[0][0][0] if name == "ProjectionHead" else args[0]
    _assert_same_outputs(ours, theirs, in_dim)


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_constructor_arguments_match_lightly(name: str) -> None:
    ours = inspect.signature(getattr(heads, name).__init__).parameters
    theirs = inspect.signature(getattr(lheads, name).__init__).parameters
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]


@pytest.mark.parametrize("n_prototypes", [9, [9, 5]])
def test_swav_prototypes_match_lightly_without_bias(n_prototypes: int | list[int]) -> None:
    torch.manual_seed(0)
    theirs = lheads.SwaVPrototypes(6, n_prototypes)
    ours = heads.SwaVPrototypes(6, n_prototypes)
    for head in theirs.heads:
        nn.init.zeros_(head.bias)
    state = {k: v for k, v in theirs.state_dict().items() if not k.endswith("bias")}
    ours.load_state_dict(state)
    ours.normalize()
    theirs.normalize()
    x = torch.randn(8, 6)
    out_ours, out_theirs = ours(x), theirs(x)
    if isinstance(n_prototypes, int):
        out_ours, out_theirs = [out_ours], [out_theirs]
    assert len(out_ours) == len(out_theirs)
    for a, b in zip(out_ours, out_theirs, strict=True):
        torch.testing.assert_close(a, b)
    for head in ours.heads:
        torch.testing.assert_close(head.weight.norm(dim=1), torch.ones(head.weight.shape[0]))


def test_swav_prototype_gradients_are_cancelled_while_frozen() -> None:
    prototypes = heads.SwaVPrototypes(6, 9, n_steps_frozen_prototypes=2)
    for step, frozen in [(0, True), (1, True), (2, False)]:
        prototypes.zero_grad(set_to_none=True)
        prototypes(torch.randn(4, 6)).sum().backward()
        prototypes.cancel_prototype_gradients(step)
        assert (prototypes.heads[0].weight.grad is None) == frozen


def test_dino_last_layer_is_weight_normalised_with_fixed_scale() -> None:
    head = heads.DINOProjectionHead(12, 10, 5, 7, freeze_last_layer=1)
    assert not head.last_layer.weight_g.requires_grad
    torch.testing.assert_close(head.last_layer.weight_g, torch.ones(7, 1))
    torch.testing.assert_close(head.last_layer.weight.norm(dim=1), torch.ones(7))
    assert heads.DINOProjectionHead(
        12, 10, 5, 7, norm_last_layer=False
    ).last_layer.weight_g.requires_grad
    copy.deepcopy(head)  # teachers are deep copies; torch's weight_norm breaks this


@pytest.mark.parametrize(("epoch", "frozen"), [(0, True), (1, False)])
def test_dino_cancels_last_layer_gradients_while_frozen(epoch: int, frozen: bool) -> None:
    head = heads.DINOProjectionHead(12, 10, 5, 7, freeze_last_layer=1)
    head(torch.randn(4, 12)).pow(2).sum().backward()
    head.cancel_last_layer_gradients(current_epoch=epoch)
    assert (head.last_layer.weight_v.grad is None) == frozen
    assert head.layers[0].weight.grad is not None
