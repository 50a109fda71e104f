"""The ``sieve`` command line: every job the GUI runs, headless.

``main`` is the ``sieve`` program; ``entry`` holds the parser and the error handling; one module
per command group (``project``, ``train``, ``embed``, ``select``, ``active``); ``jobs`` runs a
core job with terminal progress and Ctrl-C; ``args`` holds the range-checked argument types;
``self_test`` is ``sieve --self-test``.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``sieve``: run one command (loads the parser and its command groups on first use).

    Without ``argv`` this is the ``sieve`` program itself, which ends at once after Ctrl-C.
    """
    from app.cli.entry import main as run_in_process
    from app.cli.entry import run

    return run(argv) if argv is None else run_in_process(argv)
