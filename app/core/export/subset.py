"""Exporting subsets: name lists (lightly's txt), CSV with scores, JSON, or files in a folder.

- ``txt``: one sample name per line (relative path, or lightly's frame name for a frame);
- ``csv``: ``name,label,position`` plus one column per score;
- ``json``: ``{"samples": [{"name", "label", "position", <scores>}, ...]}``;
- ``copy`` / ``symlink``: the files under the target folder with their relative layout; a video
  frame is written as an image file under lightly's frame name (a frame cannot be linked).

With ``val_fraction`` the subset is split (seeded) into ``train`` and ``val``: lists get
``-train`` / ``-val`` suffixes, folders get ``train/`` and ``val/`` sub-folders.

The user's data is never touched. Every target is checked by its real path (links resolved, also
below a folder that does not exist yet) before anything is written, and the export is refused
as a whole when one of them:

- is the dataset folder or the project folder, or lies inside either;
- is a source file of the subset (an existing regular file with the same inode);
- lies outside the target folder of a ``copy`` / ``symlink`` export (a name with ``..``, or a
  folder inside the target that is a link to elsewhere).

Every file is written under a temporary name beside its final name and renamed over it, so a
killed export or a full disk leaves no torn file under a final name; the temporary file of a
failed write is removed, and those an interrupted export left (``.<name>.<random>.tmp``, for the
names being exported) are removed by the next run. A rerun goes on where an export stopped: a
copy that already exists with the size and time (or the bytes) of its source, or a link that
already points at its source, counts as done. Any other existing target is refused unless
``overwrite``; a frame exported before counts as such a target. Written files get the mode
``0o666`` less the user's umask.

Names: a name holding a line break (``\\n``, ``\\r`` or any other character that
``str.splitlines`` splits on) cannot be written one per line; ``txt`` exports and ``sieve ls``
skip it and say so (a skipped sample, a warning on stderr). CSV and JSON quote such names (a
CSV row holding one has every field quoted). A name with bytes that are not UTF-8 (decoded
with surrogate escapes) is written as its raw bytes in ``txt``, and with each such byte as
``\\xNN`` in CSV and JSON, which stay valid UTF-8.
"""

from __future__ import annotations

import csv
import errno
import filecmp
import io
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from app.core.data.video import VideoError, VideoReader
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.arrays import atomic_file
from app.core.store.project import Project, SampleRow

if TYPE_CHECKING:
    from PIL import Image

FORMATS = ("txt", "csv", "json", "copy", "symlink")
LISTS = ("txt", "csv", "json")
LINE_BREAK = "a name holding a line break (skipped)"
MISSING = "its file was missing at the last index (skipped; re-index when it is back)"
_TEMP = re.compile(r"^\.(?P<name>.+)\.[^./]+\.tmp$")
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_CHUNK = 1 << 20


@dataclass
class ExportReport:
    """What an export wrote: the paths (files or folders) and how many samples each holds."""

    written: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def has_line_break(name: str) -> bool:
    """True when ``name`` would not stay on one line of a list of names."""
    return bool(name) and name.splitlines() != [name]


def line_break_warning(name: str) -> str:
    """The reason given for leaving ``name`` out of a list of names."""
    return f"{name!r}: {LINE_BREAK}"


def export_filenames(names: Iterable[str], path: str | Path, project: Project | None = None) -> int:
    """Write ``names`` one per line atomically; return how many (names with line breaks: none).

    With ``project``, a path in its dataset or project folder is refused.
    """
    path = Path(path)
    if project is not None:
        real = _real_location(path, {})
        _Guard.of(project, []).check(real, _shown(path, real))
    kept = [name for name in names if not has_line_break(name)]
    _write(path, b"".join(raw_name(name) + b"\n" for name in kept))
    return len(kept)


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
    rows, absent = _rows(project, sample_ids)
    scores = {
        key: np.asarray(values)[[position for position, _ in rows]]
        for key, values in (scores or {}).items()
    }
    rows = [row for _, row in rows]
    parts = _parts(Path(out), fmt, len(rows), val_fraction, seed)
    guard = _Guard.of(project, rows)
    report = ExportReport(skipped=[f"{row.name}: {MISSING}" for row in absent])
    if fmt in LISTS:
        _write_lists(fmt, rows, scores, parts, guard, overwrite, report)
    else:
        yield from _write_folders(Path(out), fmt, rows, parts, guard, overwrite, cancel, report)
    yield Progress("export", len(rows), len(rows), _summary(report))
    return report


def _rows(
    project: Project, sample_ids: Sequence[int]
) -> tuple[list[tuple[int, SampleRow]], list[SampleRow]]:
    """The subset's rows with their positions, and the rows whose file was missing."""
    ids = [int(i) for i in sample_ids]
    by_id = project.samples_by_id(ids)
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise SieveError(f"{len(unknown)} samples of the subset are not in the project")
    rows = [(position, by_id[i]) for position, i in enumerate(ids)]
    present = [(position, row) for position, row in rows if row.status != "missing"]
    absent = [row for _, row in rows if row.status == "missing"]
    return present, absent


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


# Where an export may write


class _Guard:
    """Refuses targets in the dataset or the project folder, and over the subset's sources."""

    def __init__(self, dataset: Path, project: Path, sources: list[Path]) -> None:
        self.dataset = dataset
        self.project = project
        self.sources = sources

    @classmethod
    def of(cls, project: Project, rows: list[SampleRow]) -> _Guard:
        root = _real(project.dataset_root)
        sources = sorted({root / row.relpath for row in rows})
        return cls(root, _real(project.path), sources)

    @cached_property
    def source_inodes(self) -> set[tuple[int, int]]:
        """``(device, inode)`` of each source file (read once, when a target already exists)."""
        inodes = set()
        for source in self.sources:
            try:
                info = os.stat(source)
            except OSError:
                continue
            inodes.add((info.st_dev, info.st_ino))
        return inodes

    def check(self, real: Path, shown: str) -> None:
        """Refuse ``shown`` (written as ``real``) in the dataset or project, or over a source."""
        for folder, what in ((self.dataset, "dataset folder"), (self.project, "project folder")):
            if real == folder or folder in real.parents:
                where = "is" if real == folder else "is inside"
                raise SieveError(
                    f"refused: {shown} {where} the {what} {folder}, which Sieve never writes "
                    "to: choose a folder outside the dataset"
                )
        if self._is_source(real):
            raise SieveError(
                f"refused: {shown} is one of the files being exported: choose a folder outside "
                "the dataset"
            )

    def _is_source(self, real: Path) -> bool:
        try:
            info = os.lstat(real)
        except OSError:
            return False
        return stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) in self.source_inodes


def _real(path: Path) -> Path:
    """``path`` with every link resolved (a part that does not exist yet is kept as is)."""
    return Path(os.path.realpath(path))


def _real_location(path: Path, folders: dict[Path, Path]) -> Path:
    """Where writing ``path`` lands: the real path of its folder (cached), then its name."""
    if path.name in ("", ".", ".."):
        return _real(path)
    if path.parent not in folders:
        folders[path.parent] = _real(path.parent)
    return folders[path.parent] / path.name


def _shown(path: Path, real: Path) -> str:
    """``path`` for a message, with its real path when a link or ``..`` leads elsewhere."""
    return str(path) if Path(os.path.abspath(path)) == real else f"{path} (really {real})"


def _inside(top: Path, name: str) -> Path:
    """``top / name``, refused when it would land outside ``top`` (``..``, absolute names)."""
    target = Path(os.path.normpath(top / name))
    if os.path.isabs(name) or target == top or top not in target.parents:
        raise SieveError(f"{name!r} would be written outside {top}: refused")
    return target


# Lists of names


def _write_lists(
    fmt: str,
    rows: list[SampleRow],
    scores: dict[str, np.ndarray],
    parts: list[tuple[Path, np.ndarray]],
    guard: _Guard,
    overwrite: bool,
    report: ExportReport,
) -> None:
    """Check every list file, then write each part's list."""
    folders: dict[Path, Path] = {}
    for target, _ in parts:
        real = _real_location(target, folders)
        guard.check(real, _shown(target, real))
        if os.path.lexists(target) and not overwrite:
            raise SieveError(f"{target} exists: choose another name or pass --overwrite")
    for target, positions in parts:
        subset = [rows[p] for p in positions]
        subset_scores = {key: values[positions] for key, values in scores.items()}
        if fmt == "txt":
            data, count = _txt_bytes(subset, report)
        else:
            data, count = _table_text(fmt, subset, subset_scores).encode("utf-8"), len(subset)
        _write(target, data)
        report.written[str(target)] = count


def _txt_bytes(rows: list[SampleRow], report: ExportReport) -> tuple[bytes, int]:
    """One name per line as raw bytes; names with line breaks are skipped (and reported)."""
    kept = []
    for row in rows:
        if has_line_break(row.name):
            report.skipped.append(line_break_warning(row.name))
        else:
            kept.append(raw_name(row.name) + b"\n")
    return b"".join(kept), len(kept)


def raw_name(name: str) -> bytes:
    """A name's bytes as on disk (bytes that are not UTF-8 come back from surrogate escapes)."""
    return name.encode("utf-8", "surrogateescape")


def _printable(text: str | None) -> str | None:
    """``text`` with each byte that is not UTF-8 written as ``\\xNN``."""
    if text is None:
        return None
    return raw_name(text).decode("utf-8", "backslashreplace")


def _table_text(fmt: str, rows: list[SampleRow], scores: dict[str, np.ndarray]) -> str:
    records = [
        {
            "name": _printable(row.name),
            "label": _printable(row.label),
            "position": position,
            **{key: _plain(values[position]) for key, values in scores.items()},
        }
        for position, row in enumerate(rows)
    ]
    if fmt == "json":
        return json.dumps({"samples": records}, indent=1) + "\n"
    return _csv_text(["name", "label", "position", *scores], records)


def _csv_text(fieldnames: list[str], records: list[dict[str, object]]) -> str:
    """CSV with ``\\n`` line ends; a row holding any other line break gets every field quoted.

    (``csv`` quotes only the line terminator's characters, and readers also split at ``\\r``.)
    """
    text = io.StringIO()
    plain = csv.DictWriter(text, fieldnames=fieldnames, lineterminator="\n")
    quoted = csv.DictWriter(text, fieldnames=fieldnames, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writeheader()
    for record in records:
        row = {key: "" if value is None else value for key, value in record.items()}
        breaks = any(isinstance(value, str) and has_line_break(value) for value in row.values())
        (quoted if breaks else plain).writerow(row)
    return text.getvalue()


def _plain(value: object) -> object:
    """A JSON-friendly scalar (NaN becomes None)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value != value:
        return None
    return value


def _write(path: Path, data: bytes) -> None:
    try:
        with atomic_file(path) as handle:
            handle.write(data)
    except OSError as error:
        _raise_if_disk_full(error, path)
        raise SieveError(f"cannot write {path}: {error.strerror or error}") from error


def _raise_if_disk_full(error: OSError, path: Path) -> None:
    if error.errno in _DISK_FULL:
        raise SieveError(
            f"disk full while writing {path}: free some space, then run the export again "
            "(it goes on where it stopped)"
        ) from error


# Folders of copied or linked files


@dataclass(frozen=True)
class _Planned:
    """One file to write: its sample, its real target, its source, and whether it is done."""

    row: SampleRow
    target: Path
    source: Path
    done: bool


def _write_folders(
    out: Path,
    fmt: str,
    rows: list[SampleRow],
    parts: list[tuple[Path, np.ndarray]],
    guard: _Guard,
    overwrite: bool,
    cancel: CancelToken,
    report: ExportReport,
) -> Job[None]:
    """Plan and check every part before writing anything, then write them in turn."""
    real_out = _real(out)
    guard.check(real_out, _shown(out, real_out))
    plans = [
        _plan(part, [rows[p] for p in positions], fmt, out, real_out, guard, overwrite)
        for part, positions in parts
    ]
    made: set[Path] = set()
    for (part, _), plan in zip(parts, plans, strict=True):
        try:
            _make_folder(_real(part), made)
        except OSError as error:
            _raise_if_disk_full(error, part)
            raise SieveError(f"cannot create {part}: {error.strerror or error}") from error
        _remove_leftovers(plan)
        done = yield from _write_files(plan, fmt, cancel, report, made, len(rows))
        report.written[str(part)] = done


def _plan(
    part: Path,
    rows: list[SampleRow],
    fmt: str,
    out: Path,
    real_out: Path,
    guard: _Guard,
    overwrite: bool,
) -> list[_Planned]:
    """Each row's real target, refused outside ``out`` or in the dataset; existing ones checked."""
    real_part = _real(part)
    _refuse_outside(str(part), real_part, out, real_out)
    if real_part.exists() and not real_part.is_dir():
        raise SieveError(f"{part} is a file, not a folder: choose a folder")
    top = Path(os.path.abspath(part))
    folders: dict[Path, Path] = {}
    plan = []
    for row in rows:
        real = _real_location(_inside(top, row.name), folders)
        _refuse_outside(row.name, real, out, real_out)
        guard.check(real, f"{row.name} (to be written as {real})")
        source = _source(guard, row, fmt)
        plan.append(_Planned(row, real, source, _already_done(real, source, row, fmt)))
    taken = [item.target for item in plan if not item.done and os.path.lexists(item.target)]
    if taken and not overwrite:
        raise SieveError(f"{taken[0]} exists: choose another folder or pass --overwrite")
    return plan


def _refuse_outside(name: str, real: Path, out: Path, real_out: Path) -> None:
    """Refuse ``name`` when its real path ``real`` is not ``out`` or a path below it."""
    if real != real_out and real_out not in real.parents:
        raise SieveError(
            f"refused: {name} would be written to {real}, outside {out} (a folder in it is a "
            "link to elsewhere): remove the link or choose another folder; nothing was written"
        )


def _source(guard: _Guard, row: SampleRow, fmt: str) -> Path:
    """The file a row is exported from; for a link, the real path it will point at."""
    source = guard.dataset / row.relpath
    return _real(source) if fmt == "symlink" and row.frame is None else source


def _already_done(target: Path, source: Path, row: SampleRow, fmt: str) -> bool:
    """True when an earlier run wrote this target: a link to the source, or a copy of it."""
    try:
        info = os.lstat(target)
    except OSError:
        return False
    if row.frame is not None:
        return False
    if fmt == "symlink":
        return stat.S_ISLNK(info.st_mode) and os.readlink(target) == str(source)
    return stat.S_ISREG(info.st_mode) and _same_copy(source, target, info)


def _same_copy(source: Path, target: Path, info: os.stat_result) -> bool:
    """A copy of ``source``: the same size, and the same modification time or the same bytes."""
    try:
        original = os.stat(source)
        if original.st_size != info.st_size:
            return False
        return original.st_mtime_ns == info.st_mtime_ns or filecmp.cmp(source, target, False)
    except OSError:
        return False


def _make_folder(folder: Path, made: set[Path]) -> None:
    """Create a real folder of the plan; stop when a link replaced a part of it meanwhile."""
    if folder in made:
        return
    folder.mkdir(parents=True, exist_ok=True)
    if _real(folder) != folder:
        raise SieveError(
            f"refused: {folder} became a link while exporting: remove the link and run the "
            "export again"
        )
    made.add(folder)


def _remove_leftovers(plan: list[_Planned]) -> None:
    """Delete the temporary files an interrupted export left beside the targets of ``plan``."""
    names: dict[Path, set[str]] = {}
    for item in plan:
        names.setdefault(item.target.parent, set()).add(item.target.name)
    for folder, wanted in names.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = _TEMP.match(entry.name)
            if match and match["name"] in wanted and not entry.is_dir(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)


def _write_files(
    plan: list[_Planned],
    fmt: str,
    cancel: CancelToken,
    report: ExportReport,
    made: set[Path],
    total: int,
) -> Job[int]:
    done = 0
    for item in plan:
        if item.row.frame is not None:
            continue
        cancel.raise_if_cancelled()
        problem = None if item.done else _export_file(item, fmt, made)
        if problem:
            report.skipped.append(problem)
            continue
        done += 1
        if done % 200 == 0:
            yield Progress("export", done, total, f"{fmt} {done:,} of {len(plan):,}")
    frames = [item for item in plan if item.row.frame is not None]
    done += yield from _write_frames(frames, report, cancel, made, done, total)
    return done


def _export_file(item: _Planned, fmt: str, made: set[Path]) -> str | None:
    """Copy or link one file; the reason when it could not be written."""
    try:
        _make_folder(item.target.parent, made)
        if fmt == "symlink":
            _link(item.source, item.target)
        else:
            _copy(item.source, item.target)
    except OSError as error:
        _raise_if_disk_full(error, item.target)
        return f"{item.row.name}: {error.strerror or error}"
    return None


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file, keeping its modification time."""
    original = os.stat(source)
    with atomic_file(target) as handle:
        _copy_contents(source, handle)
    os.utime(target, ns=(original.st_atime_ns, original.st_mtime_ns))


def _copy_contents(source: Path, handle: BinaryIO) -> None:
    with open(source, "rb") as stream:
        shutil.copyfileobj(stream, handle, _CHUNK)


def _link(source: Path, target: Path) -> None:
    """Make ``target`` a link to ``source`` through a temporary link renamed over it."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    os.symlink(source, temporary)
    try:
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_frames(
    frames: list[_Planned],
    report: ExportReport,
    cancel: CancelToken,
    made: set[Path],
    done_before: int,
    total: int,
) -> Job[int]:
    """Decode each video once and write its wanted frames as PNGs under their lightly names."""
    by_video: dict[Path, list[_Planned]] = {}
    for item in frames:
        by_video.setdefault(item.source, []).append(item)
    done = 0
    for video, items in by_video.items():
        cancel.raise_if_cancelled()
        wanted = {item.row.frame: item for item in items}
        try:
            with VideoReader(video) as reader:
                for frame, image in reader.iter_frames(sorted(wanted)):
                    _write_frame(image, wanted[frame].target, made)
                    done += 1
        except (VideoError, OSError) as error:
            report.skipped.append(f"{items[0].row.relpath}: {error}")
        yield Progress("export", done_before + done, total, f"frames of {items[0].row.relpath}")
    return done


def _write_frame(image: Image.Image, target: Path, made: set[Path]) -> None:
    """Write one decoded frame as a PNG through a temporary file."""
    try:
        _make_folder(target.parent, made)
        with atomic_file(target) as handle:
            image.save(handle, format="PNG")
    except OSError as error:
        _raise_if_disk_full(error, target)
        raise


def _summary(report: ExportReport) -> str:
    written = ", ".join(f"{count:,} to {path}" for path, count in report.written.items())
    skipped = f"; {len(report.skipped)} skipped" if report.skipped else ""
    return f"exported {written}{skipped}"


# Files an export generates (labels, manifests) beside the copied files


def plan_generated_files(
    project: Project,
    rows: list[SampleRow],
    out: Path,
    files: dict[str, bytes],
    overwrite: bool,
) -> list[tuple[Path, bytes]]:
    """Check every generated file (a name relative to ``out`` -> its bytes) as the copies are
    checked: inside ``out`` by its real path, not in the dataset or the project, not over a
    source, not over a different existing file unless ``overwrite``. Return the files still to
    write (one holding the same bytes counts as done), before anything is written."""
    real_out = _real(out)
    guard = _Guard.of(project, rows)
    guard.check(real_out, _shown(out, real_out))
    top = Path(os.path.abspath(out))
    folders: dict[Path, Path] = {}
    planned = []
    for name, data in files.items():
        target = _inside(top, name)
        real = _real_location(target, folders)
        _refuse_outside(name, real, out, real_out)
        guard.check(real, f"{name} (to be written as {real})")
        if os.path.lexists(real):
            if _holds(real, data):
                continue
            if not overwrite:
                raise SieveError(f"{target} exists: choose another folder or pass --overwrite")
        planned.append((real, data))
    return planned


def write_generated_files(planned: list[tuple[Path, bytes]]) -> None:
    """Write files planned by :func:`plan_generated_files`, each atomically."""
    made: set[Path] = set()
    for target, data in planned:
        try:
            _make_folder(target.parent, made)
        except OSError as error:
            _raise_if_disk_full(error, target.parent)
            raise SieveError(f"cannot create {target.parent}: {error.strerror or error}") from error
        _write(target, data)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode) and path.read_bytes() == data
    except OSError:
        return False
