"""Benchmark: ``sieve evaluate`` (read both sources, per-image matching, COCOeval one class at a
time, per-image scores stored) against pycocotools' COCOeval run once over the same boxes
(COCO objects built from the same columns in memory, then evaluate + accumulate + summarize),
in one process.

The project is a real one whose sample rows are inserted directly (as in bench_annotations:
indexing thousands of files is not what is measured); ground truth and predictions (jittered,
some missed, some of another class, some extra) are stored with ``replace_source``.

    python tests/perf/bench_evaluation.py [--images 5000] [--per-image 7] [--classes 20]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf.bench_annotations import HEIGHT, WIDTH, make_project  # noqa: E402
from tests.perf.common import print_table  # noqa: E402

WORK = Path("/tmp/sieve-bench/evaluation")


def generate(images: int, per_image: int, classes: int, seed: int = 0):
    """Ground-truth and prediction columns: image ids from 1, labels, x y w h, scores."""
    rng = np.random.default_rng(seed)
    count = images * per_image
    gi = np.repeat(np.arange(1, images + 1), per_image)
    gl = rng.integers(0, classes, count)
    size = rng.uniform(16, 160, (count, 2))
    corner = rng.uniform(0, 1, (count, 2)) * (np.array([WIDTH, HEIGHT]) - size)
    gb = np.concatenate([corner, size], axis=1)
    kept = rng.random(count) > 0.1
    pl = np.where(rng.random(count) < 0.08, rng.integers(0, classes, count), gl)[kept]
    pb = (gb + rng.normal(0, 4, (count, 4)))[kept]
    extra = count // 5
    ei = rng.integers(1, images + 1, extra)
    eb = np.concatenate([rng.uniform(0, 400, (extra, 2)), rng.uniform(16, 80, (extra, 2))], 1)
    pi = np.concatenate([gi[kept], ei])
    pl = np.concatenate([pl, rng.integers(0, classes, extra)])
    pb = np.concatenate([pb, eb])
    pb[:, :2] = np.clip(pb[:, :2], 0, None)
    pb[:, 2:] = np.clip(pb[:, 2:], 1, None)
    ps = rng.uniform(0.05, 1.0, len(pi))
    order = np.argsort(pi, kind="stable")
    return (gi, gl, gb), (pi[order], pl[order], pb[order], ps[order])


def store(project_dir: Path, truth, predictions, classes: int) -> None:
    from app.core.store.objects import NewObject, replace_source
    from app.core.store.project import Project

    names = [f"class{c:02d}" for c in range(classes)]
    with Project.open(project_dir) as project:
        gi, gl, gb = truth
        replace_source(
            project,
            "ground_truth",
            "ground_truth",
            "coco",
            (NewObject(int(i), names[c], *b) for i, c, b in zip(gi, gl, gb.tolist(), strict=True)),
            classes=names,
        )
        pi, pl, pb, ps = predictions
        replace_source(
            project,
            "predictions",
            "predictions",
            "coco",
            (
                NewObject(int(i), names[c], *b, score=float(s))
                for i, c, b, s in zip(pi, pl, pb.tolist(), ps, strict=True)
            ),
        )


def sieve(project_dir: Path) -> tuple[float, dict]:
    from app.core.evaluation.evaluate import evaluation_job
    from app.core.jobs import CancelToken, run_job
    from app.core.store.project import Project

    stages: dict[str, float] = {}
    last = [time.perf_counter(), "reading"]

    def on_progress(progress) -> None:  # noqa: ANN001 - a Progress
        now = time.perf_counter()
        stage = "COCOeval" if progress.stage == "COCO mAP" else progress.message.split(" ")[0]
        stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
        last[:] = [now, stage]

    with Project.open(project_dir) as project:
        start = time.perf_counter()
        result = run_job(evaluation_job(project, CancelToken()), on_progress)
        end = time.perf_counter()
    stages[last[1]] = stages.get(last[1], 0.0) + end - last[0]
    print("sieve stages:", ", ".join(f"{k} {v:.2f} s" for k, v in stages.items() if v > 0.005))
    return end - start, result.to_json()


def pycocotools(truth, predictions, images: int, classes: int) -> tuple[float, list[float]]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    start = time.perf_counter()
    gi, gl, gb = truth
    pi, pl, pb, ps = predictions
    base = {
        "images": [{"id": i} for i in range(1, images + 1)],
        "categories": [{"id": c + 1, "name": f"class{c:02d}"} for c in range(classes)],
    }
    gt = COCO()
    gt.dataset = {
        **base,
        "annotations": [
            {
                "id": k + 1,
                "image_id": int(i),
                "category_id": int(c) + 1,
                "bbox": b,
                "area": b[2] * b[3],
                "iscrowd": 0,
            }
            for k, (i, c, b) in enumerate(zip(gi, gl, gb.tolist(), strict=True))
        ],
    }
    dt = COCO()
    dt.dataset = {
        **base,
        "annotations": [
            {
                "id": k + 1,
                "image_id": int(i),
                "category_id": int(c) + 1,
                "bbox": b,
                "area": b[2] * b[3],
                "iscrowd": 0,
                "score": float(s),
            }
            for k, (i, c, b, s) in enumerate(zip(pi, pl, pb.tolist(), ps, strict=True))
        ],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt.createIndex()
        evaluation = COCOeval(gt, dt, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return time.perf_counter() - start, list(evaluation.stats[:2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--per-image", type=int, default=7)
    parser.add_argument("--classes", type=int, default=20)
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    project_dir = make_project(WORK, args.images)
    truth, predictions = generate(args.images, args.per_image, args.classes)
    store(project_dir, truth, predictions, args.classes)
    sieve_s, summary = sieve(project_dir)
    peer_s, (peer_map, peer_map50) = pycocotools(truth, predictions, args.images, args.classes)
    boxes = f"{len(truth[0]):,} gt / {len(predictions[0]):,} predicted"
    print_table(
        f"evaluation of {args.images:,} images, {boxes} boxes, {args.classes} classes",
        ["tool", "seconds", "mAP", "mAP50", "ratio"],
        [
            [
                "sieve evaluate (read, match, COCOeval in 10 groups, store)",
                f"{sieve_s:.2f}",
                f"{summary['map']:.4f}",
                f"{summary['map50']:.4f}",
                f"{sieve_s / peer_s:.2f}x",
            ],
            [
                "pycocotools COCOeval (build COCO objects, all classes at once)",
                f"{peer_s:.2f}",
                f"{peer_map:.4f}",
                f"{peer_map50:.4f}",
                "1.00x",
            ],
        ],
    )


if __name__ == "__main__":
    main()
