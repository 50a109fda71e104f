"""A round reuses stored typicality only when it came from the set the round works on."""

from __future__ import annotations

import numpy as np

from app.core.active.rounds import stored_typicality
from app.core.store.embedding_sets import (
    create_embedding_set,
    finish_embedding_set,
    record_score_source,
)
from app.core.store.metadata import write_scores


def test_typicality_of_another_set_is_not_reused(embedded_project) -> None:
    project, first = embedded_project
    ids = first.ids()
    write_scores(project, ids, {"typicality": np.linspace(0, 1, len(ids))})
    record_score_source(project, first.id, ["typicality"])
    np.testing.assert_allclose(stored_typicality(project, ids, first.id), np.linspace(0, 1, 12))

    vectors = np.random.default_rng(1).standard_normal((len(ids), 8)).astype(np.float32)
    second = finish_embedding_set(project, create_embedding_set(project, {}), ids, vectors)
    assert stored_typicality(project, ids, second.id) is None
