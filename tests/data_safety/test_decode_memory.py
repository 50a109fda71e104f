"""Decoding stays within memory: a small file with huge dimensions must not take gigabytes.

A mostly constant 8000 x 8000 16-bit PNG is a few hundred kilobytes on disk and 128 MB decoded;
float64 working copies once made it take gigabytes. Peak memory is measured in a child process
(``ru_maxrss`` sees C allocations, which tracemalloc does not), started by a small launcher:
Linux carries a process's peak across ``exec``, so a child started straight from this large
test process would report the test process's peak.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core.data import images
from app.core.data.images import DecodeBudget, decode_estimate, open_image, probe_image

resource = pytest.importorskip("resource")

REPO = Path(__file__).resolve().parents[2]
SIDE = 8000
PEAK_LIMIT_MB = 600
CHILD = """
import resource, sys
from app.core.data.images import probe_image
probe = probe_image(sys.argv[1])
assert probe.ok, probe.reason
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(probe.width, probe.height, peak // (1 << 20) if sys.platform == "darwin" else peak // 1024)
"""
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call([sys.executable, *sys.argv[1:]]))"


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8000 x 8000 I;16 PNG: constant grey with a bright square in one corner."""
    pixels = np.full((SIDE, SIDE), 20_000, dtype=np.uint16)
    pixels[:500, :500] = 60_000
    path = tmp_path_factory.mktemp("huge") / "huge.png"
    Image.fromarray(pixels).save(path, compress_level=1)
    return path


def test_probing_a_huge_16_bit_png_stays_within_memory(huge_png) -> None:
    assert huge_png.stat().st_size < 2_000_000
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, "-c", CHILD, str(huge_png)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    width, height, peak_mb = (int(value) for value in done.stdout.split())
    assert (width, height) == (SIDE, SIDE)
    assert peak_mb < PEAK_LIMIT_MB, f"probing took {peak_mb} MB"


def test_a_reduced_16_bit_decode_keeps_its_grey_levels(huge_png) -> None:
    image = open_image(huge_png, draft_size=(192, 192))
    assert image.mode == "L" and 192 <= min(image.size) < 400
    pixels = np.asarray(image)
    assert pixels[0, 0] == round(60_000 / 257) and pixels[-1, -1] == round(20_000 / 257)


def test_the_estimate_counts_the_decoded_pixels() -> None:
    assert decode_estimate(Image.new("I;16", (1000, 500))) >= 1000 * 500 * 2
    assert decode_estimate(Image.new("RGB", (1000, 500))) >= 1000 * 500 * 3


def test_the_budget_never_lets_in_flight_estimates_exceed_it() -> None:
    budget = DecodeBudget(100)
    lock = threading.Lock()
    in_flight = 0
    seen: list[tuple[int, int]] = []

    def fake_decode(amount: int) -> None:
        nonlocal in_flight
        with budget.reserve(amount):
            with lock:
                in_flight += amount
                seen.append((amount, in_flight))
            time.sleep(0.001)
            with lock:
                in_flight -= amount

    sizes = np.random.default_rng(0).integers(1, 70, 300).tolist()
    sizes[150] = 250  # larger than the whole budget: it runs, alone
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fake_decode, sizes))
    assert len(seen) == len(sizes)
    for amount, total in seen:
        assert total <= 100 or total == amount, (amount, total)
    assert max(total for _, total in seen if total <= 100) > 70, "decodes ran side by side"
    assert budget.in_use == 0


def test_probing_reserves_the_decode_from_the_shared_budget(huge_png, monkeypatch) -> None:
    reserved: list[int] = []

    class Recording(DecodeBudget):
        def acquire(self, amount: int) -> None:
            reserved.append(amount)
            super().acquire(amount)

    monkeypatch.setattr(images, "DECODE_BUDGET", Recording(1 << 30))
    assert probe_image(huge_png).ok
    assert reserved and reserved[0] >= SIDE * SIDE * 2
    assert images.DECODE_BUDGET.in_use == 0
