"""``sieve --self-test`` from source, as a subprocess (the way a bundle runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app import __version__
from app.cli.self_test import STEPS

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from app.cli.entry import main; sys.exit(main(sys.argv[1:]))"


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIEVE_DATA_DIR": str(tmp_path / "user-data"), "OMP_NUM_THREADS": "1"}
    env.pop("QT_QPA_PLATFORM", None)  # the self-test goes offscreen by itself
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def step_lines(stdout: str) -> dict[str, str]:
    """``{step name: status}`` from the lines ``OK   name ...`` / ``FAIL name ...``."""
    found = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition(" ")
        for step in STEPS:
            if status in ("OK", "FAIL", "SKIP") and rest.strip().startswith(step.name + " "):
                found[step.name] = status
    return found


def test_self_test_passes_in_a_work_folder_it_leaves_empty(tmp_path: Path) -> None:
    work = tmp_path / "wörk dir"
    result = run(["-m", "app", "--self-test", str(work)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert step_lines(result.stdout) == {step.name: "OK" for step in STEPS}
    assert result.stdout.strip().splitlines()[-1].startswith("self-test passed: ")
    assert list(work.iterdir()) == []
    assert not (tmp_path / "user-data").exists()


def test_a_failing_step_is_named_and_exits_1(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("a file where the work folder should be")
    result = run(["-c", CLI, "--self-test", str(not_a_folder / "work")], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    steps = step_lines(result.stdout)
    assert steps["work folder"] == "FAIL"
    assert steps["train"] == "SKIP"
    assert steps["qt widget"] == "OK"
    fail_line = next(line for line in result.stdout.splitlines() if line.startswith("FAIL"))
    assert "NotADirectoryError" in fail_line
    assert result.stdout.strip().splitlines()[-1].startswith("self-test FAILED in ")
    assert "work folder" in result.stdout.strip().splitlines()[-1]


def test_a_windowed_start_without_stdout_writes_to_the_console_log(tmp_path: Path) -> None:
    """A windowed bundle (Windows, macOS) starts with sys.stdout and sys.stderr None."""
    code = (
        "import sys; sys.stdout = sys.stderr = None; sys.argv = ['Sieve', '--version']; "
        "from app.__main__ import main; main()"
    )
    result = run(["-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""
    log = tmp_path / "user-data" / "logs" / "console.log"
    assert log.read_text(encoding="utf-8").strip() == f"sieve {__version__}"
