"""Projection and prediction heads with the architectures, argument names and defaults of lightly's.

Parameter names equal lightly's (``layers.<i>.weight`` ..., DINO's ``last_layer.weight_g`` and
``last_layer.weight_v``, SwAV's ``heads.<i>.weight``), so a lightly state_dict loads directly.
Two deliberate differences: DINO's last layer is a small explicit weight-normalised linear (torch's
``weight_norm`` is deprecated and breaks ``copy.deepcopy``, which teachers need), and SwAV's
prototypes have no bias, as in the SwAV paper (lightly's have one).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Block = (
    tuple[int, int, nn.Module | None, nn.Module | None]
    | tuple[int, int, nn.Module | None, nn.Module | None, bool]
)


class ProjectionHead(nn.Module):
    """MLP built from blocks ``(in_dim, out_dim, batch_norm, activation[, use_bias])``.

    Each block is a linear layer, then the batch norm and the activation when given. The linear
    layer has a bias unless the block has a batch norm (or ``use_bias`` says otherwise).
    """

    def __init__(self, blocks: Sequence[Block]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for block in blocks:
            in_dim, out_dim, batch_norm, activation, *bias = block
            use_bias = bias[0] if bias else batch_norm is None
            layers.append(nn.Linear(in_dim, out_dim, bias=use_bias))
            if batch_norm is not None:
                layers.append(batch_norm)
            if activation is not None:
                layers.append(activation)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Project a batch of features (batch, in_dim) to (batch, out_dim)."""
        return self.layers(x)


def _mlp_blocks(
    input_dim: int,
    hidden_dim: int,
    output_dim: int,
    num_layers: int,
    hidden_norm: bool,
    output_norm: bool,
) -> list[Block]:
    """Linear layers with ReLU between them and batch norms where asked.

    Like lightly's heads, this gives at least two layers whatever ``num_layers`` says.
    """
    blocks: list[Block] = []
    in_dim = input_dim
    for _ in range(max(num_layers, 2) - 1):
        blocks.append((in_dim, hidden_dim, _maybe_norm(hidden_dim, hidden_norm), nn.ReLU()))
        in_dim = hidden_dim
    blocks.append((hidden_dim, output_dim, _maybe_norm(output_dim, output_norm), None))
    return blocks


class SimCLRProjectionHead(ProjectionHead):
    """SimCLR: ``num_layers`` linear layers, batch norm on every layer by default, ReLU between."""

    def __init__(
        self,
        input_dim: int = 2048,
        hidden_dim: int = 2048,
        output_dim: int = 128,
        num_layers: int = 2,
        batch_norm: bool = True,
    ) -> None:
        super().__init__(
            _mlp_blocks(input_dim, hidden_dim, output_dim, num_layers, batch_norm, batch_norm)
        )


class MoCoProjectionHead(ProjectionHead):
    """MoCo: v2 is two layers without batch norm; v3 is three layers with batch norm."""

    def __init__(
        self,
        input_dim: int = 2048,
        hidden_dim: int = 2048,
        output_dim: int = 128,
        num_layers: int = 2,
        batch_norm: bool = False,
    ) -> None:
        super().__init__(
            _mlp_blocks(input_dim, hidden_dim, output_dim, num_layers, batch_norm, batch_norm)
        )


class SimSiamProjectionHead(ProjectionHead):
    """SimSiam: three layers with batch norm, the output one without affine parameters."""

    def __init__(
        self, input_dim: int = 2048, hidden_dim: int = 2048, output_dim: int = 2048
    ) -> None:
        super().__init__(
            [
                (input_dim, hidden_dim, nn.BatchNorm1d(hidden_dim), nn.ReLU()),
                (hidden_dim, hidden_dim, nn.BatchNorm1d(hidden_dim), nn.ReLU()),
                (hidden_dim, output_dim, nn.BatchNorm1d(output_dim, affine=False), None),
            ]
        )


class _TwoLayerHead(ProjectionHead):
    """Linear, batch norm, ReLU, linear: the common predictor shape."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int) -> None:
        super().__init__(
            [
                (input_dim, hidden_dim, nn.BatchNorm1d(hidden_dim), nn.ReLU()),
                (hidden_dim, output_dim, None, None),
            ]
        )


class SimSiamPredictionHead(_TwoLayerHead):
    """SimSiam predictor: a two-layer bottleneck MLP."""

    def __init__(
        self, input_dim: int = 2048, hidden_dim: int = 512, output_dim: int = 2048
    ) -> None:
        super().__init__(input_dim, hidden_dim, output_dim)


class BYOLProjectionHead(_TwoLayerHead):
    """BYOL projector: two layers, batch norm and ReLU on the hidden one."""

    def __init__(
        self, input_dim: int = 2048, hidden_dim: int = 4096, output_dim: int = 256
    ) -> None:
        super().__init__(input_dim, hidden_dim, output_dim)


class BYOLPredictionHead(_TwoLayerHead):
    """BYOL predictor: same shape as the projector, on projections."""

    def __init__(self, input_dim: int = 256, hidden_dim: int = 4096, output_dim: int = 256) -> None:
        super().__init__(input_dim, hidden_dim, output_dim)


class NNCLRPredictionHead(_TwoLayerHead):
    """NNCLR predictor: two layers, batch norm and ReLU on the hidden one."""

    def __init__(self, input_dim: int = 256, hidden_dim: int = 4096, output_dim: int = 256) -> None:
        super().__init__(input_dim, hidden_dim, output_dim)


class SwaVProjectionHead(_TwoLayerHead):
    """SwAV projector: two layers, batch norm and ReLU on the hidden one."""

    def __init__(
        self, input_dim: int = 2048, hidden_dim: int = 2048, output_dim: int = 128
    ) -> None:
        super().__init__(input_dim, hidden_dim, output_dim)


class NNCLRProjectionHead(ProjectionHead):
    """NNCLR projector: three layers, all with batch norm, ReLU after the hidden ones."""

    def __init__(
        self, input_dim: int = 2048, hidden_dim: int = 2048, output_dim: int = 256
    ) -> None:
        super().__init__(_mlp_blocks(input_dim, hidden_dim, output_dim, 3, True, True))


class BarlowTwinsProjectionHead(ProjectionHead):
    """Barlow Twins projector: three layers, batch norm and ReLU after the first two."""

    def __init__(
        self, input_dim: int = 2048, hidden_dim: int = 8192, output_dim: int = 8192
    ) -> None:
        super().__init__(_mlp_blocks(input_dim, hidden_dim, output_dim, 3, True, False))


class VICRegProjectionHead(ProjectionHead):
    """VICReg expander: ``num_layers`` layers, batch norm and ReLU after all but the last."""

    def __init__(
        self,
        input_dim: int = 2048,
        hidden_dim: int = 8192,
        output_dim: int = 8192,
        num_layers: int = 3,
    ) -> None:
        super().__init__(_mlp_blocks(input_dim, hidden_dim, output_dim, num_layers, True, False))


class WeightNormLinear(nn.Module):
    """Bias-free linear layer with weight ``weight_g * weight_v / ||weight_v||`` (norm per row).

    The parameters are named and shaped like those of ``torch.nn.utils.weight_norm`` (dim 0), and
    ``weight_g`` starts at 1 as in DINO.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        weight = nn.Linear(in_dim, out_dim, bias=False).weight.detach()
        self.weight_g = nn.Parameter(torch.ones(out_dim, 1))
        self.weight_v = nn.Parameter(weight.clone())

    @property
    def weight(self) -> Tensor:
        """The effective weight (out_dim, in_dim)."""
        return self.weight_v * (self.weight_g / self.weight_v.norm(dim=1, keepdim=True))

    def forward(self, x: Tensor) -> Tensor:
        """Apply the weight-normalised linear map."""
        return F.linear(x, self.weight)


class DINOProjectionHead(ProjectionHead):
    """DINO head: GELU MLP to a bottleneck, L2 normalisation, weight-normalised output layer.

    With ``norm_last_layer`` the output layer's scale ``weight_g`` stays fixed at 1. During the
    first ``freeze_last_layer`` epochs `cancel_last_layer_gradients` drops its gradients.
    """

    def __init__(
        self,
        input_dim: int = 2048,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        output_dim: int = 65536,
        batch_norm: bool = False,
        freeze_last_layer: int = -1,
        norm_last_layer: bool = True,
    ) -> None:
        super().__init__(
            [
                (input_dim, hidden_dim, _maybe_norm(hidden_dim, batch_norm), nn.GELU()),
                (hidden_dim, hidden_dim, _maybe_norm(hidden_dim, batch_norm), nn.GELU()),
                (hidden_dim, bottleneck_dim, None, None),
            ]
        )
        self.apply(_trunc_normal_init)
        self.freeze_last_layer = freeze_last_layer
        self.last_layer = WeightNormLinear(bottleneck_dim, output_dim)
        self.last_layer.weight_g.requires_grad = not norm_last_layer

    def cancel_last_layer_gradients(self, current_epoch: int) -> None:
        """Drop the output layer's gradients while ``current_epoch < freeze_last_layer``."""
        if current_epoch >= self.freeze_last_layer:
            return
        for param in self.last_layer.parameters():
            param.grad = None

    def forward(self, x: Tensor) -> Tensor:
        """Features (batch, input_dim) to logits (batch, output_dim)."""
        x = F.normalize(self.layers(x), dim=-1, p=2)
        return self.last_layer(x)


def _maybe_norm(dim: int, batch_norm: bool) -> nn.Module | None:
    return nn.BatchNorm1d(dim) if batch_norm else None


def _trunc_normal_init(module: nn.Module) -> None:
    """DINO's init: truncated normal (std 0.02, cut at +-2) weights, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, mean=0.0, std=0.02, a=-2.0, b=2.0)
        if module.bias is not None:
            nn.init.constant_(module.bias, 0)


class SwaVPrototypes(nn.Module):
    """SwAV prototypes: one bias-free linear layer per prototype set, rows kept on the unit sphere.

    Returns one tensor of scores for an int ``n_prototypes`` and a list for a list of them. During
    the first ``n_steps_frozen_prototypes`` steps `cancel_prototype_gradients` drops the gradients
    (lightly toggles ``requires_grad`` inside forward instead, which DistributedDataParallel does
    not allow).
    """

    def __init__(
        self,
        input_dim: int = 128,
        n_prototypes: list[int] | int = 3000,
        n_steps_frozen_prototypes: int = 0,
    ) -> None:
        super().__init__()
        self._single = isinstance(n_prototypes, int)
        self.n_prototypes = [n_prototypes] if isinstance(n_prototypes, int) else list(n_prototypes)
        self.heads = nn.ModuleList(nn.Linear(input_dim, n, bias=False) for n in self.n_prototypes)
        self.n_steps_frozen_prototypes = n_steps_frozen_prototypes

    def forward(self, x: Tensor) -> Tensor | list[Tensor]:
        """Prototype scores of normalised projections (batch, input_dim)."""
        scores = [head(x) for head in self.heads]
        return scores[0] if self._single else scores

    @torch.no_grad()
    def normalize(self) -> None:
        """Scale every prototype (weight row) to unit length."""
        for head in self.heads:
            head.weight.div_(torch.norm(head.weight, dim=1, keepdim=True))

    def cancel_prototype_gradients(self, step: int) -> None:
        """Drop the prototypes' gradients while ``step < n_steps_frozen_prototypes``."""
        if step >= self.n_steps_frozen_prototypes:
            return
        for param in self.parameters():
            param.grad = None
