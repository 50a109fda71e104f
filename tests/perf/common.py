"""Shared helpers for the benchmarks: real images from Fashion-MNIST, timing, tables."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.data.idx import read_idx  # noqa: E402

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images (N x 28 x 28 uint8) and labels; from `apt-get install dataset-fashion-mnist`."""
    prefix = "train" if split == "train" else "t10k"
    images = FASHION_MNIST / f"{prefix}-images-idx3-ubyte.gz"
    if not images.exists():
        raise SystemExit(f"{images} is missing: apt-get install dataset-fashion-mnist")
    return read_idx(images), read_idx(FASHION_MNIST / f"{prefix}-labels-idx1-ubyte.gz")


def timed(function: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join("-" * width for width in widths)
    print(f"\n{title}\n{line}")
    print("  ".join(str(cell).ljust(width) for cell, width in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(line)


def run_parts(doc: str, parts: dict[str, Callable[[], object]]) -> None:
    """Run every benchmark part in one process, or only those named with ``--only``."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--only", choices=sorted(parts), action="append")
    for name in parser.parse_args().only or list(parts):
        parts[name]()
