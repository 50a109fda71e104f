"""The preset strategies the panel offers: plain data, turned into strategy rows by the composer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.core.embeddings.scores import DUPLICATE_THRESHOLD
from app.core.selection.spec import DEFAULT_STRATEGIES

# Near-duplicates by the score job's cosine threshold, as a distance between unit vectors.
DUPLICATE_DISTANCE = round(math.sqrt(2.0 - 2.0 * DUPLICATE_THRESHOLD), 2)
DIVERSITY: tuple[dict[str, Any], ...] = ({"kind": "diversity", "strength": 1.0},)


@dataclass(frozen=True)
class Preset:
    """A named starting point: strategies, optional class balance and near-duplicate distance."""

    label: str
    tip: str
    strategies: tuple[dict[str, Any], ...]
    balance: dict[str, Any] | None = None
    min_distance: float | None = None


RECOMMENDED = Preset(
    "Recommended without labels (typical + diverse)",
    "The best label-free way to choose what to label first: typical samples spread over the "
    "data (typicality\u00b3 \u00d7 diversity). Once samples are labelled, the Label tab adds "
    "the probe's margin uncertainty, the benchmark's winner.",
    DEFAULT_STRATEGIES,
)
CUSTOM = Preset("Custom", "Your own combination of the rows below.", ())
PRESETS: tuple[Preset, ...] = (
    RECOMMENDED,
    Preset("Diverse", "Spread over the whole space, outliers included (k-center).", DIVERSITY),
    Preset(
        "Typical",
        "The most typical samples: dense regions first.",
        ({"kind": "typicality", "strength": 1.0},),
    ),
    Preset(
        "Deduplicated",
        "Diverse, and no two picks closer than the near-duplicate distance.",
        DIVERSITY,
        min_distance=DUPLICATE_DISTANCE,
    ),
    Preset(
        "Class-balanced",
        "Typical and diverse, with every label equally represented.",
        DEFAULT_STRATEGIES,
        balance={"by": "label", "target": "uniform"},
    ),
    CUSTOM,
)
