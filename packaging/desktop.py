"""Per-user Linux desktop integration: a menu entry, the icon, "Open with Sieve" for folders.

``python packaging/desktop.py install --exec PROGRAM`` writes
``$XDG_DATA_HOME/applications/sieve.desktop`` (from ``resources/linux/sieve.desktop``, its
``@EXEC@`` replaced by PROGRAM, quoted as the Desktop Entry spec asks) and
``$XDG_DATA_HOME/icons/hicolor/NxN/apps/sieve.png``, then refreshes the desktop and icon caches
when their tools exist. ``uninstall`` removes exactly those files. PROGRAM is the bundle's
``Sieve`` or a venv's ``sieve``; both open a folder with ``PROGRAM gui FOLDER``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from icons import HICOLOR_SIZES, write_hicolor

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "resources" / "linux" / "sieve.desktop"
DESKTOP_NAME = "sieve.desktop"
ICON_NAME = "sieve"
RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def data_home() -> Path:
    """``$XDG_DATA_HOME``, else ``~/.local/share``."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def exec_argument(text: str) -> str:
    """One argument of an ``Exec`` key: quoted when it holds a reserved character, ``%``
    doubled, then backslashes escaped once more for the string value (Desktop Entry spec)."""
    text = text.replace("%", "%%")
    if RESERVED.intersection(text):
        for char in ("\\", '"', "`", "$"):
            text = text.replace(char, "\\" + char)
        text = f'"{text}"'
    return text.replace("\\", "\\\\")


def render_entry(program: Path, template: Path = TEMPLATE) -> str:
    """The template with ``@EXEC@`` replaced by the quoted absolute path of ``program``."""
    text = template.read_text(encoding="utf-8")
    if "@EXEC@" not in text:
        raise ValueError(f"{template} has no @EXEC@ placeholder")
    return text.replace("@EXEC@", exec_argument(str(program.absolute())))


def icon_files(data: Path) -> list[Path]:
    return [
        data / "icons" / "hicolor" / f"{n}x{n}" / "apps" / f"{ICON_NAME}.png" for n in HICOLOR_SIZES
    ]


def refresh_caches(data: Path) -> None:
    """Let the menu and file managers see the change now (both tools are optional)."""
    commands = (
        ["update-desktop-database", "-q", str(data / "applications")],
        ["gtk-update-icon-cache", "-q", "-t", "-f", str(data / "icons" / "hicolor")],
    )
    for command in commands:
        if shutil.which(command[0]):
            subprocess.run(
                command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )


def install(program: Path, data: Path) -> list[Path]:
    """Write the desktop entry and the icons under ``data``; return the files written."""
    if not (program.is_file() and os.access(program, os.X_OK)):
        raise FileNotFoundError(f"not an executable program: {program} (build or install it first)")
    entry = data / "applications" / DESKTOP_NAME
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(render_entry(program), encoding="utf-8")
    written = [entry, *write_hicolor(data / "icons" / "hicolor", ICON_NAME)]
    refresh_caches(data)
    return written


def uninstall(data: Path) -> list[Path]:
    """Remove what ``install`` wrote; return the files removed."""
    removed = []
    for path in [data / "applications" / DESKTOP_NAME, *icon_files(data)]:
        if path.exists():
            path.unlink()
            removed.append(path)
    refresh_caches(data)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="desktop.py", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("install", "uninstall"))
    parser.add_argument("--exec", dest="program", help="the program to start (install)")
    parser.add_argument("--data-home", help="default: $XDG_DATA_HOME or ~/.local/share")
    args = parser.parse_args(argv)
    data = Path(args.data_home) if args.data_home else data_home()
    if args.action == "uninstall":
        removed = uninstall(data)
        print(f"removed {len(removed)} files from {data}")
        return 0
    if not args.program:
        parser.error("install needs --exec PROGRAM")
    try:
        written = install(Path(args.program), data)
    except (OSError, ValueError) as error:
        print(f"desktop.py: error: {error}", file=sys.stderr)
        return 1
    print(f"installed {written[0]} (Exec: {Path(args.program).absolute()} gui FOLDER)")
    print(f"installed {len(written) - 1} icons under {data / 'icons' / 'hicolor'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
