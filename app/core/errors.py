"""Errors that are expected and shown to the user as one readable line (no traceback)."""


class SieveError(Exception):
    """A user-facing failure: bad input, a missing project, an unwritable folder, ..."""


class JobCancelled(SieveError):
    """Raised inside a job when its CancelToken was cancelled."""

    def __init__(self, message: str = "cancelled by the user") -> None:
        super().__init__(message)
