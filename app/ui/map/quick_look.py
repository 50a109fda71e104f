"""The job behind the map's Quick look button (Qt-free; the panel runs it on its JobRunner).

It embeds every sample with the quick look's config (``embed.quick_config``) and lays the new
set out (PCA at once, then UMAP). Loading UMAP (importing umap-learn and numba's cached kernels,
about 4.5 s of a core) happens once per process on a side thread (:func:`load_umap_ahead`): the
map panel starts it, below the window's priority, when an index ends (the button waits for the
index, so a click then finds UMAP loaded: an 8k quick look 31.7 -> 28.5 s on a slow turn of a
two-core machine); else the job starts it, so it overlaps the embedding instead of following it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from app.core.jobs import CancelToken, Job, run_below_the_window
from app.gui_model.map_sources import embed_and_layout_job

log = logging.getLogger("sieve")


def quick_look_job(project_dir: Path, method: str, cancel: CancelToken) -> Job[np.ndarray]:
    """Embed ``project_dir``'s samples for a quick look and lay them out with ``method``."""
    from app.core.embeddings.embed import quick_config  # torch loads when the job runs

    if method == "umap":
        load_umap_ahead()
    return (yield from embed_and_layout_job(project_dir, quick_config(), method, cancel))


def load_umap_ahead(below_the_window: bool = False) -> bool:
    """Start loading UMAP on a side thread, unless it was started before in this process
    (False then). ``below_the_window``: at a lower priority, when nothing waits for it yet."""
    global _ahead
    with _AHEAD_LOCK:
        if _ahead:
            return False
        _ahead = True
    thread = threading.Thread(
        target=_load_umap, args=(below_the_window,), name="sieve-umap-load", daemon=True
    )
    thread.start()
    return True


_AHEAD_LOCK = threading.Lock()
_ahead = False


def _load_umap(below_the_window: bool) -> None:
    """Load UMAP's kernels now (the layout waits for them on its lock if it gets there first)."""
    from app.core.embeddings.maps import warm_up

    if below_the_window:
        run_below_the_window()
    try:
        warm_up()
    except Exception:  # the layout loads them again and reports what fails
        log.warning("loading UMAP ahead of the quick look failed", exc_info=True)
