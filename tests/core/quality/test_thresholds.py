"""Thresholds follow the dataset's own distribution within absolute bounds; user values parse."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import SieveError
from app.core.quality.checks import CHECKS, FENCES
from app.core.quality.thresholds import parse_thresholds


def test_dark_threshold_is_relative_to_the_dataset_but_bounded():
    rng = np.random.default_rng(0)
    normal = rng.uniform(0.35, 0.65, 500)
    night = rng.uniform(0.05, 0.15, 500)
    dark = FENCES["dark"]
    assert 0.06 <= dark.threshold(normal) <= 0.25
    assert dark.threshold(night) == 0.06  # a night set: only the nearly black are dark
    assert not dark.flags(night, dark.threshold(night)).mean() > 0.2
    assert dark.threshold(np.full(100, 0.5)) == 0.25  # no spread: the cap holds


def test_light_fence_mirrors_dark():
    light = FENCES["light"]
    values = np.random.default_rng(1).uniform(0.3, 0.7, 300)
    threshold = light.threshold(values)
    assert 0.8 <= threshold <= 0.94
    assert light.flags(np.array([0.5, 0.97, np.nan]), threshold).tolist() == [False, True, False]


def test_parse_thresholds_reads_pairs_and_refuses_bad_ones():
    assert parse_thresholds(["dark=0.2", "near_duplicates=6,blurry=0.05"], CHECKS) == {
        "dark": 0.2,
        "near_duplicates": 6.0,
        "blurry": 0.05,
    }
    for bad in ("dark", "nope=1", "dark=x", "dark=inf"):
        with pytest.raises(SieveError):
            parse_thresholds([bad], CHECKS)
