"""Duplicate grouping and Hamming searches against brute force."""

from __future__ import annotations

import numpy as np

from app.core.quality.duplicates import group_pairs, hamming_pairs, nearest_hamming
from app.core.quality.stats import hamming


def _codes(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.integers(-(1 << 63), (1 << 63) - 1, count, dtype=np.int64)
    codes[5] = codes[3] ^ 0b101  # 2 bits from row 3
    return codes


def test_nearest_and_pairs_match_brute_force():
    codes = _codes(300)
    rows = np.arange(300)
    table = hamming(codes[:, None], codes[None, :])
    np.fill_diagonal(table, 64)
    assert nearest_hamming(codes, rows).tolist() == table.min(axis=1).tolist()
    sampled = nearest_hamming(codes, rows, sample=50)
    assert len(sampled) == 50 and set(sampled.tolist()) <= set(table.min(axis=1).tolist())
    first, second = hamming_pairs(codes, rows, 12)
    expected = {(i, j) for i, j in zip(*np.nonzero(table <= 12), strict=True) if i < j}
    assert set(zip(first.tolist(), second.tolist(), strict=True)) == expected
    assert (3, 5) in expected


def test_groups_keep_the_largest_image_then_the_largest_file():
    pixels = np.array([100.0, 400.0, 400.0, 50.0, 10.0])
    sizes = np.array([10, 5, 9, 1, 1])
    groups = group_pairs(5, np.array([0, 1, 3]), np.array([1, 2, 4]), pixels, sizes)
    assert [m.tolist() for m in groups.members] == [[2, 1, 0], [3, 4]]
    assert groups.keepers.tolist() == [2, 3]
    assert groups.redundant.tolist() == [True, True, False, False, True]
