"""Sieve's SSL losses against lightly's (the oracle): equal values and input gradients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

lightly = pytest.importorskip("lightly")

from lightly import loss as lloss  # noqa: E402

from app.core.ssl import distributed, losses  # noqa: E402

RTOL = 1e-5
ATOL = 1e-6


def _inputs(seed: int, *shapes: tuple[int, ...], scale: float = 1.0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=gen) * scale for s in shapes]


def _check(
    ours: Callable[..., torch.Tensor],
    theirs: Callable[..., torch.Tensor],
    tensors: list[torch.Tensor],
    build: Callable[[list[torch.Tensor]], tuple[tuple, dict]] = lambda t: (tuple(t), {}),
) -> torch.Tensor:
    """Compare loss values and gradients w.r.t. every input tensor; return our value."""
    mine = [t.clone().requires_grad_(True) for t in tensors]
    ref = [t.clone().requires_grad_(True) for t in tensors]
    args, kwargs = build(mine)
    value = ours(*args, **kwargs)
    args, kwargs = build(ref)
    expected = theirs(*args, **kwargs)
    torch.testing.assert_close(value, expected, rtol=RTOL, atol=ATOL)
    value.sum().backward()
    expected.sum().backward()
    for a, b in zip(mine, ref, strict=True):
        if b.grad is None:  # inputs lightly detaches, e.g. SwaV queues
            assert a.grad is None
        else:
            torch.testing.assert_close(a.grad, b.grad, rtol=RTOL, atol=ATOL)
    return value


SHAPES = [(8, 16), (17, 32), (32, 128)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("temperature", [0.5, 0.1])
def test_ntxent_matches_lightly(shape: tuple[int, int], temperature: float) -> None:
    x = _inputs(0, shape, shape)
    _check(
        losses.NTXentLoss(temperature=temperature),
        lloss.NTXentLoss(temperature=temperature),
        x,
    )


def test_ntxent_rejects_zero_temperature() -> None:
    with pytest.raises(ValueError):
        losses.NTXentLoss(temperature=0.0)


@pytest.mark.parametrize(("bank", "batch", "dim"), [(64, 16, 32), (50, 12, 8)])
def test_ntxent_memory_bank_matches_lightly(bank: int, batch: int, dim: int) -> None:
    torch.manual_seed(123)
    ours = losses.NTXentLoss(temperature=0.2, memory_bank_size=(bank, dim))
    torch.manual_seed(123)
    theirs = lloss.NTXentLoss(temperature=0.2, memory_bank_size=(bank, dim))
    torch.testing.assert_close(ours.memory_bank.bank, theirs.memory_bank.bank)
    for step in range(5):  # the second 50-bank run wraps the pointer
        x = _inputs(step, (batch, dim), (batch, dim))
        _check(ours, theirs, x)
        torch.testing.assert_close(ours.memory_bank.bank, theirs.memory_bank.bank)
        assert int(ours.memory_bank.bank_ptr) == int(theirs.memory_bank.bank_ptr)


def test_ntxent_int_bank_initialises_on_first_call_like_lightly_tuple() -> None:
    torch.manual_seed(7)
    theirs = lloss.NTXentLoss(memory_bank_size=(32, 16))
    ours = losses.NTXentLoss(memory_bank_size=32)
    assert ours.memory_bank.bank.numel() == 0
    torch.manual_seed(7)  # our bank draws from the global generator on the first call
    for step in range(2):
        _check(ours, theirs, _inputs(step, (8, 16), (8, 16)))
    torch.testing.assert_close(ours.memory_bank.bank, theirs.memory_bank.bank)


def test_ntxent_memory_bank_not_updated_in_eval_or_without_grad() -> None:
    loss = losses.NTXentLoss(memory_bank_size=(32, 16))
    before = loss.memory_bank.bank.clone()
    a, b = (t.requires_grad_(True) for t in _inputs(1, (8, 16), (8, 16)))
    loss.eval()
    loss(a, b)
    torch.testing.assert_close(loss.memory_bank.bank, before)
    loss.train()
    with torch.no_grad():
        loss(a, b)
    torch.testing.assert_close(loss.memory_bank.bank, before)
    loss(a, b)
    assert not torch.equal(loss.memory_bank.bank, before)


@pytest.mark.parametrize("shape", [(8, 16), (24, 64), (4, 3, 10)])
def test_negative_cosine_similarity_matches_lightly(shape: tuple[int, ...]) -> None:
    dim = 1 if len(shape) == 2 else 2
    _check(
        losses.NegativeCosineSimilarity(dim=dim),
        lloss.NegativeCosineSimilarity(dim=dim),
        _inputs(2, shape, shape),
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("lambda_param", [5e-3, 0.1])
def test_barlow_twins_matches_lightly(shape: tuple[int, int], lambda_param: float) -> None:
    _check(
        losses.BarlowTwinsLoss(lambda_param=lambda_param),
        lloss.BarlowTwinsLoss(lambda_param=lambda_param),
        _inputs(3, shape, shape),
    )


@pytest.mark.parametrize("shape", [*SHAPES, (8, 4, 16)])
def test_vicreg_matches_lightly(shape: tuple[int, ...]) -> None:
    _check(losses.VICRegLoss(), lloss.VICRegLoss(), _inputs(4, shape, shape, scale=0.5))
    _check(
        losses.VICRegLoss(lambda_param=10.0, mu_param=5.0, nu_param=2.0, eps=1e-3),
        lloss.VICRegLoss(lambda_param=10.0, mu_param=5.0, nu_param=2.0, eps=1e-3),
        _inputs(5, shape, shape),
    )


def test_vicreg_rejects_bad_batches() -> None:
    with pytest.raises(ValueError):
        losses.VICRegLoss()(torch.randn(1, 4), torch.randn(1, 4))
    with pytest.raises(ValueError):
        losses.VICRegLoss()(torch.randn(4, 4), torch.randn(4, 5))


@pytest.mark.parametrize(
    ("n_teacher", "n_student", "batch", "dim"), [(2, 2, 8, 64), (2, 6, 16, 128)]
)
def test_dino_matches_lightly_over_warmup_and_center(
    n_teacher: int, n_student: int, batch: int, dim: int
) -> None:
    kwargs = dict(output_dim=dim, warmup_teacher_temp=0.02, teacher_temp=0.07)
    kwargs.update(warmup_teacher_temp_epochs=3, student_temp=0.1, center_momentum=0.8)
    ours = losses.DINOLoss(**kwargs)
    theirs = lloss.DINOLoss(**kwargs)

    def build(t: list[torch.Tensor], epoch: int) -> tuple[tuple, dict]:
        return (t[:n_teacher], t[n_teacher:]), {"epoch": epoch}

    for epoch in [0, 1, 2, 3, 10]:
        x = _inputs(epoch, *[(batch, dim)] * (n_teacher + n_student), scale=3.0)
        _check(ours, theirs, x, build=lambda t, e=epoch: build(t, e))
        torch.testing.assert_close(ours.center, theirs.center, rtol=RTOL, atol=ATOL)
    assert ours.center.abs().sum() > 0
    x = _inputs(99, *[(batch, dim)] * (n_teacher + n_student))
    _check(ours, theirs, x, build=lambda t: ((t[:n_teacher], t[n_teacher:]), {}))
    _check(
        ours, theirs, x, build=lambda t: ((t[:n_teacher], t[n_teacher:]), {"teacher_temp": 0.05})
    )
    torch.testing.assert_close(ours.center, theirs.center, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("n_high", "n_low", "batch", "k"), [(2, 0, 8, 10), (2, 4, 16, 30)])
@pytest.mark.parametrize("queue", [False, True])
def test_swav_matches_lightly(n_high: int, n_low: int, batch: int, k: int, queue: bool) -> None:
    n_queue = n_high if queue else 0
    x = _inputs(6, *[(batch, k)] * (n_high + n_low), *[(24, k)] * n_queue, scale=0.3)

    def build(t: list[torch.Tensor]) -> tuple[tuple, dict]:
        high, low = t[:n_high], t[n_high : n_high + n_low]
        return (high, low, t[n_high + n_low :] if queue else None), {}

    _check(losses.SwaVLoss(), lloss.SwaVLoss(), x, build=build)
    _check(
        losses.SwaVLoss(temperature=0.2, sinkhorn_iterations=5, sinkhorn_epsilon=0.1),
        lloss.SwaVLoss(temperature=0.2, sinkhorn_iterations=5, sinkhorn_epsilon=0.1),
        x,
        build=build,
    )


def test_gather_distributed_flag_is_single_process_without_group() -> None:
    x = _inputs(8, (8, 16), (8, 16))
    pairs = [
        (losses.NTXentLoss(gather_distributed=True), lloss.NTXentLoss()),
        (losses.BarlowTwinsLoss(gather_distributed=True), lloss.BarlowTwinsLoss()),
        (losses.VICRegLoss(gather_distributed=True), lloss.VICRegLoss()),
    ]
    for ours, theirs in pairs:
        _check(ours, theirs, x)


def test_gather_single_process_returns_input_and_passes_gradient() -> None:
    assert distributed.world_size() == 1
    assert distributed.rank() == 0
    x = torch.randn(5, 3, requires_grad=True)
    y = distributed.gather(x)
    torch.testing.assert_close(y, x)
    (y * 2).sum().backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, 2.0))


def test_dino_centre_can_start_from_the_first_batch() -> None:
    torch.manual_seed(0)
    teacher = [torch.randn(8, 32) + 3.0 for _ in range(2)]
    student = [torch.randn(8, 32) for _ in range(3)]
    plain = losses.DINOLoss(output_dim=32, warmup_teacher_temp_epochs=1)
    seeded = losses.DINOLoss(
        output_dim=32, warmup_teacher_temp_epochs=1, center_from_first_batch=True
    )
    mean = torch.stack(teacher).mean(dim=(0, 1), keepdim=True)
    centred = [t - mean[0] for t in teacher]
    expected = plain(centred, student, epoch=0)
    assert seeded(teacher, student, epoch=0) == pytest.approx(float(expected), rel=1e-6)
    assert bool(seeded.center_ready) and "center_ready" in seeded.state_dict()
    torch.testing.assert_close(seeded.center, mean)
    seeded(teacher, student, epoch=0)
    torch.testing.assert_close(seeded.center, mean)
