"""`sieve select`, `sieve label-next`, `sieve rounds` and `sieve import-predictions` on the demo."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from app.cli.entry import main
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.paths import resources_dir
from app.core.store.project import Project

QUICK = ["--backbone", "resnet18", "--image-size", "32", "--device", "cpu", "--batch-size", "100"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("demo") / "data"
    shutil.copytree(resources_dir() / "demo", root)
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
    assert main(["embed", str(root), *QUICK]) == 0
    return str(root)


def select(demo_dir: str, capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["select", demo_dir, *args, "--json", "--overwrite"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_select_50_diverse_and_save_them(demo_dir, capsys, tmp_path) -> None:
    result = select(demo_dir, capsys, "--n", "50", "--strategy", "diversity", "--name", "diverse")
    assert result["count"] == 50 and len(set(result["samples"])) == 50
    assert result["strategy"]["strategies"] == [{"kind": "diversity", "strength": 1.0}]
    out = tmp_path / "diverse.txt"
    assert (
        main(["export", demo_dir, "--selection", "diverse", "--format", "txt", "--out", str(out)])
        == 0
    )
    assert out.read_text().splitlines() == result["samples"]


def test_default_strategy_and_excluded_tag(demo_dir, capsys, tmp_path) -> None:
    first = select(demo_dir, capsys, "--n", "20", "--name", "first")
    assert [s["kind"] for s in first["strategy"]["strategies"]] == ["typicality", "diversity"]
    assert main(["tag", demo_dir, "labelled", "--selection", "first"]) == 0
    second = select(demo_dir, capsys, "--n", "20", "--exclude-tag", "labelled", "--name", "second")
    assert not set(second["samples"]) & set(first["samples"])


def test_balance_reaches_uniform_shares(demo_dir, capsys) -> None:
    result = select(
        demo_dir,
        capsys,
        "--n",
        "50",
        "--strategy",
        "random",
        "--balance",
        "label:uniform",
        "--name",
        "balanced",
    )
    counts = Counter(name.split("/")[0] for name in result["samples"])
    assert len(counts) == 10 and all(4 <= count <= 6 for count in counts.values())


def test_weight_by_a_stored_score(demo_dir, capsys) -> None:
    assert main(["duplicates", demo_dir]) == 0
    unique = select(
        demo_dir, capsys, "--n", "5", "--strategy", "weight:uniqueness:1", "--name", "odd"
    )
    common = select(
        demo_dir, capsys, "--n", "5", "--strategy", "weight:uniqueness:-1", "--name", "plain"
    )
    assert not set(unique["samples"]) & set(common["samples"])


def test_label_next_fits_a_probe_on_tagged_classes(demo_dir, capsys) -> None:
    with Project.open(demo_dir) as project:
        rows = project.samples()
        for label in ("bag", "trouser"):
            tag_id = project.create_tag(f"class-{label}")
            project.add_tag(tag_id, [r.id for r in rows if r.label == label][:10])
    capsys.readouterr()
    args = ["label-next", demo_dir, "-n", "12", "--label-tags", "class-bag,class-trouser"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["round"] == 1 and result["labelled"] == 20 and len(result["picked"]) == 12
    assert result["strategy"] == "margin+typicality+diversity"
    assert main(["rounds", demo_dir, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["picked"] == 12
    assert main(["tag", demo_dir, "--json"]) == 0
    tags = {t["name"]: t["count"] for t in json.loads(capsys.readouterr().out)}
    assert tags["to-label"] == 12


def test_import_predictions_scores_uncertainty(demo_dir, capsys, tmp_path: Path) -> None:
    path = tmp_path / "predictions.csv"
    path.write_text("filename,bag,other\nbag/03818.png,0.5,0.5\ncoat/nowhere.png,0.9,0.1\n")
    assert main(["import-predictions", demo_dir, str(path)]) == 0
    out = capsys.readouterr().out
    assert "for 1 samples" in out and "uncertainty_margin" in out and "coat/nowhere.png" in out


def test_bad_strategies_are_refused(demo_dir, capsys) -> None:
    for spec, problem in (
        ("colour", "unknown strategy"),
        ("weight", "needs what to weigh"),
        ("weight:nothing", "no score named"),
        ("diversity:x", "not a number"),
    ):
        assert main(["select", demo_dir, "--n", "5", "--strategy", spec, "--name", "z"]) == 1
        assert problem in capsys.readouterr().err


def test_random_alone_picks_n_distinct_samples(demo_dir, capsys) -> None:
    result = select(demo_dir, capsys, "--n", "7", "--strategy", "random", "--name", "luck")
    assert len(set(result["samples"])) == 7
