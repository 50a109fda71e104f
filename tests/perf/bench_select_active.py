"""Active learning on Fashion-MNIST: which strategy should Sieve recommend for "label next"?

Pool: the 60k training images as PCA-64 of the pixels (centred, L2-normalised rows); the 10k
test split measures accuracy. Each run starts from 20 random labels and adds 5 rounds of 40
picked by a strategy of :mod:`app.core.active.loop`; after each round a linear probe
(:func:`app.core.active.probe.fit_probe`) is fitted on the labelled samples and scored on the
test split. Mean of 3 seeds. Prints the curves, saves a PNG plot and reports the gain of the
best strategy over random at the last round.

    python tests/perf/bench_select_active.py [--plot /tmp/sieve-bench/active_learning.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common import fashion_mnist, print_table  # noqa: E402

from app.core.active.loop import RECOMMENDED, STRATEGIES, next_batch, pool_typicality  # noqa: E402
from app.core.active.probe import fit_probe  # noqa: E402

START = 20
BATCH = 40
ROUNDS = 5
SEEDS = (0, 1, 2)
PCA_DIM = 64
PLOT = Path("/tmp/sieve-bench/active_learning.png")
COLOURS = ("#7f7f7f", "#d62728", "#1f77b4", "#9467bd", "#2ca02c", "#ff7f0e", "#17becf")


def pca_embeddings(dim: int = PCA_DIM) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(pool, pool labels, test, test labels)``: PCA of the training pixels, unit rows."""
    train, train_labels = fashion_mnist("train")
    test, test_labels = fashion_mnist("test")
    train = train.reshape(len(train), -1).astype(np.float32) / 255.0
    test = test.reshape(len(test), -1).astype(np.float32) / 255.0
    mean = train.mean(axis=0)
    centred = train - mean
    _, vectors = np.linalg.eigh(centred.T @ centred)
    components = vectors[:, ::-1][:, :dim]

    def embed(pixels: np.ndarray) -> np.ndarray:
        out = (pixels - mean) @ components
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    return embed(train), train_labels.astype(np.int64), embed(test), test_labels.astype(np.int64)


def run_strategy(strategy, pool, pool_labels, test, test_labels, typicality, seed) -> list[float]:
    """Test accuracy after the start and after each round."""
    labelled = np.random.default_rng(seed).choice(len(pool), START, replace=False)
    curve = []
    for round_number in range(ROUNDS + 1):
        probe = fit_probe(pool[labelled], pool_labels[labelled])
        curve.append(float((probe.predict(test) == test_labels).mean()))
        if round_number == ROUNDS:
            break
        picked = next_batch(
            pool,
            labelled,
            pool_labels[labelled],
            BATCH,
            strategy,
            seed=seed * 1000 + round_number,
            probabilities=probe.probabilities(pool),
            typicality=typicality,
        )
        assert len(picked) == BATCH and not np.isin(picked, labelled).any()
        labelled = np.concatenate([labelled, picked])
    return curve


def draw_plot(path: Path, sizes: list[int], curves: dict[str, np.ndarray]) -> None:
    """Accuracy against labelled samples, one line per strategy, drawn with Pillow."""
    width, height, left, right, top, bottom = 1040, 600, 90, 320, 50, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font, small = ImageFont.load_default(size=15), ImageFont.load_default(size=13)
    values = np.concatenate(list(curves.values()))
    low = np.floor(values.min() * 20) / 20
    high = np.ceil(values.max() * 20) / 20
    x_of = lambda size: left + (size - sizes[0]) / (sizes[-1] - sizes[0]) * (width - left - right)  # noqa: E731
    y_of = lambda acc: height - bottom - (acc - low) / (high - low) * (height - top - bottom)  # noqa: E731
    for tick in np.arange(low, high + 1e-9, 0.05):
        y = y_of(tick)
        draw.line([(left, y), (width - right, y)], fill="#e6e6e6")
        draw.text((left - 8, y), f"{tick:.2f}", fill="black", font=small, anchor="rm")
    for size in sizes:
        x = x_of(size)
        draw.line([(x, height - bottom), (x, height - bottom + 5)], fill="black")
        draw.text((x, height - bottom + 8), str(size), fill="black", font=small, anchor="mt")
    draw.line([(left, top), (left, height - bottom), (width - right, height - bottom)], "black")
    title = f"Fashion-MNIST, PCA-64 linear probe: test accuracy (mean of {len(SEEDS)} seeds)"
    draw.text((left, top - 30), title, fill="black", font=font)
    draw.text(((left + width - right) / 2, height - 30), "labelled samples", "black", font, "mm")
    axis_label = Image.new("RGB", (200, 20), "white")
    ImageDraw.Draw(axis_label).text((100, 10), "test accuracy", "black", small, "mm")
    image.paste(axis_label.rotate(90, expand=True), (15, (top + height - bottom) // 2 - 100))
    for index, (name, curve) in enumerate(curves.items()):
        colour = COLOURS[index % len(COLOURS)]
        points = [(x_of(s), y_of(a)) for s, a in zip(sizes, curve, strict=True)]
        draw.line(points, fill=colour, width=4 if name == RECOMMENDED else 2)
        for x, y in points:
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        y = top + 10 + index * 26
        draw.line([(width - right + 15, y), (width - right + 45, y)], fill=colour, width=4)
        label = f"{name} (default)" if name == RECOMMENDED else name
        draw.text((width - right + 52, y), label, fill="black", font=small, anchor="lm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def bench_active(plot: Path = PLOT) -> None:
    """Run every strategy on every seed; print the table, save the plot, report the gain."""
    started = time.perf_counter()
    pool, pool_labels, test, test_labels = pca_embeddings()
    typicality = pool_typicality(pool)
    prepared = time.perf_counter() - started
    curves: dict[str, np.ndarray] = {}
    spread: dict[str, float] = {}
    for strategy in STRATEGIES:
        runs = np.array(
            [
                run_strategy(strategy, pool, pool_labels, test, test_labels, typicality, seed)
                for seed in SEEDS
            ]
        )
        curves[strategy], spread[strategy] = runs.mean(axis=0), float(runs[:, -1].std())
    sizes = [START + BATCH * r for r in range(ROUNDS + 1)]
    rows = [
        [name, *(f"{a:.3f}" for a in curve), f"{spread[name]:.3f}"]
        for name, curve in curves.items()
    ]
    header = ["strategy", *(f"{s} labels" for s in sizes), "std (last)"]
    print_table("Active learning, Fashion-MNIST PCA-64, linear probe test accuracy", header, rows)
    best = max(curves, key=lambda name: curves[name][-1])
    gain = curves[best][-1] - curves["random"][-1]
    draw_plot(plot, sizes, curves)
    print(
        f"best at {sizes[-1]} labels: {best}, {gain * 100:+.1f} points over random "
        f"({curves[best][-1]:.3f} vs {curves['random'][-1]:.3f}); Sieve recommends {RECOMMENDED} "
        f"({(curves[RECOMMENDED][-1] - curves['random'][-1]) * 100:+.1f} points)"
    )
    if best != RECOMMENDED or gain <= 0:
        print(f"WARNING: {best} won, not the recommended {RECOMMENDED}: update RECOMMENDED")
    print(f"plot: {plot}; {prepared:.0f} s to embed, {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", type=Path, default=PLOT, help="where to save the PNG plot")
    bench_active(parser.parse_args().plot)
