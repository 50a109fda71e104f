"""``python -m app``: the desktop app when no sub-command is given, else the ``sieve`` CLI."""

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()
    from app.cli import main as cli_main

    argv = sys.argv[1:]
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["gui", *argv]
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
