"""Stored scores record the embedding set they came from; re-embedding makes them stale."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.active.probe_fit import fit_probe_job
from app.core.active.rounds import active_round_job
from app.core.embeddings.scores import STORED_KEYS, score_job
from app.core.errors import SieveError
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import (
    create_embedding_set,
    finish_embedding_set,
    score_source,
    set_active,
    stale_note,
    stale_scores,
)


def second_set(project, seed: int = 1):
    """A new finished set over the same samples; it becomes the active one."""
    ids = np.array([row.id for row in project.samples()], dtype=np.int64)
    vectors = np.random.default_rng(seed).standard_normal((len(ids), 8)).astype(np.float32)
    embedding_set = create_embedding_set(project, {"source": f"test vectors {seed}"})
    return finish_embedding_set(project, embedding_set, ids, vectors)


def label_two_classes(project) -> list[str]:
    ids = [row.id for row in project.samples()]
    for name, members in {"cat": ids[:2], "dog": ids[6:8]}.items():
        project.add_tag(project.create_tag(name), members)
    return ["cat", "dog"]


def test_scores_record_their_set_and_go_stale_when_another_is_active(embedded_project) -> None:
    project, first = embedded_project
    run_job(score_job(project, first, CancelToken()))
    assert all(score_source(project, key) == first.id for key in STORED_KEYS)
    assert stale_scores(project) == {}
    second = second_set(project)
    assert stale_scores(project) == {key: first.id for key in STORED_KEYS}
    set_active(project, first.id)
    assert stale_scores(project) == {}
    set_active(project, second.id)
    run_job(score_job(project, second, CancelToken()))
    assert stale_scores(project) == {} and score_source(project, "typicality") == second.id


def test_unrecorded_scores_have_no_source(embedded_project) -> None:
    project, _ = embedded_project
    assert score_source(project, "typicality") is None


def test_the_probe_and_the_rounds_record_their_uncertainty_source(embedded_project) -> None:
    project, first = embedded_project
    tags = label_two_classes(project)
    run_job(fit_probe_job(project, CancelToken(), label_tags=tags))
    assert score_source(project, "active_uncertainty") == first.id
    assert score_source(project, "active_predicted") == first.id
    second = second_set(project)
    assert stale_scores(project)["active_uncertainty"] == first.id
    run_job(active_round_job(project, 2, CancelToken(), label_tags=tags))
    assert score_source(project, "active_uncertainty") == second.id
    assert "active_uncertainty" not in stale_scores(project)


def test_only_a_finished_set_becomes_active(embedded_project) -> None:
    project, _ = embedded_project
    unfinished = create_embedding_set(project, {"source": "stopped"})
    with pytest.raises(SieveError, match=f"set {unfinished.id} is created, not finished"):
        set_active(project, unfinished.id)
    with pytest.raises(SieveError, match="no embedding set 99"):
        set_active(project, 99)


def test_stale_note_reads_as_a_sentence() -> None:
    assert stale_note(["typicality"], 2, 3) == (
        "typicality was computed from embedding set 2, the active set is 3"
    )
    assert stale_note(["a", "b"], 1, None) == (
        "a, b were computed from embedding set 1, there is no active set"
    )
