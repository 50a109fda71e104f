"""The last ResNet stage on tiny maps as matrix products: the same features, for inference."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from app.core.embeddings.small_maps import (
    DenseConv,
    SmallMapResNet,
    conv_matrix,
    inference_trunk,
    last_stage_size,
)
from app.core.ssl.backbones import Backbone


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).reshape(len(x), -1)


def _random_statistics(model: nn.Module) -> nn.Module:
    """Batch norms with statistics and affine terms far from the identity, so folding shows."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            count = module.num_features
            module.running_mean.copy_(torch.randn(count, generator=generator))
            module.running_var.copy_(torch.rand(count, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(count, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(count, generator=generator))
    return model.eval()


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "size"),
    [(3, 1, 1, (2, 2)), (3, 2, 1, (3, 3)), (1, 2, 0, (3, 3)), (3, 1, 1, (1, 3)), (3, 2, 1, (2, 2))],
)
def test_a_convolution_on_a_tiny_map_is_its_matrix(kernel, stride, padding, size) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(5, 7, kernel, stride, padding, bias=False)
    x = torch.randn(4, 5, *size)
    with torch.no_grad():
        expected = _flat(conv(x))
        got = _flat(x) @ conv_matrix(conv, conv.weight, size)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_a_convolution_and_its_batch_norm_become_one_product() -> None:
    torch.manual_seed(0)
    conv, norm = nn.Conv2d(6, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8)
    _random_statistics(norm)
    x = torch.randn(3, 6, 2, 2)
    dense = DenseConv(conv, norm, (2, 2))
    with torch.no_grad():
        torch.testing.assert_close(dense(_flat(x)), _flat(norm(conv(x))), atol=1e-5, rtol=1e-5)
    assert dense.out_size == (2, 2)


@pytest.mark.parametrize("side", [40, 36, 24])
def test_the_quick_looks_resnet_gives_the_same_features_faster(side: int) -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    model.fc = nn.Identity()
    backbone = Backbone("resnet18", _random_statistics(model), feature_dim=512)
    trunk = inference_trunk(backbone, side)
    assert isinstance(trunk, SmallMapResNet)
    x = torch.randn(6, 3, side, side)
    with torch.inference_mode():
        expected, got = backbone(x), trunk(x)
    assert got.shape == expected.shape == (6, 512)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        got_cl = trunk.to(memory_format=torch.channels_last)(channels_last)
    torch.testing.assert_close(got_cl, expected, atol=1e-4, rtol=1e-4)


def test_the_trunk_is_kept_where_the_rewrite_would_not_pay_or_cannot_apply() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    model.fc = nn.Identity()
    backbone = Backbone("resnet18", model.eval(), feature_dim=512)
    assert last_stage_size(model, 64) == (4, 4)
    assert inference_trunk(backbone, 64) is backbone
    assert inference_trunk(backbone.train(), 40) is backbone
    bottleneck = ResNet(Bottleneck, [1, 1, 1, 1])
    bottleneck.fc = nn.Identity()
    wide = Backbone("resnet-bottleneck", bottleneck.eval(), feature_dim=2048)
    assert inference_trunk(wide, 40) is wide
    linear = nn.Linear(3, 3)
    assert inference_trunk(linear, 40) is linear
