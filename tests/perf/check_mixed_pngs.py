"""Acceptance check: `sieve index` on thousands of mixed real PNGs plus corrupt files.

Fashion-MNIST items saved as palette (with and without transparency), RGBA, LA, 16-bit, 1-bit,
grey and RGB PNGs, a few very large ones (6000 x 4500), and corrupt files of every kind
(truncated, zero-byte, random bytes, text with a .png name). Runs the real CLI and checks the
counts and that every broken file is listed with a reason.

    python tests/perf/check_mixed_pngs.py [--count 3000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import fashion_mnist, print_table, timed
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
MODES = ["P", "P+transparency", "RGBA", "LA", "I;16", "1", "L", "RGB"]


def save_as(image: Image.Image, mode: str, path: Path) -> None:
    if mode == "P+transparency":
        image.convert("P").save(path, transparency=0)
    elif mode == "I;16":
        Image.fromarray(np.asarray(image, dtype=np.uint16) * 257).save(path)
    elif mode in ("RGBA", "LA"):
        converted = image.convert(mode)
        converted.putalpha(image.point(lambda value: min(255, value + 60)))
        converted.save(path)
    else:
        image.convert(mode).save(path)


def build(folder: Path, count: int, large: int) -> dict[str, str]:
    """Write the folder; return {relpath: kind of damage} for the corrupt files."""
    images, labels = fashion_mnist("test")
    for i in range(count):
        mode = MODES[i % len(MODES)]
        path = folder / f"class_{labels[i]}" / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_as(Image.fromarray(images[i]).resize((112, 112)), mode, path)
    (folder / "large").mkdir(exist_ok=True)
    for i in range(large):
        big = Image.fromarray(images[i]).resize((6000, 4500), Image.BILINEAR).convert("RGB")
        big.save(folder / "large" / f"large_{i}.png", compress_level=1)
    damaged: dict[str, str] = {}
    for i in range(10):
        source = folder / f"class_{labels[i]}" / f"{i:05d}.png"
        target = folder / "damaged" / f"truncated_{i}.png"
        target.parent.mkdir(exist_ok=True)
        data = source.read_bytes()
        target.write_bytes(data[: len(data) // 2])
        damaged[f"damaged/truncated_{i}.png"] = "truncated"
        (folder / "damaged" / f"empty_{i}.png").write_bytes(b"")
        damaged[f"damaged/empty_{i}.png"] = "zero-byte"
        noise = np.random.default_rng(i).integers(0, 256, 4000, dtype=np.uint8).tobytes()
        (folder / "damaged" / f"random_{i}.png").write_bytes(noise)
        damaged[f"damaged/random_{i}.png"] = "random bytes"
        (folder / "damaged" / f"text_{i}.png").write_text("not an image")
        damaged[f"damaged/text_{i}.png"] = "wrong extension"
    return damaged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--large", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sieve-mixed-"))
    try:
        data = work / "data"
        build_s, damaged = timed(lambda: build(data, args.count, args.large))
        index_s, result = timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "app", "index", str(data)],
                cwd=REPO,
                capture_output=True,
                text=True,
            )
        )
        assert result.returncode == 0, result.stderr
        info = json.loads(
            subprocess.run(
                [sys.executable, "-m", "app", "info", str(data), "--json"],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    listed = {entry["path"]: entry["reason"] for entry in info["broken"]}
    expected_samples = args.count + args.large
    rows = [
        ["files written", f"{expected_samples + len(damaged):,}", ""],
        ["usable samples", f"{info['samples']:,}", f"expected {expected_samples:,}"],
        ["broken listed", f"{len(listed):,}", f"expected {len(damaged):,}"],
        ["every broken file has a reason", str(all(listed.values())), ""],
        ["index time", f"{index_s:.1f} s", f"(building the folder took {build_s:.1f} s)"],
    ]
    for kind in sorted(set(damaged.values())):
        path = next(p for p, k in damaged.items() if k == kind)
        rows.append([f"reason for {kind}", listed.get(path, "NOT LISTED"), path])
    print_table("sieve index on mixed real PNGs plus corrupt files", ["what", "value", ""], rows)
    assert info["samples"] == expected_samples
    assert set(listed) == set(damaged)
    assert all(listed.values())
    print("OK")


if __name__ == "__main__":
    main()
