"""What the selection panel needs of SelectSpec: fractions, explicit samples, folder balance."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import SieveError
from app.core.jobs import CancelToken, run_job
from app.core.selection.spec import (
    SelectSpec,
    next_selection_name,
    parse_balance,
    sample_classes,
    selection_job,
    selection_run_job,
)
from app.core.store.selections import get_selection


def run(project, embedding_set, spec: SelectSpec, name: str = "s"):
    return run_job(selection_run_job(project, embedding_set, spec, name, CancelToken()))


def test_a_fraction_picks_round_fraction_times_the_pool(embedded_project) -> None:
    project, embedding_set = embedded_project
    ids = embedding_set.ids()
    project.add_tag(project.create_tag("done"), ids[:2].tolist())
    spec = SelectSpec(n=0, fraction=0.25, exclude_tag="done")
    result = run(project, embedding_set, spec)
    assert len(result.saved.members) == round(0.25 * 10) == len(result.rows)
    assert len(result.pool) == 10 and not np.isin(ids[:2], result.saved.members).any()
    assert result.saved.strategy["fraction"] == 0.25


@pytest.mark.parametrize("fraction", [0.0, 1.5, 0.01])
def test_a_useless_fraction_is_refused(embedded_project, fraction: float) -> None:
    project, embedding_set = embedded_project
    with pytest.raises(SieveError):
        run(project, embedding_set, SelectSpec(n=0, fraction=fraction))


def test_similarity_to_explicit_samples(embedded_project) -> None:
    project, embedding_set = embedded_project
    ids = embedding_set.ids()
    spec = SelectSpec(n=1, strategies=[{"kind": "similarity", "samples": [int(ids[3])]}])
    assert run(project, embedding_set, spec).saved.members.tolist() == [ids[3]]
    missing = SelectSpec(n=1, strategies=[{"kind": "similarity", "samples": [10**9]}])
    with pytest.raises(SieveError, match="chosen samples"):
        run(project, embedding_set, missing)


def test_folder_balance_reaches_uniform_shares(embedded_project) -> None:
    project, embedding_set = embedded_project
    spec = SelectSpec(n=6, strategies=[], balance=parse_balance("folder:uniform"))
    members = run(project, embedding_set, spec).saved.members
    folders = sample_classes(project, members, "folder")
    assert sorted(folders) == ["cats"] * 3 + ["dogs"] * 3
    with pytest.raises(SieveError, match="no folder"):
        run(project, embedding_set, SelectSpec(n=2, balance={"by": "folder", "target": {"x": 1}}))


def test_parse_balance_knows_folders() -> None:
    assert parse_balance("folder:input") == {"by": "folder", "target": "input"}
    with pytest.raises(SieveError):
        parse_balance("colour:uniform")


def test_the_run_reports_rows_and_distances_and_selection_job_is_unchanged(
    embedded_project,
) -> None:
    project, embedding_set = embedded_project
    result = run(project, embedding_set, SelectSpec(n=4, strategies=[{"kind": "diversity"}]))
    assert embedding_set.ids()[result.rows].tolist() == result.saved.members.tolist()
    assert result.distances is not None and np.isinf(result.distances[0])
    saved = run_job(selection_job(project, embedding_set, SelectSpec(n=3), "t", CancelToken()))
    assert get_selection(project, "t").members.tolist() == saved.members.tolist()


def test_next_selection_name_is_fresh() -> None:
    assert next_selection_name([]) == "selection-1"
    assert next_selection_name(["selection-2", "selection-10", "mine", "selection-x"]) == (
        "selection-11"
    )
