"""``python -m app`` and the bundled ``Sieve`` program: the desktop app when no sub-command is
given, else the ``sieve`` CLI."""

import multiprocessing
import os
import sys

TOP_LEVEL_OPTIONS = ("-h", "--help", "--version", "--self-test")
INDEX_WORKER = "_index-worker"  # app.core.ingest.worker.COMMAND, without importing it first
LOOK_WORKER = "_look-worker"  # app.gui_model.look_worker.COMMAND, likewise


def attach_missing_streams() -> None:
    """A windowed bundle has no console: ``sys.stdout`` / ``sys.stderr`` are None there.

    Point them at ``<user data>/logs/console.log`` (or the null device) so that nothing writes to
    a missing stream; the log itself goes to ``sieve.log`` beside it as usual.
    """
    if sys.stdout is not None and sys.stderr is not None:
        return
    from app.core.paths import user_data_dir

    try:
        folder = user_data_dir() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        stream = open(folder / "console.log", "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    except OSError:
        stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    sys.stdout = sys.stdout or stream
    sys.stderr = sys.stderr or stream


def main() -> int:
    multiprocessing.freeze_support()
    attach_missing_streams()
    argv = sys.argv[1:]
    if argv[:1] == [INDEX_WORKER]:  # the app's index process: no CLI, no Qt
        from app.core.ingest.worker import main as index_worker

        return index_worker(argv[1:])
    if argv[:1] == [LOOK_WORKER]:  # the app's quick-look process: no CLI, no Qt
        from app.gui_model.look_worker import main as look_worker

        return look_worker(argv[1:])
    from app.cli.entry import run as cli_main

    if not argv or (argv[0].startswith("-") and argv[0].split("=")[0] not in TOP_LEVEL_OPTIONS):
        argv = ["gui", *argv]
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
