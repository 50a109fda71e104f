"""The linear probe: a cancel reaches the L-BFGS fit between evaluations of the loss."""

from __future__ import annotations

import numpy as np

from app.core.active.probe import fit_probe
from tests.core.cancelling import assert_cancels_quickly


def test_cancel_stops_the_probe_fit() -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.standard_normal((100_000, 256), dtype=np.float32)
    labels = embeddings[:, :10].argmax(axis=1)  # separable: the fit runs to its last iteration
    fit_probe(embeddings[:20], labels[:20], iterations=1)  # the one-off imports of a first fit
    assert_cancels_quickly(lambda cancel: fit_probe(embeddings, labels, cancel=cancel))
