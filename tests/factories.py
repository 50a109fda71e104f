"""Small generated images and folders for tests (no downloads, no fixtures on disk)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
from PIL import Image


def gradient(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth RGB image that differs by seed (compresses well, decodes fast)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 255, 3)
    pixels = np.stack(
        [(xx * 3 + base[0]) % 256, (yy * 5 + base[1]) % 256, (xx + yy + base[2]) % 256], -1
    )
    return Image.fromarray(pixels.astype(np.uint8))


def write_image(path: Path, image: Image.Image | None = None, **save_args) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (image or gradient()).save(path, **save_args)
    return path


def make_dataset(root: Path, classes: dict[str, int], size: tuple[int, int] = (64, 48)) -> Path:
    """``root/<class>/<i>.png`` for each class, ``count`` images each."""
    for index, (name, count) in enumerate(classes.items()):
        for i in range(count):
            write_image(root / name / f"{i:03d}.png", gradient(*size, seed=index * 1000 + i))
    return root


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_clip(path: Path, frames: int, size: tuple[int, int] = (64, 48), fps: int = 10) -> Path:
    """A PyAV-encoded clip whose frame ``i`` is a flat grey of level ``10 + 4 * i % 240``."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            level = 10 + (4 * index) % 240
            pixels = np.full((size[1], size[0], 3), level, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now (for process groups)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nested(root: Path, levels: int, name: str = "d") -> Path:
    """``root/name/name/...`` ``levels`` deep, made one level at a time; the deepest folder."""
    folder = root
    for _ in range(levels):
        folder = folder / name
        folder.mkdir(parents=True)
    return folder


def remove_tree(root: Path) -> None:
    """Delete a folder tree of any depth (``shutil.rmtree`` recurses once per level)."""
    stack = [root]
    while stack:
        entries = list(os.scandir(stack[-1]))
        folders = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        if folders:
            stack.extend(folders)
            continue
        for entry in entries:
            os.unlink(entry.path)
        stack.pop().rmdir()
