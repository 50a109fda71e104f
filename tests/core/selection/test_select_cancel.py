"""Cancel reaches every path of select() between picks."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.selection.select import Diversity, Weighting, select
from tests.core.cancelling import assert_cancels_quickly

ROWS, DIM, PICKS = 200_000, 64, 20_000


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((ROWS, DIM), dtype=np.float32)


def test_cancel_stops_kcenter_greedy(vectors) -> None:
    assert_cancels_quickly(lambda cancel: select(PICKS, Diversity(vectors), cancel=cancel))


def test_cancel_stops_weighted_kcenter_greedy(vectors) -> None:
    weights = Weighting(np.random.default_rng(1).random(ROWS))
    strategies = [Diversity(vectors), weights]
    assert_cancels_quickly(lambda cancel: select(PICKS, strategies, cancel=cancel))


def test_cancel_stops_the_plain_greedy_loop(vectors) -> None:
    strategies = [Diversity(vectors), Diversity(vectors[:, ::-1], strength=0.5)]
    assert_cancels_quickly(lambda cancel: select(PICKS, strategies, cancel=cancel))
