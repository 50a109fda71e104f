"""What the map panel's choosers list: the finished sets, and scores marked stale by set."""

from __future__ import annotations

import numpy as np

from app.core.embeddings.scores import score_job
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set, set_active
from app.gui_model.map_sources import colour_keys, set_choices


def test_set_choices_list_finished_sets_and_the_active_one(embedded_project) -> None:
    project, first = embedded_project
    create_embedding_set(project, {"source": "stopped"})
    choices, active = set_choices(project)
    assert choices == [(first.id, f"Set {first.id}: random test vectors (12)")]
    assert active == first.id


def test_a_score_of_another_set_is_marked_stale(embedded_project) -> None:
    project, first = embedded_project
    run_job(score_job(project, first, CancelToken()))
    titles = dict(colour_keys(project))
    assert titles["score:typicality"] == "Score: typicality"
    second = create_embedding_set(project, {"source": "second"})
    ids = first.ids()
    vectors = np.random.default_rng(1).standard_normal((len(ids), 4)).astype(np.float32)
    finish_embedding_set(project, second, ids, vectors)
    titles = dict(colour_keys(project))
    assert titles["score:typicality"] == f"Score: typicality (stale: set {first.id})"
    assert titles["score:duplicate_keeper"].endswith(f"(stale: set {first.id})")
    set_active(project, first.id)
    assert dict(colour_keys(project))["score:uniqueness"] == "Score: uniqueness"
