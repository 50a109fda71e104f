"""Benchmark: Sieve's quality checks against cleanvision on one generated folder, and label
errors on Fashion-MNIST with labels flipped on purpose.

Part 1 (``images``): ``--count`` photo-like generated JPEGs (640-1024 pixels with the default
``--scale``, as camera or web photos) plus ``--per-kind`` of each planted
problem (dark, light, blurry, flat, grayscale, stretched, tiny, exact copies, recompressed
copies; tests/core/quality/planted.py). Sieve indexes the folder (decode, thumbnail and image
statistics in one pass) and runs ``issues``; cleanvision (the `bench` extra, an oracle only)
runs ``find_issues`` on the same files in the same process. Per check: recall of the planted
images, share of ordinary images flagged, agreement with cleanvision (Jaccard of the flagged
sets) and the times. For duplicates a sample counts as flagged when it is in a group.

Part 2 (``labels``): ``--fmnist`` Fashion-MNIST training images written as PNGs into class
folders, ``--flip`` of them into a wrong folder; a quick-look embedding; then label_errors.
Reported: the share of flipped labels among the top 2 x (number flipped) by score.

    python tests/perf/bench_quality.py [--count 2000] [--per-kind 40] [--fmnist 10000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import fashion_mnist, print_table
from PIL import Image

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.quality.run import issues_job
from app.core.store.project import Project
from tests.core.quality.planted import CHECK_OF_KIND, make_planted

DUPLICATES = ("exact_duplicates", "near_duplicates")
TARGET_RECALL, TARGET_ORDINARY, TARGET_TIME = 0.9, 0.03, 0.5


def bench_images(count: int, per_kind: int, scale: float, strength: str, work: Path) -> None:
    data = work / f"planted-{count}-{per_kind}-{scale}-{strength}"
    if data.exists():
        shutil.rmtree(data)
    started = time.perf_counter()
    planted = make_planted(data, count, per_kind, seed=7, scale=scale, strength=strength)
    print(
        f"generated {count:,} ordinary + {per_kind} x 9 planted images in "
        f"{time.perf_counter() - started:.1f} s"
    )
    project_dir = work / "sieve-project"
    shutil.rmtree(project_dir, ignore_errors=True)

    project = Project.for_dataset(data, project_dir)
    started = time.perf_counter()
    run_job(index_job(project, IndexOptions(), CancelToken()))
    index_s = time.perf_counter() - started
    started = time.perf_counter()
    report = run_job(issues_job(project, [c for c in CHECK_OF_KIND.values()]))
    issues_s = time.perf_counter() - started
    project.close()
    sieve = _sieve_flagged(report)

    from cleanvision import Imagelab  # the oracle; Sieve never imports it

    started = time.perf_counter()
    lab = Imagelab(data_path=str(data))
    lab.find_issues()
    cleanvision_s = time.perf_counter() - started
    clean = {
        name: {Path(p).name for p in lab.issues.index[lab.issues[f"is_{name}_issue"]]}
        for name in CHECK_OF_KIND.values()
    }

    ordinary = set(planted.paths["ordinary"])
    originals = set(planted.originals.values())
    rows = []
    for kind, check in CHECK_OF_KIND.items():
        wanted = set(planted.paths[kind])
        plain = ordinary - originals if check in DUPLICATES else ordinary
        ours, theirs = sieve[check], clean[check]
        rows.append(
            [
                check,
                kind,
                f"{len(wanted & ours) / len(wanted):.2f}",
                f"{len(plain & ours) / len(plain):.1%}",
                f"{len(wanted & theirs) / len(wanted):.2f}",
                f"{len(plain & theirs) / len(plain):.1%}",
                f"{_jaccard(ours, theirs):.2f}",
                "yes"
                if len(wanted & ours) >= TARGET_RECALL * len(wanted)
                and len(plain & ours) <= TARGET_ORDINARY * len(plain)
                else "NO",
            ]
        )
    total = count + 9 * per_kind
    print_table(
        f"Quality checks on {total:,} generated images ({count:,} ordinary, {per_kind} per planted "
        f"kind, {strength} problems); targets: recall >= {TARGET_RECALL}, "
        f"ordinary flagged <= {TARGET_ORDINARY:.0%}",
        [
            "check",
            "planted",
            "recall",
            "ordinary flagged",
            "cv recall",
            "cv ordinary",
            "agreement (Jaccard)",
            "target",
        ],
        rows,
    )
    ratio = (index_s + issues_s) / cleanvision_s
    print_table(
        "Time (same files, same process, page-cached)",
        ["step", "seconds", "images/s"],
        [
            [
                "Sieve index (decode + thumbnail + stats)",
                f"{index_s:.2f}",
                f"{total / index_s:,.0f}",
            ],
            ["Sieve issues (9 checks)", f"{issues_s:.2f}", f"{total / issues_s:,.0f}"],
            ["Sieve index + issues", f"{index_s + issues_s:.2f}", ""],
            ["cleanvision find_issues", f"{cleanvision_s:.2f}", f"{total / cleanvision_s:,.0f}"],
            [
                f"ratio (target <= {TARGET_TIME})",
                f"{ratio:.2f}",
                "yes" if ratio <= TARGET_TIME else "NO",
            ],
        ],
    )


def _sieve_flagged(report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    names = report.stats.names
    for name, result in report.results.items():
        if name in DUPLICATES:
            out[name] = {names[int(m)] for _, members in result.groups or [] for m in members}
        else:
            out[name] = {names[row] for row in np.flatnonzero(result.flagged)}
    return out


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def bench_labels(count: int, flip: float, work: Path) -> None:
    images, labels = fashion_mnist("train")
    images, labels = images[:count], labels[:count].astype(np.int64)
    rng = np.random.default_rng(11)
    flipped = rng.choice(count, int(round(flip * count)), replace=False)
    given = labels.copy()
    given[flipped] = (labels[flipped] + rng.integers(1, 10, len(flipped))) % 10
    data = work / f"fmnist-{count}"
    shutil.rmtree(data, ignore_errors=True)
    for label in range(10):
        (data / f"class_{label}").mkdir(parents=True)
    names = []
    for i in range(count):
        name = f"class_{given[i]}/{i:05d}.png"
        Image.fromarray(images[i]).save(data / name)
        names.append(name)
    project_dir = work / "sieve-fmnist"
    shutil.rmtree(project_dir, ignore_errors=True)
    project = Project.for_dataset(data, project_dir)
    started = time.perf_counter()
    run_job(index_job(project, IndexOptions(), CancelToken()))
    index_s = time.perf_counter() - started
    config, what = _quick_config()
    started = time.perf_counter()
    from app.core.embeddings.embed import embed_job

    run_job(embed_job(project, config, CancelToken()))
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    report = run_job(issues_job(project, ["label_errors"]))
    issues_s = time.perf_counter() - started
    project.close()
    result = report.results["label_errors"]
    wrong = {names[i] for i in flipped}
    ranked = np.argsort(-np.nan_to_num(result.scores, nan=-np.inf), kind="stable")
    top = {report.stats.names[r] for r in ranked[: 2 * len(wrong)]}
    flagged = {report.stats.names[r] for r in np.flatnonzero(result.flagged)}
    suggested = result.extra["suggested_label"]
    right = sum(
        suggested[r] == f"class_{labels[int(report.stats.names[r].split('/')[1][:5])]}"
        for r in np.flatnonzero(result.flagged)
        if report.stats.names[r] in wrong
    )
    share = len(top & wrong) / len(wrong)
    print_table(
        f"Label errors: Fashion-MNIST, {count:,} training images, {len(wrong):,} labels flipped "
        f"({flip:.0%}); embedding: {what}",
        ["measure", "value"],
        [
            ["flipped among the top 2x by score (target >= 0.60)", f"{share:.2f}"],
            ["flagged", f"{len(flagged):,}"],
            [
                "flagged that are flipped (precision)",
                f"{len(flagged & wrong) / max(1, len(flagged)):.2f}",
            ],
            ["flipped that are flagged (recall)", f"{len(flagged & wrong) / len(wrong):.2f}"],
            [
                "suggested label = true label (flagged flipped)",
                f"{right / max(1, len(flagged & wrong)):.2f}",
            ],
            ["index / embed / issues seconds", f"{index_s:.1f} / {embed_s:.1f} / {issues_s:.1f}"],
        ],
    )


def _quick_config():
    """The quick look's embedding (``sieve embed --quick``) where this Sieve has it."""
    try:
        from app.core.embeddings.embed import quick_config

        return quick_config(), "quick look (sieve embed --quick)"
    except ImportError:
        from app.core.embeddings.embed import EmbedConfig

        config = EmbedConfig(backbone="resnet18", weights="none", image_size=32)
        return config, "resnet18, random weights, 32 px (no --quick in this Sieve)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="ordinary generated images")
    parser.add_argument("--per-kind", type=int, default=40, help="planted images per kind")
    parser.add_argument(
        "--scale", type=float, default=3.2, help="enlarge the 200-320 px images (3.2: 640-1024)"
    )
    parser.add_argument(
        "--strength", choices=("plain", "mild"), default="plain", help="how strong the problems are"
    )
    parser.add_argument("--fmnist", type=int, default=10000, help="Fashion-MNIST images")
    parser.add_argument("--flip", type=float, default=0.05, help="share of labels flipped")
    parser.add_argument("--only", choices=("images", "labels"))
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sieve-bench-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "images"):
        bench_images(args.count, args.per_kind, args.scale, args.strength, work)
    if args.only in (None, "labels"):
        bench_labels(args.fmnist, args.flip, work)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
