"""The job behind the map's Quick look button (Qt-free; the panel runs it on its JobRunner).

It embeds every sample with the quick look's config (``embed.quick_config``) and lays the new
set out (PCA at once, then UMAP), in the panel's quick-look process
(:class:`~app.gui_model.look_process.LookProcess`), which has loaded torch and UMAP ahead.
Where that process cannot start, it runs here: loading UMAP (importing umap-learn and numba's
cached kernels, about 4.5 s on two cores) then starts on a side thread when the job starts, so
it overlaps the embedding instead of following it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from app.core.jobs import CancelToken, Job
from app.gui_model.look_process import LookProcess, LookUnavailable
from app.gui_model.map_sources import embed_and_layout_job

log = logging.getLogger("sieve")


def quick_look_job(
    project_dir: Path, method: str, cancel: CancelToken, process: LookProcess | None = None
) -> Job[np.ndarray]:
    """Embed ``project_dir``'s samples for a quick look and lay them out with ``method``, in
    ``process`` when given and able to start, else in this process."""
    if process is not None:
        try:
            return (yield from process.look(project_dir, method, cancel))
        except LookUnavailable as error:  # raised before any report
            log.warning("the quick look runs in the window's process: %s", error)
    from app.core.embeddings.embed import quick_config  # torch loads when the job runs

    if method == "umap":
        threading.Thread(target=_load_umap, name="sieve-umap-load", daemon=True).start()
    return (yield from embed_and_layout_job(project_dir, quick_config(), method, cancel))


def _load_umap() -> None:
    """Load UMAP's kernels now (the layout waits for them on its lock if it gets there first)."""
    from app.core.embeddings.maps import warm_up

    try:
        warm_up()
    except Exception:  # the layout loads them again and reports what fails
        log.warning("loading UMAP ahead of the quick look failed", exc_info=True)
