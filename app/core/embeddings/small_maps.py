"""Exact, faster inference for a ResNet's last stage when its feature maps are tiny.

At the quick look's 40 px, ResNet-18's ``layer4`` runs on 3 x 3 and 2 x 2 maps. A 3 x 3 convolution
with padding 1 on a 2 x 2 map computes nine taps per output of which four touch the map: the rest
multiply zeros, yet that stage took 43 % of the forward pass. On a map of at most 3 x 3 positions
the whole stage is rewritten as dense matrix products over the flattened map (position-major,
which a channels-last tensor already is): each block's convolution and batch norm become one
matrix and a bias, built once by placing each kernel tap's weights where it meets the map, so
every output is the same sum of the same products as before (float rounding aside). The 1 x 1
shortcut picks its positions and multiplies by its own small matrix.

:func:`inference_trunk` gives the rewritten trunk where it applies (a torchvision ResNet of
``BasicBlock`` s whose last stage starts on a map of <= 9 positions) and the backbone as it is
otherwise; it is for inference only.
"""

from __future__ import annotations

from itertools import product

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, ResNet

MAX_POSITIONS = 9
"""A stage is rewritten when its input map has at most this many positions (3 x 3): there a
dense product costs no more than the padded 3 x 3 convolution, and less from 2 x 2 on."""

Size = tuple[int, int]


def fold_batchnorm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """``(weight, bias)`` of ``conv`` followed by ``norm`` in eval mode, as one convolution."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    bias = norm.bias - norm.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return weight, bias


def output_size(conv: nn.Conv2d, size: Size) -> Size:
    """The map side ``conv`` makes of a ``size`` map."""
    sides = []
    for axis in range(2):
        span = conv.dilation[axis] * (conv.kernel_size[axis] - 1) + 1
        sides.append((size[axis] + 2 * conv.padding[axis] - span) // conv.stride[axis] + 1)
    return sides[0], sides[1]


def conv_matrix(conv: nn.Conv2d, weight: Tensor, size: Size) -> Tensor:
    """``(H*W*Cin, Ho*Wo*Cout)``: ``conv`` with ``weight`` on a ``size`` map, as a matrix over
    position-major flattened maps: each kernel tap's ``(Cin, Cout)`` block where it meets the
    map."""
    if conv.groups != 1:
        raise ValueError("only ungrouped convolutions become matrices")
    height, width = size
    out_height, out_width = output_size(conv, size)
    matrix = weight.new_zeros(
        height * width, conv.in_channels, out_height * out_width, conv.out_channels
    )
    outputs = product(range(out_height), range(out_width))
    taps = list(product(range(conv.kernel_size[0]), range(conv.kernel_size[1])))
    for (row, col), (tap_row, tap_col) in product(outputs, taps):
        in_row = row * conv.stride[0] - conv.padding[0] + tap_row * conv.dilation[0]
        in_col = col * conv.stride[1] - conv.padding[1] + tap_col * conv.dilation[1]
        if 0 <= in_row < height and 0 <= in_col < width:
            block = weight[:, :, tap_row, tap_col].t()
            matrix[in_row * width + in_col, :, row * out_width + col, :] = block
    return matrix.view(height * width * conv.in_channels, -1)


class DenseConv(nn.Module):
    """A convolution and its batch norm on a fixed tiny map, as one matrix product."""

    def __init__(self, conv: nn.Conv2d, norm: nn.BatchNorm2d, size: Size) -> None:
        super().__init__()
        with torch.no_grad():
            weight, bias = fold_batchnorm(conv, norm)
            self.out_size = output_size(conv, size)
            self.register_buffer("matrix", conv_matrix(conv, weight, size))
            self.register_buffer("bias", bias.repeat(self.out_size[0] * self.out_size[1]))

    def forward(self, x: Tensor) -> Tensor:
        return torch.addmm(self.bias, x, self.matrix)


class PickedConv1x1(nn.Module):
    """A strided 1 x 1 convolution and its batch norm on a fixed tiny map: the positions it
    reads, times one ``(Cin, Cout)`` matrix."""

    def __init__(self, conv: nn.Conv2d, norm: nn.BatchNorm2d, size: Size) -> None:
        super().__init__()
        with torch.no_grad():
            weight, bias = fold_batchnorm(conv, norm)
            self.register_buffer("matrix", weight.flatten(1).t().contiguous())
            self.register_buffer("bias", bias)
        self.out_size = output_size(conv, size)
        rows, cols = (range(0, size[axis], conv.stride[axis]) for axis in range(2))
        self.picked = [row * size[1] + col for row in rows for col in cols]
        self.in_channels = conv.in_channels

    def forward(self, x: Tensor) -> Tensor:
        rows = x.view(len(x), -1, self.in_channels)[:, self.picked]
        return torch.addmm(self.bias, rows.reshape(-1, self.in_channels), self.matrix).view(
            len(x), -1
        )


class DenseBasicBlock(nn.Module):
    """torchvision's ``BasicBlock`` on a fixed tiny map, over position-major flattened maps."""

    def __init__(self, block: BasicBlock, size: Size) -> None:
        super().__init__()
        self.conv1 = DenseConv(block.conv1, block.bn1, size)
        self.conv2 = DenseConv(block.conv2, block.bn2, self.conv1.out_size)
        self.out_size = self.conv2.out_size
        self.shortcut = _shortcut(block.downsample, size)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(torch.relu(self.conv1(x)))
        return torch.relu(out + (x if self.shortcut is None else self.shortcut(x)))


def _shortcut(downsample: nn.Module | None, size: Size) -> nn.Module | None:
    if downsample is None:
        return None
    conv, norm = downsample[0], downsample[1]
    if conv.kernel_size == (1, 1) and conv.padding == (0, 0):
        return PickedConv1x1(conv, norm, size)
    return DenseConv(conv, norm, size)


class DenseStage(nn.Module):
    """A stage of ``BasicBlock`` s on a fixed tiny map: (B, C, H, W) in, pooled (B, C') out."""

    def __init__(self, stage: nn.Sequential, size: Size) -> None:
        super().__init__()
        blocks = []
        for block in stage:
            blocks.append(DenseBasicBlock(block, size))
            size = blocks[-1].out_size
        self.blocks = nn.Sequential(*blocks)
        self.positions = size[0] * size[1]

    def forward(self, x: Tensor) -> Tensor:
        flat = x.permute(0, 2, 3, 1).reshape(len(x), -1)
        out = self.blocks(flat)
        return out.view(len(x), self.positions, -1).mean(dim=1)


class SmallMapResNet(nn.Module):
    """A torchvision ResNet trunk whose last stage runs as a :class:`DenseStage`."""

    def __init__(self, model: ResNet, last_stage_size: Size) -> None:
        super().__init__()
        self.stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
        self.stages = nn.Sequential(model.layer1, model.layer2, model.layer3)
        self.last = DenseStage(model.layer4, last_stage_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.last(self.stages(self.stem(x)))


def last_stage_size(model: ResNet, input_size: int) -> Size:
    """The map side ``model.layer4`` receives from an ``input_size`` image (one probe)."""
    parts = (model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2)
    with torch.no_grad():
        probe = nn.Sequential(*parts, model.layer3)(torch.zeros(1, 3, input_size, input_size))
    return probe.shape[-2], probe.shape[-1]


def inference_trunk(backbone: nn.Module, input_size: int) -> nn.Module:
    """The backbone's faster equivalent for eval at ``input_size`` (``SmallMapResNet``) where
    its trunk is a torchvision ResNet of ``BasicBlock`` s whose last stage starts on a map of at
    most :data:`MAX_POSITIONS` positions; else ``backbone`` itself."""
    model = getattr(backbone, "model", None)
    if not isinstance(model, ResNet) or not all(
        isinstance(block, BasicBlock) for block in model.layer4
    ):
        return backbone
    if not isinstance(model.fc, nn.Identity) or model.training:
        return backbone
    size = last_stage_size(model, input_size)
    if size[0] * size[1] > MAX_POSITIONS:
        return backbone
    return SmallMapResNet(model, size).eval()
