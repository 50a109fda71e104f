"""``sieve --self-test``: run every part of Sieve once on the demo dataset, headless.

It checks an installation (above all a PyInstaller bundle, where a missing library only shows
when it is loaded): index the bundled demo, train one tiny epoch on the CPU, embed, map with PCA
and UMAP, search neighbours, select 10 diverse samples, export them, import COCO boxes and an
RLE mask, evaluate predictions with COCOeval, export YOLO labels, decode a video with PyAV, run
a torchvision operator and draw a Qt widget offscreen. Everything is written into a fresh
temporary folder (inside ``WORK_DIR`` when given) that is deleted at the end; the user's data
folder is never touched. One line per step with its time and OK / FAIL / SKIP; exit code 0 when
all steps pass, else 1.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

TRAIN_SIDE = 32
SELECT_COUNT = 10
VIDEO_FRAMES = 6
ANNOTATED_IMAGES = 3


@dataclass
class Workspace:
    """What the steps hand on to each other."""

    parent: Path | None
    root: Path | None = None
    project: Any = None
    run_id: int | None = None
    embedding_set: Any = None
    selected: list[int] = field(default_factory=list)

    def close(self) -> None:
        if self.project is not None:
            self.project.close()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass(frozen=True)
class Step:
    """One check: ``run`` returns a short detail or raises; ``needs`` names earlier steps."""

    name: str
    run: Callable[[Workspace], str]
    needs: tuple[str, ...] = ()


def step_work_folder(space: Workspace) -> str:
    parent = space.parent
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    space.root = Path(tempfile.mkdtemp(prefix="sieve-self-test-", dir=parent))
    return str(space.root)


def step_torchvision_ops(space: Workspace) -> str:
    import torch
    import torchvision

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=torch.float32)
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist()
    if keep != [0, 2]:
        raise AssertionError(f"torchvision.ops.nms kept {keep}, expected [0, 2]")
    return f"torch {torch.__version__}, torchvision {torchvision.__version__}, nms"


def step_index(space: Workspace) -> str:
    from app.core.ingest.demo import demo_dataset_dir
    from app.core.ingest.indexing import IndexOptions, index_job
    from app.core.jobs import run_job
    from app.core.store.project import Project

    space.project = Project.create(space.root / "project", demo_dataset_dir())
    result = run_job(index_job(space.project, IndexOptions(workers=2)))
    if result.samples == 0 or result.broken:
        raise AssertionError(f"{result.samples} samples, {result.broken} broken")
    return f"{result.samples} samples"


def step_measure_processes(space: Workspace) -> str:
    """Big projects measure their image statistics on worker processes started afresh (spawn):
    a bundle must be able to start them, so the demo's images are measured again that way."""
    from app.core.jobs import run_job
    from app.core.quality.backfill import measure_missing_job
    from app.core.store.stats import unmeasured_image_count

    project = space.project
    with project.db:
        project.db.execute(
            "UPDATE sample_stats SET brightness = NULL WHERE sample_id IN (SELECT s.id FROM "
            "samples s JOIN files f ON f.id = s.file_id WHERE f.kind = 'image')"
        )
    measured = run_job(measure_missing_job(project, workers=2, processes=True))
    if measured == 0 or unmeasured_image_count(project):
        raise AssertionError(f"{measured} measured, {unmeasured_image_count(project)} left")
    return f"{measured} images measured by 2 worker processes"


def step_index_process(space: Workspace) -> str:
    """The app's progressive open runs the index in a child process: the program itself with a
    hidden sub-command (a bundle must be able to start its own index process)."""
    from app.core.ingest.demo import demo_dataset_dir
    from app.core.ingest.remote import index_in_worker
    from app.core.jobs import run_job
    from app.core.store.project import Project

    target = space.root / "child-project"
    run_job(index_in_worker(demo_dataset_dir(), target, lambda *_: None, log_file=False))
    with Project.open(target) as project:
        samples, pending = project.sample_count(status="ok"), project.pending_count()
    if samples == 0 or pending:
        raise AssertionError(f"the index process left {samples} samples, {pending} pending")
    return f"{samples} samples indexed by a child process"


def step_look_process(space: Workspace) -> str:
    """The map's quick look runs in a child process too (``_look-worker``): a PCA quick look of
    the project the index process made."""
    from app.core.jobs import CancelToken, run_job
    from app.gui_model.look_process import LookProcess

    process = LookProcess(log_file=False)
    try:
        xy = run_job(process.look(space.root / "child-project", "pca", CancelToken()))
    finally:
        process.close()
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
        raise AssertionError(f"the quick-look process made a layout of shape {xy.shape}")
    return f"{len(xy)} points laid out by a child process"


def step_train(space: Workspace) -> str:
    from app.core.jobs import run_job
    from app.core.ssl.config import TrainConfig
    from app.core.ssl.trainer import train_job

    config = TrainConfig(
        method="simclr",
        backbone="resnet18",
        image_size=TRAIN_SIDE,
        epochs=1,
        batch_size=128,
        device="cpu",
        workers=2,
        checkpoint_every=0,
        knn_every=0,
    )
    result = run_job(train_job(space.project, config))
    if result.status != "finished" or not result.checkpoint.is_file():
        raise AssertionError(f"run {result.run_id} {result.status}, no checkpoint")
    space.run_id = result.run_id
    loss = result.history[-1].get("loss") if result.history else None
    return f"simclr resnet18 {TRAIN_SIDE} px, 1 epoch" + (f", loss {loss:.3f}" if loss else "")


def step_embed(space: Workspace) -> str:
    from app.core.embeddings.embed import EmbedConfig, embed_job
    from app.core.jobs import CancelToken, run_job

    config = EmbedConfig(run=space.run_id, batch_size=128, device="cpu", workers=2)
    space.embedding_set = run_job(embed_job(space.project, config, CancelToken()))
    count, dim = space.embedding_set.vectors().shape
    return f"{count} x {dim}"


def _map(space: Workspace, method: str, params: dict[str, Any]) -> str:
    import numpy as np

    from app.core.embeddings.maps import map_job
    from app.core.jobs import CancelToken, run_job

    vectors = space.embedding_set.vectors()
    xy = run_job(map_job(vectors, method, params, CancelToken()))
    if xy.shape != (len(vectors), 2) or not np.isfinite(xy).all():
        raise AssertionError(f"{method} map has shape {xy.shape} or values that are not finite")
    return f"{len(xy)} points"


def step_map_pca(space: Workspace) -> str:
    return _map(space, "pca", {})


def step_map_umap(space: Workspace) -> str:
    from app.core.embeddings.maps import numba_cache_dir

    detail = _map(space, "umap", {"n_neighbors": 10, "min_dist": 0.1, "metric": "cosine"})
    return f"{detail}, numba cache {numba_cache_dir()}"


def step_neighbors(space: Workspace) -> str:
    from app.core.embeddings.neighbours import NeighborIndex

    index = NeighborIndex.for_set(space.embedding_set)
    first = int(space.embedding_set.ids()[0])
    ids, _ = index.nearest_to_sample(first, 5)
    if len(ids) != 5 or int(ids[0]) != first:
        raise AssertionError(f"the nearest of sample {first} were {ids.tolist()}")
    return f"5 nearest ({index.kind} index)"


def step_select(space: Workspace) -> str:
    from app.core.jobs import CancelToken, run_job
    from app.core.selection.spec import SelectSpec, selection_job

    spec = SelectSpec(n=SELECT_COUNT, strategies=[{"kind": "diversity", "strength": 1.0}])
    job = selection_job(space.project, space.embedding_set, spec, "self-test", CancelToken())
    saved = run_job(job)
    space.selected = [int(i) for i in saved.members]
    if len(set(space.selected)) != SELECT_COUNT:
        raise AssertionError(f"selected {len(space.selected)} samples, not {SELECT_COUNT}")
    return f"{SELECT_COUNT} diverse samples"


def step_export(space: Workspace) -> str:
    from app.core.export.subset import export_subset_job
    from app.core.jobs import CancelToken, run_job

    out = space.root / "export"
    report = run_job(export_subset_job(space.project, space.selected, "copy", out, CancelToken()))
    files = [path for path in out.rglob("*") if path.is_file()]
    if report.skipped or len(files) < SELECT_COUNT:
        raise AssertionError(f"{len(files)} files written; skipped: {report.skipped}")
    return f"{len(files)} files copied"


def step_annotations(space: Workspace) -> str:
    """COCO boxes and an RLE mask in, the same boxes as scored predictions, COCOeval, YOLO out."""
    import json

    import numpy as np
    from pycocotools import mask as coco_mask

    from app.core.data.annotations.importing import import_annotations_job
    from app.core.evaluation.evaluate import evaluation_job
    from app.core.export.annotations import export_annotations_job
    from app.core.jobs import CancelToken, run_job

    rows = space.project.samples(status="ok")[:ANNOTATED_IMAGES]
    images = [
        {"id": i + 1, "file_name": row.relpath, "width": row.width, "height": row.height}
        for i, row in enumerate(rows)
    ]
    boxes = [[1, 1, max(2, row.width // 2), max(2, row.height // 2)] for row in rows]
    pixels = np.zeros((rows[0].height, rows[0].width), dtype=np.uint8, order="F")
    pixels[1 : 1 + boxes[0][3], 1 : 1 + boxes[0][2]] = 1
    rle = coco_mask.encode(pixels)
    rle["counts"] = rle["counts"].decode("ascii")
    annotations = [
        {"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": box, "iscrowd": 0}
        for i, box in enumerate(boxes)
    ]
    annotations[0]["segmentation"] = rle
    truth = space.root / "truth.json"
    categories = [{"id": 1, "name": "thing"}]
    truth.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    results = space.root / "results.json"
    results.write_text(
        json.dumps(
            [
                {"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 0.9}
                for a in annotations
            ]
        )
    )
    run_job(import_annotations_job(space.project, truth, "coco"))
    run_job(
        import_annotations_job(
            space.project, results, "coco", "predictions", "predictions", reference=truth
        )
    )
    evaluation = run_job(evaluation_job(space.project, CancelToken(), store=False))
    if abs(evaluation.map - 1.0) > 1e-6:
        raise AssertionError(f"predictions equal to the truth gave mAP {evaluation.map}")
    ids = [row.id for row in rows]
    out = space.root / "yolo"
    run_job(export_annotations_job(space.project, ids, "yolo", out, CancelToken()))
    if not (out / "data.yaml").is_file():
        raise AssertionError("the YOLO export wrote no data.yaml")
    return f"{len(rows)} images, RLE mask, mAP 1.0, YOLO export"


def step_video(space: Workspace) -> str:
    import av
    import numpy as np

    from app.core.data.video import VideoReader, probe_video

    path = space.root / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for value in range(VIDEO_FRAMES):
            pixels = np.full((48, 64, 3), value * 40, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    info = probe_video(path)
    with VideoReader(path, info) as reader:
        image = reader.read_frame(info.n_frames - 1)
    if info.n_frames != VIDEO_FRAMES or image.size != (64, 48):
        raise AssertionError(f"{info.n_frames} frames of {image.size}")
    return f"PyAV {av.__version__}, {info.n_frames} frames"


def step_qt(space: Workspace) -> str:
    import pyqtgraph
    from PySide6 import __version__ as pyside_version
    from PySide6.QtWidgets import QApplication

    import app.ui.main_window  # noqa: F401  (every GUI module imports)

    qt = QApplication.instance() or QApplication([sys.argv[0]])
    plot = pyqtgraph.PlotWidget()
    plot.plot([0, 1, 2], [2, 0, 1])
    plot.resize(160, 120)
    plot.show()
    qt.processEvents()
    image = plot.grab().toImage()
    plot.close()
    plot.deleteLater()
    qt.processEvents()
    if image.isNull() or image.width() < 1:
        raise AssertionError("the widget drew nothing")
    return f"PySide6 {pyside_version}, {qt.platformName()} platform"


STEPS: tuple[Step, ...] = (
    Step("work folder", step_work_folder),
    Step("torchvision ops", step_torchvision_ops),
    Step("index demo", step_index, ("work folder",)),
    Step("stats processes", step_measure_processes, ("index demo",)),
    Step("index process", step_index_process, ("work folder",)),
    Step("quick-look process", step_look_process, ("index process",)),
    Step("train", step_train, ("index demo",)),
    Step("embed", step_embed, ("train",)),
    Step("map pca", step_map_pca, ("embed",)),
    Step("map umap", step_map_umap, ("embed",)),
    Step("neighbors", step_neighbors, ("embed",)),
    Step("select", step_select, ("embed",)),
    Step("export", step_export, ("select",)),
    Step("annotations", step_annotations, ("index demo",)),
    Step("video", step_video, ("work folder",)),
    Step("qt widget", step_qt),
)


def readable(error: BaseException) -> str:
    """The exception's type and first line, e.g. ``NotADirectoryError: [Errno 20] ...``."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def run_self_test(work_dir: str | Path | None = None, out: TextIO | None = None) -> int:
    """Run every step, print one line each and a summary; 0 when all passed, else 1."""
    out = out or sys.stdout
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    space = Workspace(Path(work_dir) if work_dir else None)
    failed: list[str] = []
    skipped: list[str] = []
    started = time.perf_counter()
    print(f"Sieve self-test ({sys.executable})", file=out, flush=True)
    try:
        for step in STEPS:
            missing = [name for name in step.needs if name in failed or name in skipped]
            if missing:
                skipped.append(step.name)
                print(f"SKIP {step.name:<16} (needs {', '.join(missing)})", file=out, flush=True)
                continue
            clock = time.perf_counter()
            try:
                detail, status = step.run(space), "OK  "
            except Exception as error:
                detail, status = readable(error), "FAIL"
                failed.append(step.name)
                if sys.stderr is not None:
                    traceback.print_exc(file=sys.stderr)
            seconds = time.perf_counter() - clock
            print(f"{status} {step.name:<16} {seconds:6.2f} s  {detail}", file=out, flush=True)
    finally:
        space.close()
    total = time.perf_counter() - started
    if failed:
        print(f"self-test FAILED in {total:.1f} s: {', '.join(failed)}", file=out, flush=True)
        return 1
    print(f"self-test passed: {len(STEPS)} steps in {total:.1f} s", file=out, flush=True)
    return 0
