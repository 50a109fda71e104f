"""The map view's data: layouts of the active set and per-point colours."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.embeddings.embed import EmbedConfig
from app.core.errors import SieveError
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.ssl.config import TrainConfig
from app.core.ssl.trainer import train_job
from app.core.store.embedding_sets import active_embedding_set
from app.core.store.metadata import write_scores
from app.core.store.project import Project
from app.gui_model.map_sources import (
    UNLABELLED,
    colour_data,
    colour_keys,
    embed_and_layout_job,
    embed_run_and_layout_job,
    layout_job,
    load_source,
)
from tests.factories import make_dataset


def _drive(job):
    reports = []
    while True:
        try:
            reports.append(next(job))
        except StopIteration as stop:
            return reports, stop.value


def test_layout_reports_the_source_first_then_the_pca_layout(embedded_project) -> None:
    project, embedding_set = embedded_project
    reports, xy = _drive(layout_job(project.path, "pca", CancelToken()))
    partials = [r.partial for r in reports if r.partial is not None]
    assert [p["kind"] for p in partials] == ["layout"]
    source = partials[0]["source"]
    assert source.set_id == embedding_set.id
    assert np.array_equal(source.ids, embedding_set.ids())
    assert np.array_equal(partials[0]["xy"], xy)
    assert xy.shape == (len(source.ids), 2)
    again, cached = _drive(layout_job(project.path, "pca", CancelToken()))
    assert "loaded from cache" in [r.message for r in again]
    assert np.array_equal(cached, xy)


def test_colours_by_label_folder_tag_and_score(embedded_project) -> None:
    project, _ = embedded_project
    source, vectors = load_source(project)
    labels, values = colour_data(project, source, "label")
    assert values is None
    expected = [source.table.labels[source.table.label_code[r]] for r in source.rows]
    assert labels.tolist() == expected
    assert set(labels) == {"cats", "dogs"}
    folders, _ = colour_data(project, source, "folder")
    assert folders.tolist() == expected
    tag = project.create_tag("keep")
    project.add_tag(tag, source.ids[:3].tolist())
    tagged, _ = colour_data(project, source, "tag:keep")
    assert tagged.tolist() == ["keep"] * 3 + ["not keep"] * (len(source.ids) - 3)
    write_scores(project, source.ids[:4], {"typicality": np.array([0.1, 0.2, 0.3, 0.4])})
    _, score = colour_data(project, source, "score:typicality")
    assert np.allclose(score[:4], [0.1, 0.2, 0.3, 0.4])
    assert np.isnan(score[4:]).all()
    keys = [key for key, _ in colour_keys(project)]
    assert keys == ["label", "folder", "selection", "tag:keep", "score:typicality"]


def test_a_project_without_embeddings_says_what_to_do(tmp_path) -> None:
    root = make_dataset(tmp_path / "flat", {"": 3}, size=(16, 16))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        with pytest.raises(SieveError, match="No embeddings yet"):
            load_source(project)


def test_colour_data_refuses_unknown_keys(embedded_project) -> None:
    project, _ = embedded_project
    source, _ = load_source(project)
    for key, message in (
        ("tag:nope", "no tag named"),
        ("score:nope", "no samples have a score"),
        ("shoe size", "cannot colour"),
    ):
        with pytest.raises(SieveError, match=message):
            colour_data(project, source, key)
    assert UNLABELLED not in colour_data(project, source, "label")[0]


def test_embed_and_layout_makes_a_new_active_set(embedded_project) -> None:
    project, old = embedded_project
    config = EmbedConfig(backbone="resnet18_small", weights="none", image_size=16, batch_size=8)
    reports, xy = _drive(embed_and_layout_job(project.path, config, "pca", CancelToken()))
    sources = [r.partial["source"] for r in reports if r.partial and r.partial["kind"] == "layout"]
    assert sources[0].set_id != old.id
    assert xy.shape == (12, 2)


def test_a_training_run_is_embedded_and_laid_out(tmp_path) -> None:
    root = make_dataset(tmp_path / "data", {"cats": 6, "dogs": 6}, size=(24, 24))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        tiny = TrainConfig(
            method="simclr",
            backbone="mobilenet_v3_small",
            image_size=16,
            epochs=1,
            batch_size=4,
            device="cpu",
            checkpoint_every=0,
        )
        run_job(train_job(project, tiny))
        path = project.path
    reports, xy = _drive(embed_run_and_layout_job(path, 1, "pca", CancelToken()))
    assert xy.shape == (12, 2) and any(r.stage == "embedding" for r in reports)
    with Project.open(path) as project:
        found = active_embedding_set(project)
        assert found is not None and found.config["run"] == 1
