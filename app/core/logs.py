"""Sieve's log file, shared by the CLI and the GUI: ``<user data>/logs/sieve.log``, size-capped.

The file rotates at 2 MB and keeps three old files, so a long-lived install never grows it
without bound; tracebacks of unexpected errors go here while the user sees one readable line.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from app.core.paths import user_data_dir

LOG_NAME = "sieve.log"
LOG_FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
MAX_BYTES = 2_000_000
BACKUPS = 3

log = logging.getLogger("sieve")


def setup_logging() -> Path | None:
    """Log the ``sieve`` logger to the rotating log file (once); None when it is not writable."""
    path = user_data_dir() / "logs" / LOG_NAME
    log.setLevel(logging.INFO)
    if any(getattr(handler, "baseFilename", None) == str(path) for handler in log.handlers):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    log.addHandler(handler)
    return path
