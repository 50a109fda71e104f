"""Learning-rate schedule, optimizers, and the training monitors (collapse, kNN, held-out split)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from app.core.errors import SieveError
from app.core.ssl.monitor import CollapseMeter, holdout_split, knn_accuracy, knn_predict
from app.core.ssl.optim import LARS, build_optimizer, learning_rate, parameter_groups


def test_warm_up_then_cosine_to_zero():
    lrs = [learning_rate(step, 100, 10, 1.0) for step in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[55] == pytest.approx(0.5 * (1 + math.cos(math.pi * 45 / 90)))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert learning_rate(100, 100, 10, 1.0) == pytest.approx(0.0)
    assert learning_rate(0, 100, 0, 0.5) == pytest.approx(0.5)


def test_optimizers_and_their_weight_decay():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    sgd = build_optimizer("sgd", model, 0.1, 1e-4)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["weight_decay"] == 1e-4
    assert isinstance(build_optimizer("adamw", model, 0.1, 1e-4), torch.optim.AdamW)
    lars = build_optimizer("lars", model, 0.1, 1e-4)
    decayed, excluded = lars.param_groups
    assert [p.ndim for p in decayed["params"]] == [2]
    assert excluded["weight_decay"] == 0 and excluded["lars_exclude"]
    with pytest.raises(SieveError, match="unknown optimizer"):
        build_optimizer("rmsprop", model, 0.1, 0.0)


def test_lars_scales_weights_by_trust_ratio_and_leaves_excluded_as_sgd():
    weight = nn.Parameter(torch.full((2, 2), 2.0))
    bias = nn.Parameter(torch.ones(2))
    model = nn.Module()
    model.weight, model.bias = weight, bias
    optimizer = LARS(parameter_groups(model, 0.0), lr=1.0, momentum=0.0, trust_coefficient=0.1)
    weight.grad = torch.full((2, 2), 1.0)
    bias.grad = torch.full((2,), 1.0)
    optimizer.step()
    ratio = 0.1 * torch.linalg.vector_norm(torch.full((2, 2), 2.0)) / 2.0
    torch.testing.assert_close(weight.detach(), torch.full((2, 2), 2.0 - float(ratio)))
    torch.testing.assert_close(bias.detach(), torch.zeros(2))


def test_collapse_meter_tells_collapse_from_spread():
    spread, collapsed = CollapseMeter(), CollapseMeter()
    gen = torch.Generator().manual_seed(0)
    spread.update(torch.randn(512, 64, generator=gen))
    collapsed.update(torch.ones(512, 64) + 1e-4 * torch.randn(512, 64, generator=gen))
    assert spread.relative == pytest.approx(1.0, abs=0.05)
    assert collapsed.relative < 0.01
    assert CollapseMeter().std is None


def test_knn_votes_with_temperature_weights():
    bank = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), dim=1)
    labels = torch.tensor([0, 0, 1])
    query = torch.tensor([[1.0, 0.05]])
    scores = knn_predict(torch.nn.functional.normalize(query, dim=1), bank, labels, 2, k=3)
    assert scores.argmax(dim=1).item() == 0
    assert knn_accuracy(query, torch.tensor([0]), bank, labels, k=1) == 1.0
    assert knn_accuracy(torch.tensor([[0.0, 1.0]]), torch.tensor([0]), bank, labels, k=1) == 0.0


def test_holdout_split_is_stratified_disjoint_and_seeded():
    labels = np.array([0] * 20 + [1] * 10 + [2] + [-1] * 5)
    train, held = holdout_split(labels, 0.1, seed=3)
    assert len(np.intersect1d(train, held)) == 0
    assert len(train) + len(held) == len(labels)
    assert sorted(labels[held].tolist()) == [0, 0, 1]
    again, held_again = holdout_split(labels, 0.1, seed=3)
    np.testing.assert_array_equal(held, held_again)
    assert len(holdout_split(labels, 0.0, seed=3)[1]) == 0
