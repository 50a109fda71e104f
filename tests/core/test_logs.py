"""The log file: one rotating, size-capped handler, whether the CLI or the GUI set it up first."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler

import pytest

from app.cli import main
from app.core import logs
from app.core.paths import user_data_dir


@pytest.fixture()
def sieve_logger():
    """The ``sieve`` logger without the handlers other tests left, restored afterwards."""
    logger = logging.getLogger("sieve")
    kept = logger.handlers[:]
    logger.handlers.clear()
    yield logger
    for handler in logger.handlers:
        handler.close()
    logger.handlers[:] = kept


def file_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers if getattr(h, "baseFilename", None)]


def test_the_cli_installs_the_rotating_handler_and_the_gui_adds_none(sieve_logger, capsys):
    """`sieve gui` goes through the CLI first: its handler must be the capped one, once."""
    assert main(["demo"]) == 0
    capsys.readouterr()
    (handler,) = file_handlers(sieve_logger)
    assert isinstance(handler, RotatingFileHandler)
    assert handler.maxBytes == logs.MAX_BYTES and handler.backupCount == logs.BACKUPS
    assert logs.setup_logging() == user_data_dir() / "logs" / logs.LOG_NAME
    assert len(file_handlers(sieve_logger)) == 1


def test_the_log_rotates_at_its_cap(sieve_logger, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    path = logs.setup_logging()
    for number in range(200):
        sieve_logger.info("line %d of a long session", number)
    for handler in file_handlers(sieve_logger):
        handler.flush()
    assert path.stat().st_size <= 2_000
    assert path.with_name(f"{logs.LOG_NAME}.1").exists()
    assert not path.with_name(f"{logs.LOG_NAME}.{logs.BACKUPS + 1}").exists()
