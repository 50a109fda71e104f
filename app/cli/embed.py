"""``sieve embed / embeddings / map / neighbors / duplicates / export-embeddings /
import-embeddings``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli.jobs import JobPrinter, run_cancellable
from app.core.errors import SieveError
from app.core.jobs import CancelToken


def add_embedding_commands(commands: argparse._SubParsersAction) -> None:
    from app.cli.args import finite_float, int_between, positive_int

    embed = commands.add_parser("embed", help="embed every sample with a backbone")
    embed.add_argument("project", help="project folder")
    source = embed.add_mutually_exclusive_group()
    source.add_argument("--run", type=positive_int, help="training run (default: the newest)")
    source.add_argument("--backbone", help="a torchvision backbone instead of a trained run")
    embed.add_argument(
        "--weights", default="none", help="with --backbone: imagenet, none, or a checkpoint file"
    )
    embed.add_argument(
        "--image-size",
        type=int_between(8, 4096),
        help="input side (default: the run's; 224 with --backbone; --quick: 40, or 64 with "
        "ImageNet weights)",
    )
    embed.add_argument("--batch-size", type=positive_int, default=256, help="images per batch")
    embed.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    embed.add_argument(
        "--workers", type=int_between(0, 256), default=0, help="decoding threads (0: per core)"
    )
    embed.add_argument("--resume", type=positive_int, metavar="SET", help="finish a stopped set")
    embed.add_argument(
        "--quick",
        action="store_true",
        help="a fast quick look: small ResNet-18 over the thumbnails, ImageNet weights if cached",
    )
    embed.add_argument(
        "--objects", action="store_true", help="embed each object's crop (an object set)"
    )
    embed.add_argument("--source", help="with --objects: annotation source (default: ground truth)")
    embed.add_argument(
        "--padding", type=finite_float(0, 4), default=0.1, help="with --objects: box margin (0.1)"
    )
    embed.add_argument(
        "--min-size", type=finite_float(0, 1e6), default=8.0, help="with --objects: skip smaller"
    )
    embed.set_defaults(handler=cmd_embed)

    sets = commands.add_parser("embeddings", help="list the embedding sets, or choose the active")
    sets.add_argument("project", help="project folder")
    sets.add_argument(
        "--activate", type=positive_int, metavar="ID", help="make this finished set the active one"
    )
    sets.add_argument("--json", action="store_true", help="print JSON")
    sets.set_defaults(handler=cmd_embeddings)

    mapping = commands.add_parser("map", help="project the embeddings to 2-D (PCA or UMAP)")
    mapping.add_argument("project", help="project folder")
    mapping.add_argument("--method", choices=("pca", "umap"), default="umap")
    mapping.add_argument("--n-neighbors", type=positive_int, default=15, help="UMAP neighbours")
    mapping.add_argument(
        "--min-dist", type=finite_float(0, 1), default=0.1, help="UMAP minimum distance"
    )
    mapping.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine")
    mapping.add_argument("--set", type=positive_int, help="embedding set (default: active)")
    mapping.add_argument("--out", help="also write name,x,y rows to this CSV file")
    mapping.add_argument("--json", action="store_true", help="print JSON")
    mapping.set_defaults(handler=cmd_map)

    neighbors = commands.add_parser("neighbors", help="the nearest samples of a sample or image")
    neighbors.add_argument("project", help="project folder")
    query = neighbors.add_mutually_exclusive_group(required=True)
    query.add_argument("--sample", metavar="RELPATH", help="a sample's name (relative path)")
    query.add_argument("--image", metavar="FILE", help="any image file, embedded on the fly")
    query.add_argument("--object", type=positive_int, metavar="ID", help="an object (object set)")
    neighbors.add_argument("-k", type=positive_int, default=10, help="how many (default 10)")
    neighbors.add_argument("--set", type=positive_int, help="embedding set (default: active)")
    neighbors.add_argument("--json", action="store_true", help="print JSON")
    neighbors.set_defaults(handler=cmd_neighbors)

    duplicates = commands.add_parser(
        "duplicates", help="near-duplicate groups (and typicality, uniqueness, outlier scores)"
    )
    duplicates.add_argument("project", help="project folder")
    duplicates.add_argument(
        "--threshold",
        type=finite_float(0, 1, low_open=True),
        default=0.95,
        help="cosine similarity (0.95)",
    )
    duplicates.add_argument("--set", type=positive_int, help="embedding set (default: active)")
    duplicates.add_argument(
        "--objects", action="store_true", help="near-duplicate objects (the active object set)"
    )
    duplicates.add_argument("--json", action="store_true", help="print JSON")
    duplicates.set_defaults(handler=cmd_duplicates)

    export = commands.add_parser("export-embeddings", help="write embeddings for other tools")
    export.add_argument("project", help="project folder")
    export.add_argument("--format", choices=("lightly-csv", "npy"), required=True)
    export.add_argument("--out", required=True, help="output file")
    export.add_argument("--set", type=positive_int, help="embedding set (default: active)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing file")
    export.set_defaults(handler=cmd_export_embeddings)

    imports = commands.add_parser(
        "import-embeddings", help="read a lightly embeddings.csv or an .npy as a new set"
    )
    imports.add_argument("project", help="project folder")
    imports.add_argument("file", help="embeddings.csv, or FILE.npy with FILE.filenames.txt")
    imports.set_defaults(handler=cmd_import_embeddings)


def active_set(project, set_id: int | None):
    from app.core.store.embedding_sets import get_embedding_set, require_active_set

    if set_id is None:
        return require_active_set(project)
    embedding_set = get_embedding_set(project, set_id)
    if not embedding_set.finished:
        raise SieveError(f"embedding set {set_id} is {embedding_set.status}: finish it first")
    if embedding_set.of_objects:
        raise SieveError(f"embedding set {set_id} is a set of objects: this command takes images")
    return embedding_set


def live_rows(project, embedding_set):
    """The set's rows whose samples remain; says on stderr how many were dropped, if any."""
    live = embedding_set.live(project)
    if live.note:
        print(live.note, file=sys.stderr)
    return live


def stale_score_notes(project, keys=None) -> list[str]:
    """One line per set that stored scores (all, or those in ``keys``) are stale against."""
    from app.core.store.embedding_sets import active_embedding_set, stale_note, stale_scores

    active = active_embedding_set(project)
    by_source: dict[int, list[str]] = {}
    for key, source in stale_scores(project).items():
        if keys is None or key in keys:
            by_source.setdefault(source, []).append(key)
    active_id = None if active is None else active.id
    return [stale_note(found, source, active_id) for source, found in sorted(by_source.items())]


def note_stale_scores(project, set_id: int) -> None:
    """On stderr, before ``sieve duplicates`` stores scores from set ``set_id``: the stale scores
    it replaces, or that the ones it stores will be stale (``set_id`` is not the active set)."""
    from app.core.embeddings.scores import STORED_KEYS
    from app.core.store.embedding_sets import require_active_set

    active = require_active_set(project).id
    if set_id != active:
        print(
            f"scores from embedding set {set_id} are stored, the active set is {active}: the map "
            "marks them stale and 'sieve select' recomputes them",
            file=sys.stderr,
        )
        return
    for note in stale_score_notes(project, STORED_KEYS):
        print(f"{note}: recomputing", file=sys.stderr)


def cmd_embed(args: argparse.Namespace) -> int:
    from app.core.embeddings.embed import EmbedConfig, embed_job, quick_config
    from app.core.ssl import distributed
    from app.core.store.project import Project

    if args.quick and (args.run is not None or args.backbone is not None):
        raise SieveError("--quick chooses its own backbone: drop --run and --backbone")
    if args.backbone is None and args.weights != "none":
        raise SieveError("--weights goes with --backbone (a trained run has its own weights)")
    config = None
    if args.resume is not None:
        given = [
            flag
            for flag, value in (
                ("--run", args.run),
                ("--backbone", args.backbone),
                ("--image-size", args.image_size),
                ("--quick", args.quick or None),
            )
            if value is not None
        ]
        if given:
            raise SieveError(f"--resume finishes a set with its stored settings; drop {given[0]}")
    elif args.quick:
        config = quick_config(
            image_size=args.image_size,
            batch_size=args.batch_size,
            device=args.device,
            workers=args.workers,
        )
    else:
        config = EmbedConfig(
            run=args.run,
            backbone=args.backbone,
            weights=args.weights,
            image_size=args.image_size,
            batch_size=args.batch_size,
            device=args.device,
            workers=args.workers,
        )
    if args.objects:
        from app.cli.objects import cmd_embed_objects

        return cmd_embed_objects(args, config)
    if args.source is not None:
        raise SieveError("--source names the annotations to crop: it goes with --objects")
    cancel = CancelToken()
    quiet = distributed.rank_from_env() > 0
    with Project.open(args.project) as project:
        printer = JobPrinter(quiet=quiet)
        job = embed_job(project, config, cancel, resume_set=args.resume)
        embedding_set = run_cancellable(job, cancel, printer)
        if quiet or embedding_set is None:
            return 0
        metrics = embedding_set.metrics
        print(f"embedding set {embedding_set.id}: {embedding_set.config.get('source', '')}")
        print(f"{metrics.get('count', 0):,} samples x {metrics.get('dim', 0)} dimensions")
        if embedding_set.config.get("quick"):
            print(
                f"{metrics.get('from_thumbnails', 0):,} read from stored thumbnails, "
                f"{metrics.get('images_per_s', 0):,.0f} images/s"
            )
        for problem in metrics.get("skipped", []):
            print(f"skipped: {problem}")
    return 0


def cmd_embeddings(args: argparse.Namespace) -> int:
    from app.core.store.embedding_sets import (
        active_embedding_set,
        active_object_set,
        embedding_sets,
        set_active,
    )
    from app.core.store.project import Project

    with Project.open(args.project) as project:
        if args.activate is not None:
            set_active(project, args.activate)
        active = active_embedding_set(project)
        objects = active_object_set(project)
        actives = {found.id for found in (active, objects) if found is not None}
        listing = [
            _set_entry(embedding_set, embedding_set.id in actives)
            for embedding_set in embedding_sets(project)
        ]
    if args.json:
        summary = {
            "sets": listing,
            "active": None if active is None else active.id,
            "active_objects": None if objects is None else objects.id,
        }
        print(json.dumps(summary))
        return 0
    if not listing:
        print("no embedding sets yet: run 'sieve embed' first")
    for entry in listing:
        size = f"{entry['count']:,} x {entry['dim']}" if entry["count"] else "-"
        mark = "*" if entry["active"] else " "
        print(
            f"{mark} set {entry['id']}\t{entry['source']}\t{size}\t{entry['status']}\t"
            f"{entry['created']}"
        )
    if args.activate is not None:
        print(f"embedding set {args.activate} is active")
    return 0


def _set_entry(embedding_set, active: bool) -> dict[str, Any]:
    return {
        "id": embedding_set.id,
        "kind": embedding_set.kind,
        "source": embedding_set.config.get("source"),
        "count": embedding_set.metrics.get("count"),
        "dim": embedding_set.metrics.get("dim"),
        "status": embedding_set.status,
        "active": active,
        "created": embedding_set.created,
    }


def cmd_map(args: argparse.Namespace) -> int:
    from app.core.embeddings.maps import map_job
    from app.core.store.project import Project

    params: dict[str, Any] = {}
    if args.method == "umap":
        params = {"n_neighbors": args.n_neighbors, "min_dist": args.min_dist, "metric": args.metric}
    with Project.open(args.project) as project:
        embedding_set = active_set(project, args.set)
        live = live_rows(project, embedding_set)
        cache = embedding_set.folder / "maps"
        cancel = CancelToken()
        job = map_job(live.vectors, args.method, params, cancel, cache_dir=cache)
        xy = run_cancellable(job, cancel)
        names = _names(project, live.ids)
    if args.out:
        _write_map_csv(Path(args.out), names, xy)
    if args.json:
        print(
            json.dumps(
                {
                    "set": embedding_set.id,
                    "method": args.method,
                    "params": params,
                    "points": len(xy),
                    "bounds": _bounds(xy),
                }
            )
        )
    else:
        low, high = _bounds(xy)
        print(
            f"{args.method} map of {len(xy):,} samples (set {embedding_set.id}), "
            f"x {low[0]:.2f}..{high[0]:.2f}, y {low[1]:.2f}..{high[1]:.2f}"
        )
        if args.out:
            print(f"written: {args.out}")
    return 0


def _bounds(xy) -> list[list[float]]:
    return [xy.min(axis=0).round(4).tolist(), xy.max(axis=0).round(4).tolist()]


def _names(project, ids) -> list[str]:
    rows = project.samples_by_id([int(i) for i in ids])
    return [rows[int(i)].name for i in ids]


def _write_map_csv(path: Path, names: list[str], xy) -> None:
    import csv
    import io

    from app.core.store.arrays import atomic_file

    if path.exists():
        raise SieveError(f"{path} exists: choose another name")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["name", "x", "y"])
    writer.writerows(
        [n, f"{x:.6g}", f"{y:.6g}"] for n, (x, y) in zip(names, xy.tolist(), strict=True)
    )
    try:
        with atomic_file(path) as handle:
            handle.write(text.getvalue().encode())
    except OSError as error:
        raise SieveError(f"cannot write {path}: {error.strerror or error}") from error


def cmd_neighbors(args: argparse.Namespace) -> int:
    from app.core.embeddings.neighbours import NeighborIndex
    from app.core.store.project import Project

    if args.object is not None:
        from app.cli.objects import cmd_object_neighbors

        return cmd_object_neighbors(args)
    with Project.open(args.project) as project:
        embedding_set = active_set(project, args.set)
        index = NeighborIndex.for_set(embedding_set, live_rows(project, embedding_set))
        if args.sample is not None:
            sample_id = _sample_id(project, args.sample)
            ids, sims = index.nearest_to_sample(sample_id, args.k)
            query = args.sample
        else:
            from app.core.embeddings.embed import embed_image_file, load_embedder

            backbone, size = load_embedder(project, embedding_set)
            vector = embed_image_file(backbone, size, Path(args.image))
            ids, sims = index.nearest_to_vector(vector, args.k)
            query = args.image
        names = _names(project, ids)
    found = [
        {"rank": rank, "name": name, "id": int(i), "similarity": round(float(s), 6)}
        for rank, (name, i, s) in enumerate(zip(names, ids, sims, strict=True), start=1)
    ]
    if args.json:
        print(json.dumps({"query": query, "set": embedding_set.id, "neighbors": found}))
        return 0
    for row in found:
        print(f"{row['rank']:>3}  {row['similarity']:.4f}  {row['name']}")
    return 0


def _sample_id(project, name: str) -> int:
    from app.core.store.names import match_names

    (sample_id,) = match_names(project, [name]).ids
    if sample_id is not None:
        row = project.samples_by_id([sample_id])[sample_id]
        if row.status != "ok":
            raise SieveError(f"{name} is {row.status} ({row.reason}): it has no embedding")
        return sample_id
    raise SieveError(f"no sample named {name!r} in this project (names are relative paths)")


def cmd_duplicates(args: argparse.Namespace) -> int:
    import numpy as np

    from app.core.embeddings.scores import score_job
    from app.core.store.project import Project

    if args.threshold > 1:
        raise SieveError(f"--threshold is a cosine similarity up to 1, not {args.threshold}")
    if args.objects:
        from app.cli.objects import cmd_object_duplicates

        return cmd_object_duplicates(args)
    cancel = CancelToken()
    with Project.open(args.project) as project:
        embedding_set = active_set(project, args.set)
        live = live_rows(project, embedding_set)
        note_stale_scores(project, embedding_set.id)
        job = score_job(project, embedding_set, cancel, args.threshold, live=live)
        scores = run_cancellable(job, cancel)
        ids = live.ids
        names = _names(project, ids)
    groups = []
    for number in range(int(scores.duplicate_group.max()) + 1 if len(ids) else 0):
        rows = np.flatnonzero(scores.duplicate_group == number)
        keeper = int(rows[scores.duplicate_keeper[rows]][0])
        copies = [names[int(r)] for r in rows if r != keeper]
        groups.append({"keep": names[keeper], "duplicates": copies})
    if args.json:
        print(json.dumps({"threshold": args.threshold, "set": embedding_set.id, "groups": groups}))
        return 0
    extra = sum(len(group["duplicates"]) for group in groups)
    print(
        f"{len(groups):,} near-duplicate groups at similarity >= {args.threshold} "
        f"({extra:,} copies beyond the one kept)"
    )
    for group in groups:
        print(f"keep {group['keep']}")
        for copy in group["duplicates"]:
            print(f"     {copy}")
    return 0


def cmd_export_embeddings(args: argparse.Namespace) -> int:
    from app.core.embeddings.lightly_io import export_embeddings_job
    from app.core.store.project import Project

    cancel = CancelToken()
    path = Path(args.out)
    with Project.open(args.project) as project:
        embedding_set = active_set(project, args.set)
        live = live_rows(project, embedding_set)
        job = export_embeddings_job(
            project, embedding_set, path, args.format, cancel, overwrite=args.overwrite, live=live
        )
        count = run_cancellable(job, cancel)
    print(f"wrote {count:,} embeddings of set {embedding_set.id} to {path}")
    return 0


def cmd_import_embeddings(args: argparse.Namespace) -> int:
    from app.core.embeddings.lightly_io import import_embeddings_job
    from app.core.store.project import Project

    cancel = CancelToken()
    with Project.open(args.project) as project:
        report = run_cancellable(import_embeddings_job(project, Path(args.file), cancel), cancel)
    print(f"imported {report.matched:,} embeddings as set {report.embedding_set.id} (active)")
    if report.unmatched:
        shown = ", ".join(report.unmatched[:5])
        more = f" and {len(report.unmatched) - 5:,} more" if len(report.unmatched) > 5 else ""
        print(f"{len(report.unmatched):,} names matched no sample: {shown}{more}")
    return 0
