"""Image statistics: each responds to what it measures, hashes find copies, and it is cheap."""

from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image, ImageFilter

from app.core.quality.stats import file_digest, hamming, image_stats, phash
from tests.core.quality.planted import damage, photo


def _thumb(image: Image.Image) -> Image.Image:
    image = image.copy()
    image.thumbnail((192, 192))
    return image


def test_each_statistic_moves_with_its_problem_and_not_with_the_others():
    rng = np.random.default_rng(0)
    base = photo(rng, (256, 192))
    plain = image_stats(_thumb(base))
    dark = image_stats(_thumb(damage("dark", base, rng)))
    light = image_stats(_thumb(damage("light", base, rng)))
    blurred = image_stats(_thumb(base.filter(ImageFilter.GaussianBlur(4))))
    grey = image_stats(_thumb(base.convert("L")))
    flat = image_stats(_thumb(damage("flat", base, rng)))
    assert dark.brightness < 0.2 < plain.brightness < 0.8 < light.brightness
    assert blurred.sharpness < plain.sharpness / 2
    assert abs(dark.sharpness - plain.sharpness) < 0.5 * plain.sharpness  # exposure is not blur
    assert grey.colourfulness == 0.0 < 0.05 < plain.colourfulness
    assert flat.entropy < 3.0 < plain.entropy <= 8.0
    assert flat.contrast < 0.02 < plain.contrast


def test_perceptual_hash_survives_recompression_and_resizing_but_tells_images_apart():
    rng = np.random.default_rng(1)
    first, second = photo(rng, (300, 200)), photo(rng, (300, 200))
    buffer = io.BytesIO()
    first.resize((210, 140)).save(buffer, format="JPEG", quality=55)
    copy = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    original = phash(first.convert("L"))
    assert hamming(original, phash(copy)) <= 6
    assert hamming(original, phash(second.convert("L"))) >= 16
    assert -(1 << 63) <= original < (1 << 63)  # fits SQLite's INTEGER


def test_content_hash_is_the_file_bytes_hash_and_frames_hash_their_pixels(tmp_path):
    image = photo(np.random.default_rng(2), (64, 48))
    image.save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes((tmp_path / "a.png").read_bytes())
    image.save(tmp_path / "c.jpg", quality=95)
    assert file_digest(tmp_path / "a.png") == file_digest(tmp_path / "b.png")
    assert file_digest(tmp_path / "a.png") != file_digest(tmp_path / "c.jpg")
    assert image_stats(image).content_hash == image_stats(image.copy()).content_hash


def test_tiny_and_single_channel_images_are_measured():
    tiny = image_stats(Image.new("L", (2, 2), 7))
    assert tiny.sharpness == 0.0 and tiny.entropy == 0.0 and tiny.colourfulness == 0.0


def test_statistics_of_a_thumbnail_cost_well_under_a_millisecond():
    thumb = photo(np.random.default_rng(3), (192, 144))
    image_stats(thumb)
    times = []
    for _ in range(50):
        start = time.perf_counter()
        image_stats(thumb, "digest")
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.002  # ~0.4 ms alone; generous for a shared 2-core machine
