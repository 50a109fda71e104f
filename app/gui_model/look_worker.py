"""The quick look in its own process: torch, the backbone and UMAP load there, not in the window.

Importing torch and torchvision takes about 5 s of a core and UMAP's kernels 4.5 s more; in
the window's process those imports hold the interpreter lock for up to 80 ms at a time (the grid
stalls), so the window never loads them for a quick look. The map panel starts this child
ahead, once a project's files are listed and it waits for its first map (:mod:`look_process`);
the child loads everything on a thread at the lowest priority, then waits. A click then finds it
ready: the embedding starts at once. The two talk in lines:

* the parent writes ``look {"id", "project", "method"}``, ``stop ID`` (that look, running or
  not started yet) and closes its end to end the child;
* the child writes JSON lines: ``{"warm": true}`` once loaded, and for look ``id``
  ``{"id", "progress": [stage, done, total, message], "layout": {...}}`` as it goes (a layout's
  points as base64 float32, :func:`encode_points`), then ``{"id", "done": {...}}``,
  ``{"id", "cancelled": true}`` or ``{"id", "error": message, "details": traceback}``.
"""

from __future__ import annotations

import argparse
import base64
import json
import queue
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any

import numpy as np

from app.core.jobs import CancelToken, JobCancelled, Progress, run_below_the_window
from app.core.workers.lines import LineWriter

COMMAND = "_look-worker"
"""The program's hidden sub-command that runs :func:`main` (``python -m app _look-worker``)."""
WARM_NICENESS = 19
"""The loading thread's priority below the window: it takes what the window and an index (nice
10) leave; the looks run at the process's own priority (nice 10, :mod:`look_process`)."""


def main(argv: list[str] | None = None) -> int:
    """Serve quick looks until the parent closes its end (see above)."""
    parser = argparse.ArgumentParser(prog=f"sieve {COMMAND}", description=__doc__.splitlines()[0])
    parser.add_argument("--no-log-file", action="store_true", help="log nothing to sieve.log")
    args = parser.parse_args(argv)
    if not args.no_log_file:
        from app.core.logs import setup_logging

        setup_logging()
    out = LineWriter(sys.stdout)
    looks: queue.Queue[dict[str, Any] | None] = queue.Queue()
    current = _Current()
    threading.Thread(target=_warm, args=(out,), name="sieve-look-warm", daemon=True).start()
    threading.Thread(
        target=_obey, args=(sys.stdin, looks, current), name="sieve-look-input", daemon=True
    ).start()
    while (request := looks.get()) is not None:
        _look(request, current.begin(int(request["id"])), out)
        current.end()
    return 0


class _Current:
    """The looks stopped by the parent (from the input thread) and the one that runs now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped: set[int] = set()
        self._running: tuple[int, CancelToken] | None = None

    def begin(self, look: int) -> CancelToken:
        """The cancel token of look ``look``, starting now (cancelled if it was stopped)."""
        cancel = CancelToken()
        with self._lock:
            if look in self._stopped:
                cancel.cancel()
            self._running = (look, cancel)
        return cancel

    def end(self) -> None:
        with self._lock:
            self._running = None

    def stop(self, look: int | None) -> None:
        """Stop look ``look`` (None: the one running), whether it runs now or later."""
        with self._lock:
            if look is not None:
                self._stopped.add(look)
            if self._running is not None and look in (None, self._running[0]):
                self._running[1].cancel()


def _obey(stream: IO[str], looks: queue.Queue[dict[str, Any] | None], current: _Current) -> None:
    """Read the parent's commands; the end of input (the parent is gone) ends the child."""
    for line in stream:
        command, _, rest = line.strip().partition(" ")
        if command == "look":
            looks.put(json.loads(rest))
        elif command == "stop":
            current.stop(int(rest))
    current.stop(None)
    looks.put(None)


def _warm(out: LineWriter) -> None:
    """Load torch, torchvision, the quick-look backbone and UMAP's kernels below the window."""
    run_below_the_window(WARM_NICENESS)
    try:
        from app.core.embeddings import embed, quick
        from app.core.embeddings.maps import warm_up

        del embed
        quick.load_quick_model()
        warm_up()
    except Exception:  # noqa: BLE001 - a look loads them again and reports what fails
        out.send({"warm": False, "details": traceback.format_exc()})
        return
    out.send({"warm": True})


def _look(request: dict[str, Any], cancel: CancelToken, out: LineWriter) -> None:
    """Run one quick look, reporting each step to the parent."""
    from app.core.embeddings.embed import quick_config  # loaded by _warm unless it is still busy
    from app.gui_model.map_sources import embed_and_layout_job

    look = request["id"]
    try:
        job = embed_and_layout_job(
            Path(request["project"]), quick_config(), request["method"], cancel
        )
        while True:
            try:
                progress = next(job)
            except StopIteration as stop:
                out.send({"id": look, "done": {"xy": encode_points(stop.value)}})
                return
            out.send({"id": look, **progress_message(progress)})
    except JobCancelled:
        out.send({"id": look, "cancelled": True})
    except BaseException as error:  # every failure reaches the parent as a message
        message = str(error).strip() or type(error).__name__
        out.send({"id": look, "error": message, "details": traceback.format_exc()})


def progress_message(progress: Progress) -> dict[str, Any]:
    """``{"progress": [...], "layout": {...}}`` of a report (``layout`` when it carries one)."""
    message: dict[str, Any] = {
        "progress": [progress.stage, progress.done, progress.total, progress.message]
    }
    partial = progress.partial
    if isinstance(partial, dict) and partial.get("kind") == "layout":
        layout = {k: v for k, v in partial.items() if isinstance(v, (str, int, float, bool))}
        message["layout"] = {**layout, "xy": encode_points(partial["xy"])}
    return message


def encode_points(xy: np.ndarray) -> dict[str, Any]:
    """``(n, 2)`` points as JSON: their float32 bytes in base64 and their shape."""
    points = np.ascontiguousarray(xy, dtype=np.float32)
    return {"shape": list(points.shape), "data": base64.b64encode(points.tobytes()).decode()}


def decode_points(encoded: dict[str, Any]) -> np.ndarray:
    """The points :func:`encode_points` wrote."""
    data = base64.b64decode(encoded["data"])
    return np.frombuffer(data, dtype=np.float32).reshape(encoded["shape"]).copy()
