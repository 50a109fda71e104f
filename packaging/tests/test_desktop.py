"""The Linux desktop entry and ``make install-desktop`` (into a temporary HOME)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACKAGING))

import desktop  # noqa: E402
from icons import HICOLOR_SIZES  # noqa: E402

ROOT = PACKAGING.parent


def entry_of(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read_string(text)
    return dict(parser["Desktop Entry"])


def unescape_exec(value: str) -> list[str]:
    """The Exec value as argv, read as the Desktop Entry spec says: string escapes first,
    then words, double quotes and the escapes inside them, then ``%%`` as ``%``."""
    text = value.replace("\\\\", "\\")
    words, word, quoted, index = [], "", False, 0
    while index < len(text):
        char = text[index]
        if quoted and char == "\\" and text[index + 1] in '"`$\\':
            word, index = word + text[index + 1], index + 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            words, word = ([*words, word] if word else words), ""
        else:
            word += char
        index += 1
    return [part.replace("%%", "%") for part in ([*words, word] if word else words)]


@pytest.fixture
def program(tmp_path: Path) -> Path:
    folder = tmp_path / "Sieve bündle tëst" / "Sieve"
    folder.mkdir(parents=True)
    path = folder / "Sieve"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_entry_opens_folders_with_the_gui_command(tmp_path: Path) -> None:
    program = tmp_path / 'odd "$HOME" `x` 100% \\ dir' / "Sieve"
    entry = entry_of(desktop.render_entry(program))
    assert entry["Type"] == "Application"
    assert entry["Icon"] == "sieve"
    assert entry["MimeType"] == "inode/directory;"
    assert unescape_exec(entry["Exec"]) == [str(program), "gui", "%f"]


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils")
def test_desktop_file_validate_accepts_the_rendered_entry(program: Path, tmp_path: Path) -> None:
    path = tmp_path / "sieve.desktop"
    path.write_text(desktop.render_entry(program), encoding="utf-8")
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout + result.stderr


def test_make_install_desktop_writes_the_entry_and_icons_then_uninstall_removes_them(
    program: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home)}
    env.pop("XDG_DATA_HOME", None)
    python = f"VENV={Path(sys.executable).parent.parent}"
    make = ["make", "-s", "-C", str(ROOT), "-o", "setup", python]
    subprocess.run([*make, "install-desktop", f"DESKTOP_EXEC={program}"], env=env, check=True)
    data = home / ".local" / "share"
    entry = entry_of((data / "applications" / "sieve.desktop").read_text(encoding="utf-8"))
    assert unescape_exec(entry["Exec"])[0] == str(program)
    for size in HICOLOR_SIZES:
        icon = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "sieve.png"
        assert icon.is_file()
    subprocess.run([*make, "uninstall-desktop"], env=env, check=True)
    assert not (data / "applications" / "sieve.desktop").exists()
    assert not list((data / "icons").rglob("sieve.png"))
