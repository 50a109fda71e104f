"""``sieve index`` commits as it goes: killed midway (SIGKILL), a re-run probes only the files
still pending and ends with the same project as a run that was never interrupted."""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import run_job
from app.core.store.project import Project
from tests.cli.test_ctrl_c import Terminal
from tests.factories import gradient

PROBING = re.compile(r"index\s+\[[#-]+\] [1-9]")  # the progress line once files are decoded


def write_folder(root: Path, count: int) -> None:
    """``count`` 640 x 640 PNGs in two labelled folders (a few ms each to decode) and a bad one."""
    data = root / "src.png"
    root.mkdir(parents=True)
    gradient(640, 640).save(data)
    payload = data.read_bytes()
    data.unlink()
    for number in range(count):
        folder = root / ("even" if number % 2 == 0 else "odd")
        folder.mkdir(exist_ok=True)
        (folder / f"{number:04d}.png").write_bytes(payload)
    (root / "odd" / "bad.png").write_bytes(b"not an image")


def snapshot(project: Project) -> tuple[list[tuple], dict[str, bytes | None]]:
    """Everything an index decides: each sample's row, and its thumbnail by name."""
    rows = project.samples()
    thumbs = project.thumbs.get_many([row.id for row in rows])
    facts = [(r.name, r.kind, r.width, r.height, r.label, r.status, r.reason) for r in rows]
    return facts, {row.name: thumbs.get(row.id) for row in rows}


def test_a_killed_index_resumes_with_the_pending_files_only(tmp_path):
    root = tmp_path / "data"
    write_folder(root, 160)
    reference = tmp_path / "reference"
    shutil.copytree(root, reference)

    terminal = Terminal(["index", str(root), "--workers", "2"])
    try:
        terminal.wait_for(PROBING)
    finally:
        terminal.process.send_signal(signal.SIGKILL)
        terminal.process.wait()
        os.close(terminal.leader)

    with Project.open(root) as project:
        assert project.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        pending = project.pending_count()
        decided = project.sample_count("ok") + project.sample_count("broken")
        assert project.sample_count() == 161  # every row was listed before the kill
        assert 0 < pending < 161 and decided + pending == 161, "killed too late or too early"
        result = run_job(index_job(project, IndexOptions(workers=2)))
        assert (result.added, result.unchanged, result.changed) == (pending, decided, 0)
        assert project.pending_count() == 0
        resumed = snapshot(project)

    with Project.for_dataset(reference) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        uninterrupted = snapshot(project)
    assert resumed == uninterrupted
    assert resumed[0][-1][:6] == ("odd/bad.png", "image", None, None, "odd", "broken")
