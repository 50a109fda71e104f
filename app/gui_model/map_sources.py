"""What the map view needs from a project: the active set's layout and per-sample colours.

Qt-free: the GUI's map panel runs these jobs on a worker thread and draws what they return.
Colour-by keys are strings shared through the app state: ``"label"``, ``"folder"``,
``"tag:NAME"``, ``"selection"`` (drawn from the shared selection by the view) and
``"score:KEY"`` (any numeric per-sample metadata, e.g. typicality or uncertainty); a score
computed from another embedding set than the active one is listed with a "(stale: set N)" mark.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.catalog import SampleTable, load_table, score_keys, scores, tag_members
from app.core.store.embedding_sets import active_embedding_set, embedding_sets, stale_scores
from app.core.store.project import Project

if TYPE_CHECKING:
    from app.core.embeddings.embed import EmbedConfig

UNLABELLED = "(none)"
NO_EMBEDDINGS = (
    "No embeddings yet: train a model in the Train tab and press 'Embed and map', "
    "or embed with random weights for a quick look."
)


@dataclass
class MapSource:
    """The active set of a project and the sample table its colours come from."""

    set_id: int
    set_name: str
    folder: Path
    ids: np.ndarray
    table: SampleTable
    rows: np.ndarray
    """Per map point: its row in ``table``."""
    vectors: np.ndarray
    """Per map point: its unit vector (the set's rows whose samples are still usable)."""
    note: str = ""
    """The set's rows left off the map, for the user ("" when none): their samples are gone."""


def load_source(project: Project) -> tuple[MapSource, np.ndarray]:
    """``(source, unit vectors)`` of the active set's live rows; a readable error when none.

    Rows whose samples are gone from the project are left off: the map draws no ghost points.
    """
    embedding_set = active_embedding_set(project)
    if embedding_set is None:
        raise SieveError(NO_EMBEDDINGS)
    live = embedding_set.live(project, mmap=False)
    ids = np.asarray(live.ids, dtype=np.int64)
    vectors = np.asarray(live.vectors, dtype=np.float32)
    table = load_table(project)
    source = MapSource(
        embedding_set.id,
        embedding_set.describe(),
        embedding_set.folder,
        ids,
        table,
        table.row_of(ids),
        vectors,
        live.note,
    )
    return source, vectors


def layout_job(
    project_dir: Path, method: str, cancel: CancelToken, params: dict[str, Any] | None = None
) -> Job[np.ndarray]:
    """Lay out the active set, reporting each layout with the :class:`MapSource` it belongs to.

    Every ``partial={"kind": "layout", "xy": ..., "source": ...}`` stands on its own (a GUI
    may skip reports): PCA comes at once, UMAP as it converges; layouts are cached per set.
    """
    with Project.open(project_dir) as project:
        yield Progress("map", 0, None, "reading the embeddings")
        source, vectors = load_source(project)
    if source.note:
        yield Progress("map", 0, None, source.note)
    from app.core.embeddings.maps import (
        map_job,  # umap and numba load only when there is a map to make
    )

    job = map_job(vectors, method, params, cancel, cache_dir=source.folder / "maps")
    while True:
        try:
            progress = next(job)
        except StopIteration as stop:
            return stop.value
        if isinstance(progress.partial, dict) and progress.partial.get("kind") == "layout":
            progress = replace(progress, partial={**progress.partial, "source": source})
        yield progress


def embed_and_layout_job(
    project_dir: Path, config: EmbedConfig, method: str, cancel: CancelToken
) -> Job[np.ndarray]:
    """Embed every usable sample with ``config`` (the new set becomes active), then lay it out."""
    from app.core.embeddings.embed import embed_job  # torch loads only when something is embedded

    with Project.open(project_dir) as project:
        yield from embed_job(project, config, cancel)
    return (yield from layout_job(project_dir, method, cancel))


def embed_run_and_layout_job(
    project_dir: Path, run_id: int, method: str, cancel: CancelToken
) -> Job[np.ndarray]:
    """Embed with training run ``run_id`` and lay the new set out (torch loads on the job's
    thread, never a GUI's)."""
    from app.core.embeddings.embed import EmbedConfig

    return (yield from embed_and_layout_job(project_dir, EmbedConfig(run=run_id), method, cancel))


def colour_keys(project: Project) -> list[tuple[str, str]]:
    """``(key, title)`` of everything the map can colour by, in menu order."""
    keys = [("label", "Label"), ("folder", "Folder"), ("selection", "Selection")]
    keys += [(f"tag:{tag.name}", f"Tag: {tag.name}") for tag in project.tags()]
    stale = stale_scores(project)
    keys += [(f"score:{key}", _score_title(key, stale.get(key))) for key in score_keys(project)]
    return keys


def _score_title(key: str, stale_set: int | None) -> str:
    return f"Score: {key}" if stale_set is None else f"Score: {key} (stale: set {stale_set})"


def set_choices(project: Project) -> tuple[list[tuple[int, str]], int | None]:
    """``([(set id, title), ...], active set id)``: the finished sets the map can show."""
    active = active_embedding_set(project)
    choices = [
        (s.id, f"Set {s.id}: {s.config.get('source', '?')} ({s.metrics.get('count', 0):,})")
        for s in embedding_sets(project)
        if s.finished and not s.of_objects  # object sets have their own map (object_map.py)
    ]
    return choices, None if active is None else active.id


def colour_data(
    project: Project, source: MapSource, key: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(categories, values)`` per map point for colour-by ``key`` (one of them None).

    ``"selection"`` is not stored data: the view colours it from the shared selection.
    """
    table, rows = source.table, source.rows
    if key == "label":
        names = np.array([*table.labels, UNLABELLED], dtype=object)
        codes = np.where(rows >= 0, table.label_code[rows.clip(0)], -1)
        return names[codes], None
    if key == "folder":
        names = np.array([name or "(top level)" for name in table.folders], dtype=object)
        return names[table.folder_code()[rows.clip(0)]], None
    if key.startswith("tag:"):
        return _tag_categories(project, source.ids, key[4:]), None
    if key.startswith("score:"):
        values = scores(project, key[6:], table)
        if values is None:
            raise SieveError(f"no samples have a score named {key[6:]!r}")
        return None, np.where(rows >= 0, values[rows.clip(0)], np.nan)
    raise SieveError(f"cannot colour the map by {key!r}")


def _tag_categories(project: Project, ids: np.ndarray, name: str) -> np.ndarray:
    tag_id = project.tag_id(name)
    if tag_id is None:
        raise SieveError(f"there is no tag named {name!r}")
    members = tag_members(project).get(tag_id, np.empty(0, np.int64))
    inside = np.isin(ids, members)
    return np.where(inside, name, f"not {name}").astype(object)
