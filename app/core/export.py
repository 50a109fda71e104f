"""Exporting subsets: name lists (lightly's txt), CSV with scores, JSON, or files in a folder.

- ``txt``: one sample name per line (relative path, or lightly's frame name for a frame);
- ``csv``: ``name,label,position`` plus one column per score;
- ``json``: ``{"samples": [{"name", "label", "position", <scores>}, ...]}``;
- ``copy`` / ``symlink``: the files under the target folder with their relative layout; a video
  frame is written as an image file under lightly's frame name (a frame cannot be linked).

With ``val_fraction`` the subset is split (seeded) into ``train`` and ``val``: lists get
``-train`` / ``-val`` suffixes, folders get ``train/`` and ``val/`` sub-folders. Nothing existing
is overwritten without ``overwrite``; a name that would land outside the target is refused.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.data.video import VideoError, VideoReader
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.arrays import atomic_file
from app.core.store.project import Project, SampleRow

FORMATS = ("txt", "csv", "json", "copy", "symlink")
LISTS = ("txt", "csv", "json")


@dataclass
class ExportReport:
    """What an export wrote: the paths (files or folders) and how many samples each holds."""

    written: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def export_filenames(names: Iterable[str], path: str | Path) -> int:
    """Write ``names`` one per line (UTF-8, ``\\n``) atomically; return how many were written."""
    path = Path(path)
    lines = [f"{name}\n" for name in names]
    _write(path, "".join(lines))
    return len(lines)


def split_train_val(
    count: int, val_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(train, val)`` of a seeded split; each keeps the original order."""
    if not 0.0 < val_fraction < 1.0:
        raise SieveError(f"the validation fraction must be between 0 and 1, not {val_fraction}")
    order = np.random.default_rng(seed).permutation(count)
    n_val = int(round(count * val_fraction))
    val = np.sort(order[:n_val])
    return np.setdiff1d(np.arange(count), val), val


def export_subset_job(
    project: Project,
    sample_ids: Sequence[int],
    fmt: str,
    out: Path,
    cancel: CancelToken,
    scores: dict[str, np.ndarray] | None = None,
    overwrite: bool = False,
    val_fraction: float | None = None,
    seed: int = 0,
) -> Job[ExportReport]:
    """Export the samples ``sample_ids`` (in that order) as ``fmt`` to ``out``.

    ``scores`` maps a column name to one value per sample (csv and json).
    """
    if fmt not in FORMATS:
        raise SieveError(f"unknown export format {fmt!r}: choose {', '.join(FORMATS)}")
    ids = [int(i) for i in sample_ids]
    by_id = project.samples_by_id(ids)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise SieveError(f"{len(missing)} samples of the subset are not in the project")
    rows = [by_id[i] for i in ids]
    scores = {key: np.asarray(values) for key, values in (scores or {}).items()}
    parts = _parts(out, fmt, len(rows), val_fraction, seed)
    _refuse_existing([target for target, _ in parts], fmt, rows, overwrite)
    report = ExportReport()
    for target, positions in parts:
        subset = [rows[p] for p in positions]
        subset_scores = {key: values[positions] for key, values in scores.items()}
        if fmt in LISTS:
            _write(target, _list_text(fmt, subset, subset_scores))
            report.written[str(target)] = len(subset)
        else:
            done = yield from _write_files(project, subset, target, fmt, cancel, report, overwrite)
            report.written[str(target)] = done
    yield Progress("export", len(rows), len(rows), _summary(report))
    return report


def _parts(
    out: Path, fmt: str, count: int, val_fraction: float | None, seed: int
) -> list[tuple[Path, np.ndarray]]:
    everything = np.arange(count)
    if val_fraction is None:
        return [(out, everything)]
    train, val = split_train_val(count, val_fraction, seed)
    if fmt in LISTS:
        return [
            (out.with_name(f"{out.stem}-train{out.suffix}"), train),
            (out.with_name(f"{out.stem}-val{out.suffix}"), val),
        ]
    return [(out / "train", train), (out / "val", val)]


def _refuse_existing(targets: list[Path], fmt: str, rows: list[SampleRow], overwrite: bool) -> None:
    if overwrite:
        return
    for target in targets:
        if fmt in LISTS and target.exists():
            raise SieveError(f"{target} exists: choose another name or pass --overwrite")
        if fmt not in LISTS and target.is_file():
            raise SieveError(f"{target} is a file, not a folder")


def _list_text(fmt: str, rows: list[SampleRow], scores: dict[str, np.ndarray]) -> str:
    if fmt == "txt":
        return "".join(f"{row.name}\n" for row in rows)
    records = [
        {
            "name": row.name,
            "label": row.label,
            "position": position,
            **{key: _plain(values[position]) for key, values in scores.items()},
        }
        for position, row in enumerate(rows)
    ]
    if fmt == "json":
        return json.dumps({"samples": records}, indent=1) + "\n"
    text = io.StringIO()
    writer = csv.DictWriter(
        text, fieldnames=["name", "label", "position", *scores], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in records)
    return text.getvalue()


def _plain(value: object) -> object:
    """A JSON-friendly scalar (NaN becomes None)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value != value:
        return None
    return value


def _write_files(
    project: Project,
    rows: list[SampleRow],
    folder: Path,
    fmt: str,
    cancel: CancelToken,
    report: ExportReport,
    overwrite: bool,
) -> Job[int]:
    root = project.dataset_root
    folder.mkdir(parents=True, exist_ok=True)
    top = folder.resolve()
    frames = [row for row in rows if row.frame is not None]
    plan = [(row, _inside(top, row.name)) for row in rows]
    taken = [target for _, target in plan if os.path.lexists(target)]
    if taken and not overwrite:
        raise SieveError(f"{taken[0]} exists: choose another folder or pass --overwrite")
    done = 0
    for row, target in plan:
        if row.frame is not None:
            continue
        cancel.raise_if_cancelled()
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target):
            target.unlink()
        source = root / row.relpath
        try:
            if fmt == "symlink":
                target.symlink_to(source.resolve())
            else:
                shutil.copy2(source, target)
        except OSError as error:
            report.skipped.append(f"{row.name}: {error.strerror or error}")
            continue
        done += 1
        if done % 200 == 0:
            yield Progress("export", done, len(rows), f"{fmt} {done:,} of {len(rows):,}")
    done += yield from _write_frames(root, frames, top, report, cancel, done, len(rows))
    return done


def _write_frames(
    root: Path,
    frames: list[SampleRow],
    top: Path,
    report: ExportReport,
    cancel: CancelToken,
    done_before: int,
    total: int,
) -> Job[int]:
    """Decode each video once and write its wanted frames as PNGs under their lightly names."""
    by_video: dict[str, list[SampleRow]] = {}
    for row in frames:
        by_video.setdefault(row.relpath, []).append(row)
    done = 0
    for relpath, rows in by_video.items():
        cancel.raise_if_cancelled()
        wanted = {row.frame: row for row in rows}
        try:
            with VideoReader(root / relpath) as reader:
                for frame, image in reader.iter_frames(sorted(wanted)):
                    target = _inside(top, wanted[frame].name)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with atomic_file(target) as handle:
                        image.save(handle, format="PNG")
                    done += 1
        except (VideoError, OSError) as error:
            report.skipped.append(f"{relpath}: {error}")
        yield Progress("export", done_before + done, total, f"frames of {relpath}")
    return done


def _inside(top: Path, name: str) -> Path:
    """``top / name``, refused when it would land outside ``top`` (``..``, absolute names)."""
    target = Path(os.path.normpath(top / name))
    if os.path.isabs(name) or target == top or top not in target.parents:
        raise SieveError(f"{name!r} would be written outside {top}: refused")
    return target


def _write(path: Path, text: str) -> None:
    try:
        with atomic_file(path) as handle:
            handle.write(text.encode("utf-8"))
    except OSError as error:
        raise SieveError(f"cannot write {path}: {error.strerror or error}") from error


def _summary(report: ExportReport) -> str:
    written = ", ".join(f"{count:,} to {path}" for path, count in report.written.items())
    skipped = f"; {len(report.skipped)} skipped" if report.skipped else ""
    return f"exported {written}{skipped}"
