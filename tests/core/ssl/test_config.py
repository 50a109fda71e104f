"""TrainConfig: every number declares its range, and validate() reads the same ranges."""

from __future__ import annotations

import math

import pytest

from app.core.errors import SieveError
from app.core.ranges import Range
from app.core.ssl.config import TrainConfig, config_fields

NUMERIC = {"int": True, "float": False, "float | None": False}


def test_every_numeric_setting_declares_a_range():
    for spec in config_fields():
        if str(spec.type) in NUMERIC:
            limits = spec.metadata["range"]
            assert isinstance(limits, Range), spec.name
            assert limits.integer == NUMERIC[str(spec.type)], spec.name
            default = spec.default
            assert default is None or limits.contains(default), spec.name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": math.nan}, "lr must be a finite number > 0, not nan"),
        ({"weight_decay": math.inf}, "weight-decay must be a finite number in [0, 1], not inf"),
        ({"warmup_epochs": -1.0}, "warmup-epochs must be a finite number >= 0, not -1"),
        ({"knn_temperature": 0.0}, "knn-temperature must be a finite number > 0, not 0"),
        ({"holdout": math.nan}, "holdout must be a finite number in [0, 1), not nan"),
        ({"image_size": 7}, "image-size must be an integer from 8 to 4096, not 7"),
        (
            {"options": {"temperature": math.nan}},
            "options temperature must be a finite number, not nan",
        ),
        (
            {"augment": {"blur_prob": -math.inf}},
            "augment blur_prob must be a finite number, not -inf",
        ),
        ({"optimizer": "adam"}, "optimizer must be one of: auto, sgd, adamw, lars"),
    ],
)
def test_validate_refuses_values_outside_the_declared_ranges(changes, message):
    with pytest.raises(SieveError) as raised:
        TrainConfig(**changes).validate()
    assert str(raised.value) == message


def test_stored_configs_load_unchecked():
    stored = TrainConfig(batch_size=1).to_dict()
    assert TrainConfig.from_dict(stored, check=False).batch_size == 1
    with pytest.raises(SieveError, match="batch-size must be an integer >= 2, not 1"):
        TrainConfig.from_dict(stored)
