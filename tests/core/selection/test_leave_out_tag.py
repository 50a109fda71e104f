"""A selection can leave a tag's samples out entirely (the clean subset after sieve issues)."""

from __future__ import annotations

import numpy as np

from app.core.jobs import CancelToken, run_job
from app.core.selection.spec import SelectSpec, selection_run_job


def test_left_out_samples_are_never_picked_and_do_not_count_as_chosen(embedded_project):
    project, embedding_set = embedded_project
    ids = np.array(sorted(row.id for row in project.samples()), dtype=np.int64)
    tag_id = project.create_tag("exclude")
    project.add_tag(tag_id, ids[:4].tolist())
    diversity = [{"kind": "diversity", "strength": 1.0}]
    spec = SelectSpec(n=8, strategies=diversity, leave_out_tag="exclude")
    run = run_job(selection_run_job(project, embedding_set, spec, "clean", CancelToken()))
    assert sorted(run.saved.members.tolist()) == ids[4:].tolist()
    assert len(run.pool) == 8
    assert run.saved.strategy["leave_out_tag"] == "exclude"
    fraction = SelectSpec(n=0, strategies=diversity, leave_out_tag="exclude", fraction=0.5)
    half = run_job(selection_run_job(project, embedding_set, fraction, "half", CancelToken()))
    assert len(half.saved.members) == 4 and not np.isin(half.saved.members, ids[:4]).any()
