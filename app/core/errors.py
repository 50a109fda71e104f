"""Errors that are expected and shown to the user as one readable line (no traceback)."""

from __future__ import annotations

import errno


class SieveError(Exception):
    """A user-facing failure: bad input, a missing project, an unwritable folder, ..."""


class JobCancelled(SieveError):
    """Raised inside a job when its CancelToken was cancelled."""

    def __init__(self, message: str = "cancelled by the user") -> None:
        super().__init__(message)


# Failures of the moment, not of the file: the next index tries such a file again.
TRANSIENT_REASON = "temporarily unreadable"
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EMFILE,
        errno.ENFILE,
        errno.ENOMEM,
        errno.EAGAIN,
        errno.EINTR,
        errno.ETIMEDOUT,
        errno.ESTALE,
        errno.EBUSY,
    }
)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` says more about the machine right now than about the file."""
    if isinstance(error, MemoryError):
        return True
    return isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS


def transient_reason(error: BaseException) -> str:
    """The broken reason stored for a transient failure (the indexer retries these)."""
    detail = str(error) or type(error).__name__
    return f"{TRANSIENT_REASON} ({detail}); Sieve tries it again at the next index"
