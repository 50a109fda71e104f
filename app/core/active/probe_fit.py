"""Fitting the probe outside a round: uncertainty and the predicted class for every sample.

Torch-free at import (the GUI imports this at start); :func:`fit_probe_job` imports the probe
when it runs, on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.active.labels import MIN_CLASSES, PREDICTED_KEY, UNCERTAINTY_KEY
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.embedding_sets import record_score_source
from app.core.store.metadata import write_scores
from app.core.store.project import Project


@dataclass(frozen=True)
class ProbeFit:
    """A fitted probe's summary: classes, labelled rows, held-out accuracy, predictions."""

    classes: tuple[str, ...]
    labelled: int
    samples: int
    accuracy: float | None
    held_out: int
    predicted: tuple[int, ...]  # samples predicted per class, in ``classes`` order


def fit_probe_job(
    project: Project,
    cancel: CancelToken,
    label_tags: list[str] | None = None,
    seed: int = 0,
) -> Job[ProbeFit]:
    """Fit the probe on the labelled samples of the active set; store uncertainty for all.

    Writes :data:`UNCERTAINTY_KEY` (margin, as the rounds do) and :data:`PREDICTED_KEY` (class
    index into the returned ``classes``). The held-out accuracy uses the seed the next round will
    use, so it matches what that round records when the labels stay the same.
    """
    from app.core.active.loop import uncertainty
    from app.core.active.probe import fit_probe
    from app.core.active.rounds import held_out_accuracy, labelled_embeddings, list_rounds

    yield Progress("probe", 0, None, "reading embeddings and labels")
    set_id, vectors, ids, labels, names = labelled_embeddings(project, label_tags)
    rows = np.flatnonzero(labels >= 0)
    present = len(np.unique(labels[rows]))
    if present < MIN_CLASSES:
        raise SieveError(
            f"the probe needs labelled samples of at least {MIN_CLASSES} classes "
            f"({present} labelled so far)"
        )
    cancel.raise_if_cancelled()
    yield Progress("probe", 0, None, "measuring held-out accuracy")
    number = len(list_rounds(project)) + 1
    accuracy, held = held_out_accuracy(vectors, rows, labels[rows], seed + number, cancel)
    cancel.raise_if_cancelled()
    yield Progress("probe", 0, None, f"fitting the probe on {len(rows):,} labelled samples")
    probe = fit_probe(vectors[rows], labels[rows], cancel=cancel)
    probabilities = probe.probabilities(vectors)
    predicted = probe.classes[probabilities.argmax(axis=1)].astype(np.int64)
    cancel.raise_if_cancelled()
    yield Progress("probe", 0, None, f"storing uncertainty for {len(ids):,} samples")
    write_scores(
        project, ids, {UNCERTAINTY_KEY: uncertainty(probabilities), PREDICTED_KEY: predicted}
    )
    record_score_source(project, set_id, [UNCERTAINTY_KEY, PREDICTED_KEY])
    found = "" if accuracy is None else f", held-out accuracy {accuracy:.1%}"
    yield Progress("probe", 1, 1, f"probe fitted on {len(rows):,} samples{found}")
    return ProbeFit(
        classes=tuple(names),
        labelled=len(rows),
        samples=len(ids),
        accuracy=accuracy,
        held_out=held,
        predicted=tuple(int(c) for c in np.bincount(predicted, minlength=len(names))),
    )
