"""The ``sieve`` command line as users and scripts call it: output, JSON keys, exit codes."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import app.cli.project
from app.cli.entry import main
from tests.factories import make_dataset, write_clip

REPO = Path(__file__).resolve().parents[2]


def sieve(*args: str) -> subprocess.CompletedProcess:
    """Run the real CLI in a fresh interpreter, as a user's shell would."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


@pytest.fixture()
def dataset(tmp_path):
    root = make_dataset(tmp_path / "data", {"cats": 3, "dogs": 2})
    (root / "dogs" / "broken.png").write_bytes(b"not a png")
    write_clip(root / "videos" / "clip.mp4", frames=12)
    return root


def test_index_info_ls_round_trip(dataset, capsys):
    assert main(["index", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "5 images, 12 frames of 1 videos" in out and "1 broken" in out
    assert "broken: dogs/broken.png: not an image" in out

    assert main(["info", str(dataset), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["samples"] == 17 and info["images"] == 5 and info["frames"] == 12
    assert info["labels"] == {"cats": 3, "dogs": 2, "videos": 12}
    assert info["broken"] == [
        {"path": "dogs/broken.png", "reason": "not an image, or an image format Pillow cannot read"}
    ]
    assert info["runs"] == [] and info["embeddings"] == []

    assert main(["ls", str(dataset / ".sieve"), "--label", "videos"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "videos/clip-00-mp4.png" and lines[-1] == "videos/clip-11-mp4.png"
    assert main(["ls", str(dataset), "--broken"]) == 0
    assert capsys.readouterr().out == "dogs/broken.png\n"


def test_index_every_nth_and_project_option(dataset, tmp_path, capsys):
    project = tmp_path / "elsewhere"
    assert main(["index", str(dataset), "--project", str(project), "--every-nth", "5"]) == 0
    capsys.readouterr()
    assert main(["ls", str(project), "--label", "videos"]) == 0
    assert capsys.readouterr().out.split() == [
        "videos/clip-00-mp4.png",
        "videos/clip-05-mp4.png",
        "videos/clip-10-mp4.png",
    ]
    assert not (dataset / ".sieve").exists()


def test_info_plain_text(dataset, capsys):
    main(["index", str(dataset), "--no-thumbnails"])
    capsys.readouterr()
    assert main(["info", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "samples  17" in out and "cats 3" in out


@pytest.mark.parametrize(
    "args",
    [
        ["index"],
        ["index", "x", "--every-nth", "0"],
        ["index", "x", "--video-fps", "-1"],
        ["index", "x", "--every-nth", "2", "--video-fps", "3"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_expected_failures_exit_1_with_one_line(tmp_path):
    missing = sieve("index", str(tmp_path / "nope"))
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"sieve: error: no such folder: {tmp_path / 'nope'}"
    no_project = sieve("info", str(tmp_path))
    assert no_project.returncode == 1 and "Traceback" not in no_project.stderr
    assert "no Sieve project" in no_project.stderr


def test_every_command_has_help():
    for command in ["index", "info", "ls", "demo", "gui", "import-torchvision"]:
        result = sieve(command, "--help")
        assert result.returncode == 0 and "usage: sieve" in result.stdout, command


def test_demo_creates_project_in_user_data_dir(capsys):
    assert main(["demo"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == Path(os.environ["SIEVE_DATA_DIR"]) / "demo-project"
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["samples"] >= 300 and len(info["labels"]) == 10 and info["broken"] == []


def test_kill_9_during_index_then_rerun_completes(tmp_path):
    """A crash mid-index (SIGKILL) loses at most a batch; the next run completes intact.

    Rows are listed (pending) at once: the count of decoded samples shows the progress."""
    root = make_dataset(tmp_path / "data", {"a": 1500, "b": 1500}, size=(160, 120))
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "index", str(root), "--workers", "1"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = root / ".sieve" / "project.sqlite"
    deadline = time.monotonic() + 60
    indexed = 0
    while time.monotonic() < deadline and indexed < 300 and process.poll() is None:
        time.sleep(0.05)
        indexed = _count_samples(database)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < indexed < 3000, "the index finished before it could be killed"

    rerun = sieve("index", str(root))
    assert rerun.returncode == 0, rerun.stderr
    connection = sqlite3.connect(database)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 3000
    result = sieve("info", str(root), "--json")
    assert json.loads(result.stdout)["samples"] == 3000


def _count_samples(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
        try:
            query = "SELECT COUNT(*) FROM samples s JOIN files f ON f.id = s.file_id"
            return connection.execute(f"{query} WHERE NOT f.pending").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def test_output_piped_into_a_closed_reader_exits_quietly():
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "methods"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "unexpected error" not in err and "Traceback" not in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_empty_path_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(make_dataset(tmp_path / "data", {"a": 1}))
    assert main(["index", ""]) == 1
    assert "empty path" in capsys.readouterr().err
    assert not (tmp_path / "data" / ".sieve").exists()


def test_a_whole_disk_or_the_home_folder_needs_a_yes(tmp_path, monkeypatch, capsys):
    home = make_dataset(tmp_path / "home", {"a": 1})
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    real_target = app.cli.project.open_or_index_target

    def never_the_disk(data, project_dir):
        assert Path(data).resolve() != Path("/"), "about to index the whole disk"
        return real_target(data, project_dir)

    monkeypatch.setattr(app.cli.project, "open_or_index_target", never_the_disk)
    for folder in ("/", str(home), "~"):
        assert main(["index", folder]) == 1
        assert "--yes" in capsys.readouterr().err
    assert not (home / ".sieve").exists()

    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["index", str(home)]) == 1 and not (home / ".sieve").exists()
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["index", str(home), "--no-thumbnails"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["index", str(home), "--yes", "--no-thumbnails"]) == 0


def test_info_counts_missing_and_lists_unreadable_folders(dataset, monkeypatch, capsys):
    assert main(["index", str(dataset), "--no-thumbnails"]) == 0
    (dataset / "cats" / "000.png").unlink()
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == os.fspath(dataset / "videos"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    capsys.readouterr()
    assert main(["index", str(dataset), "--no-thumbnails"]) == 0
    out = capsys.readouterr().out
    assert "unreadable: videos: permission denied" in out and "--prune" in out
    monkeypatch.undo()
    assert main(["info", str(dataset), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["missing"] == 2  # the deleted image and the clip in the unreadable folder
    assert info["unreadable"] == [{"path": "videos", "reason": "permission denied"}]
    assert main(["info", str(dataset)]) == 0
    text = capsys.readouterr().out
    assert "missing  2" in text and "videos: permission denied" in text
