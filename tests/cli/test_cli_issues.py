"""`sieve issues`: checks as JSON or a table, thresholds, tagging, and clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.entry import main
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import run_job
from app.core.store.project import Project
from tests.core.quality.planted import make_planted


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("issues") / "data"
    make_planted(root, ordinary=30, per_kind=2, seed=5)
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
    return root


def test_json_lists_every_check_with_count_threshold_and_samples(data, capsys):
    assert main(["issues", str(data), "--json"]) == 0
    checks = json.loads(capsys.readouterr().out)["checks"]
    assert checks["dark"]["count"] == 2
    assert {s["path"] for s in checks["dark"]["samples"]} == {
        "p_dark_0000.jpg",
        "p_dark_0001.jpg",
    }
    for entry in checks.values():
        assert set(entry) >= {"count", "threshold", "samples"}
    exact = checks["exact_duplicates"]
    keep_of = {path: g["keep"] for g in exact["groups"] for path in g["paths"]}
    assert len(exact["groups"]) == 2 and all(len(g["paths"]) == 2 for g in exact["groups"])
    assert all(sample["keep"] == keep_of[sample["path"]] for sample in exact["samples"])


def test_chosen_checks_a_threshold_and_a_tag(data, capsys):
    args = ["issues", str(data), "--checks", "dark,light", "--threshold", "dark=0.6"]
    assert main([*args, "--tag", "exclude", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["checks"]) == ["dark", "light"]
    assert out["checks"]["dark"]["threshold"] == 0.6
    assert out["checks"]["dark"]["count"] > 2
    assert out["tagged"]["count"] == out["checks"]["dark"]["count"] + 2
    assert main(["tag", str(data), "--json"]) == 0
    tags = json.loads(capsys.readouterr().out)
    assert {"name": "exclude", "count": out["tagged"]["count"], "color": "#4c9be8"} in tags


def test_table_names_the_worst_samples(data, capsys):
    assert main(["issues", str(data), "--checks", "blurry,odd_size"]) == 0
    out = capsys.readouterr().out
    assert "blurry" in out and "p_blurry_000" in out and "p_tiny_000" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--checks", "shiny"], "unknown check 'shiny'"),
        (["--threshold", "dark"], "bad threshold 'dark'"),
        (["--threshold", "dark=abc"], "is not a number"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(data, capsys, extra, message):
    assert main(["issues", str(data), *extra]) != 0
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
