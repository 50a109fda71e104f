"""``sieve embeddings`` lists and activates sets; duplicates and select say when scores are stale
and recompute them."""

from __future__ import annotations

import json

import numpy as np

from app.cli.entry import main
from app.core.store.embedding_sets import (
    create_embedding_set,
    finish_embedding_set,
    record_score_source,
    score_source,
    stale_scores,
)
from app.core.store.metadata import write_scores


def second_set(project):
    ids = np.array([row.id for row in project.samples()], dtype=np.int64)
    vectors = np.random.default_rng(1).standard_normal((len(ids), 8)).astype(np.float32)
    embedding_set = create_embedding_set(project, {"source": "second vectors"})
    return finish_embedding_set(project, embedding_set, ids, vectors)


def listing(path: str, capsys) -> dict:
    capsys.readouterr()
    assert main(["embeddings", path, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_embeddings_lists_the_sets_and_activates_a_finished_one(embedded_project, capsys) -> None:
    project, first = embedded_project
    second = second_set(project)
    stopped = create_embedding_set(project, {"source": "stopped"})
    path = str(project.path)
    found = listing(path, capsys)
    assert found["active"] == second.id
    assert [s["id"] for s in found["sets"]] == [first.id, second.id, stopped.id]
    entry = found["sets"][0]
    assert (entry["source"], entry["count"], entry["dim"]) == ("random test vectors", 12, 8)
    assert entry["status"] == "finished" and not entry["active"] and entry["created"]
    assert found["sets"][1]["active"] and found["sets"][2]["status"] == "created"
    assert main(["embeddings", path, "--activate", str(first.id)]) == 0
    out = capsys.readouterr().out
    assert f"* set {first.id}\trandom test vectors\t12 x 8\tfinished" in out
    assert f"embedding set {first.id} is active" in out
    assert listing(path, capsys)["active"] == first.id


def test_embeddings_refuses_to_activate_an_unfinished_or_unknown_set(
    embedded_project, capsys
) -> None:
    project, first = embedded_project
    stopped = create_embedding_set(project, {"source": "stopped"})
    path = str(project.path)
    assert main(["embeddings", path, "--activate", str(stopped.id)]) == 1
    error = capsys.readouterr().err
    assert f"embedding set {stopped.id} is created, not finished" in error
    assert f"sieve embed --resume {stopped.id}" in error
    assert main(["embeddings", path, "--activate", "42"]) == 1
    assert "no embedding set 42" in capsys.readouterr().err
    assert listing(path, capsys)["active"] == first.id


def test_duplicates_says_it_recomputes_scores_of_another_set(embedded_project, capsys) -> None:
    project, first = embedded_project
    path = str(project.path)
    assert main(["duplicates", path, "--json"]) == 0
    second = second_set(project)
    capsys.readouterr()
    assert main(["duplicates", path, "--json"]) == 0
    error = capsys.readouterr().err
    assert (
        "duplicate_group, duplicate_keeper, outlier, typicality, uniqueness were computed from "
        f"embedding set {first.id}, the active set is {second.id}: recomputing"
    ) in error
    assert stale_scores(project) == {}


def test_duplicates_of_another_set_warns_its_scores_are_stale(embedded_project, capsys) -> None:
    project, first = embedded_project
    second = second_set(project)
    capsys.readouterr()
    assert main(["duplicates", str(project.path), "--set", str(first.id)]) == 0
    error = capsys.readouterr().err
    assert f"scores from embedding set {first.id} are stored, the active set is {second.id}" in (
        error
    )
    assert stale_scores(project)["typicality"] == first.id


def test_select_recomputes_a_stale_weight_score(embedded_project, capsys) -> None:
    project, first = embedded_project
    path = str(project.path)
    assert main(["duplicates", path]) == 0
    second = second_set(project)
    capsys.readouterr()
    command = ["select", path, "--n", "3", "--strategy", "weight:uniqueness", "--name", "u"]
    assert main(command) == 0
    error = capsys.readouterr().err
    assert (
        f"uniqueness was computed from embedding set {first.id}, the active set is {second.id}: "
        "recomputing"
    ) in error
    assert score_source(project, "uniqueness") == second.id


def test_select_refuses_a_stale_uncertainty(embedded_project, capsys) -> None:
    project, first = embedded_project
    ids = first.ids()
    write_scores(project, ids, {"active_uncertainty": np.linspace(0, 1, len(ids))})
    record_score_source(project, first.id, ["active_uncertainty"])
    second_set(project)
    capsys.readouterr()
    command = ["select", str(project.path), "--n", "3", "--name", "x"]
    assert main([*command, "--strategy", "weight:active_uncertainty"]) == 1
    error = capsys.readouterr().err
    assert f"active_uncertainty was computed from embedding set {first.id}" in error
    assert "sieve label-next" in error


def test_info_lists_the_stale_scores(embedded_project, capsys) -> None:
    project, first = embedded_project
    path = str(project.path)
    assert main(["duplicates", path]) == 0
    second_set(project)
    capsys.readouterr()
    assert main(["info", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stale_scores"]["typicality"] == first.id
    assert main(["info", path]) == 0
    assert f"stale    typicality (from set {first.id};" in capsys.readouterr().out
