"""``sieve index`` commits as it goes: killed midway (SIGKILL), a re-run probes only the files
still pending and ends with the same project as a run that was never interrupted."""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

from app.cli.entry import main
from app.core.errors import JobCancelled
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project
from tests.cli.test_ctrl_c import Terminal
from tests.factories import gradient, make_dataset

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


def test_commands_use_only_decoded_files_and_info_says_what_is_pending(tmp_path, capsys):
    root = make_dataset(tmp_path / "data", {"a": 4, "b": 4})
    cancel = CancelToken()
    with Project.for_dataset(root) as project:
        try:
            for progress in index_job(project, IndexOptions(workers=2, batch_size=8), cancel):
                if progress.stage == "list" and progress.total is not None:
                    cancel.cancel()  # stopped once the rows are listed, before any decode
        except JobCancelled:
            pass
    assert main(["ls", str(root)]) == 0
    assert capsys.readouterr().out == ""  # nothing decoded, nothing listed as usable
    assert main(["info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "pending  8 files are not indexed yet: run `sieve index" in out
    assert main(["index", str(root)]) == 0
    capsys.readouterr()
    assert main(["ls", str(root)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 8
    assert main(["info", str(root)]) == 0
    assert "pending" not in capsys.readouterr().out
