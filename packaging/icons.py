"""Sieve's icon in every format a platform wants, made from ``resources/icons/sieve-*.png``.

``python packaging/icons.py OUT_DIR`` writes ``sieve.ico`` (Windows), ``sieve.icns`` (macOS) and
``hicolor/NxN/apps/sieve.png`` (Linux icon theme sizes). The bundle spec and the desktop install
call the functions below; nothing generated here is committed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from PIL import Image

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def source_icons(folder: Path = ICON_DIR) -> dict[int, Path]:
    """The committed PNGs by side length (``sieve-64.png`` -> 64)."""
    found = {}
    for path in folder.glob("sieve-*.png"):
        match = re.fullmatch(r"sieve-(\d+)\.png", path.name)
        if match:
            found[int(match.group(1))] = path
    if not found:
        raise FileNotFoundError(f"no sieve-N.png icons in {folder}")
    return found


def icon_image(size: int, folder: Path = ICON_DIR) -> Image.Image:
    """The icon at ``size`` px: the committed PNG of that size, else the next larger one scaled."""
    sources = source_icons(folder)
    larger = [side for side in sources if side >= size]
    side = size if size in sources else min(larger) if larger else max(sources)
    image = Image.open(sources[side]).convert("RGBA")
    return image if image.size == (size, size) else image.resize((size, size), Image.LANCZOS)


def write_hicolor(root: Path, name: str = "sieve") -> list[Path]:
    """``root/NxN/apps/<name>.png`` for every icon theme size; returns the files."""
    written = []
    for size in HICOLOR_SIZES:
        path = root / f"{size}x{size}" / "apps" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        icon_image(size).save(path)
        written.append(path)
    return written


def write_ico(path: Path) -> Path:
    """A multi-size Windows icon."""
    path.parent.mkdir(parents=True, exist_ok=True)
    icon_image(max(ICO_SIZES)).save(path, sizes=[(size, size) for size in ICO_SIZES])
    return path


def write_icns(path: Path) -> Path:
    """A macOS icon (Pillow writes the 16..1024 px variants from the 512 px image)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    icon_image(512).save(path, format="ICNS")
    return path


def platform_icon(out_dir: Path, platform: str = sys.platform) -> Path:
    """The icon file PyInstaller embeds on ``platform`` (Linux executables carry none: a PNG)."""
    if platform == "win32":
        return write_ico(out_dir / "sieve.ico")
    if platform == "darwin":
        return write_icns(out_dir / "sieve.icns")
    path = out_dir / "sieve.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    icon_image(256).save(path)
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python packaging/icons.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    for path in (write_ico(out / "sieve.ico"), write_icns(out / "sieve.icns")):
        print(path)
    print(f"{out / 'hicolor'} ({len(write_hicolor(out / 'hicolor'))} sizes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
