"""Decoding every kind of image a user's folder can hold, and every kind of bad file."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from app.core.data import images
from app.core.data.images import (
    BACKGROUND,
    ImageError,
    load_rgb,
    open_image,
    probe_image,
    thumbnail_of_file,
)
from tests.factories import gradient, truncate, write_image


def test_rgb_jpeg_probe_gives_size_and_thumbnail(tmp_path):
    path = write_image(tmp_path / "a.jpg", gradient(640, 480), quality=90)
    probe = probe_image(path, thumb_size=96)
    assert probe.ok and (probe.width, probe.height) == (640, 480)
    thumb = Image.open(io.BytesIO(probe.thumbnail))
    assert thumb.format == "JPEG" and thumb.size == (96, 72)


def test_a_plain_jpeg_that_fits_the_thumbnail_is_its_own_thumbnail(tmp_path):
    """Decoded whole (so validated), but neither resized nor encoded again: the file's bytes."""
    for name, image in [
        ("tiny.jpg", gradient(32, 24)),
        ("grey.jpg", gradient(96, 40).convert("L")),
    ]:
        path = write_image(tmp_path / name, image, quality=90)
        probe = probe_image(path, thumb_size=96, measure=False)
        assert probe.ok and (probe.width, probe.height) == image.size
        assert probe.thumbnail == path.read_bytes()
        assert thumbnail_of_file(path, 96) == probe.thumbnail


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


@pytest.mark.parametrize(
    "name, image, save_args, size",
    [
        ("larger.jpg", gradient(300, 200), {}, (96, 64)),
        ("rotated.jpg", gradient(60, 40), {"exif": _exif(6)}, (40, 60)),
        ("cmyk.jpg", gradient(60, 40).convert("CMYK"), {}, (60, 40)),
        ("small.png", gradient(60, 40), {}, (60, 40)),
        ("noisy.jpg", None, {"quality": 100}, (96, 96)),
    ],
)
def test_any_other_image_gets_a_thumbnail_encoded_upright_in_rgb(
    tmp_path, monkeypatch, name, image, save_args, size
):
    """Larger, turned by its EXIF orientation, CMYK, not a JPEG, or more bytes than a thumbnail
    should hold (``noisy.jpg``, against a limit set just under its size)."""
    if image is None:
        pixels = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
    path = write_image(tmp_path / name, image, **save_args)
    if name == "noisy.jpg":
        monkeypatch.setattr(images, "OWN_THUMBNAIL_BYTES", path.stat().st_size - 1)
    probe = probe_image(path, thumb_size=96, measure=False)
    assert probe.ok and probe.thumbnail != path.read_bytes()
    assert thumbnail_of_file(path, 96) == probe.thumbnail
    thumb = Image.open(io.BytesIO(probe.thumbnail))
    assert thumb.format == "JPEG" and thumb.mode == "RGB" and thumb.size == size


def test_jpeg_draft_decodes_at_reduced_scale(tmp_path):
    path = write_image(tmp_path / "big.jpg", gradient(1600, 1200), quality=90)
    assert open_image(path, draft_size=(192, 192)).size == (200, 150)
    assert open_image(path).size == (1600, 1200)


@pytest.mark.parametrize("orientation, expected", [(1, (60, 40)), (6, (40, 60)), (8, (40, 60))])
def test_exif_orientation_applied(tmp_path, orientation, expected):
    image = gradient(60, 40)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = write_image(tmp_path / "o.jpg", image, exif=exif.tobytes())
    assert load_rgb(path).size == expected
    probe = probe_image(path)
    assert (probe.width, probe.height) == expected


def test_palette_png_becomes_rgb(tmp_path):
    path = write_image(tmp_path / "p.png", gradient().convert("P"))
    image = open_image(path)
    assert image.mode == "RGB"


def test_palette_with_transparency_is_composited(tmp_path):
    image = Image.new("P", (8, 8), 0)
    image.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    image.info["transparency"] = 0
    path = write_image(tmp_path / "pt.png", image, transparency=0)
    assert open_image(path).getpixel((0, 0)) == BACKGROUND


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_composited_on_neutral_background(tmp_path, mode):
    image = Image.new(mode, (10, 10), (200, 0) if mode == "LA" else (255, 0, 0, 0))
    path = write_image(tmp_path / f"{mode}.png", image)
    assert open_image(path).convert("RGB").getpixel((5, 5)) == BACKGROUND
    half = Image.new("RGBA", (10, 10), (255, 255, 255, 128))
    pixel = open_image(write_image(tmp_path / "half.png", half)).getpixel((0, 0))
    assert all(abs(channel - 192) <= 1 for channel in pixel)


def test_16bit_png_scaled_to_8bit(tmp_path):
    values = np.linspace(0, 65535, 64 * 16).reshape(16, 64).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    image = open_image(path)
    assert image.mode == "L"
    pixels = np.asarray(image)
    assert pixels.min() == 0 and pixels.max() == 255


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = write_image(tmp_path / "c.jpg", gradient().convert("CMYK"))
    assert load_rgb(path).mode == "RGB"


def test_one_bit_and_grayscale_images(tmp_path):
    assert open_image(write_image(tmp_path / "b.png", gradient().convert("1"))).mode == "L"
    assert load_rgb(write_image(tmp_path / "g.pgm", gradient().convert("L"))).mode == "RGB"


def test_formats_bmp_tiff_webp_ppm(tmp_path):
    for name in ["x.bmp", "x.tif", "x.webp", "x.ppm"]:
        assert probe_image(write_image(tmp_path / name)).ok, name


def test_wrong_extension_real_image_still_decodes(tmp_path):
    path = write_image(tmp_path / "really_png.jpg", format="PNG")
    assert probe_image(path).ok


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"this is a text file, not a picture", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image"),
    ],
)
def test_bad_files_become_broken_with_reason(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    probe = probe_image(path)
    assert not probe.ok and probe.thumbnail is None
    assert reason in probe.reason


@pytest.mark.parametrize("name", ["t.jpg", "t.png"])
def test_truncated_files_are_broken(tmp_path, name):
    path = truncate(write_image(tmp_path / name, gradient(400, 300)), keep=0.4)
    probe = probe_image(path)
    assert not probe.ok
    assert "truncated" in probe.reason or "corrupt" in probe.reason
    with pytest.raises(ImageError):
        load_rgb(path)


def test_decompression_bomb_guard_is_kept(tmp_path, monkeypatch):
    path = write_image(tmp_path / "bomb.png", gradient(100, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    probe = probe_image(path)
    assert not probe.ok and "decompression-bomb" in probe.reason


def test_probe_never_modifies_the_file(tmp_path):
    path = write_image(tmp_path / "keep.jpg", gradient(300, 200))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    probe_image(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_a_small_file_is_probed_from_memory_and_a_large_one_from_disk_alike(tmp_path, monkeypatch):
    """A file is read once and probed from its bytes up to READ_WHOLE_BYTES, streamed above;
    either way the same thumbnail, statistics and file hash."""
    path = write_image(tmp_path / "photo.jpg", gradient(300, 200), quality=90)
    from_memory = probe_image(path)
    opened: list[object] = []
    real_open = Image.open
    monkeypatch.setattr(
        Image, "open", lambda source, *a: opened.append(source) or real_open(source, *a)
    )
    monkeypatch.setattr(images, "READ_WHOLE_BYTES", path.stat().st_size - 1)
    from_disk = probe_image(path)
    assert opened == [path]  # decoded from the path, not from bytes read before
    assert from_disk == from_memory and from_memory.ok
    assert from_memory.stats.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_vanished_file_says_so(tmp_path):
    assert "not found" in probe_image(tmp_path / "gone.jpg").reason


def test_a_file_read_in_short_pieces_is_read_whole(tmp_path, monkeypatch):
    """A network file system may return fewer bytes than asked: the probe reads on."""
    path = write_image(tmp_path / "photo.jpg", gradient(300, 200), quality=90)
    whole = probe_image(path)
    real_read = images.os.read
    monkeypatch.setattr(images.os, "read", lambda fd, n: real_read(fd, min(n, 1000)))
    assert probe_image(path) == whole and whole.ok
    assert whole.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
