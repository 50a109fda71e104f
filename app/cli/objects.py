"""Object-level commands: ``sieve embed --objects``, ``neighbors --object``, ``duplicates
--objects``, ``select --objects`` (handlers called from ``embed.py`` and ``select.py``), and
``sieve object-label-errors`` and ``sieve rare-objects``."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from app.cli.jobs import JobPrinter, run_cancellable
from app.core.errors import SieveError
from app.core.jobs import CancelToken


def add_object_commands(commands: argparse._SubParsersAction) -> None:
    from app.cli.args import finite_float, positive_int

    errors = commands.add_parser(
        "object-label-errors",
        help="objects whose class disagrees with their nearest objects (possibly mislabelled)",
        description="Score every object of the active object set by label disagreement: the "
        "share of its k nearest objects whose class differs (0 agree .. 1 none agree), store "
        "it, and list the highest first.",
    )
    errors.add_argument("project", help="project folder")
    errors.add_argument("-k", type=positive_int, default=10, help="neighbours (default 10)")
    errors.add_argument("--top", type=positive_int, default=20, help="how many to list (20)")
    errors.add_argument(
        "--min", type=finite_float(0, 1), default=0.5, help="list scores above this (0.5)"
    )
    errors.add_argument("--set", type=positive_int, help="object set (default: active)")
    errors.add_argument("--json", action="store_true", help="print JSON")
    errors.set_defaults(handler=cmd_object_label_errors)

    rare = commands.add_parser(
        "rare-objects",
        help="score images by their rare-class objects (stored as the score rare_objects)",
        description="rare_objects of an image = sum over its objects of 1 / (objects of that "
        "class). 'sieve select --strategy weight:rare_objects' then favours such images.",
    )
    rare.add_argument("project", help="project folder")
    rare.add_argument("--source", help="annotation source (default: the ground truth)")
    rare.add_argument("--top", type=positive_int, default=10, help="how many to list (10)")
    rare.add_argument("--json", action="store_true", help="print JSON")
    rare.set_defaults(handler=cmd_rare_objects)


def live_rows(project, embedding_set):
    """The set's rows whose objects remain; says on stderr how many were dropped, if any."""
    live = embedding_set.live(project)
    if live.note:
        print(live.note, file=sys.stderr)
    return live


def object_set(project, set_id: int | None):
    """The object set ``set_id`` (finished), or the active object set."""
    from app.core.store.embedding_sets import get_embedding_set, require_object_set

    if set_id is None:
        return require_object_set(project)
    embedding_set = get_embedding_set(project, set_id)
    if not embedding_set.of_objects:
        raise SieveError(f"embedding set {set_id} is a set of images, not of objects")
    if not embedding_set.finished:
        raise SieveError(f"embedding set {set_id} is {embedding_set.status}: finish it first")
    return embedding_set


def cmd_embed_objects(args: argparse.Namespace, config) -> int:
    """``sieve embed --objects``: ``config`` is the EmbedConfig (None with --resume)."""
    from app.core.embeddings.objects import CropConfig, object_embed_job
    from app.core.ssl import distributed
    from app.core.store.project import Project

    crops = None
    if config is not None:
        crops = CropConfig(args.source, args.padding, args.min_size)
    cancel = CancelToken()
    quiet = distributed.rank_from_env() > 0
    with Project.open(args.project) as project:
        job = object_embed_job(project, config, crops, cancel, resume_set=args.resume)
        embedding_set = run_cancellable(job, cancel, JobPrinter(quiet=quiet))
        if quiet or embedding_set is None:
            return 0
        metrics = embedding_set.metrics
        print(f"object set {embedding_set.id}: {embedding_set.config.get('source', '')}")
        print(f"{metrics.get('count', 0):,} objects x {metrics.get('dim', 0)} dimensions")
        small = metrics.get("objects_too_small", 0)
        if small:
            print(
                f"left out: {small:,} objects smaller than {embedding_set.config['min_size']:g} px"
            )
        for problem in metrics.get("skipped", []):
            print(f"skipped: {problem}")
    return 0


def _describe(project, embedding_set, ids: np.ndarray) -> list[dict]:
    from app.core.embeddings.object_table import object_columns

    columns = object_columns(project, embedding_set, ids)
    rows = project.samples_by_id(sorted(set(columns.sample_ids.tolist())))
    return [
        {
            "object": int(object_id),
            "class": columns.classes[int(label)],
            "image": rows[int(sample)].name,
            "box": [round(float(v), 2) for v in box],
        }
        for object_id, label, sample, box in zip(
            ids.tolist(), columns.labels, columns.sample_ids, columns.boxes, strict=True
        )
    ]


def cmd_object_neighbors(args: argparse.Namespace) -> int:
    """``sieve neighbors --object ID``: the nearest objects, and how many differ in class."""
    from app.core.embeddings.neighbours import NeighborIndex
    from app.core.embeddings.object_scores import stored_disagreement
    from app.core.store.project import Project

    with Project.open(args.project) as project:
        embedding_set = object_set(project, args.set)
        live = live_rows(project, embedding_set)
        index = NeighborIndex.for_set(embedding_set, live)
        if args.object not in set(live.ids.tolist()):
            raise SieveError(
                f"object {args.object} is not in object set {embedding_set.id} (deleted, too "
                "small, or of another annotation source)"
            )
        ids, sims = index.nearest_to_sample(args.object, args.k + 1)
        found = _describe(project, embedding_set, ids)
        stored = stored_disagreement(embedding_set)
        stored_score = None
        if stored is not None:
            row = int(np.flatnonzero(embedding_set.ids() == args.object)[0])
            value = float(stored[0][row])
            stored_score = None if value != value else round(value, 4)
    query, neighbours = found[0], found[1:]
    differ = sum(entry["class"] != query["class"] for entry in neighbours)
    disagreement = differ / len(neighbours) if neighbours else None
    for rank, (entry, sim) in enumerate(zip(neighbours, sims[1:], strict=True), start=1):
        entry.update(rank=rank, similarity=round(float(sim), 6))
    if args.json:
        print(
            json.dumps(
                {
                    "query": query,
                    "set": embedding_set.id,
                    "neighbors": neighbours,
                    "label_disagreement": disagreement,
                    "stored_label_disagreement": stored_score,
                }
            )
        )
        return 0
    print(f"object {query['object']} ({query['class']}) on {query['image']} at {query['box']}")
    for entry in neighbours:
        print(
            f"{entry['rank']:>3}  {entry['similarity']:.4f}  object {entry['object']}  "
            f"{entry['class']}  {entry['image']}"
        )
    if disagreement is not None:
        print(
            f"label disagreement: {differ} of {len(neighbours)} neighbours have another class "
            f"({disagreement:.2f})"
        )
    return 0


def cmd_object_duplicates(args: argparse.Namespace) -> int:
    """``sieve duplicates --objects``: groups of near-identical object crops."""
    from app.core.embeddings.object_scores import object_scores_job
    from app.core.store.project import Project

    cancel = CancelToken()
    with Project.open(args.project) as project:
        embedding_set = object_set(project, args.set)
        live = live_rows(project, embedding_set)
        job = object_scores_job(project, embedding_set, cancel, threshold=args.threshold, live=live)
        scores = run_cancellable(job, cancel)
        grouped = np.flatnonzero(scores.group >= 0)
        described = {
            int(entry["object"]): entry
            for entry in _describe(project, embedding_set, scores.ids[grouped])
        }
    groups = []
    for number in range(int(scores.group.max()) + 1 if len(grouped) else 0):
        rows = np.flatnonzero(scores.group == number)
        keeper = int(rows[scores.keeper[rows]][0])
        keep = described[int(scores.ids[keeper])]
        copies = [described[int(scores.ids[r])] for r in rows if r != keeper]
        groups.append({"keep": keep, "duplicates": copies})
    if args.json:
        print(json.dumps({"threshold": args.threshold, "set": embedding_set.id, "groups": groups}))
        return 0
    extra = sum(len(group["duplicates"]) for group in groups)
    print(
        f"{len(groups):,} near-duplicate object groups at similarity >= {args.threshold} "
        f"({extra:,} copies beyond the one kept)"
    )
    for group in groups:
        keep = group["keep"]
        print(f"keep object {keep['object']} ({keep['class']}) on {keep['image']}")
        for copy in group["duplicates"]:
            print(f"     object {copy['object']} ({copy['class']}) on {copy['image']}")
    return 0


def cmd_object_label_errors(args: argparse.Namespace) -> int:
    from app.core.embeddings.object_scores import object_scores_job
    from app.core.store.project import Project

    cancel = CancelToken()
    with Project.open(args.project) as project:
        embedding_set = object_set(project, args.set)
        live = live_rows(project, embedding_set)
        scores = run_cancellable(
            object_scores_job(project, embedding_set, cancel, args.k, live=live), cancel
        )
        order = np.argsort(-np.nan_to_num(scores.disagreement, nan=-1.0), kind="stable")
        order = order[scores.disagreement[order] > args.min][: args.top]
        listed = _describe(project, embedding_set, scores.ids[order])
    for entry, row in zip(listed, order, strict=True):
        entry["label_disagreement"] = round(float(scores.disagreement[row]), 4)
    flagged = int((scores.disagreement > args.min).sum())
    if args.json:
        print(
            json.dumps(
                {"set": embedding_set.id, "k": args.k, "flagged": flagged, "objects": listed}
            )
        )
        return 0
    print(
        f"{flagged:,} of {len(scores.ids):,} objects: more than {args.min:g} of their {args.k} "
        "nearest objects have another class (score stored as label_disagreement)"
    )
    for entry in listed:
        print(
            f"  {entry['label_disagreement']:.2f}  object {entry['object']}  {entry['class']}  "
            f"{entry['image']}  {entry['box']}"
        )
    return 0


def cmd_rare_objects(args: argparse.Namespace) -> int:
    from app.core.embeddings.crops import annotation_source
    from app.core.embeddings.object_scores import store_rare_objects
    from app.core.store.project import Project

    with Project.open(args.project) as project:
        source = annotation_source(project, args.source)
        samples, values = store_rare_objects(project, source)
        order = np.argsort(-values, kind="stable")[: args.top]
        rows = project.samples_by_id(samples[order].tolist())
        top = [
            {"image": rows[int(samples[i])].name, "rare_objects": round(float(values[i]), 6)}
            for i in order
        ]
    if args.json:
        print(json.dumps({"source": source.name, "images": len(samples), "top": top}))
        return 0
    print(f"rare_objects stored for {len(samples):,} images with objects of {source.name!r}")
    for entry in top:
        print(f"  {entry['rare_objects']:.4f}  {entry['image']}")
    return 0


def cmd_select_objects(args: argparse.Namespace, spec) -> int:
    """``sieve select --objects``: ``spec`` is the parsed SelectSpec."""
    from app.core.selection.objects import object_selection_job
    from app.core.store.project import Project
    from app.core.store.selections import selection_labels

    cancel = CancelToken()
    with Project.open(args.project) as project:
        embedding_set = object_set(project, None)
        live = live_rows(project, embedding_set)
        job = object_selection_job(
            project, embedding_set, spec, args.name, cancel, args.overwrite, live
        )
        saved = run_cancellable(job, cancel)
        labels = selection_labels(project, saved)
        rows = project.samples_by_id(saved.members.tolist())
        names = [rows[int(i)].name for i in saved.members]
    stopped = saved.strategy.get("stopped_early")
    if args.json:
        print(
            json.dumps(
                {
                    "name": saved.name,
                    "kind": saved.kind,
                    "count": len(saved.objects),
                    "images": len(names),
                    "labels": labels,
                    "strategy": saved.strategy,
                    "objects": saved.objects.tolist(),
                    "samples": names,
                    "scores": [None if s != s else round(float(s), 6) for s in saved.object_scores],
                }
            )
        )
        return 0
    print(
        f"selected {len(saved.objects):,} objects on {len(names):,} images as {saved.name!r}"
        + (f" (stopped early: {stopped})" if stopped else "")
    )
    print("classes: " + ", ".join(f"{name} {count:,}" for name, count in labels.items()))
    if len(names):
        print(f"export the images: sieve export {args.project} --selection {saved.name} ...")
    return 0
