"""Self-supervised methods: registry, training steps, momentum networks, checkpoints, parity."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from app.core.errors import SieveError
from app.core.ssl.methods import METHODS, Method, StepOutput, build_method, method_names
from app.core.ssl.methods.momentum import cosine_schedule
from app.core.ssl.methods.multicrop import forward_by_resolution
from app.core.ssl.methods.nn_bank import NearestNeighbourBank

NAMES = ["simclr", "moco", "simsiam", "byol", "barlowtwins", "dino", "vicreg", "swav", "nnclr"]
MULTI_CROP = {"dino", "swav"}
_EMA = [("backbone", "momentum_backbone"), ("projection_head", "momentum_projection_head")]
MOMENTUM = {  # (online module, momentum copy) attribute pairs
    "moco": _EMA,
    "byol": _EMA,
    "dino": [("backbone", "teacher_backbone"), ("projection_head", "teacher_head")],
}
# Small widths and banks keep the tests fast; the architecture is the same.
SMALL = {
    "barlowtwins": {"projection_dim": 64, "hidden_dim": 64},
    "vicreg": {"projection_dim": 64, "hidden_dim": 64},
    "dino": {"output_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16},
    "moco": {"memory_bank_size": 64},
    "nnclr": {"memory_bank_size": 64},
    "swav": {"n_prototypes": 16},
}
BATCH = 8


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from threads, and spinning ones crawl on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TinyBackbone(nn.Module):
    """Two strided convolutions with batch norm and a global pool: (B, 3, H, W) -> (B, 16)."""

    feature_dim = 16

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, self.feature_dim, 3, stride=2, padding=1),
            nn.BatchNorm2d(self.feature_dim),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _views(name: str, seed: int = 1) -> list[Tensor]:
    """Two 32 px views, plus six 16 px local views for multi-crop methods."""
    gen = torch.Generator().manual_seed(seed)
    sizes = [32, 32] + ([16] * 6 if name in MULTI_CROP else [])
    return [torch.randn(BATCH, 3, s, s, generator=gen) for s in sizes]


def _method(name: str, seed: int = 0, small: bool = True, **options: float) -> Method:
    torch.manual_seed(seed)
    options = {**(SMALL.get(name, {}) if small else {}), **options}
    return build_method(name, TinyBackbone(), max_epochs=2, steps_per_epoch=5, **options)


def _train_step(method: Method, optimizer: torch.optim.Optimizer, views, epoch: int, step: int):
    out = method(views, epoch, step)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    method.before_optimizer_step(epoch, step)
    optimizer.step()
    method.after_optimizer_step(epoch, step)
    return out


def _sgd(method: Method, lr: float = 0.05) -> torch.optim.Optimizer:
    params = [p for p in method.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def _state_bytes(method: Method) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(method.state_dict(), buffer)
    buffer.seek(0)
    return buffer


# Registry and options


def test_registry_holds_the_nine_methods_in_order() -> None:
    assert method_names() == NAMES
    assert list(METHODS) == NAMES
    for name, cls in METHODS.items():
        assert issubclass(cls, Method)
        assert cls.name == name
        assert cls.summary
        assert cls.defaults.optimizer in {"sgd", "adamw", "lars"}
        assert cls.defaults.lr > 0 and cls.defaults.weight_decay >= 0
        assert cls.defaults.warmup_epochs >= 0 and cls.defaults.augment


def test_unknown_method_lists_the_names() -> None:
    with pytest.raises(SieveError, match="simclr, moco, .*nnclr"):
        build_method("mae", TinyBackbone(), max_epochs=1, steps_per_epoch=1)


def test_unknown_option_lists_the_valid_ones() -> None:
    with pytest.raises(SieveError, match="tempreature.*valid options: temperature, projection_dim"):
        build_method("simclr", TinyBackbone(), max_epochs=1, steps_per_epoch=1, tempreature=0.1)


@pytest.mark.parametrize("value", [32.5, "32", True])
def test_ill_typed_option_is_refused(value: object) -> None:
    with pytest.raises(SieveError, match="projection_dim"):
        build_method(
            "simclr", TinyBackbone(), max_epochs=1, steps_per_epoch=1, projection_dim=value
        )


def test_bad_schedule_is_refused() -> None:
    with pytest.raises(SieveError, match="max_epochs"):
        build_method("byol", TinyBackbone(), max_epochs=0, steps_per_epoch=3)


def test_options_override_the_defaults() -> None:
    method = _method("simclr", temperature=0.2, projection_dim=32.0)
    assert method.hparams == {"temperature": 0.2, "projection_dim": 32}
    assert isinstance(method.hparams["projection_dim"], int)
    assert method.criterion.temperature == 0.2
    assert method(_views("simclr"), 0, 0).projection.shape == (BATCH, 32)
    assert METHODS["simclr"].options == {"temperature": 0.5, "projection_dim": 128}


def test_backbone_without_feature_dim_is_refused() -> None:
    with pytest.raises(TypeError, match="feature_dim"):
        build_method("simclr", nn.Flatten(), max_epochs=1, steps_per_epoch=1)


@pytest.mark.parametrize("name", ["simclr", "dino"])
def test_wrong_number_of_views_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="views"):
        _method(name)(_views(name)[:1], 0, 0)


# One step with the default architecture


PROJECTION_DIM = {"byol": 256, "barlowtwins": 2048, "dino": 2048, "vicreg": 2048}


@pytest.mark.parametrize("name", NAMES)
def test_default_step_gives_finite_loss_and_gradients(name: str) -> None:
    method = _method(name, small=False)
    out = method(_views(name), 0, 0)
    assert isinstance(out, StepOutput)
    assert out.loss.shape == () and torch.isfinite(out.loss)
    assert out.projection.shape == (BATCH, PROJECTION_DIM.get(name, 128))
    assert not out.projection.requires_grad
    out.loss.backward()
    assert all(p.grad is not None for p in method.backbone.parameters())
    assert method.embed(_views(name)[0]).shape == (BATCH, TinyBackbone.feature_dim)


@pytest.mark.parametrize("name", NAMES)
def test_losses_are_float32_under_autocast(name: str) -> None:
    """The trainer runs forward under autocast; losses and their buffers stay in float32."""
    method = _method(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = method(_views(name), 0, 0)
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
    assert out.projection.dtype == torch.float32
    out.loss.backward()
    for buffer in method.buffers():
        assert buffer.dtype in (torch.float32, torch.long, torch.bool)


# Training on a fixed batch


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"dino"}))
def test_training_on_a_fixed_batch_lowers_the_loss(name: str) -> None:
    """Every method but DINO (whose centred teacher targets move) fits a fixed batch.

    MoCo's bank is first filled with keys of other images, then frozen: filled with keys of the
    same images its negatives would turn into positives and the loss would rise.
    """
    method, views = _method(name), _views(name)
    if name == "moco":
        for seed in range(2, 10):  # 8 batches of 8 fill the bank of 64
            method(_views(name, seed), 0, 0)
        method.criterion.eval()
    optimizer = _sgd(method, lr=0.1)
    losses = [_train_step(method, optimizer, views, 0, step).loss.item() for step in range(8)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0] - 0.02 * abs(losses[0]), losses


def test_dino_trains_its_student_but_not_its_last_layer_in_the_first_epoch() -> None:
    method, views = _method("dino"), _views("dino")
    optimizer = _sgd(method)
    last = method.projection_head.last_layer.weight_v
    start_last, start_first = last.detach().clone(), method.backbone.net[0].weight.detach().clone()
    _train_step(method, optimizer, views, 0, 0)
    assert torch.equal(last, start_last)
    assert not torch.equal(method.backbone.net[0].weight, start_first)
    assert method.criterion.center.abs().sum() > 0
    losses = [_train_step(method, optimizer, views, 1, step).loss.item() for step in range(5, 8)]
    assert not torch.equal(last, start_last)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert not method.projection_head.last_layer.weight_g.requires_grad


def test_swav_keeps_prototypes_fixed_on_the_first_step_and_normalised() -> None:
    method, views = _method("swav"), _views("swav")
    optimizer = _sgd(method)
    weight = method.prototypes.heads[0].weight
    method(views, 0, 0)  # normalises the prototypes
    start = weight.detach().clone()
    torch.testing.assert_close(start.norm(dim=1), torch.ones(16))
    _train_step(method, optimizer, views, 0, 0)
    torch.testing.assert_close(weight.detach(), start, rtol=0, atol=1e-6)  # renormalised only
    _train_step(method, optimizer, views, 0, 1)
    assert (weight.detach() - start).abs().max() > 1e-3


# Momentum networks


def _pairs(method: Method, modules: list[tuple[str, str]]) -> list[tuple[Tensor, Tensor]]:
    """(online, momentum) parameter pairs."""
    pairs: list[tuple[Tensor, Tensor]] = []
    for online, target in modules:
        online_params = getattr(method, online).parameters()
        pairs += zip(online_params, getattr(method, target).parameters(), strict=True)
    return pairs


def _distance(pairs: list[tuple[Tensor, Tensor]]) -> float:
    return sum(float((a - b).detach().pow(2).sum()) for a, b in pairs) ** 0.5


@pytest.mark.parametrize("name", sorted(MOMENTUM))
def test_momentum_network_is_frozen_and_follows_the_schedule(name: str) -> None:
    method, views = _method(name), _views(name)
    pairs = _pairs(method, MOMENTUM[name])
    assert all(not target.requires_grad for _, target in pairs)
    assert _distance(pairs) == 0  # starts as a copy
    optimizer = _sgd(method)
    step = 3
    out = method(views, 0, step)
    optimizer.zero_grad()
    out.loss.backward()
    assert all(target.grad is None for _, target in pairs)
    method.before_optimizer_step(0, step)
    optimizer.step()
    before = _distance(pairs)
    method.after_optimizer_step(0, step)
    momentum = cosine_schedule(step, 10, 0.996, 1.0)
    assert 0.996 < momentum < 1
    assert before > 0
    assert _distance(pairs) == pytest.approx(momentum * before, rel=1e-4)


def test_cosine_schedule_matches_lightly() -> None:
    scheduler = pytest.importorskip("lightly.utils.scheduler")
    for step in [0, 1, 7, 98, 99, 150]:
        expected = scheduler.cosine_schedule(min(step, 99), 100, 0.996, 1.0)
        assert cosine_schedule(step, 100, 0.996, 1.0) == pytest.approx(expected, abs=1e-12)
    assert cosine_schedule(0, 1, 0.5, 1.0) == 1.0


# Checkpoints


STATE = {
    "moco": "criterion.memory_bank.bank",
    "nnclr": "memory_bank.bank",
    "dino": "criterion.center",
}


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_resumes_exactly(name: str) -> None:
    views = _views(name)
    trained = _method(name)
    optimizer = _sgd(trained)
    for step in range(2):
        _train_step(trained, optimizer, views, 0, step)
    restored = _method(name, seed=1)
    restored.load_state_dict(torch.load(_state_bytes(trained), weights_only=True))
    if name in STATE:
        path = STATE[name]
        torch.testing.assert_close(restored.get_buffer(path), trained.get_buffer(path))
        assert not torch.equal(_method(name, seed=1).get_buffer(path), trained.get_buffer(path))
    restored_state = restored.state_dict()
    assert list(restored_state) == list(trained.state_dict())
    for key, value in trained.state_dict().items():
        if isinstance(value, Tensor):
            assert torch.equal(value, restored_state[key]), key
    assert torch.equal(trained(views, 0, 2).loss, restored(views, 0, 2).loss)
    if name in STATE:
        assert torch.equal(restored.get_buffer(STATE[name]), trained.get_buffer(STATE[name]))


# Building blocks


def test_forward_by_resolution_runs_each_size_once_and_keeps_order() -> None:
    calls: list[int] = []

    def network(x: Tensor) -> Tensor:
        calls.append(x.shape[0])
        return x.flatten(1).sum(dim=1, keepdim=True)

    views = [torch.randn(2, 3, s, s) for s in (8, 8, 4, 4, 4)]
    outputs = forward_by_resolution(network, views)
    assert calls == [4, 6]
    for out, view in zip(outputs, views, strict=True):
        torch.testing.assert_close(out, view.flatten(1).sum(dim=1, keepdim=True))


def test_nearest_neighbour_bank_matches_lightly() -> None:
    lightly_modules = pytest.importorskip("lightly.models.modules")
    ours = NearestNeighbourBank(10, 4)
    theirs = lightly_modules.NNMemoryBankModule(size=(10, 4))
    theirs.bank = ours.bank.clone()
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):  # wraps around the bank
        z = torch.randn(3, 4, generator=gen)
        torch.testing.assert_close(ours(z, update=True), theirs(z, update=True))
        torch.testing.assert_close(ours.bank, theirs.bank)
        assert int(ours.bank_ptr) == int(theirs.bank_ptr)
    assert set(ours.state_dict()) == {"bank", "bank_ptr"}


# Parity with lightly's modules composed as in lightly's examples and benchmarks


def _trainable(*modules: nn.Module) -> list[Tensor]:
    return [p for m in modules for p in m.parameters() if p.requires_grad]


def _frozen(module: nn.Module) -> nn.Module:
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


def _compare_steps(
    method: Method,
    views: list[Tensor],
    reference: Callable[[list[Tensor], int, int], Tensor],
    reference_params: list[Tensor],
    reference_hooks: tuple[Callable[[int, int], None], Callable[[int, int], None]],
) -> None:
    """Two SGD steps (epochs 0 and 1) of ours and of the reference: equal losses each step."""
    optimizer = _sgd(method, lr=0.1)
    reference_optimizer = torch.optim.SGD(reference_params, lr=0.1, momentum=0.9)
    before, after = reference_hooks
    for epoch, step in [(0, 0), (1, 1)]:
        ours = _train_step(method, optimizer, views, epoch, step).loss
        expected = reference(views, epoch, step)
        reference_optimizer.zero_grad(set_to_none=True)
        expected.reshape(()).backward()
        before(epoch, step)
        reference_optimizer.step()
        after(epoch, step)
        torch.testing.assert_close(ours, expected.reshape(()), rtol=1e-5, atol=1e-6)


def _no_hook(epoch: int, step: int) -> None:
    """Nothing to do around this optimizer step."""


def test_simclr_matches_lightly() -> None:
    pytest.importorskip("lightly")
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead

    method = _method("simclr", small=False)
    backbone = copy.deepcopy(method.backbone)
    head = SimCLRProjectionHead(16, 16, 128)
    head.load_state_dict(method.projection_head.state_dict())
    criterion = NTXentLoss(temperature=0.5)

    def reference(views: list[Tensor], epoch: int, step: int) -> Tensor:
        return criterion(head(backbone(views[0])), head(backbone(views[1])))

    params = _trainable(backbone, head)
    _compare_steps(method, _views("simclr"), reference, params, (_no_hook, _no_hook))


def test_byol_matches_lightly_with_its_momentum_updates() -> None:
    pytest.importorskip("lightly")
    from lightly.loss import NegativeCosineSimilarity
    from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
    from lightly.models.utils import update_momentum
    from lightly.utils.scheduler import cosine_schedule as lightly_cosine

    method = _method("byol", small=False)
    backbone = copy.deepcopy(method.backbone)
    projection, prediction = BYOLProjectionHead(16, 1024, 256), BYOLPredictionHead(256, 1024, 256)
    projection.load_state_dict(method.projection_head.state_dict())
    prediction.load_state_dict(method.prediction_head.state_dict())
    backbone_momentum, projection_momentum = _frozen(backbone), _frozen(projection)
    criterion = NegativeCosineSimilarity()

    def reference(views: list[Tensor], epoch: int, step: int) -> Tensor:
        p0, p1 = (prediction(projection(backbone(x))) for x in views)
        z0, z1 = (projection_momentum(backbone_momentum(x)).detach() for x in views)
        return 0.5 * (criterion(p0, z1) + criterion(p1, z0))

    def after(epoch: int, step: int) -> None:
        momentum = lightly_cosine(step, method.total_steps, 0.996, 1)
        update_momentum(backbone, backbone_momentum, m=momentum)
        update_momentum(projection, projection_momentum, m=momentum)

    params = _trainable(backbone, projection, prediction)
    _compare_steps(method, _views("byol"), reference, params, (_no_hook, after))


def test_moco_matches_lightly_with_its_bank_and_momentum_updates() -> None:
    pytest.importorskip("lightly")
    from lightly.loss import NTXentLoss
    from lightly.models.modules import MoCoProjectionHead
    from lightly.models.utils import update_momentum
    from lightly.utils.scheduler import cosine_schedule as lightly_cosine

    method = _method("moco", small=False)
    backbone = copy.deepcopy(method.backbone)
    head = MoCoProjectionHead(16, 16, 128)
    head.load_state_dict(method.projection_head.state_dict())
    backbone_momentum, head_momentum = _frozen(backbone), _frozen(head)
    criterion = NTXentLoss(temperature=0.1, memory_bank_size=(4096, 128))
    criterion.memory_bank.bank = method.criterion.memory_bank.bank.clone()

    def reference(views: list[Tensor], epoch: int, step: int) -> Tensor:
        query = head(backbone(views[0]))
        key = head_momentum(backbone_momentum(views[1])).detach()
        return criterion(query, key)

    def after(epoch: int, step: int) -> None:
        momentum = lightly_cosine(step, method.total_steps, 0.996, 1)
        update_momentum(backbone, backbone_momentum, m=momentum)
        update_momentum(head, head_momentum, m=momentum)

    params = _trainable(backbone, head)
    _compare_steps(method, _views("moco"), reference, params, (_no_hook, after))
    torch.testing.assert_close(method.criterion.memory_bank.bank, criterion.memory_bank.bank)


@pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")
def test_dino_matches_lightly_with_frozen_last_layer_centre_and_teacher() -> None:
    pytest.importorskip("lightly")
    from lightly.loss import DINOLoss
    from lightly.models.modules import DINOProjectionHead
    from lightly.models.utils import update_momentum
    from lightly.utils.scheduler import cosine_schedule as lightly_cosine

    method = _method("dino", small=False, center_from_first_batch=0)
    backbone = copy.deepcopy(method.backbone)
    head = DINOProjectionHead(16, 512, 64, 2048, freeze_last_layer=1)
    teacher_head = DINOProjectionHead(16, 512, 64, 2048)
    head.load_state_dict(method.projection_head.state_dict())
    teacher_head.load_state_dict(method.teacher_head.state_dict())
    teacher_head.requires_grad_(False)
    teacher_backbone = _frozen(backbone)
    criterion = DINOLoss(output_dim=2048, warmup_teacher_temp_epochs=5)

    def reference(views: list[Tensor], epoch: int, step: int) -> Tensor:
        global_views, local_views = torch.cat(views[:2]), torch.cat(views[2:])
        teacher = teacher_head(teacher_backbone(global_views)).detach().chunk(2)
        student = torch.cat([head(backbone(global_views)), head(backbone(local_views))])
        return criterion(list(teacher), list(student.chunk(len(views))), epoch=epoch)

    def before(epoch: int, step: int) -> None:
        head.cancel_last_layer_gradients(current_epoch=epoch)

    def after(epoch: int, step: int) -> None:
        momentum = lightly_cosine(step, method.total_steps, 0.996, 1)
        update_momentum(backbone, teacher_backbone, m=momentum)
        update_momentum(head, teacher_head, m=momentum)

    params = _trainable(backbone, head)
    _compare_steps(method, _views("dino"), reference, params, (before, after))
    torch.testing.assert_close(method.criterion.center, criterion.center)


def test_swav_matches_lightly_with_frozen_and_normalised_prototypes() -> None:
    pytest.importorskip("lightly")
    from lightly.loss import SwaVLoss
    from lightly.models.modules import SwaVProjectionHead, SwaVPrototypes

    method = _method("swav", small=False)
    backbone = copy.deepcopy(method.backbone)
    head = SwaVProjectionHead(16, 16, 128)
    head.load_state_dict(method.projection_head.state_dict())
    prototypes = SwaVPrototypes(128, n_prototypes=512, n_steps_frozen_prototypes=1)
    prototypes.heads[0].weight.data.copy_(method.prototypes.heads[0].weight)
    prototypes.heads[0].bias.data.zero_()  # Sieve's prototypes have no bias
    criterion = SwaVLoss()

    def reference(views: list[Tensor], epoch: int, step: int) -> Tensor:
        prototypes.normalize()
        scores = []
        for group in (torch.cat(views[:2]), torch.cat(views[2:])):
            z = nn.functional.normalize(head(backbone(group)), dim=1, p=2)
            scores += prototypes(z, step).chunk(len(group) // BATCH)
        return criterion(scores[:2], scores[2:])

    params = _trainable(backbone, head) + [prototypes.heads[0].weight]
    _compare_steps(method, _views("swav"), reference, params, (_no_hook, _no_hook))


def test_default_augmentations_are_known_presets() -> None:
    augment = pytest.importorskip("app.core.ssl.augment")
    assert {cls.defaults.augment for cls in METHODS.values()} <= set(augment.PRESETS)
